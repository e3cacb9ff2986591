"""Fusion formulas in plain NumPy: the reference every exercise and Keras layer is checked against.

Conventions shared by every function here:

* a *feature* is either one vector, shape ``(d,)``, or a batch of vectors, shape ``(batch, d)``;
* ``features`` is a list (or tuple) of such arrays, one per modality;
* functions that need all modalities to have the same shape say so and raise ``ValueError``
  (what was expected, what was received) when they do not;
* nothing here imports TensorFlow; results are ``float64`` NumPy arrays unless stated otherwise.

Formulas (``f_i`` is the feature of modality ``i``, ``M`` the number of modalities):

* weighted average  ``f_fused = Σ_i w_i f_i``  (``α f1 + β f2`` for two modalities)
* product (Hadamard) ``f_fused = f_1 ⊙ f_2 ⊙ ... ⊙ f_M``
* concatenation      ``f_fused = [f_1, f_2, ..., f_M]``
* softmax            ``softmax(s)_i = exp(s_i - max s) / Σ_j exp(s_j - max s)``
* attention          ``a = softmax(s)`` over modalities, ``f_fused = Σ_i a_i f_i`` per sample
* tensor fusion      ``f_fused = vec([f_1, 1] ⊗ [f_2, 1] ⊗ ... ⊗ [f_M, 1])`` (Zadeh et al., 2017)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mmcourse import _validate as check

__all__ = [
    "weighted_average",
    "product",
    "concatenate",
    "softmax",
    "attention_weights",
    "attention_sum",
    "tensor_fusion",
]


def _as_feature_list(features, name: str = "features") -> list[np.ndarray]:
    """Validate a list of per-modality features; return them as float arrays of ndim 1 or 2."""
    if isinstance(features, np.ndarray) or not isinstance(features, Sequence) or isinstance(
        features, str
    ):
        raise check.type_error(name, "a list of arrays, one per modality", features)
    if len(features) == 0:
        raise check.value_error(name, "a list of at least one modality's array", features,
                                "an empty list")
    arrays = []
    for index, feature in enumerate(features):
        array = check.array(feature, f"{name}[{index}]", ndim=(1, 2), kind="numeric",
                            finite=True, what="an array of shape (d,) or (batch, d)")
        arrays.append(array.astype(np.float64))
    return arrays


def _weights(weights, count: int, name: str = "weights") -> np.ndarray:
    """``count`` finite numbers, one per modality."""
    weight_array = check.array(weights, name, kind="numeric", finite=True,
                               what="one number per modality").astype(np.float64)
    if weight_array.shape != (count,):
        raise check.value_error(
            name, f"one number per modality, shape ({count},)", weight_array)
    return weight_array


def _require_same_shape(arrays: list[np.ndarray], name: str, formula: str) -> None:
    shapes = [array.shape for array in arrays]
    if any(shape != shapes[0] for shape in shapes):
        raise ValueError(
            f"{name} must all have the same shape for {formula} (project them to a common size "
            f"first). Received: {name} with shapes {shapes}"
        )


def _require_common_batch(arrays: list[np.ndarray], formula: str) -> None:
    """All features are vectors ``(d_i,)``, or all batches ``(batch, d_i)`` with one batch size."""
    shapes = [array.shape for array in arrays]
    if len({array.ndim for array in arrays}) != 1:
        raise ValueError(
            f"features must be all vectors (d,) or all batches (batch, d) for {formula}. "
            f"Received: features with shapes {shapes}"
        )
    if arrays[0].ndim == 2 and len({shape[0] for shape in shapes}) != 1:
        raise ValueError(
            f"features must have the same batch size for every modality for {formula}. "
            f"Received: features with shapes {shapes}"
        )


def weighted_average(features, weights) -> np.ndarray:
    """Weighted-average fusion ``Σ_i w_i f_i`` (``α f1 + β f2`` for two modalities).

    features: list of M arrays, all of the same shape ``(d,)`` or ``(batch, d)``.
    weights: M numbers (``[α, β, ...]``), shape ``(M,)``. They are used as given (not normalised).
    Returns an array of the same shape as one feature.
    """
    arrays = _as_feature_list(features)
    _require_same_shape(arrays, "features", "weighted-average fusion")
    weight_array = _weights(weights, len(arrays))
    return sum(weight * array for weight, array in zip(weight_array, arrays, strict=True))


def product(features) -> np.ndarray:
    """Product (Hadamard) fusion ``f_1 ⊙ f_2 ⊙ ... ⊙ f_M``, element by element.

    features: list of M arrays, all of the same shape ``(d,)`` or ``(batch, d)``.
    Returns an array of the same shape as one feature.
    """
    arrays = _as_feature_list(features)
    _require_same_shape(arrays, "features", "product fusion")
    result = arrays[0].copy()
    for array in arrays[1:]:
        result = result * array
    return result


def concatenate(features) -> np.ndarray:
    """Concatenation fusion ``[f_1, f_2, ..., f_M]`` along the feature axis.

    features: list of M arrays, shapes ``(d_i,)`` or all ``(batch, d_i)`` with one common batch.
    Returns shape ``(Σ d_i,)`` or ``(batch, Σ d_i)``.
    """
    arrays = _as_feature_list(features)
    _require_common_batch(arrays, "concatenation")
    return np.concatenate(arrays, axis=-1)


def softmax(scores, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax ``exp(s - max s) / Σ exp(s - max s)`` along ``axis``.

    scores: any real array; the result has the same shape and sums to 1 along ``axis``.
    Large scores (``1000``) do not overflow; ``-inf`` scores get weight 0.
    """
    score_array = check.array(scores, "scores", kind="numeric").astype(np.float64)
    if score_array.ndim == 0:
        raise check.value_error("scores", "an array with at least one axis (softmax needs one)",
                                scores, f"a scalar {score_array.item()!r}")
    if np.isnan(score_array).any() or np.isposinf(score_array).any():
        raise check.value_error("scores", "real scores without NaN or +inf (-inf means weight 0)",
                                score_array)
    axis = check.integer(axis, "axis", minimum=-score_array.ndim, maximum=score_array.ndim - 1)
    shifted = score_array - np.max(score_array, axis=axis, keepdims=True)
    exponentials = np.exp(shifted)
    return exponentials / np.sum(exponentials, axis=axis, keepdims=True)


