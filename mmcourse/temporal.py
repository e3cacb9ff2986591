"""Time in clips: 3-D convolution arithmetic, aligning two frame rates, temporal pooling, cost.

NumPy / pure Python, no TensorFlow at import (lesson 12 and exercise 12):

- :func:`conv3d_output_shape`, :func:`conv3d_parameter_count`, :func:`conv3d_multiply_adds` —
  what a ``keras.layers.Conv3D`` makes of a clip ``(T, H, W, C)``, by arithmetic (tested against
  Keras in ``tests/test_temporal.py``); :func:`lstm_parameter_count`;
- :func:`multiply_adds` — multiply-adds of one forward pass of a Keras clip model (Conv2D,
  Conv3D, Dense, LSTM, also inside ``TimeDistributed``), one sample;
- :func:`frame_times`, :func:`alignment_matrix`, :func:`align_frames` — two streams at different
  rates (MFCC at 100 frames/s, video at 8 frames/s) brought onto the slower stream's frames;
- :func:`temporal_pool` — mean or max over time, with an optional mask of valid steps.

Conventions. Source frame ``s`` of a stream at ``rate`` frames per second sits at time
``s / rate`` (librosa's centred STFT frames do); target frame ``t`` covers the interval
``[t / rate, (t + 1) / rate)`` (a video frame is shown for that long).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from mmcourse import _validate as check

__all__ = [
    "conv3d_output_shape",
    "conv3d_parameter_count",
    "conv3d_multiply_adds",
    "lstm_parameter_count",
    "multiply_adds",
    "frame_times",
    "alignment_matrix",
    "align_frames",
    "temporal_pool",
]


# ----------------------------------------------------------------------------- 3-D convolution
def _triple(value, name: str) -> tuple[int, int, int]:
    if isinstance(value, (list, tuple)):
        if len(value) != 3:
            raise check.value_error(name, "an int or 3 ints (time, height, width)", value)
        return tuple(check.positive_int(item, f"{name} entry") for item in value)
    size = check.positive_int(value, name)
    return size, size, size


def _clip_shape(input_shape) -> tuple[int, int, int, int]:
    expected = "4 positive ints (frames, height, width, channels)"
    if isinstance(input_shape, (str, bytes)) or not isinstance(input_shape, Sequence):
        raise check.type_error("input_shape", expected, input_shape)
    if len(input_shape) != 4:
        raise check.value_error("input_shape", expected, input_shape)
    return tuple(check.positive_int(size, "input_shape entry") for size in input_shape)


def _axis_length(size: int, kernel: int, stride: int, padding: str) -> int:
    if padding == "same":
        return -(-size // stride)  # ceil(size / stride)
    if kernel > size:
        raise check.value_error("kernel_size", f"<= the input length ({size}) with "
                                "padding='valid'", kernel)
    return (size - kernel) // stride + 1


def conv3d_output_shape(input_shape, filters: int, kernel_size=3, strides=1,
                        padding: str = "valid") -> tuple[int, int, int, int]:
    """Output shape ``(T', H', W', filters)`` of ``Conv3D`` (or, with ``filters`` = channels, of
    ``MaxPooling3D``) on a clip of ``input_shape = (T, H, W, C)``.

    Per axis: ``"valid"``: ``floor((n - k) / s) + 1``; ``"same"``: ``ceil(n / s)``.
    """
    shape = _clip_shape(input_shape)
    filters = check.positive_int(filters, "filters")
    kernel = _triple(kernel_size, "kernel_size")
    stride = _triple(strides, "strides")
    padding = check.one_of(padding, "padding", ("valid", "same"))
    return (*(_axis_length(n, k, s, padding) for n, k, s in zip(shape[:3], kernel, stride,
                                                                  strict=True)), filters)


def conv3d_parameter_count(in_channels: int, filters: int, kernel_size=3,
                           use_bias: bool = True) -> int:
    """Trainable parameters of ``Conv3D``: ``(k_t · k_h · k_w · c_in + bias) · filters``."""
    in_channels = check.positive_int(in_channels, "in_channels")
    filters = check.positive_int(filters, "filters")
    kernel = _triple(kernel_size, "kernel_size")
    use_bias = check.boolean(use_bias, "use_bias")
    return (math.prod(kernel) * in_channels + int(use_bias)) * filters


def conv3d_multiply_adds(input_shape, filters: int, kernel_size=3, strides=1,
                         padding: str = "valid") -> int:
    """Multiply-adds of ``Conv3D`` on one clip: every output value is a dot product of length
    ``k_t · k_h · k_w · c_in``, so ``T' · H' · W' · filters · k_t · k_h · k_w · c_in``."""
    out = conv3d_output_shape(input_shape, filters, kernel_size, strides, padding)
    kernel = _triple(kernel_size, "kernel_size")
    return math.prod(out) * math.prod(kernel) * _clip_shape(input_shape)[-1]


def lstm_parameter_count(input_dim: int, units: int) -> int:
    """``LSTM(units)`` on ``input_dim`` features: four gates, each ``(input_dim + units + 1) · units``."""
    input_dim = check.positive_int(input_dim, "input_dim")
    units = check.positive_int(units, "units")
    return 4 * (input_dim + units + 1) * units


def _shape_of(tensor) -> tuple:
    return tuple(tensor.shape)


