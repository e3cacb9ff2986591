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
    if isinstance(features, np.ndarray) or not isinstance(features, Sequence):
        raise TypeError(
            f"{name} must be a list of arrays, one per modality; received {type(features).__name__}"
        )
    if len(features) == 0:
        raise ValueError(f"{name} must hold at least one modality; received an empty list")
    arrays = []
    for index, feature in enumerate(features):
        try:
            array = np.asarray(feature, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise TypeError(
                f"{name}[{index}] must be a numeric array; received {type(feature).__name__}"
            ) from error
        if array.ndim not in (1, 2):
            raise ValueError(
                f"{name}[{index}] must have shape (d,) or (batch, d); received shape {array.shape}"
            )
        arrays.append(array)
    return arrays


def _require_same_shape(arrays: list[np.ndarray], name: str, formula: str) -> None:
    shapes = [array.shape for array in arrays]
    if any(shape != shapes[0] for shape in shapes):
        raise ValueError(
            f"{formula} needs every modality to have the same shape; received {name} with shapes "
            f"{shapes} (project them to a common size first)"
        )


def _require_common_batch(arrays: list[np.ndarray], formula: str) -> None:
    """All features are vectors ``(d_i,)``, or all batches ``(batch, d_i)`` with one batch size."""
    shapes = [array.shape for array in arrays]
    if len({array.ndim for array in arrays}) != 1:
        raise ValueError(
            f"{formula} needs all features to be vectors (d,) or all batches (batch, d); "
            f"received shapes {shapes}"
        )
    if arrays[0].ndim == 2 and len({shape[0] for shape in shapes}) != 1:
        raise ValueError(
            f"{formula} needs the same batch size for every modality; received shapes {shapes}"
        )


def weighted_average(features, weights) -> np.ndarray:
    """Weighted-average fusion ``Σ_i w_i f_i`` (``α f1 + β f2`` for two modalities).

    features: list of M arrays, all of the same shape ``(d,)`` or ``(batch, d)``.
    weights: M numbers (``[α, β, ...]``), shape ``(M,)``. They are used as given (not normalised).
    Returns an array of the same shape as one feature.
    """
    arrays = _as_feature_list(features)
    _require_same_shape(arrays, "features", "weighted-average fusion")
    weight_array = np.asarray(weights, dtype=np.float64)
    if weight_array.shape != (len(arrays),):
        raise ValueError(
            f"weights must hold one number per modality, shape ({len(arrays)},); "
            f"received shape {weight_array.shape}"
        )
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
    score_array = np.asarray(scores, dtype=np.float64)
    if score_array.ndim == 0:
        raise ValueError("softmax needs at least one axis; received a scalar")
    shifted = score_array - np.max(score_array, axis=axis, keepdims=True)
    exponentials = np.exp(shifted)
    return exponentials / np.sum(exponentials, axis=axis, keepdims=True)


def attention_weights(scores, mask=None) -> np.ndarray:
    """Attention weights over modalities: ``a = softmax(s)`` along the last (modality) axis.

    scores: shape ``(M,)`` or ``(batch, M)``, one relevance score per modality.
    mask: optional bool array of the same shape; ``False`` marks a missing modality, whose weight
    is exactly 0 (the others are renormalised). Every row needs at least one present modality.
    Returns shape of ``scores``; each row sums to 1.
    """
    score_array = np.asarray(scores, dtype=np.float64)
    if score_array.ndim not in (1, 2):
        raise ValueError(
            f"scores must have shape (M,) or (batch, M); received shape {score_array.shape}"
        )
    if mask is None:
        return softmax(score_array, axis=-1)
    mask_array = np.asarray(mask)
    if mask_array.shape != score_array.shape:
        raise ValueError(
            f"mask must have the shape of scores {score_array.shape}; "
            f"received shape {mask_array.shape}"
        )
    mask_array = mask_array.astype(bool)
    if not np.all(np.any(mask_array, axis=-1)):
        raise ValueError("every sample needs at least one present modality; a mask row is all False")
    masked_scores = np.where(mask_array, score_array, -np.inf)
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
    weight_array = np.asarray(weights, dtype=np.float64)
    expected = stacked.shape[:-1]
    if weight_array.shape != expected:
        raise ValueError(
            f"weights must have shape {expected} (one weight per modality per sample); "
            f"received shape {weight_array.shape}"
        )
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
# Every function below works on batches: features of shape ``(batch, d_i)``.
# ---------------------------------------------------------------------------------------------

__all__ += [
    "linear",
    "sigmoid",
    "bilinear",
    "low_rank_fusion",
    "gated_fusion",
    "average_probabilities",
    "weighted_vote",
    "product_of_experts",
]


def linear(features, kernel, bias=None) -> np.ndarray:
    """The article's feature extraction ``f(x) = W x + b``, batched: ``x @ W + b``.

    features: shape ``(batch, d_in)``; kernel: ``(d_in, d_out)``; bias: ``(d_out,)`` or None.
    Returns shape ``(batch, d_out)``.
    """
    array = np.asarray(features, dtype=np.float64)
    kernel_array = np.asarray(kernel, dtype=np.float64)
    if array.ndim != 2 or kernel_array.ndim != 2 or array.shape[1] != kernel_array.shape[0]:
        raise ValueError(
            f"linear needs features (batch, d_in) and kernel (d_in, d_out); received shapes "
            f"{array.shape} and {kernel_array.shape}"
        )
    result = array @ kernel_array
    return result if bias is None else result + np.asarray(bias, dtype=np.float64)


def sigmoid(values) -> np.ndarray:
    """The logistic function ``1 / (1 + exp(-x))``, element by element."""
    return 1.0 / (1.0 + np.exp(-np.asarray(values, dtype=np.float64)))


def bilinear(first, second, kernel, bias=None) -> np.ndarray:
    """Bilinear scores ``s_k = f_1ᵀ W_k f_2 + b_k`` for two modalities.

    first: ``(batch, d1)``; second: ``(batch, d2)``; kernel: ``(units, d1, d2)``; bias: ``(units,)``.
    Returns ``(batch, units)``. With ``W = I`` (``d1 == d2``) and one unit this is the dot product
    ``f_1 · f_2`` — a single number per sample, which is what ``keras.layers.Dot(axes=1)`` gives.
    """
    first_array = np.asarray(first, dtype=np.float64)
    second_array = np.asarray(second, dtype=np.float64)
    kernel_array = np.asarray(kernel, dtype=np.float64)
    if kernel_array.ndim != 3 or kernel_array.shape[1:] != (
        first_array.shape[-1],
        second_array.shape[-1],
    ):
        raise ValueError(
            f"kernel must have shape (units, {first_array.shape[-1]}, {second_array.shape[-1]}); "
            f"received shape {kernel_array.shape}"
        )
    scores = np.einsum("bi,kij,bj->bk", first_array, kernel_array, second_array)
    return scores if bias is None else scores + np.asarray(bias, dtype=np.float64)


def low_rank_fusion(features, factors, bias=None) -> np.ndarray:
    """Low-rank multimodal fusion ``h = Σ_r Π_i ([f_i, 1] W_i^(r)) + b`` (Liu et al., 2018).

    features: list of M arrays ``(batch, d_i)``; factors: list of M arrays ``(rank, d_i + 1, units)``;
    bias: ``(units,)`` or None. Returns ``(batch, units)``. Equals ``tensor_fusion(features) @ W``
    with ``W = Σ_r vec(W_1^(r) ⊗ ... ⊗ W_M^(r))`` (one such sum per output unit).
    """
    arrays = _as_feature_list(features)
    if len(factors) != len(arrays):
        raise ValueError(
            f"need one factor per modality; received {len(factors)} factors for {len(arrays)} "
            "modalities"
        )
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
    return arrays


def average_probabilities(probabilities, weights=None) -> np.ndarray:
    """Late fusion by averaging: ``p(y) = Σ_i w_i p_i(y) / Σ_i w_i`` (equal weights by default).

    probabilities: M arrays ``(batch, classes)`` (or ``(classes,)``). Returns the same shape.
    """
    arrays = _as_probability_list(probabilities)
    weight_array = np.ones(len(arrays)) if weights is None else np.asarray(weights, np.float64)
    return weighted_average(arrays, weight_array / weight_array.sum())


def weighted_vote(probabilities, weights=None) -> np.ndarray:
    """Late fusion by voting: each modality gives its weight to its top class; vote shares.

    probabilities: M arrays ``(batch, classes)``. Returns ``(batch, classes)``, rows summing to 1.
    """
    arrays = _as_probability_list(probabilities)
    weight_array = np.ones(len(arrays)) if weights is None else np.asarray(weights, np.float64)
    classes = arrays[0].shape[-1]
    votes = sum(
        weight * np.eye(classes)[np.argmax(array, axis=-1)]
        for weight, array in zip(weight_array, arrays, strict=True)
    )
    return votes / votes.sum(axis=-1, keepdims=True)


def product_of_experts(probabilities, floor: float = 1e-6) -> np.ndarray:
    """Late fusion by product of experts: ``p(y) ∝ Π_i max(p_i(y), floor)``.

    Computed as a softmax of the summed log-probabilities. Right when the modalities are
    conditionally independent given the label (and the prior is uniform).
    probabilities: M arrays ``(batch, classes)``. Returns the same shape, rows summing to 1.
    """
    arrays = _as_probability_list(probabilities)
    log_sum = sum(np.log(np.maximum(array, floor)) for array in arrays)
    return softmax(log_sum, axis=-1)