def attention_weights(scores, presence=None, *, mask=None) -> np.ndarray:
    """Attention weights over modalities: ``a = softmax(s)`` along the last (modality) axis.

    scores: shape ``(M,)`` or ``(batch, M)``, one relevance score per modality.
    presence: optional 0/1 (or bool) array of the same shape, as everywhere in the package;
    0/``False`` marks a missing modality, whose weight is exactly 0 (the others are
    renormalised). Every row needs at least one present modality. ``mask=`` is the old name of
    ``presence`` (still accepted). Returns shape of ``scores``; each row sums to 1.
    """
    score_array = check.array(scores, "scores", ndim=(1, 2), kind="numeric", finite=True,
                              what="scores of shape (M,) or (batch, M)").astype(np.float64)
    if mask is not None:
        if presence is not None:
            raise TypeError("attention_weights takes presence= (or its old name mask=), not "
                            "both. Received: presence and mask")
        presence, name = mask, "mask"
    else:
        name = "presence"
    if presence is None:
        return softmax(score_array, axis=-1)
    presence_array = np.asarray(presence)
    if presence_array.shape != score_array.shape:
        raise check.value_error(name, f"a 0/1 array of the shape of scores {score_array.shape}",
                                presence_array)
    presence_array = check.presence(presence_array.reshape(-1, score_array.shape[-1]), name,
                                    batch=None, num_modalities=score_array.shape[-1])
    presence_array = presence_array.reshape(score_array.shape).astype(bool)
    if not np.all(np.any(presence_array, axis=-1)):
        raise check.value_error(name, "at least one present modality in every row (every sample "
                                "needs at least one present modality)", presence_array,
                                "a row that is all 0/False")
    masked_scores = np.where(presence_array, score_array, -np.inf)
    return softmax(masked_scores, axis=-1)


def attention_sum(features, weights) -> np.ndarray:
    """Attention-weighted sum ``Σ_i a_i f_i``, with one weight per modality *per sample*.

    features: list of M arrays of shape ``(batch, d)`` (or ``(d,)``), all the same shape.
    weights: shape ``(batch, M)`` (or ``(M,)`` for vectors), e.g. from :func:`attention_weights`.
    Returns shape ``(batch, d)`` (or ``(d,)``).
    """
    arrays = _as_feature_list(features)
    _require_same_shape(arrays, "features", "the attention-weighted sum")
    stacked = np.stack(arrays, axis=-2)  # (batch, M, d) or (M, d)
    weight_array = check.array(weights, "weights", kind="numeric", finite=True,
                               what="weights").astype(np.float64)
    expected = stacked.shape[:-1]
    if weight_array.shape != expected:
        raise check.value_error(
            "weights", f"of shape {expected} (one weight per modality per sample)", weight_array)
    return np.sum(weight_array[..., None] * stacked, axis=-2)


