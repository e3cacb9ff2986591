"""Late (decision-level) fusion: combine the class probabilities of unimodal classifiers.

Each function takes ``probabilities``, a list with one ``(batch, classes)`` array per modality
(the ``predict`` output of each unimodal model), and returns fused ``(batch, classes)``
probabilities whose rows sum to 1. Optional arguments shared by all of them:

* ``weights``: one non-negative number per modality (default: all 1);
* ``presence``: ``(batch, num_modalities)``, 1/True where the modality is present; a missing
  modality is left out of that sample's fusion (a sample with none present gets the uniform
  distribution, or the prior for :func:`product_of_experts`).

Plain NumPy, no TensorFlow. The bare formulas are in :mod:`mmcourse.fusion.reference`; the same
rules as a Keras layer inside a model are :class:`mmcourse.fusion.late_layer.LateFusion`.
"""

from __future__ import annotations

import numpy as np

from mmcourse import _validate as check

__all__ = [
    "average_probabilities",
    "weighted_vote",
    "product_of_experts",
    "LATE_FUSION_METHODS",
    "accuracy",
]


def _check(probabilities, weights, presence):
    probabilities = check.sequence(
        probabilities, "probabilities",
        expected="a list with at least one (batch, classes) array, one per modality")
    arrays = [
        check.array(p, f"probabilities[{index}]", ndim=2, kind="numeric", finite=True,
                    what="probabilities (batch, classes)").astype(np.float64)
        for index, p in enumerate(probabilities)
    ]
    shapes = [array.shape for array in arrays]
    if any(shape != shapes[0] for shape in shapes):
        raise ValueError(
            "probabilities must all have the same shape (batch, classes). Received: "
            f"probabilities with shapes {shapes}"
        )
    stacked = np.stack(arrays, axis=1)  # (batch, M, classes)
    if np.any(stacked < 0):
        raise check.value_error("probabilities", "non-negative probabilities", stacked,
                                f"values down to {stacked.min():g}")
    count = len(arrays)
    if weights is None:
        weight_array = np.ones(count)
    else:
        weight_array = check.array(weights, "weights", kind="numeric", finite=True,
                                   what=f"{count} non-negative numbers").astype(np.float64)
        if weight_array.shape != (count,) or np.any(weight_array < 0) or not weight_array.any():
            raise check.value_error(
                "weights", f"{count} non-negative numbers (one per modality, not all 0)",
                weight_array, f"{weight_array.tolist()}")
    batch = stacked.shape[0]
    if presence is None:
        presence_array = np.ones((batch, count))
    else:
        presence_array = check.presence(presence, "presence", batch=batch, num_modalities=count)
    return stacked, weight_array[None, :] * presence_array  # (batch, M, C), (batch, M)


def _normalise(scores):
    totals = scores.sum(axis=-1, keepdims=True)
    uniform = np.full_like(scores, 1.0 / scores.shape[-1])
    return np.where(totals > 0, scores / np.where(totals > 0, totals, 1.0), uniform)


def average_probabilities(probabilities, weights=None, presence=None) -> np.ndarray:
    """Weighted mean of the modalities' probabilities: ``Σ_i w_i p_i(y|x_i) / Σ_i w_i``.

    Robust (one confidently wrong modality is only averaged in) but it ignores that two
    independent pieces of evidence should *sharpen* the belief: two 60 % votes stay 60 %.
    Returns ``(batch, classes)``.
    """
    stacked, effective = _check(probabilities, weights, presence)
    return _normalise(np.einsum("bm,bmc->bc", effective, stacked))


def weighted_vote(probabilities, weights=None, presence=None) -> np.ndarray:
    """Each modality votes for its most probable class with its weight; returns vote shares.

    Ties between modalities stay ties (shared probability). Returns ``(batch, classes)``.
    """
    stacked, effective = _check(probabilities, weights, presence)
    votes = np.eye(stacked.shape[-1])[np.argmax(stacked, axis=-1)]  # (batch, M, classes)
    return _normalise(np.einsum("bm,bmc->bc", effective, votes))


def product_of_experts(
    probabilities, weights=None, presence=None, prior=None, floor: float = 1e-6
) -> np.ndarray:
    """Multiply the modalities' probabilities: ``p(y | x_1..x_M) ∝ Π_i p_i(y|x_i)^w_i / p(y)^(M-1)``.

    The Bayes-optimal rule when the modalities are conditionally independent given the label
    (``p(x_1, x_2 | y) = p(x_1 | y) p(x_2 | y)``): each posterior ``p(y | x_i)`` is
    ``p(x_i | y) p(y) / p(x_i)``, so their product counts the prior ``M`` times; dividing by
    ``p(y)^(M-1)`` keeps it once. With a uniform ``prior`` (default ``None``) that factor is a
    constant and drops out. A likelihood that is not a distribution — such as the 0/1 mask of
    the digits a text hint allows — multiplies in the same way.

    Computed in log space (``Σ_i w_i log p_i``) and renormalised with a softmax; probabilities
    are clipped to ``floor`` first so that one modality's hard zero cannot veto a class with
    ``log 0 = -inf`` (nor produce NaN when every class is zero). Returns ``(batch, classes)``.
    """
    floor = check.number(floor, "floor", minimum=0.0, exclusive_minimum=True, maximum=1.0,
                         expected="a number in (0, 1]")
    stacked, effective = _check(probabilities, weights, presence)
    log_probabilities = np.log(np.maximum(stacked, floor))
    scores = np.einsum("bm,bmc->bc", effective, log_probabilities)
    if prior is not None:
        prior_array = check.array(prior, "prior", shape=(stacked.shape[-1],), kind="numeric",
                                  finite=True, what="one number per class").astype(np.float64)
        if np.any(prior_array <= 0):
            raise check.value_error("prior", f"{stacked.shape[-1]} positive numbers (one per "
                                    "class)", prior_array, f"{prior_array.tolist()}")
        experts = effective.sum(axis=1, keepdims=True)  # (batch, 1)
        scores = scores - (experts - 1.0) * np.log(prior_array / prior_array.sum())[None, :]
    scores = scores - scores.max(axis=-1, keepdims=True)
    exponentials = np.exp(scores)
    return exponentials / exponentials.sum(axis=-1, keepdims=True)


LATE_FUSION_METHODS = {
    "average": average_probabilities,
    "vote": weighted_vote,
    "product": product_of_experts,
}


def accuracy(probabilities, labels) -> float:
    """Fraction of rows whose most probable class equals the integer label."""
    probability_array = check.array(probabilities, "probabilities", ndim=2, kind="numeric",
                                    finite=True, what="probabilities (batch, classes)")
    label_array = check.labels(labels, "labels", num_classes=probability_array.shape[1])
    check.same_length({"probabilities": probability_array, "labels": label_array})
    if len(label_array) == 0:
        raise check.value_error("labels", "at least one label", label_array)
    return float(np.mean(np.argmax(probability_array, axis=-1) == label_array))
