"""Image features: the linear extractor ``f(x) = W x + b`` and the article's CNN, sized for 8×8.

Shapes (batch first, channels last):

- input images: float32, shape ``(batch, height, width, channels)`` — MM-Digits uses ``(8, 8, 1)``;
- both encoders return features: float32, shape ``(batch, feature_dim)``.

The CNN is the article's Conv2D → MaxPooling2D → Flatten, followed by a Dense projection to
``feature_dim`` (the article flattens straight into fusion; projecting first keeps the feature
size small and equal across modalities, which weighted-average fusion needs).
"""

from __future__ import annotations

from collections.abc import Sequence

from mmcourse import _validate as check

__all__ = ["conv_output_shape", "cnn_output_shapes", "cnn_parameter_count", "build_cnn_encoder",
           "build_linear_encoder"]


def _positive_int(value, name: str) -> int:
    return check.positive_int(value, name)


def _check_input_shape(input_shape, rank: int = 3) -> tuple[int, ...]:
    expected = f"a sequence of {rank} positive ints (height, width, channels)"
    if isinstance(input_shape, str) or not isinstance(input_shape, Sequence):
        raise check.type_error("input_shape", expected, input_shape)
    if len(input_shape) != rank:
        raise check.value_error("input_shape", expected, input_shape)
    return tuple(_positive_int(size, "input_shape entry") for size in input_shape)


def _check_filters(filters) -> tuple[int, ...]:
    expected = "a non-empty sequence of positive ints (filters per Conv2D layer)"
    if isinstance(filters, str) or not isinstance(filters, Sequence):
        raise check.type_error("filters", expected, filters)
    if len(filters) == 0:
        raise check.value_error("filters", expected, filters)
    return tuple(_positive_int(count, "filters entry") for count in filters)


def _check_padding(padding) -> str:
    return check.one_of(padding, "padding", ("valid", "same"))


