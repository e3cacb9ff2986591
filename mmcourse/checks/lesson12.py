"""Checks for exercise 12 (video and time), against :mod:`mmcourse.temporal`.

The learner's functions (signatures as in ``solutions/12_video_and_time.ipynb``):

* ``conv3d_summary(input_shape, filters, kernel_size, strides, padding)`` -> ``{"output_shape":
  (T', H', W', filters), "parameters": int, "multiply_adds": int}`` for one ``Conv3D`` with a
  3-tuple kernel and 3-tuple strides; references :func:`mmcourse.temporal.conv3d_output_shape`,
  :func:`~mmcourse.temporal.conv3d_parameter_count`, :func:`~mmcourse.temporal.conv3d_multiply_adds`;
* ``align_streams(features, source_rate, num_target, target_rate)`` -> ``(num_target, d)``: each
  target frame the mean of the source frames in its interval, else the source frame playing
  when it starts; reference :func:`mmcourse.temporal.align_frames`;
* ``masked_temporal_pool(sequence, mask, mode)`` -> ``(N, d)``: mean or max over the valid steps
  only, zeros for a sample without one; reference :func:`mmcourse.temporal.temporal_pool`.

The comparison and case functions here are shared with the grader's tasks
(``mmcourse/grading/tasks_12.py``).
"""

from __future__ import annotations

import numpy as np

from mmcourse import temporal
from mmcourse.checks import Case, register

_INT_TYPES = (int, np.int64, np.int32)


def _kind(value) -> str:
    return getattr(value, "what", type(value).__name__)


# ----------------------------------------------------------------------------- task 1
def reference_conv3d(input_shape, filters, kernel_size, strides, padding) -> dict:
    return {"output_shape": temporal.conv3d_output_shape(input_shape, filters, kernel_size, strides, padding),
            "parameters": temporal.conv3d_parameter_count(input_shape[-1], filters, kernel_size),
            "multiply_adds": temporal.conv3d_multiply_adds(input_shape, filters, kernel_size, strides, padding)}


def compare_conv3d(received, expected) -> str | None:
    if type(received) is not dict:
        return f"expected a dict with output_shape, parameters, multiply_adds; received {_kind(received)}"
    if sorted(received) != sorted(expected):
        return f"expected the keys {sorted(expected)}, received {sorted(map(str, received))}"
    shape = received["output_shape"]
    if type(shape) not in (tuple, list) or not all(type(size) in _INT_TYPES for size in shape):
        return "output_shape must be a tuple of 4 ints (T', H', W', filters)"
    if tuple(int(size) for size in shape) != tuple(expected["output_shape"]):
        return "output_shape is wrong (check the rule for this padding on each axis)"
    for key, what in (("parameters", "the weights of one filter, the bias, times filters"),
                      ("multiply_adds", "one dot product per OUTPUT value")):
        if type(received[key]) not in _INT_TYPES:
            return f"{key} must be an int, received {_kind(received[key])}"
        if int(received[key]) != expected[key]:
            return f"{key} is wrong ({what})"
    return None


def random_conv3d(rng: np.random.Generator):
    kernel = tuple(int(k) for k in rng.integers(1, 4, size=3))
    strides = tuple(int(s) for s in rng.integers(1, 3, size=3))
    padding = str(rng.choice(["valid", "same"]))
    shape = (int(rng.integers(4, 13)), int(rng.integers(6, 33)), int(rng.integers(6, 33)),
             int(rng.integers(1, 9)))
    return shape, int(rng.integers(1, 33)), kernel, strides, padding


FIXED_CONV3D = [((8, 16, 16, 1), 8, (3, 3, 3), (1, 1, 1), "same"),
                ((8, 32, 32, 3), 16, (3, 5, 5), (1, 2, 2), "valid"),
                ((7, 15, 15, 2), 4, (2, 3, 3), (2, 2, 2), "same")]


@register(
    "12.conv3d_summary",
    hints=[
        "Work axis by axis (time, height, width) with the rule of lesson 02 for the padding; the "
        "last entry of the output shape is the number of filters.",
        "'valid': floor((n − k) / s) + 1; 'same': ceil(n / s) — in integers, -(-n // s).",
        "Parameters: each filter has k_t·k_h·k_w·c_in weights plus one bias. Multiply-adds: each "
        "value of the OUTPUT (all four axes) is one dot product of k_t·k_h·k_w·c_in terms.",
    ],
)
def _conv3d_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for args in FIXED_CONV3D + [random_conv3d(rng) for _ in range(5)]:
        cases.append(Case(f"input_shape={args[0]}, filters={args[1]}, kernel_size={args[2]}, "
                          f"strides={args[3]}, padding={args[4]!r}", args=args,
                          expected=reference_conv3d(*args), compare=compare_conv3d))
    return cases


