"""Checks for exercise 15 (the article's code, repaired).

The learner's functions (signatures as in ``solutions/15_article_code_repaired.ipynb``):

* ``flatten_size(height, width, channels, filters=32)`` -> int, the length of the article's
  ``Conv2D(filters, 3) → MaxPooling2D(2) → Flatten`` vector on a ``(height, width, channels)`` image;
* ``build_article_model(max_length, num_vocab, image_shape)`` -> a ``keras.Model`` with inputs
  ``[image (batch, *image_shape), one-hot text (batch, max_length, num_vocab)]``, the article's
  CNN and ``LSTM(64)``, a fusion that keeps both vectors (concatenation), ``Dense(128, relu)``
  and ``Dense(10, softmax)``.
"""

from __future__ import annotations

import numpy as np

from mmcourse.checks import Case, register

NUM_CLASSES = 10


def reference_flatten_size(height: int, width: int, channels: int, filters: int = 32) -> int:
    """``Conv2D(filters, 3)`` (valid) → ``MaxPooling2D(2)`` → ``Flatten`` output length."""
    from mmcourse.features.image import conv_output_shape

    rows = conv_output_shape(conv_output_shape(height, 3), 2, stride=2)
    columns = conv_output_shape(conv_output_shape(width, 3), 2, stride=2)
    return rows * columns * filters


def reference_article_model(max_length: int, num_vocab: int, image_shape=(8, 8, 1)):
    """The repaired article model (the reference the check compares with)."""
    import keras
    from keras import layers

    image_input = keras.Input(shape=image_shape, name="image")
    x = layers.Conv2D(32, (3, 3), activation="relu")(image_input)
    x = layers.MaxPooling2D((2, 2))(x)
    image_features = layers.Flatten()(x)
    text_input = keras.Input(shape=(max_length, num_vocab), name="text_one_hot")
    text_features = layers.LSTM(64)(text_input)
    fused = layers.Concatenate()([image_features, text_features])
    x = layers.Dense(128, activation="relu")(fused)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax")(x)
    return keras.Model(inputs=[image_input, text_input], outputs=outputs)


@register(
    "15.flatten_size",
    hints=[
        "A valid 3×3 convolution leaves size - 3 + 1 positions per axis; 2×2 pooling keeps "
        "floor(size / 2).",
        "Do it for the height and the width separately, then multiply by the number of filters "
        "(the channels of the input do not matter).",
    ],
)
def _flatten_size_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for _ in range(4):
        height, width = (int(v) for v in rng.integers(4, 300, size=2))
        channels, filters = int(rng.integers(1, 5)), int(rng.choice([8, 16, 32, 64]))
        cases.append(Case(
            f"height={height}, width={width}, channels={channels}, filters={filters}",
            args=(height, width, channels, filters),
            expected=reference_flatten_size(height, width, channels, filters),
        ))
    cases.append(Case("the article's 224×224×3 image, 32 filters", args=(224, 224, 3, 32),
                      expected=reference_flatten_size(224, 224, 3, 32)))
    return cases


def _describe_model(model) -> dict:
    return {
        "input shapes": [tuple(tensor.shape) for tensor in model.inputs],
        "output shape": tuple(model.outputs[0].shape),
        "parameters": int(model.count_params()),
        "uses Dot": any(type(layer).__name__ == "Dot" for layer in model.layers),
    }


def _compare_models(received, expected) -> str | None:
    import keras

    if not isinstance(received, keras.Model):
        return f"expected a keras.Model, received {type(received).__name__}"
    got, want = _describe_model(received), _describe_model(expected)
    if got["uses Dot"]:
        return "the model still fuses with Dot, which squeezes both modalities into one number"
    for key in ("input shapes", "output shape", "parameters"):
        if got[key] != want[key]:
            return f"wrong {key}: expected {want[key]}, received {got[key]}"
    return None


@register(
    "15.article_model",
    hints=[
        "Three fixes: use the tensors you computed, fuse with Concatenate instead of Dot, and "
        "build the Model from the two Input tensors.",
        "The model's inputs are the Input tensors where the data enters (one per modality, in "
        "the order the data is fed), never an intermediate tensor such as a layer's output.",
    ],
)
def _article_model_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    shapes = [(8, 8, 1), (int(rng.integers(6, 20)), int(rng.integers(6, 20)), 3)]
    for image_shape in shapes:
        max_length, num_vocab = int(rng.integers(3, 12)), int(rng.integers(5, 60))
        cases.append(Case(
            f"max_length={max_length}, num_vocab={num_vocab}, image_shape={image_shape}",
            args=(max_length, num_vocab, image_shape),
            expected=reference_article_model(max_length, num_vocab, image_shape),
            compare=_compare_models,
        ))
    return cases