def conv_output_shape(size: int, kernel_size: int, stride: int = 1, padding: str = "valid") -> int:
    """Output length of a convolution or pooling window along one axis.

    ``"valid"``: ``floor((size - kernel_size) / stride) + 1``;
    ``"same"``: ``ceil(size / stride)``. Works for Conv2D and MaxPooling2D alike (pooling's stride
    defaults to its pool size in Keras). Raises ``ValueError`` if the window does not fit.
    """
    size = _positive_int(size, "size")
    kernel_size = _positive_int(kernel_size, "kernel_size")
    stride = _positive_int(stride, "stride")
    if _check_padding(padding) == "same":
        return -(-size // stride)
    if kernel_size > size:
        raise check.value_error(
            "kernel_size", f"<= size ({size}) with padding='valid' (a window of {kernel_size} "
            f"does not fit in {size})", kernel_size)
    return (size - kernel_size) // stride + 1


def cnn_output_shapes(
    input_shape=(8, 8, 1),
    filters: Sequence[int] = (16, 32),
    kernel_size: int = 3,
    pool_size: int = 2,
    padding: str = "same",
    feature_dim: int = 32,
) -> list[tuple[str, tuple[int, ...]]]:
    """Layer-by-layer output shapes (without batch) of :func:`build_cnn_encoder`, by arithmetic.

    Returns a list of ``(layer description, shape)`` pairs, so a lesson can print the arithmetic
    next to ``model.summary()`` and check that they agree.
    """
    height, width, _ = _check_input_shape(input_shape)
    filters = _check_filters(filters)
    kernel_size = _positive_int(kernel_size, "kernel_size")
    pool_size = _positive_int(pool_size, "pool_size")
    padding = _check_padding(padding)
    feature_dim = _positive_int(feature_dim, "feature_dim")
    shapes: list[tuple[str, tuple[int, ...]]] = [("input", (height, width, input_shape[-1]))]
    for index, num_filters in enumerate(filters):
        height = conv_output_shape(height, kernel_size, 1, padding)
        width = conv_output_shape(width, kernel_size, 1, padding)
        shapes.append((f"conv{index + 1} ({num_filters} filters)", (height, width, num_filters)))
        if pool_size > 1:
            height = conv_output_shape(height, pool_size, pool_size, "valid")
            width = conv_output_shape(width, pool_size, pool_size, "valid")
            shapes.append((f"pool{index + 1}", (height, width, num_filters)))
    shapes.append(("flatten", (height * width * filters[-1],)))
    shapes.append(("features (Dense)", (feature_dim,)))
    return shapes


def cnn_parameter_count(
    input_shape=(8, 8, 1),
    filters: Sequence[int] = (16, 32),
    kernel_size: int = 3,
    pool_size: int = 2,
    padding: str = "same",
    feature_dim: int = 32,
) -> int:
    """Trainable parameters of :func:`build_cnn_encoder`, by arithmetic (tested against Keras).

    Conv2D: ``(kernel_size² · c_in + 1) · c_out``; pooling and Flatten: 0;
    Dense: ``(n_in + 1) · n_out``.
    """
    shapes = cnn_output_shapes(input_shape, filters, kernel_size, pool_size, padding, feature_dim)
    total, channels = 0, input_shape[-1]
    for num_filters in filters:
        total += (kernel_size * kernel_size * channels + 1) * num_filters
        channels = num_filters
    flat = shapes[-2][1][0]
    return total + (flat + 1) * feature_dim


def build_cnn_encoder(
    feature_dim: int = 32,
    input_shape=(8, 8, 1),
    filters: Sequence[int] = (16, 32),
    kernel_size: int = 3,
    pool_size: int = 2,
    padding: str = "same",
    activation: str = "relu",
    dropout: float = 0.0,
    name: str = "cnn_encoder",
):
    """The article's CNN for small images: ``[Conv2D → MaxPool] × len(filters) → Flatten → Dense``.

    images: float32, shape ``(batch, *input_shape)`` → features: float32, ``(batch, feature_dim)``.
    With the defaults on 8×8×1: conv 8×8×16 → pool 4×4×16 → conv 4×4×32 → pool 2×2×32 → 128 → 32
    (see :func:`cnn_output_shapes`). ``pool_size=1`` skips pooling. Layers are named ``conv1``,
    ``pool1``, …, ``flatten``, ``features`` so lessons can pull out feature maps.
    """
    import keras

    feature_dim = _positive_int(feature_dim, "feature_dim")
    input_shape = _check_input_shape(input_shape)
    filters = _check_filters(filters)
    dropout = check.number(dropout, "dropout", minimum=0.0, maximum=1.0,
                           expected="a rate in [0, 1)")
    if dropout >= 1.0:
        raise check.value_error("dropout", "a rate in [0, 1)", dropout)
    # Validate sizes (raises a clear ValueError when a window no longer fits).
    cnn_output_shapes(input_shape, filters, kernel_size, pool_size, padding, feature_dim)
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    for index, num_filters in enumerate(filters):
        x = keras.layers.Conv2D(
            _positive_int(num_filters, "filters entry"),
            kernel_size,
            padding=padding,
            activation=activation,
            name=f"conv{index + 1}",
        )(x)
        if pool_size > 1:
            x = keras.layers.MaxPooling2D(pool_size, name=f"pool{index + 1}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    outputs = keras.layers.Dense(feature_dim, activation=activation, name="features")(x)
    return keras.Model(inputs, outputs, name=name)


def build_linear_encoder(feature_dim: int = 32, input_shape=(8, 8, 1), name: str = "linear_encoder"):
    """The article's linear extractor ``f(x) = W x + b`` on flattened pixels.

    images: float32, shape ``(batch, *input_shape)`` → features ``(batch, feature_dim)``.
    ``W`` is the Dense kernel of shape ``(height*width*channels, feature_dim)`` (Keras stores
    ``W`` transposed: ``f(x) = x @ kernel + bias``); reshape a column to ``input_shape`` to see it
    as an image.
    """
    import keras

    feature_dim = _positive_int(feature_dim, "feature_dim")
    input_shape = _check_input_shape(input_shape)
    inputs = keras.Input(shape=input_shape, name="image")
    x = keras.layers.Flatten(name="flatten")(inputs)
    outputs = keras.layers.Dense(feature_dim, name="features")(x)
    return keras.Model(inputs, outputs, name=name)
