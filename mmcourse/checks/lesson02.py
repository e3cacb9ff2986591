"""Checks for exercise 02 (image features), against :mod:`mmcourse.features.image`.

The learner's functions (signatures as in ``solutions/02_image_features.ipynb``):

* ``conv_output_size(n, kernel_size, stride, padding, dilation)`` -> int, positions of a
  (dilated) window on one axis;
* ``linear_features(images, weights, bias)`` -> ``(N, d)``: ``f(x) = W x + b`` on channels-first
  images ``(N, C, H, W)`` whose weights expect Keras's channels-last flattening;
* ``count_cnn_parameters(input_shape, filters, kernel_size, feature_dim)`` -> int, parameters of
  ``build_cnn_encoder`` (3x3-style ``same`` convolutions, 2x2 pooling, Dense projection);
* ``build_budget_cnn()`` -> a Keras model ``(8, 8, 1) -> 10`` softmax within the parameter budget.
"""

from __future__ import annotations

import numpy as np

from mmcourse.checks import Case, register
from mmcourse.features import image

PARAMETER_BUDGET = 3000


def _same_int(received, expected):
    if isinstance(received, (bool, np.bool_)) or not isinstance(received, (int, np.integer)):
        return f"expected an int, received {type(received).__name__} {received!r}"
    return None if int(received) == int(expected) else f"expected {expected}, received {received}"


def reference_conv_output_size(n: int, kernel_size: int, stride: int = 1, padding: str = "valid",
                               dilation: int = 1) -> int:
    """Positions of a (dilated) window along one axis: the grader's and the hidden tests' reference."""
    if padding == "same":
        return image.conv_output_shape(n, 1, stride, "same")
    return image.conv_output_shape(n, dilation * (kernel_size - 1) + 1, stride, "valid")


def _random_images(rng: np.random.Generator, batch: int, shape: tuple[int, int, int]):
    """Channels-first images ``(batch, C, H, W)`` with their channels-last weights and bias."""
    return rng.random((batch, *shape))


def reference_linear_features(images, weights, bias) -> np.ndarray:
    """``f(x) = W x + b`` for channels-first images, W indexed in Keras's channels-last order."""
    images = np.asarray(images, dtype=np.float64)
    return np.moveaxis(images, 1, -1).reshape(len(images), -1) @ np.asarray(weights).T + bias