def tensor_fusion(features) -> np.ndarray:
    """Tensor fusion: the flattened outer product of ``[f_i, 1]`` vectors, per sample.

    ``z = vec([f_1, 1] ⊗ [f_2, 1] ⊗ ... ⊗ [f_M, 1])`` (Zadeh et al., 2017). The appended 1 keeps
    every unimodal feature (and every lower-order product) inside the fused vector.

    features: list of M arrays, shapes ``(d_i,)`` or all ``(batch, d_i)`` with one common batch.
    Returns shape ``(Π (d_i + 1),)`` or ``(batch, Π (d_i + 1))``; the first modality varies slowest
    (C order), and the last entry is the constant 1.
    """
    arrays = _as_feature_list(features)
    _require_common_batch(arrays, "tensor fusion")
    single = arrays[0].ndim == 1
    if single:
        arrays = [array[None, :] for array in arrays]
    batch = arrays[0].shape[0]
    fused = np.ones((batch, 1))
    for array in arrays:
        extended = np.concatenate([array, np.ones((batch, 1))], axis=1)  # (batch, d_i + 1)
        fused = (fused[:, :, None] * extended[:, None, :]).reshape(batch, -1)
    return fused[0] if single else fused


# ---------------------------------------------------------------------------------------------
# More references, used by the Keras layers of ``mmcourse.fusion.layers`` and by lessons 05/06.
# Every function below works on batches: features of shape ``(batch, d_i)``. The three bare
# late-fusion formulas are the test oracles of :mod:`mmcourse.fusion.late` (whose functions,
# with weights, presence and a prior, are the ones to use) and carry a ``_reference`` suffix so
# that ``mmcourse.fusion.product_of_experts`` can only mean one function.
# ---------------------------------------------------------------------------------------------

__all__ += [
    "linear",
    "sigmoid",
    "bilinear",
    "low_rank_fusion",
    "gated_fusion",
    "average_probabilities_reference",
    "weighted_vote_reference",
    "product_of_experts_reference",
]


def linear(features, kernel, bias=None) -> np.ndarray:
    """The article's feature extraction ``f(x) = W x + b``, batched: ``x @ W + b``.

    features: shape ``(batch, d_in)``; kernel: ``(d_in, d_out)``; bias: ``(d_out,)`` or None.
    Returns shape ``(batch, d_out)``.
    """
    array = check.array(features, "features", ndim=2, kind="numeric", finite=True,
                        what="features (batch, d_in)").astype(np.float64)
    kernel_array = check.array(kernel, "kernel", shape=(array.shape[1], None), kind="numeric",
                               finite=True, what="a kernel (d_in, d_out)").astype(np.float64)
    result = array @ kernel_array
    if bias is None:
        return result
    return result + check.array(bias, "bias", shape=(kernel_array.shape[1],), kind="numeric",
                                finite=True, what="a bias (d_out,)").astype(np.float64)


def sigmoid(values) -> np.ndarray:
    """The logistic function ``1 / (1 + exp(-x))``, element by element."""
    values = check.array(values, "values", kind="numeric").astype(np.float64)
    return 1.0 / (1.0 + np.exp(-values))


def bilinear(first, second, kernel, bias=None) -> np.ndarray:
    """Bilinear scores ``s_k = f_1ᵀ W_k f_2 + b_k`` for two modalities.

    first: ``(batch, d1)``; second: ``(batch, d2)``; kernel: ``(units, d1, d2)``; bias: ``(units,)``.
    Returns ``(batch, units)``. With ``W = I`` (``d1 == d2``) and one unit this is the dot product
    ``f_1 · f_2`` — a single number per sample, which is what ``keras.layers.Dot(axes=1)`` gives.
    """
    first_array = check.array(first, "first", ndim=2, kind="numeric", finite=True,
                              what="features (batch, d1)").astype(np.float64)
    second_array = check.array(second, "second", ndim=2, kind="numeric", finite=True,
                               what="features (batch, d2)").astype(np.float64)
    check.same_length({"first": first_array, "second": second_array})
    kernel_array = check.array(
        kernel, "kernel", shape=(None, first_array.shape[-1], second_array.shape[-1]),
        kind="numeric", finite=True, what="a kernel (units, d1, d2)").astype(np.float64)
    scores = np.einsum("bi,kij,bj->bk", first_array, kernel_array, second_array)
    return scores if bias is None else scores + np.asarray(bias, dtype=np.float64)


