"""Checks for exercise 09 (missing and noisy modalities), against :mod:`mmcourse.robustness`,
:mod:`mmcourse.fusion.late` and the behaviour of :class:`mmcourse.fusion.dropout.ModalityDropout`.

The learner's functions (signatures as in ``solutions/09_missing_noisy_modalities.ipynb``):

* ``drop_modalities(present, rate, rng, training=True)`` -> a new presence mask ``(N, M)``: each
  present modality dropped with probability ``rate``, never a sample's last one, nothing
  changed when ``training`` is false (ModalityDropout in NumPy). Random, so it is checked by its
  properties (see :func:`compare_dropout`), not against one answer;
* ``robustness_summary(curves, baseline)`` -> ``{model: (relative, effective)}`` with
  :func:`mmcourse.robustness.relative_robustness` and :func:`~mmcourse.robustness.effective_robustness`
  against ``curves[baseline]``;
* ``late_fusion_missing(probabilities, present, weights)`` -> ``(N, C)``: probabilities ``(N, M,
  C)`` averaged over the present modalities with weights ``(M,)``, uniform when none is present;
  reference :func:`mmcourse.fusion.late.average_probabilities`.

The comparison functions here are shared with the grader's tasks (``mmcourse/grading/tasks_0809.py``).
"""

from __future__ import annotations

import math

import numpy as np

from mmcourse import robustness
from mmcourse.checks import Case, register
from mmcourse.fusion import late


def _kind(value) -> str:
    return getattr(value, "what", type(value).__name__)


def compare_dropout(received, expected) -> str | None:
    """Properties of a modality-dropout mask. ``expected`` = ``(present, rate, training)``."""
    present, rate, training = expected
    present = np.asarray(present, dtype=bool)
    if type(received) is not np.ndarray or received.dtype.kind not in "biuf":
        return f"expected a NumPy array of 0/1 (or bool), received {_kind(received)}"
    if received.shape != present.shape:
        return f"expected a mask of shape {present.shape} (same as present), received {received.shape}"
    if not np.all(np.isin(received, (0, 1))):
        return "the mask must hold only 0 and 1 (or False/True)"
    mask = received.astype(bool)
    if np.any(mask & ~present):
        return "a modality that was missing came back present: only drop, never add"
    if not training:
        return None if np.array_equal(mask, present) else \
            "with training=False the mask must come back unchanged (dropout is for training only)"
    had = present.any(axis=1)
    if np.any(had & ~mask.any(axis=1)):
        return "a sample lost every modality: keep at least one of the modalities it had"
    several = present.sum(axis=1) >= 2
    dropped = present[several] & ~mask[several]
    fraction = dropped.sum() / max(1, present[several].sum())
    # each present modality is dropped with probability `rate`, minus the rescued ones (at most
    # rate**2 of them for two or more modalities); 0.03 covers sampling noise for ≥ 3000 entries
    if rate == 0 and dropped.any():
        return "with rate=0 nothing may be dropped"
    if not rate * (1 - rate) - 0.03 <= fraction <= rate + 0.03:
        return (f"about {rate:.0%} of the present modalities should be dropped; "
                f"{fraction:.1%} were (is rate the drop probability, not the keep probability?)")
    return None


