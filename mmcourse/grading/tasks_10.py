"""The grader's own checks for exercise 10 (registered into ``tasks.TASKS``).

Same design as :mod:`mmcourse.grading.tasks_0809`: each :class:`~mmcourse.grading.tasks.Task`
names the graded test cell, the answer cell and the learner's function; ``make_cases(rng)``
draws the inputs from the grading run's seed and computes the expected result **here, in the
grader's process**, with :mod:`mmcourse.multitask`. The comparisons come from
:mod:`mmcourse.checks.lesson10` (the same ones the learner's ``check()`` uses), run in the
grader's process on plain data. All three tasks are NumPy only: no TensorFlow is imported, so
grading one submission costs a notebook run plus one fresh Python process.
"""

from __future__ import annotations

import numpy as np

from mmcourse.grading.sandboxed.plain import Rejected
from mmcourse.grading.tasks import TASKS, Case, Task

__all__ = ["TASKS_10"]


def _plain_first(compare):
    def wrapped(received, expected):
        if isinstance(received, Rejected):
            return f"returned {received.what}, not plain data (return a float, an int or a dict)"
        return compare(received, expected)

    return wrapped


def _loss_cases(rng):
    from mmcourse.checks import lesson10

    compare = _plain_first(lesson10.compare_loss)
    visible = (np.array([1.0, 2.0]), np.array([0.0, 0.0]), np.array([False, True]))
    cases = [Case(visible, 2.0, compare)]
    for count in (1, 2, 4, 7):
        args = lesson10.random_loss_inputs(rng, count)
        cases.append(Case(args, lesson10.reference_loss(*args), compare))
    return cases


def _trunk_cases(rng):
    from mmcourse import multitask
    from mmcourse.checks import lesson10

    compare = _plain_first(lesson10.compare_units)
    visible = ({"image": 64, "audio": 52, "text": 37}, {"digit": 10, "parity": 2, "is_large": 2}, 10766)
    one_less = (visible[0], visible[1], 10765)  # one parameter short of u = 64
    cases = [Case(visible, 64, compare), Case(one_less, 63, compare),
             Case(({"image": 64}, {"digit": 10}, 5), 0, compare)]
    for _ in range(5):
        args = lesson10.random_trunk_problem(rng)
        cases.append(Case(args, multitask.widest_trunk(*args), compare))
    return cases


def _verdict_cases(rng):
    from mmcourse.checks import lesson10

    compare = _plain_first(lesson10.compare_verdict)
    visible = (np.array([0.50, 0.47, 0.53]), np.array([0.58, 0.55, 0.61]))
    cases = [Case(visible, lesson10.reference_verdict(*visible), compare)]
    for seeds, shift in ((3, 0.12), (3, -0.12), (4, 0.0), (6, float(rng.uniform(-0.03, 0.03))),
                         (2, 0.05)):
        args = lesson10.random_runs(rng, seeds, shift)
        cases.append(Case(args, lesson10.reference_verdict(*args), compare))
    return cases


_MULTITASK = "mmcourse.multitask."
TASKS_10: dict[str, list[Task]] = {
    "10": [
        Task("test_uncertainty_loss", "uncertainty_answer", "uncertainty_loss",
             "uncertainty_loss on the visible tasks and on random losses, log-variances and "
             "classification/regression mixes of 1 to 7 tasks, against the course's "
             "uncertainty-weighted loss",
             _loss_cases, (_MULTITASK + "uncertainty_weighted_loss", "mmcourse.multitask_keras",
                           "mmcourse.checks.lesson10.reference_loss")),
        Task("test_widest_trunk", "trunk_answer", "widest_trunk",
             "widest_trunk on the lesson's model, on a budget too small for the heads, and on "
             "random feature sizes, tasks and budgets, against the course's parameter count",
             _trunk_cases, (_MULTITASK + "widest_trunk", _MULTITASK + "multitask_parameter_count")),
        Task("test_compare_runs", "verdict_answer", "compare_runs",
             "compare_runs on the visible runs and on random runs of 2 to 6 seeds (clear wins, "
             "clear losses, ties): difference, noise (sample std) and verdict",
             _verdict_cases, (_MULTITASK + "seed_verdict", "mmcourse.checks.lesson10.reference_verdict")),
    ],
}

TASKS.update(TASKS_10)
