"""Checks for exercise 08 (which modality does the model use?), against :mod:`mmcourse.interpret`.

The learner's functions (signatures as in ``solutions/08_attention_interpretation.ipynb``):

* ``shapley_from_table(values)`` -> exact Shapley values ``(M,)`` from a coalition table
  ``values`` of length ``2**M`` indexed by bit mask (bit ``i`` set = modality ``i`` present);
  reference :func:`mmcourse.interpret.shapley_values` on the same table as a dict;
* ``permutation_importance(inputs, labels, weights, orders)`` -> ``{modality: mean accuracy
  drop}`` of the linear model ``linear_predict`` when that modality's rows are reordered by each
  row of ``orders`` (the shuffles are given, so the result is exact);
* ``attention_entropy_bits(attention)`` -> per-sample entropy in **bits** ``(N,)``, 0·log 0 = 0;
  reference :func:`mmcourse.interpret.attention_entropy` (nats) divided by ``ln 2``.

The comparison functions here are shared with the grader's tasks (``mmcourse/grading/tasks_0809.py``).
"""

from __future__ import annotations

import math

import numpy as np

from mmcourse import interpret
from mmcourse.checks import Case, register


def players_of(count: int) -> tuple[str, ...]:
    return tuple(f"m{index}" for index in range(count))


def table_as_dict(values) -> dict[tuple[str, ...], float]:
    """The bit-mask table ``values[mask]`` as :func:`interpret.shapley_values` takes it."""
    values = np.asarray(values, dtype=np.float64)
    count = int(round(math.log2(len(values))))
    players = players_of(count)
    return {tuple(p for i, p in enumerate(players) if mask >> i & 1): float(values[mask])
            for mask in range(len(values))}


def reference_shapley(values) -> np.ndarray:
    count = int(round(math.log2(len(values))))
    result = interpret.shapley_values(table_as_dict(values), players_of(count))
    return np.array([result[p] for p in players_of(count)])


def random_table(rng: np.random.Generator, count: int) -> np.ndarray:
    """Accuracies of the 2**count coalitions: chance for the empty one, growing with members."""
    values = np.empty(2**count)
    strength = rng.uniform(0.0, 0.5, size=count)
    for mask in range(2**count):
        members = [i for i in range(count) if mask >> i & 1]
        values[mask] = min(1.0, 0.1 + sum(strength[members]) + rng.uniform(-0.05, 0.1) * (len(members) > 1))
    values[0] = 0.1
    return values


def linear_predict(inputs, weights):
    """The exercise's model: class scores ``Σ_m inputs[m] @ weights[m]``, prediction = argmax."""
    scores = sum(np.asarray(inputs[name]) @ np.asarray(weights[name]) for name in weights)
    return np.argmax(scores, axis=1)


def reference_permutation_importance(inputs, labels, weights, orders) -> dict[str, float]:
    labels = np.asarray(labels)
    baseline = float(np.mean(linear_predict(inputs, weights) == labels))
    result = {}
    for name in inputs:
        drops = []
        for order in np.asarray(orders):
            shuffled = {**inputs, name: np.asarray(inputs[name])[order]}
            drops.append(baseline - float(np.mean(linear_predict(shuffled, weights) == labels)))
        result[name] = float(np.mean(drops))
    return result


def random_problem(rng: np.random.Generator, names, samples: int, classes: int, repeats: int):
    """A linear model on random features where the modalities matter by different amounts."""
    labels = rng.integers(0, classes, size=samples)
    inputs, weights = {}, {}
    for index, name in enumerate(names):
        dim = int(rng.integers(2, 6))
        centres = rng.normal(size=(classes, dim))
        inputs[name] = centres[labels] * (index + 1) * 0.6 + rng.normal(size=(samples, dim))
        weights[name] = centres.T.copy()
    orders = np.stack([rng.permutation(samples) for _ in range(repeats)])
    return inputs, labels, weights, orders


def reference_entropy_bits(attention) -> np.ndarray:
    return interpret.attention_entropy(attention) / math.log(2.0)


