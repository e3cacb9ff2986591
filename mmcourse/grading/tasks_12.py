"""The grader's own checks for exercise 12 (registered into ``tasks.TASKS``).

Same design as :mod:`mmcourse.grading.tasks_0809`: each :class:`~mmcourse.grading.tasks.Task`
names the graded test cell, the answer cell and the learner's function; ``make_cases(rng)`` draws
the inputs from the grading run's seed and computes the expected result here, in the grader's
process, with :mod:`mmcourse.temporal` (through :mod:`mmcourse.checks.lesson12`, whose comparisons
the learner's ``check()`` uses too). ``forbidden`` names the course's implementation of each task.
All three tasks are NumPy only: grading one submission costs a notebook run plus one fresh Python
process, no TensorFlow.
"""

from __future__ import annotations

import numpy as np

from mmcourse.grading.sandboxed.plain import Rejected
from mmcourse.grading.tasks import TASKS, Case, Task, close

__all__ = ["TASKS_12"]


def _conv3d_cases(rng):
    from mmcourse.checks import lesson12

    def compare(received, expected):
        if isinstance(received, Rejected):
            return f"returned {received.what}, not plain data (return a dict of a tuple and two ints)"
        return lesson12.compare_conv3d(received, expected)

    arguments = list(lesson12.FIXED_CONV3D) + [lesson12.random_conv3d(rng) for _ in range(6)]
    return [Case(args, lesson12.reference_conv3d(*args), compare) for args in arguments]


def _align_cases(rng):
    from mmcourse.checks import lesson12

    fixed = np.arange(12, dtype=np.float64).reshape(6, 2)
    cases = [Case((fixed, 3.0, 2, 1.0), np.array([[2.0, 3.0], [8.0, 9.0]]), close()),
             Case((fixed, 3.0, 4, 6.0), np.array([[0.0, 1.0], [0.0, 1.0], [2.0, 3.0], [2.0, 3.0]]), close())]
    for source_rate, target_rate in lesson12.RATE_PAIRS:
        args = lesson12.random_stream(rng, source_rate, target_rate)
        cases.append(Case(args, lesson12.reference_align(*args), close()))
    return cases


def _pool_cases(rng):
    from mmcourse.checks import lesson12

    sequence = np.array([[[1.0, -2.0], [3.0, -4.0], [0.0, 0.0]], [[-5.0, -1.0], [0.0, 0.0], [0.0, 0.0]]])
    mask = np.array([[1, 1, 0], [1, 0, 0]], dtype=np.float32)
    cases = [Case((sequence, mask, "mean"), np.array([[2.0, -3.0], [-5.0, -1.0]]), close()),
             Case((sequence, mask, "max"), np.array([[3.0, -2.0], [-5.0, -1.0]]), close())]
    for samples, steps, width, mode in [(30, 8, 5, "mean"), (30, 8, 5, "max"), (1, 4, 2, "mean"),
                                        (16, 12, 3, "max")]:
        args = lesson12.random_padded(rng, samples, steps, width, mode)
        cases.append(Case(args, lesson12.reference_pool(*args), close()))
    return cases


_TEMPORAL = "mmcourse.temporal."
TASKS_12: dict[str, list[Task]] = {
    "12": [
        Task("test_conv3d_summary", "conv3d_answer", "conv3d_summary",
             "conv3d_summary on the visible layers and on random Conv3D layers (non-cubic kernels, "
             "strides per axis, 'valid' and 'same'): the output shape, the parameters and the "
             "multiply-adds against the course's arithmetic",
             _conv3d_cases, (_TEMPORAL + "conv3d_output_shape", _TEMPORAL + "conv3d_parameter_count",
                             _TEMPORAL + "conv3d_multiply_adds", "mmcourse.checks.lesson12.reference_conv3d")),
        Task("test_align_streams", "align_answer", "align_streams",
             "align_streams on the visible streams and on random streams at six pairs of rates "
             "(faster and slower sources, frames left over), against the course's alignment",
             _align_cases, (_TEMPORAL + "alignment_matrix", _TEMPORAL + "align_frames",
                            "mmcourse.checks.lesson12.reference_align")),
        Task("test_masked_temporal_pool", "pool_answer", "masked_temporal_pool",
             "masked_temporal_pool on the visible samples and on random padded sequences (some "
             "with no real step), mean and max, against the course's masked pooling",
             _pool_cases, (_TEMPORAL + "temporal_pool", "mmcourse.checks.lesson12.reference_pool")),
    ],
}

TASKS.update(TASKS_12)