def random_presence(rng: np.random.Generator, samples: int, count: int) -> np.ndarray:
    present = rng.random((samples, count)) < 0.85
    present[rng.integers(0, samples, size=max(1, samples // 20))] = False  # a few with nothing
    return present.astype(np.float32)


def reference_summary(curves, baseline) -> dict[str, tuple[float, float]]:
    return {name: (robustness.relative_robustness(curve),
                   robustness.effective_robustness(curve, curves[baseline]))
            for name, curve in curves.items()}


def compare_summary(received, expected) -> str | None:
    if type(received) is not dict:
        return f"expected a dict {{model: (relative, effective)}}, received {_kind(received)}"
    if sorted(received) != sorted(expected):
        return f"expected the keys {sorted(expected)}, received {sorted(map(str, received))}"
    for name, pair in expected.items():
        value = received[name]
        if type(value) not in (tuple, list) or len(value) != 2:
            return f"the value for {name!r} must be a pair (relative, effective)"
        for which, number, target in zip(("relative", "effective"), value, pair, strict=True):
            if type(number) not in (int, float, np.float64, np.float32) or not math.isfinite(float(number)):
                return f"the {which} robustness of {name!r} is not a finite number"
            if abs(float(number) - target) > 1e-9:
                return f"the {which} robustness of {name!r} differs from the reference"
    return None


def random_curves(rng: np.random.Generator, names, levels: int) -> dict[str, list[float]]:
    curves = {}
    for name in names:
        clean = rng.uniform(0.6, 0.99)
        falls = np.sort(rng.uniform(0, clean - 0.1, size=levels - 1))
        curves[name] = [float(clean), *(float(clean - fall) for fall in falls)]
    return curves


def reference_late_fusion(probabilities, present, weights) -> np.ndarray:
    probabilities = np.asarray(probabilities, dtype=np.float64)
    return late.average_probabilities(list(np.moveaxis(probabilities, 1, 0)), weights, present)


def random_late_inputs(rng: np.random.Generator, samples: int, count: int, classes: int):
    scores = rng.normal(scale=2.0, size=(samples, count, classes))
    probabilities = np.exp(scores) / np.exp(scores).sum(axis=-1, keepdims=True)
    present = random_presence(rng, samples, count)
    weights = rng.uniform(0.2, 2.0, size=count)
    return probabilities, present, weights


# ---------------------------------------------------------------------------------------------
@register(
    "09.drop_modalities",
    hints=[
        "Draw one uniform number per (sample, modality) from `rng`; a present modality survives "
        "when its number is ≥ rate. Missing modalities stay missing.",
        "Then find the samples that had a modality but lost all of them and give each back one of "
        "its present modalities (any, e.g. one picked with `rng`).",
        "With `training=False` return the mask unchanged — like keras.layers.Dropout at inference.",
    ],
)
def _dropout_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for samples, count, rate, training in [(3000, 3, 0.3, True), (2000, 2, 0.5, True),
                                           (1500, 4, 0.2, True), (50, 3, 0.0, True),
                                           (40, 3, 0.4, False)]:
        present = random_presence(rng, samples, count)
        seed = int(rng.integers(1 << 31))
        cases.append(Case(f"present of shape {(samples, count)}, rate={rate}, training={training}",
                          args=(present, rate, np.random.default_rng(seed)), kwargs={"training": training},
                          expected=(present, rate, training), compare=compare_dropout))
    return cases


@register(
    "09.robustness_summary",
    hints=[
        "Relative robustness: the area under the curve with the K levels spread evenly on [0, 1], "
        "trapezoids of width 1 / (K − 1).",
        "Effective robustness: shift the baseline's curve so that it starts at this model's clean "
        "accuracy, then add up (model − shifted baseline) over the levels.",
        "The baseline's own effective robustness is 0 — a quick test of your formula.",
    ],
)
def _summary_cases(rng: np.random.Generator) -> list[Case]:
    fixed = {"late": [0.9, 0.7, 0.5], "early": [0.8, 0.7, 0.6]}
    cases = [Case("two 3-level curves you can work out by hand", args=(fixed, "late"),
                  expected={"late": (0.7, 0.0), "early": (0.7, 0.3)}, compare=compare_summary)]
    for names, levels in [(("late", "early", "attention"), 6), (("a", "b"), 11), (("x", "y", "z", "w"), 2)]:
        curves = random_curves(rng, names, levels)
        baseline = str(rng.choice(names))
        cases.append(Case(f"{len(names)} curves of {levels} levels, baseline {baseline!r}",
                          args=(curves, baseline), expected=reference_summary(curves, baseline),
                          compare=compare_summary))
    return cases


@register(
    "09.late_fusion_missing",
    hints=[
        "For each sample, only the present modalities vote: multiply each modality's probabilities "
        "by weights[m] * present[n, m] and add them up.",
        "Divide by the sum of the weights of the present modalities (not of all M), so each row "
        "sums to 1 again.",
        "A sample with no modality at all has nothing to go on: return the uniform 1 / C for it.",
    ],
)
def _late_cases(rng: np.random.Generator) -> list[Case]:
    probabilities = np.array([[[0.8, 0.2], [0.4, 0.6]], [[0.8, 0.2], [0.4, 0.6]], [[0.8, 0.2], [0.4, 0.6]]])
    present = np.array([[1, 1], [0, 1], [0, 0]], dtype=np.float32)
    cases = [Case("three samples you can work out by hand", args=(probabilities, present, np.array([1.0, 3.0])),
                  expected=np.array([[0.5, 0.5], [0.4, 0.6], [0.5, 0.5]]))]
    for samples, count, classes in [(40, 3, 10), (1, 2, 3), (25, 5, 4)]:
        args = random_late_inputs(rng, samples, count, classes)
        cases.append(Case(f"probabilities of shape {(samples, count, classes)}", args=args,
                          expected=reference_late_fusion(*args)))
    return cases
