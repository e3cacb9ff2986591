"""The grader's own checks for exercise 14 (registered into ``tasks.TASKS``).

Same design as :mod:`mmcourse.grading.tasks_0809`: each :class:`~mmcourse.grading.tasks.Task`
names the graded test cell, the answer cell and the learner's function; ``make_cases(rng)`` draws
the inputs from the grading run's seed and computes the expected result **here, in the grader's
process**, with the course's references (:mod:`mmcourse.privacy`, via
:mod:`mmcourse.checks.lesson14`), compared with the same functions the learner's ``check()``
uses. ``forbidden`` names the course's own implementation of each task. All three tasks are NumPy
only: grading one submission costs a notebook run plus one fresh Python process, no TensorFlow.
"""

from __future__ import annotations

import numpy as np

from mmcourse.grading.sandboxed.plain import Rejected
from mmcourse.grading.tasks import TASKS, Case, Task

__all__ = ["TASKS_14"]


def _plain_first(compare):
    def wrapped(received, expected):
        if isinstance(received, Rejected):
            return f"returned {received.what}, not plain data (return a dict, float or NumPy array)"
        return compare(received, expected)

    return wrapped


def _fedavg_cases(rng):
    from mmcourse.checks import lesson14

    compare = _plain_first(lesson14.compare_layers)
    visible = [{"kernel": np.array([[1.0, 2.0]]), "bias": np.array([0.0])},
               {"kernel": np.array([[3.0, 6.0]]), "bias": np.array([4.0])}]
    cases = [Case((visible, [1, 3]), {"kernel": np.array([[2.5, 5.0]]), "bias": np.array([3.0])},
                  compare)]
    for count, shapes in [(7, {"dense/kernel": (4, 3), "dense/bias": (3,)}), (1, {"w": (2, 2)}),
                          (15, {"k1": (6, 8), "b1": (8,), "k2": (8, 10), "b2": (10,)})]:
        clients, sizes = lesson14.random_clients(rng, count, shapes)
        cases.append(Case((clients, sizes), lesson14.reference_fedavg(clients, sizes), compare))
    return cases


def _gradient_cases(rng):
    from mmcourse.checks import lesson14

    compare = _plain_first(lesson14.compare_layers)
    visible = {"kernel": np.array([[[3.0]], [[0.3]]]), "bias": np.array([[4.0], [0.4]])}
    noise = {"kernel": np.array([[1.0]]), "bias": np.array([-1.0])}
    cases = [Case((visible, 1.0, 0.5, noise, 4.0),
                  {"kernel": np.array([[0.35]]), "bias": np.array([0.175])}, compare)]
    for batch, shapes, clip, sigma, expected_batch in [
            (24, {"kernel": (5, 3), "bias": (3,)}, 1.0, float(rng.uniform(0.5, 2.0)), 17.5),
            (50, {"k1": (4, 6), "b1": (6,), "k2": (6, 2), "b2": (2,)}, 0.5, 0.0, 50.0),
            (1, {"w": (3,)}, 2.0, 3.0, 0.8)]:
        per_example, draws = lesson14.random_gradients(rng, batch, shapes)
        cases.append(Case((per_example, clip, sigma, draws, expected_batch),
                          lesson14.reference_private_gradient(per_example, clip, sigma, draws,
                                                              expected_batch), compare))
    return cases


def _advantage_cases(rng):
    from mmcourse.checks import lesson14

    compare = _plain_first(lesson14.compare_number)
    cases = [Case((np.array([0.1, 0.2, 0.9, 0.3, 0.5, 2.0]),
                   np.array([0.15, 1.0, 3.0, 0.4, 1.5, 1.6])), 1 / 3, compare)]
    for count_m, count_n, gap in [(240, 240, 1.0), (61, 310, 2.0), (420, 95, 0.2)]:
        member_losses, nonmember_losses = lesson14.random_losses(rng, count_m, count_n, gap)
        cases.append(Case((member_losses, nonmember_losses),
                          lesson14.reference_calibrated_advantage(member_losses, nonmember_losses),
                          compare))
    return cases


_PRIVACY = "mmcourse.privacy."
_CHECKS = "mmcourse.checks.lesson14."
TASKS_14: dict[str, list[Task]] = {
    "14": [
        Task("test_fedavg_layers", "fedavg_answer", "fedavg_layers",
             "fedavg_layers on the visible clients and on random clients (1 to 15, one much "
             "larger than the others) with named layers, against the course's FedAvg average",
             _fedavg_cases, (_PRIVACY + "fedavg", _CHECKS + "reference_fedavg")),
        Task("test_private_gradient", "gradient_answer", "private_gradient",
             "private_gradient on the visible example and on random per-example gradients of 1 "
             "to 4 layers (norms above and below the clip, with and without noise, an expected "
             "batch size other than the number of rows), against the course's DP-SGD step",
             _gradient_cases, (_PRIVACY + "clip_and_noise", _CHECKS + "reference_private_gradient")),
        Task("test_calibrated_advantage", "advantage_answer", "calibrated_advantage",
             "calibrated_advantage on the visible losses and on random member/non-member losses "
             "of unequal sizes, against the course's threshold choice and membership advantage",
             _advantage_cases, (_PRIVACY + "choose_threshold", _PRIVACY + "membership_advantage",
                                _CHECKS + "reference_calibrated_advantage")),
    ],
}

TASKS.update(TASKS_14)