def low_rank_fusion(features, factors, bias=None) -> np.ndarray:
    """Low-rank multimodal fusion ``h = Σ_r Π_i ([f_i, 1] W_i^(r)) + b`` (Liu et al., 2018).

    features: list of M arrays ``(batch, d_i)``; factors: list of M arrays ``(rank, d_i + 1, units)``;
    bias: ``(units,)`` or None. Returns ``(batch, units)``. Equals ``tensor_fusion(features) @ W``
    with ``W = Σ_r vec(W_1^(r) ⊗ ... ⊗ W_M^(r))`` (one such sum per output unit).
    """
    arrays = _as_feature_list(features)
    factors = check.sequence(factors, "factors", expected="a list with one factor per modality")
    if len(factors) != len(arrays):
        raise check.value_error("factors", f"one factor per modality ({len(arrays)})", factors,
                                f"{len(factors)} factors")
    result = None
    for array, factor in zip(arrays, factors, strict=True):
        factor_array = np.asarray(factor, dtype=np.float64)
        if factor_array.ndim != 3 or factor_array.shape[1] != array.shape[-1] + 1:
            raise ValueError(
                f"factor must have shape (rank, {array.shape[-1] + 1}, units); received shape "
                f"{factor_array.shape}"
            )
        extended = np.concatenate([array, np.ones((array.shape[0], 1))], axis=1)
        term = np.einsum("bi,riu->bru", extended, factor_array)
        result = term if result is None else result * term
    fused = result.sum(axis=1)
    return fused if bias is None else fused + np.asarray(bias, dtype=np.float64)


def gated_fusion(features, kernels, biases, gate_kernels, gate_biases) -> np.ndarray:
    """Gated fusion ``Σ_i σ([f_1..f_M] G_i + c_i) ⊙ tanh(f_i W_i + b_i)``.

    features: M arrays ``(batch, d_i)``; kernels/biases: M arrays ``(d_i, units)``/``(units,)``;
    gate_kernels/gate_biases: M arrays ``(Σ d_i, units)``/``(units,)``. Returns ``(batch, units)``.
    """
    arrays = _as_feature_list(features)
    _require_common_batch(arrays, "gated fusion")
    for name, value in (("kernels", kernels), ("biases", biases), ("gate_kernels", gate_kernels),
                        ("gate_biases", gate_biases)):
        value = check.sequence(value, name, expected=f"a list of {len(arrays)} arrays, one per "
                               "modality")
        if len(value) != len(arrays):
            raise check.value_error(name, f"a list of {len(arrays)} arrays, one per modality",
                                    value, f"{len(value)} arrays")
    everything = np.concatenate(arrays, axis=-1)
    return sum(
        sigmoid(linear(everything, gate_kernel, gate_bias)) * np.tanh(linear(f, kernel, bias))
        for f, kernel, bias, gate_kernel, gate_bias in zip(
            arrays, kernels, biases, gate_kernels, gate_biases, strict=True
        )
    )


def _as_probability_list(probabilities) -> list[np.ndarray]:
    arrays = _as_feature_list(probabilities, name="probabilities")
    _require_same_shape(arrays, "probabilities", "late fusion")
    for index, array in enumerate(arrays):
        if np.any(array < 0):
            raise check.value_error(f"probabilities[{index}]", "non-negative probabilities",
                                    array, f"values down to {array.min():g}")
    return arrays


def _late_weights(weights, count: int) -> np.ndarray:
    weight_array = np.ones(count) if weights is None else _weights(weights, count)
    if np.any(weight_array < 0) or not weight_array.sum() > 0:
        raise check.value_error("weights", "non-negative numbers, not all 0, one per modality",
                                weight_array, f"{weight_array.tolist()}")
    return weight_array


def average_probabilities_reference(probabilities, weights=None) -> np.ndarray:
    """Late fusion by averaging: ``p(y) = Σ_i w_i p_i(y) / Σ_i w_i`` (equal weights by default).

    probabilities: M arrays ``(batch, classes)`` (or ``(classes,)``). Returns the same shape.
    """
    arrays = _as_probability_list(probabilities)
    weight_array = _late_weights(weights, len(arrays))
    return weighted_average(arrays, weight_array / weight_array.sum())


def weighted_vote_reference(probabilities, weights=None) -> np.ndarray:
    """Late fusion by voting: each modality gives its weight to its top class; vote shares.

    probabilities: M arrays ``(batch, classes)``. Returns ``(batch, classes)``, rows summing to 1.
    """
    arrays = _as_probability_list(probabilities)
    weight_array = _late_weights(weights, len(arrays))
    classes = arrays[0].shape[-1]
    votes = sum(
        weight * np.eye(classes)[np.argmax(array, axis=-1)]
        for weight, array in zip(weight_array, arrays, strict=True)
    )
    return votes / votes.sum(axis=-1, keepdims=True)


def product_of_experts_reference(probabilities, floor: float = 1e-6) -> np.ndarray:
    """Late fusion by product of experts: ``p(y) ∝ Π_i max(p_i(y), floor)``.

    Computed as a softmax of the summed log-probabilities. Right when the modalities are
    conditionally independent given the label (and the prior is uniform).
    probabilities: M arrays ``(batch, classes)``. Returns the same shape, rows summing to 1.
    """
    floor = check.number(floor, "floor", minimum=0.0, exclusive_minimum=True, maximum=1.0)
    arrays = _as_probability_list(probabilities)
    log_sum = sum(np.log(np.maximum(array, floor)) for array in arrays)
    return softmax(log_sum, axis=-1)