@register(
    "02.conv_output_size",
    hints=[
        "Draw it: with kernel_size=3 and dilation=2 the taps sit on pixels 0, 2 and 4. How many "
        "pixels does the window cover from its first tap to its last?",
        "Once you know the span, 'valid' is lesson 02's formula with the span in place of the "
        "kernel size. 'same' pads so that only the stride matters: ceil(n / stride), which you can "
        "compute with integer division only (no floats).",
    ],
)
def _conv_output_size_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for _ in range(10):
        n = int(rng.integers(2, 64))
        dilation = int(rng.integers(1, 4))
        kernel = int(rng.integers(1, (n - 1) // dilation + 2))
        stride = int(rng.integers(1, 5))
        padding = str(rng.choice(["valid", "same"]))
        cases.append(Case(f"n={n}, kernel_size={kernel}, stride={stride}, padding={padding!r}, "
                          f"dilation={dilation}",
                          args=(n, kernel, stride, padding, dilation),
                          expected=reference_conv_output_size(n, kernel, stride, padding, dilation),
                          compare=_same_int))
    cases.append(Case("n=8, kernel_size=8, stride=1, padding='valid', dilation=1 (window = image)",
                      args=(8, 8, 1, "valid", 1), expected=1, compare=_same_int))
    cases.append(Case("n=9, kernel_size=3, stride=2, padding='valid', dilation=3",
                      args=(9, 3, 2, "valid", 3), expected=reference_conv_output_size(9, 3, 2, "valid", 3),
                      compare=_same_int))
    return cases


@register(
    "02.linear_features",
    hints=[
        "The weights expect each image flattened in (H, W, C) order, but your images are "
        "(N, C, H, W): reshaping them directly puts the pixels in the wrong order whenever C > 1.",
        "Move the channel axis to the end first (NumPy can reorder axes without copying by hand), "
        "then flatten each image to one row and apply W and b to the whole batch at once.",
    ],
)
def _linear_features_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for batch, shape, dim in [(5, (3, 8, 8), 10), (1, (2, 8, 8), 3), (3, (2, 4, 6), 7),
                              (2, (1, 3, 3), 1)]:
        images = _random_images(rng, batch, shape)
        weights = rng.normal(size=(dim, int(np.prod(shape))))
        bias = rng.normal(size=dim)
        cases.append(Case(f"channels-first images {images.shape}, W {weights.shape}, b {bias.shape}",
                          args=(images, weights, bias),
                          expected=reference_linear_features(images, weights, bias)))
    return cases


@register(
    "02.count_parameters",
    hints=[
        "A Conv2D layer with c_out filters of k x k over c_in channels has (k*k*c_in + 1) * c_out "
        "parameters (the +1 is each filter's bias). Pooling and Flatten have none.",
        "Track the spatial size: 'same' convolutions keep it, each 2x2 pooling halves it "
        "(floor). The Dense layer then has (flattened size + 1) * feature_dim parameters.",
    ],
)
def _count_parameters_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for _ in range(6):
        side = int(rng.choice([8, 12, 16, 28]))
        channels = int(rng.integers(1, 4))
        depth = int(rng.integers(1, 3))
        filters = tuple(int(f) for f in rng.choice([4, 8, 16, 32], size=depth))
        kernel = int(rng.choice([3, 5]))
        dim = int(rng.integers(4, 65))
        shape = (side, side, channels)
        cases.append(Case(
            f"input_shape={shape}, filters={filters}, kernel_size={kernel}, feature_dim={dim}",
            args=(shape, filters, kernel, dim),
            expected=image.cnn_parameter_count(shape, filters, kernel, 2, "same", dim),
            compare=_same_int))
    return cases


def _check_budget_model(model, _expected) -> str | None:
    import keras

    if not isinstance(model, keras.Model):
        return f"expected a keras.Model, received {type(model).__name__}"
    if tuple(model.input_shape[1:]) != (8, 8, 1):
        return f"the input must be (8, 8, 1) images, received input shape {model.input_shape}"
    if tuple(model.output_shape[1:]) != (10,):
        return f"the output must be 10 class probabilities, received {model.output_shape}"
    kinds = {type(layer).__name__ for layer in model._flatten_layers(include_self=False)}
    if "Conv2D" not in kinds or not kinds & {"MaxPooling2D", "AveragePooling2D"}:
        return f"use at least one Conv2D and one pooling layer; your layers: {sorted(kinds)}"
    if model.count_params() > PARAMETER_BUDGET:
        return (f"{model.count_params()} parameters is over the budget of {PARAMETER_BUDGET}: "
                f"fewer filters or a smaller Dense layer")
    probabilities = np.asarray(model(np.random.default_rng().random((3, 8, 8, 1))))
    if not np.allclose(probabilities.sum(axis=-1), 1.0, atol=1e-4):
        return "the outputs should be probabilities (a softmax): each row must sum to 1"
    return None


@register(
    "02.budget_cnn",
    hints=[
        f"Stay under {PARAMETER_BUDGET} parameters: the Dense layer after Flatten is usually the "
        "biggest — pool before flattening.",
        "Count before you train: use your count_cnn_parameters (Task 3) on a candidate. Few "
        "filters (single digits to the low tens) and two pooling steps before Flatten leave room "
        "for a Dense softmax layer of 10 units.",
    ],
)
def _budget_cnn_cases(rng: np.random.Generator) -> list[Case]:
    return [Case("build_budget_cnn()", expected=None, compare=_check_budget_model)]
