"""Checks for exercise 10 (multi-task learning), against :mod:`mmcourse.multitask`.

The learner's functions (signatures as in ``solutions/10_multitask.ipynb``):

* ``uncertainty_loss(losses, log_variances, regression)`` -> float: Kendall, Gal & Cipolla's
  weighting for a mix of tasks, ``sum_t f_t exp(-s_t) L_t + s_t / 2`` with ``f_t = 1/2`` for a
  regression task and 1 for a classification task; reference
  :func:`mmcourse.multitask.uncertainty_weighted_loss`;
* ``widest_trunk(feature_dims, task_classes, budget)`` -> int: the widest single trunk layer
  whose multi-head model fits the parameter budget; reference :func:`mmcourse.multitask.widest_trunk`;
* ``compare_runs(single, multi)`` -> ``{"difference", "noise", "verdict"}``: the "beyond twice
  the seed spread" rule; reference :func:`mmcourse.multitask.seed_verdict`.

The comparison functions and input generators here are shared with the grader's tasks
(``mmcourse/grading/tasks_10.py``).
"""

from __future__ import annotations

import math

import numpy as np

from mmcourse import multitask
from mmcourse.checks import Case, register

VERDICTS = ("multi-task better", "single-task better", "tie")


def _kind(value) -> str:
    return getattr(value, "what", type(value).__name__)


def _is_number(value) -> bool:
    return type(value) in (int, float, np.float64, np.float32, np.int64) and math.isfinite(float(value))


def compare_loss(received, expected) -> str | None:
    if not _is_number(received):
        return f"expected a float, received {_kind(received)}"
    if not np.isclose(float(received), expected, rtol=1e-6, atol=1e-9):
        return (f"expected {expected:.6g}, received {float(received):.6g} (is the factor 1/2 of "
                "the regression tasks, and s/2 for every task, in?)")
    return None


def compare_units(received, expected) -> str | None:
    if type(received) not in (int, np.int64, np.int32) or isinstance(received, bool):
        return f"expected an int, received {_kind(received)}"
    if int(received) != expected:
        return (f"expected {expected} units, received {int(received)} (count every weight and "
                "every bias, of the trunk and of each head)")
    return None


def compare_verdict(received, expected) -> str | None:
    if type(received) is not dict:
        return f"expected a dict with difference, noise and verdict, received {_kind(received)}"
    if sorted(map(str, received)) != ["difference", "noise", "verdict"]:
        return f"expected the keys ['difference', 'noise', 'verdict'], received {sorted(map(str, received))}"
    for key in ("difference", "noise"):
        if not _is_number(received[key]):
            return f"{key} must be a finite number"
        if not np.isclose(float(received[key]), expected[key], rtol=1e-6, atol=1e-9):
            return f"{key} differs from the reference (is the std the sample std, ddof=1?)"
    if received["verdict"] != expected["verdict"]:
        return f"expected the verdict {expected['verdict']!r}, received {received['verdict']!r}"
    return None


def reference_loss(losses, log_variances, regression) -> float:
    return multitask.uncertainty_weighted_loss(losses, log_variances, regression=regression)


def random_loss_inputs(rng: np.random.Generator, count: int):
    losses = rng.uniform(0.05, 3.0, count)
    log_variances = rng.normal(0, 1, count)
    regression = rng.random(count) < 0.5
    regression[rng.integers(count)] = True  # at least one of each kind when count >= 2
    if count >= 2:
        regression[(np.flatnonzero(regression)[0] + 1) % count] = False
    return losses, log_variances, regression


def reference_verdict(single, multi) -> dict:
    result = multitask.seed_verdict(single, multi, names=("single-task", "multi-task"))
    return result


def random_runs(rng: np.random.Generator, seeds: int, shift: float):
    single = rng.uniform(0.45, 0.85) + rng.normal(0, rng.uniform(0.005, 0.04), seeds)
    multi = single.mean() + shift + rng.normal(0, rng.uniform(0.005, 0.04), seeds)
    return np.round(single, 4), np.round(multi, 4)


def random_trunk_problem(rng: np.random.Generator):
    names = rng.choice(["image", "audio", "text", "video"], size=int(rng.integers(1, 5)), replace=False)
    dims = {str(name): int(rng.integers(4, 200)) for name in names}
    tasks = {name: int(rng.integers(2, 21)) for name in
             rng.choice(["digit", "parity", "is_large", "hint_type", "speaker"],
                        size=int(rng.integers(1, 5)), replace=False)}
    budget = int(rng.integers(500, 60_000))
    return {str(k): v for k, v in dims.items()}, {str(k): v for k, v in tasks.items()}, budget


@register("10.uncertainty_loss", hints=[
    "Start from the lesson's classification form, exp(-s) L + s / 2, for every task.",
    "A regression task's weighted loss is halved; its s / 2 term is not.",
    "Which of the two terms does the regression factor multiply, and which does it leave alone?",
])
def _loss_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for count in (1, 2, 3, 6):
        losses, log_variances, regression = random_loss_inputs(rng, count)
        cases.append(Case(f"{count} task(s), regression={regression.tolist()}",
                          args=(losses, log_variances, regression),
                          expected=reference_loss(losses, log_variances, regression),
                          compare=compare_loss))
    return cases


@register("10.widest_trunk", hints=[
    "Write the parameter count of the model as a function of the trunk width u first.",
    "The trunk has (D + 1) * u parameters (D = all feature sizes added up); a head with c classes "
    "has (u + 1) * c.",
    "The count grows linearly in u: solve count(u) <= budget for the largest integer u, and "
    "return 0 when even the heads alone do not fit.",
])
def _trunk_cases(rng: np.random.Generator) -> list[Case]:
    cases = [Case("no room at all", args=({"image": 64}, {"digit": 10}, 5), expected=0,
                  compare=compare_units),
             Case("lesson 10's model, one parameter short of u = 64",
                  args=({"image": 64, "audio": 52, "text": 37}, {"digit": 10, "parity": 2, "is_large": 2},
                        10765), expected=63, compare=compare_units)]
    for _ in range(4):
        dims, tasks, budget = random_trunk_problem(rng)
        cases.append(Case(f"feature_dims={dims}, task_classes={tasks}, budget={budget}",
                          args=(dims, tasks, budget),
                          expected=multitask.widest_trunk(dims, tasks, budget),
                          compare=compare_units))
    return cases


@register("10.compare_runs", hints=[
    "difference = mean(multi) - mean(single); noise = 2 * sqrt(std(single)**2 + std(multi)**2).",
    "Use the sample standard deviation (ddof=1): three seeds are a sample.",
    "The verdict is 'multi-task better' above +noise, 'single-task better' below -noise, "
    "else 'tie'.",
])
def _verdict_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for seeds, shift in ((3, 0.1), (3, -0.1), (5, 0.0), (4, float(rng.uniform(-0.03, 0.03)))):
        single, multi = random_runs(rng, seeds, shift)
        cases.append(Case(f"{seeds} seeds, single={single.tolist()}, multi={multi.tolist()}",
                          args=(single, multi), expected=reference_verdict(single, multi),
                          compare=compare_verdict))
    return cases