# ----------------------------------------------------------------------------- task 2
def reference_align(features, source_rate, num_target, target_rate) -> np.ndarray:
    return temporal.align_frames(features, source_rate, num_target, target_rate, time_axis=-2)


RATE_PAIRS = [(100.0, 8.0), (50.0, 30.0), (25.0, 30.0), (30.0, 12.5), (100.0, 25.0), (10.0, 24.0)]


def random_stream(rng: np.random.Generator, source_rate: float, target_rate: float,
                  seconds: float | None = None):
    seconds = float(rng.uniform(0.5, 2.0)) if seconds is None else seconds
    num_source = max(1, int(round(seconds * source_rate)) + int(rng.integers(0, 2)))
    num_target = max(1, int(round(seconds * target_rate)))
    features = rng.normal(size=(num_source, int(rng.integers(1, 6))))
    return features, source_rate, num_target, target_rate


@register(
    "12.align_streams",
    hints=[
        "Source frame s happens at s / source_rate seconds; target frame t lasts from "
        "t / target_rate to (t + 1) / target_rate. Which target frame does each source frame fall in?",
        "Target index of source frame s: floor(s · target_rate / source_rate + 1e-9). Average the "
        "source rows that share an index; source frames whose index is ≥ num_target are left out.",
        "A target frame no source frame falls into takes ONE source row: the one playing when it "
        "starts, index floor(t · source_rate / target_rate + 1e-9), at most the last row.",
    ],
)
def _align_cases(rng: np.random.Generator) -> list[Case]:
    fixed = np.arange(12, dtype=np.float64).reshape(6, 2)  # 6 frames at 3/s -> 2 frames at 1/s
    cases = [Case("6 source frames at 3/s onto 2 target frames at 1/s (you can do it by hand)",
                  args=(fixed, 3.0, 2, 1.0), expected=np.array([[2.0, 3.0], [8.0, 9.0]]))]
    for source_rate, target_rate in RATE_PAIRS:
        args = random_stream(rng, source_rate, target_rate)
        cases.append(Case(f"features of shape {args[0].shape} at {source_rate:g}/s onto "
                          f"{args[2]} frames at {target_rate:g}/s", args=args,
                          expected=reference_align(*args)))
    return cases


# ----------------------------------------------------------------------------- task 3
def reference_pool(sequence, mask, mode) -> np.ndarray:
    return temporal.temporal_pool(sequence, mode, mask)


def random_padded(rng: np.random.Generator, samples: int, steps: int, width: int, mode: str):
    sequence = rng.normal(loc=-1.0, size=(samples, steps, width))  # mostly negative: max ≠ 0
    lengths = rng.integers(0, steps + 1, size=samples)
    lengths[0] = steps  # one full-length sample, at least one padded one below
    mask = (np.arange(steps)[None, :] < lengths[:, None]).astype(np.float32)
    sequence = np.where(mask[..., None] > 0, sequence, 0.0)  # padded steps hold zeros
    return sequence, mask, mode


@register(
    "12.masked_temporal_pool",
    hints=[
        "Only the steps with mask 1 count. For the mean, add up the valid steps and divide by how "
        "many there are — per sample, not by T.",
        "For the max, padded steps must never win: replace them by −inf before taking the max "
        "(their stored zeros would beat negative features).",
        "A sample with no valid step has nothing to pool: return zeros for it (not nan, not −inf).",
    ],
)
def _pool_cases(rng: np.random.Generator) -> list[Case]:
    sequence = np.array([[[1.0, -2.0], [3.0, -4.0], [0.0, 0.0]], [[-5.0, -1.0], [0.0, 0.0], [0.0, 0.0]]])
    mask = np.array([[1, 1, 0], [1, 0, 0]], dtype=np.float32)
    cases = [Case("two padded samples you can do by hand, mode='mean'", args=(sequence, mask, "mean"),
                  expected=np.array([[2.0, -3.0], [-5.0, -1.0]])),
             Case("the same, mode='max'", args=(sequence, mask, "max"),
                  expected=np.array([[3.0, -2.0], [-5.0, -1.0]]))]
    for samples, steps, width, mode in [(20, 8, 5, "mean"), (20, 8, 5, "max"), (1, 3, 1, "mean"),
                                        (12, 10, 3, "max")]:
        args = random_padded(rng, samples, steps, width, mode)
        cases.append(Case(f"sequence of shape {args[0].shape}, mode={mode!r}", args=args,
                          expected=reference_pool(*args)))
    return cases
