"""Checks for exercise 06 (late fusion), against :mod:`mmcourse.fusion.late`.

The learner's functions (signatures as in ``solutions/06_early_late_fusion.ipynb``):

* ``hint_probabilities(candidates)`` -> bool ``(batch, 10)`` candidate masks to probabilities,
  uniform over the allowed digits (uniform over all ten when none is allowed);
* ``average_fusion(probabilities)`` -> the mean of a list of ``(batch, classes)`` arrays;
* ``product_of_experts(probabilities, floor=1e-6)`` -> ``softmax(Σ_i log max(p_i, floor))``,
  ``(batch, classes)``, rows summing to 1 — in log space, so that many small probabilities do
  not underflow, and with a floor, so that zeros do not give ``log 0``.
"""

from __future__ import annotations

import numpy as np

from mmcourse.checks import Case, register
from mmcourse.fusion import late


def _probabilities(rng: np.random.Generator, count: int, batch: int, classes: int):
    return [rng.dirichlet(np.full(classes, 0.5), size=batch) for _ in range(count)]


def _uniform_over(candidates: np.ndarray) -> np.ndarray:
    allowed = np.where(candidates.any(axis=1, keepdims=True), candidates, True).astype(float)
    return allowed / allowed.sum(axis=1, keepdims=True)


@register(
    "06.hint_probabilities",
    hints=[
        "Each row should spread probability 1 evenly over the digits whose mask entry is True.",
        "Convert the bool mask to floats and divide each row by its sum "
        "(`keepdims=True` keeps the shapes broadcastable).",
        "A row with no True entry has sum 0: treat it as 'every digit allowed' first, e.g. with "
        "`np.where(mask.any(axis=1, keepdims=True), mask, True)`.",
    ],
)
def _hint_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for batch in (5, 1, 12):
        candidates = rng.random((batch, 10)) < rng.uniform(0.1, 0.7)
        candidates[np.arange(batch), rng.integers(0, 10, batch)] = True  # never empty here
        cases.append(
            Case(f"candidates of shape {candidates.shape}", args=(candidates,),
                 expected=_uniform_over(candidates))
        )
    empty = rng.random((3, 10)) < 0.5
    empty[1] = False  # a missing hint: no digit marked
    cases.append(Case("candidates with an all-False row", args=(empty,),
                      expected=_uniform_over(empty)))
    return cases


@register(
    "06.average",
    hints=[
        "Average the arrays in the list element by element: the result has the shape of one of them.",
        "`np.mean(np.stack(probabilities), axis=0)` stacks the M arrays into (M, batch, classes) "
        "and averages over the first axis.",
    ],
)
def _average_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for count, batch, classes in [(2, 6, 10), (3, 4, 5), (1, 3, 4), (5, 1, 10)]:
        probabilities = _probabilities(rng, count, batch, classes)
        cases.append(
            Case(f"{count} arrays of shape ({batch}, {classes})", args=(probabilities,),
                 expected=late.average_probabilities(probabilities))
        )
    return cases


def _floor_kwargs(floor):
    return {} if floor is None else {"floor": floor}


@register(
    "06.product_of_experts",
    hints=[
        "Multiply the experts' probabilities class by class, then renormalise each row to sum 1 "
        "— but do it with logarithms: add the logs instead of multiplying.",
        "Clip first: `np.log(np.maximum(p, floor))`, so that a probability of exactly 0 does not "
        "give -inf. Then turn the summed logs back into probabilities with a softmax over the "
        "class axis (subtract the row maximum before `np.exp`).",
        "Multiplying many small numbers underflows to 0 (and 0/0 = nan): a hundred factors of "
        "1e-6 make 1e-600, below the smallest float64. In log space that is just -1382, and the "
        "softmax after subtracting the row maximum is fine.",
    ],
)
def _product_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for count, batch, classes in [(2, 6, 10), (3, 4, 5), (1, 3, 4)]:
        probabilities = _probabilities(rng, count, batch, classes)
        cases.append(
            Case(f"{count} arrays of shape ({batch}, {classes})", args=(probabilities,),
                 expected=late.product_of_experts(probabilities))
        )
    zeros = _probabilities(rng, 2, 4, 6)
    zeros[0][:, :2] = 0.0  # expert 0 rules classes 0 and 1 out ...
    zeros[1][:, 2:] = 0.0  # ... expert 1 rules everything else out: every product is 0
    zeros = [p / p.sum(axis=1, keepdims=True) for p in zeros]
    cases.append(Case("two experts whose zeros cover every class (needs the floor)",
                      args=(zeros,), expected=late.product_of_experts(zeros)))
    floor = float(rng.choice([1e-3, 1e-2]))
    veto = [zeros[0], *_probabilities(rng, 1, 4, 6)]  # only expert 0 rules classes out
    cases.append(Case(f"one expert with zeros and floor={floor}", args=(veto,),
                      kwargs=_floor_kwargs(floor),
                      expected=late.product_of_experts(veto, floor=floor)))
    many = [np.full((2, 5), 1e-6) for _ in range(150)]
    for p in many:
        p[:, rng.integers(0, 5)] = 1.0 - 4e-6
    cases.append(Case("150 experts with tiny probabilities (a plain product underflows)",
                      args=(many,), expected=late.product_of_experts(many)))
    return cases