def _layer_multiply_adds(layer) -> int:
    import keras

    kind = type(layer).__name__
    if isinstance(layer, keras.layers.TimeDistributed):
        steps = _shape_of(layer.input)[1]
        return steps * _layer_multiply_adds(layer.layer)
    if isinstance(layer, keras.Model):
        return sum(_layer_multiply_adds(inner) for inner in layer.layers)
    if kind in ("Conv1D", "Conv2D", "Conv3D"):
        out = _shape_of(layer.output)[1:]
        in_channels = _shape_of(layer.input)[-1]
        return math.prod(out) * math.prod(layer.kernel_size) * in_channels
    if kind == "Dense":
        in_shape = _shape_of(layer.input)[1:]
        return math.prod(in_shape) * layer.units
    if kind == "LSTM":
        steps, input_dim = _shape_of(layer.input)[1:]
        return steps * 4 * (input_dim + layer.units) * layer.units
    return 0  # pooling, activations, reshaping: no multiply-adds counted


def multiply_adds(model) -> int:
    """Multiply-adds of one forward pass of a built Keras model on ONE sample.

    Counted: ``Conv1D/2D/3D`` (outputs × kernel volume × input channels), ``Dense`` (inputs ×
    units per position), ``LSTM`` (steps × 4 gates × (inputs + units) × units), and the same
    inside ``TimeDistributed`` (times the number of steps) and nested models. Pooling,
    activations and biases are left out (additions only, a few per cent at most).
    """
    import keras

    if not isinstance(model, keras.Model):
        raise check.type_error("model", "a built Keras model", model)
    return int(sum(_layer_multiply_adds(layer) for layer in model.layers))


# ----------------------------------------------------------------------------- frame rates
def frame_times(num_frames: int, rate: float) -> np.ndarray:
    """Times in seconds ``s / rate`` of frames ``0 … num_frames - 1`` of a stream at ``rate``."""
    num_frames = check.integer(num_frames, "num_frames", minimum=1)
    rate = check.number(rate, "rate", minimum=0.0, exclusive_minimum=True)
    return np.arange(num_frames, dtype=np.float64) / rate


def alignment_matrix(num_source: int, source_rate: float, num_target: int,
                     target_rate: float) -> np.ndarray:
    """Weights float64 ``(num_target, num_source)`` that average a source stream onto target frames.

    Row ``t`` gives equal weight to every source frame whose time ``s / source_rate`` lies in
    ``[t / target_rate, (t + 1) / target_rate)``; rows sum to 1. A target frame that no source
    frame falls into (the source is slower there) takes the latest source frame at or before
    its start — the one still playing then, ``floor(t · source_rate / target_rate)`` (the last
    source frame when the source has ended by then). Source frames after the last target
    frame's interval are left out.
    """
    num_source = check.integer(num_source, "num_source", minimum=1)
    source_rate = check.number(source_rate, "source_rate", minimum=0.0, exclusive_minimum=True)
    num_target = check.integer(num_target, "num_target", minimum=1)
    target_rate = check.number(target_rate, "target_rate", minimum=0.0, exclusive_minimum=True)
    # the target frame each source frame falls into (small tolerance against 0.1 + 0.2 issues)
    owner = np.floor(np.arange(num_source) * target_rate / source_rate + 1e-9).astype(np.int64)
    weights = np.zeros((num_target, num_source), dtype=np.float64)
    for target in range(num_target):
        members = np.flatnonzero(owner == target)
        if members.size:
            weights[target, members] = 1.0 / members.size
        else:  # sample and hold: the source frame playing when the target frame starts
            held = int(np.floor(target * source_rate / target_rate + 1e-9))
            weights[target, min(held, num_source - 1)] = 1.0
    return weights


def align_frames(features, source_rate: float, num_target: int, target_rate: float,
                 *, time_axis: int = -2) -> np.ndarray:
    """Bring a stream onto another's frames with :func:`alignment_matrix`.

    features: float ``(..., num_source, d)`` (time on ``time_axis``, default the second to last:
    ``(N, T, d)`` or ``(T, d)``) → float64 with ``num_target`` steps on that axis. MFCC from
    :func:`mmcourse.features.audio.mfcc` are ``(N, n_mfcc, frames)``: pass ``time_axis=-1``.
    """
    features = check.array(features, "features", kind="numeric", finite=True,
                           what="a feature stream")
    if features.ndim < 1:
        raise check.value_error("features", "an array with a time axis", features)
    time_axis = check.integer(time_axis, "time_axis", minimum=-features.ndim,
                              maximum=features.ndim - 1)
    moved = np.moveaxis(features.astype(np.float64), time_axis, -1)
    weights = alignment_matrix(moved.shape[-1], source_rate, num_target, target_rate)
    return np.moveaxis(moved @ weights.T, -1, time_axis)


# ----------------------------------------------------------------------------- pooling
def temporal_pool(sequence, mode: str = "mean", mask=None) -> np.ndarray:
    """Pool a sequence float ``(N, T, d)`` over time → ``(N, d)``.

    mode: ``"mean"`` or ``"max"``. mask: optional ``(N, T)`` of 0/1 (or bool), 1 = a real step;
    only those steps are pooled, and a sample with no real step gets zeros.
    """
    sequence = check.array(sequence, "sequence", ndim=3, kind="numeric", finite=True,
                           what="a sequence (N, T, d)").astype(np.float64)
    mode = check.one_of(mode, "mode", ("mean", "max"))
    if mask is None:
        valid = np.ones(sequence.shape[:2], dtype=bool)
    else:
        valid = check.array(mask, "mask", shape=sequence.shape[:2], kind="numeric",
                            what="a mask (N, T)") > 0
    count = valid.sum(axis=1)[:, None]
    if mode == "mean":
        total = np.where(valid[..., None], sequence, 0.0).sum(axis=1)
        return np.where(count > 0, total / np.maximum(count, 1), 0.0)
    largest = np.where(valid[..., None], sequence, -np.inf).max(axis=1)
    return np.where(count > 0, largest, 0.0)
