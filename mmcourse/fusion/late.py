"""Late (decision-level) fusion: combine the class probabilities of unimodal classifiers.

Each function takes ``probabilities``, a list with one ``(batch, classes)`` array per modality
(the ``predict`` output of each unimodal model), and returns fused ``(batch, classes)``
probabilities whose rows sum to 1. Optional arguments shared by all of them:

* ``weights``: one non-negative number per modality (default: all 1);
* ``presence``: ``(batch, num_modalities)``, 1/True where the modality is present; a missing
  modality is left out of that sample's fusion (a sample with none present gets the uniform
  distribution, or the prior for :func:`product_of_experts`).

Plain NumPy, no TensorFlow. The bare formulas are in :mod:`mmcourse.fusion.reference`.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "average_probabilities",
    "weighted_vote",
    "product_of_experts",
    "LATE_FUSION_METHODS",
    "accuracy",
]


def _check(probabilities, weights, presence):
    if isinstance(probabilities, np.ndarray) or not isinstance(probabilities, (list, tuple)):
        raise TypeError(
            "probabilities must be a list with one (batch, classes) array per modality; "
            f"received {type(probabilities).__name__}"
        )
    if len(probabilities) == 0:
        raise ValueError("probabilities must hold at least one modality; received an empty list")
    arrays = [np.asarray(p, dtype=np.float64) for p in probabilities]
    shapes = [array.shape for array in arrays]
    if arrays[0].ndim != 2 or any(shape != shapes[0] for shape in shapes):
        raise ValueError(
            "probabilities must all have the same shape (batch, classes); received shapes "
            f"{shapes}"
        )
    stacked = np.stack(arrays, axis=1)  # (batch, M, classes)
    if not np.all(np.isfinite(stacked)) or np.any(stacked < 0):
        raise ValueError("probabilities must be finite and non-negative")
    count = len(arrays)
    weight_array = np.ones(count) if weights is None else np.asarray(weights, dtype=np.float64)
    if weight_array.shape != (count,) or np.any(weight_array < 0):
        raise ValueError(
            f"weights must be {count} non-negative numbers, one per modality; received "
            f"{np.asarray(weights).tolist()}"
        )
    batch = stacked.shape[0]
    if presence is None:
        presence_array = np.ones((batch, count))
    else:
        presence_array = np.asarray(presence)
        if presence_array.shape != (batch, count):
            raise ValueError(
                f"presence must have shape (batch, num_modalities) = ({batch}, {count}); "
                f"received shape {presence_array.shape}"
            )
        presence_array = (presence_array > 0).astype(np.float64)
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
    if not floor > 0:
        raise ValueError(f"floor must be a positive number; received {floor!r}")
    stacked, effective = _check(probabilities, weights, presence)
    log_probabilities = np.log(np.maximum(stacked, floor))
    scores = np.einsum("bm,bmc->bc", effective, log_probabilities)
    if prior is not None:
        prior_array = np.asarray(prior, dtype=np.float64)
        if prior_array.shape != (stacked.shape[-1],) or np.any(prior_array <= 0):
            raise ValueError(
                f"prior must be {stacked.shape[-1]} positive numbers (one per class); received "
                f"shape {prior_array.shape}"
            )
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
    probability_array = np.asarray(probabilities)
    label_array = np.asarray(labels)
    if probability_array.ndim != 2 or label_array.shape != probability_array.shape[:1]:
        raise ValueError(
            "accuracy needs probabilities (batch, classes) and labels (batch,); received shapes "
            f"{probability_array.shape} and {label_array.shape}"
        )
    return float(np.mean(np.argmax(probability_array, axis=-1) == label_array))