def random_attention(rng: np.random.Generator, samples: int, count: int) -> np.ndarray:
    scores = rng.normal(scale=2.0, size=(samples, count))
    present = rng.random((samples, count)) < 0.7
    present[np.arange(samples), rng.integers(0, count, size=samples)] = True
    weights = np.exp(scores) * present
    return weights / weights.sum(axis=1, keepdims=True)


def compare_importances(received, expected) -> str | None:
    """``received`` must be a dict with the same modality names and values within 1e-9."""
    if type(received) is not dict:
        return f"expected a dict {{modality: drop}}, received {getattr(received, 'what', type(received).__name__)}"
    if sorted(received) != sorted(expected):
        return f"expected the keys {sorted(expected)}, received {sorted(map(str, received))}"
    for name, value in expected.items():
        number = received[name]
        if type(number) not in (int, float, np.float64, np.float32) or not math.isfinite(float(number)):
            return f"the value for {name!r} is not a finite number"
        if abs(float(number) - value) > 1e-9:
            return f"the drop for {name!r} differs from the reference (received {float(number):.4f})"
    return None


# ---------------------------------------------------------------------------------------------
@register(
    "08.shapley",
    hints=[
        "Loop over the modalities i; for each, loop over the coalitions S that do NOT contain i "
        "(the masks with bit i clear) and add weight(|S|) times (v(S with i) − v(S)).",
        "Bit i of a mask says whether modality i is in: `mask >> i & 1`; adding i is `mask | (1 << i)`; "
        "|S| is `bin(mask).count('1')`.",
        "The weight is |S|! (M − |S| − 1)! / M! (`math.factorial`); check efficiency: the values "
        "sum to values[-1] − values[0].",
    ],
)
def _shapley_cases(rng: np.random.Generator) -> list[Case]:
    cases = [Case("two modalities, values [0.1, 0.5, 0.3, 0.9]", args=(np.array([0.1, 0.5, 0.3, 0.9]),),
                  expected=np.array([0.5, 0.3]))]
    for count in (1, 2, 3, 4, 5):
        values = random_table(rng, count)
        cases.append(Case(f"a table of {2**count} coalitions (M = {count})", args=(values,),
                          expected=reference_shapley(values)))
    return cases


@register(
    "08.permutation_importance",
    hints=[
        "First the accuracy of `linear_predict(inputs, weights)` on the untouched inputs; then, for "
        "each modality and each row `order` of `orders`, the accuracy with only that modality's rows "
        "reordered.",
        "Build a new dict each time — `{**inputs, name: inputs[name][order]}` — so that the other "
        "modalities (and the caller's dict) stay untouched; the labels are never shuffled.",
        "The importance is the mean over the rows of `orders` of (accuracy before − accuracy after).",
    ],
)
def _permutation_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for names, samples, classes, repeats in [(("image", "audio"), 60, 3, 4),
                                             (("image", "audio", "text"), 200, 5, 3),
                                             (("a", "b", "c", "d"), 30, 2, 1)]:
        inputs, labels, weights, orders = random_problem(rng, names, samples, classes, repeats)
        cases.append(Case(f"{len(names)} modalities, {samples} samples, {repeats} shuffles",
                          args=(inputs, labels, weights, orders),
                          expected=reference_permutation_importance(inputs, labels, weights, orders),
                          compare=compare_importances))
    return cases


@register(
    "08.entropy_bits",
    hints=[
        "Entropy of one row: −Σ_m a_m log2(a_m); a row with all weight on one modality gives 0, a "
        "uniform row over M modalities gives log2(M).",
        "A missing modality has weight 0 and 0 · log 0 counts as 0: take the log only where a > 0, "
        "e.g. `np.log2(np.where(a > 0, a, 1.0))`.",
    ],
)
def _entropy_cases(rng: np.random.Generator) -> list[Case]:
    fixed = np.array([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0], [0.25, 0.25, 0.5]])
    cases = [Case("three rows you can work out by hand", args=(fixed,), expected=np.array([1.0, 0.0, 1.5]))]
    for samples, count in [(6, 3), (1, 2), (20, 5)]:
        attention = random_attention(rng, samples, count)
        cases.append(Case(f"attention of shape {(samples, count)} with missing modalities",
                          args=(attention,), expected=reference_entropy_bits(attention)))
    return cases
