"""Fusion as Keras layers: many ``(batch, d_i)`` feature tensors in, one fused tensor out.

Every layer here has the same call signature::

    fused = layer([features_1, features_2, ...], presence=None)

* ``features``: a list (or tuple) of 2 or more float tensors, each of shape ``(batch, d_i)``
  (``Bilinear`` takes exactly 2);
* ``presence``: optional, shape ``(batch, num_modalities)``, 1 where a modality is present and
  0 where it is missing (bool or float). How a missing modality is handled is stated per layer;
  the common rule is "zero the missing features before fusing", with two exceptions where zero
  is the wrong neutral value: ``WeightedAverage``/``AttentionFusion`` renormalise their weights
  over the present modalities (a missing modality gets exactly zero weight) and ``Product``
  replaces a missing modality by ones (the neutral element of a product).

The keyword is called ``presence`` and not ``mask`` on purpose: Keras already uses ``mask`` for
its own sequence masks and would try to fill it in automatically.

Each layer documents its parameter count as a formula and exposes it as
``layer.expected_parameter_count(input_dims)`` (it equals ``layer.count_params()`` once built),
so a lesson can tabulate sizes without building huge layers. The same formulas in plain NumPy
live in :mod:`mmcourse.fusion.reference`; the tests compare every layer against them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
import numpy as np
from keras import ops

from mmcourse import _validate as check

__all__ = [
    "WeightedAverage",
    "Product",
    "Concatenate",
    "Bilinear",
    "AttentionFusion",
    "TensorFusion",
    "LowRankFusion",
    "GatedFusion",
    "FUSION_LAYERS",
]



def _safe_divide(numerator, denominator):
    """``numerator / denominator`` where ``denominator > 0``, else 0 — finite in any float dtype.

    (A constant epsilon such as ``1e-12`` is 0 in float16, so under the ``mixed_float16`` policy a
    row with every modality missing would divide 0 / 0.) The safe denominator also keeps the
    gradient of the unused branch finite.
    """
    positive = denominator > 0
    safe = ops.where(positive, denominator, ops.ones_like(denominator))
    return ops.where(positive, numerator / safe, ops.zeros_like(numerator))


def _shape_text(shape) -> str:
    return "(" + ", ".join("None" if size is None else str(size) for size in shape) + ")"


def _check_shapes(layer_name: str, shapes, min_inputs: int = 2, max_inputs: int | None = None):
    """Validate a list of feature shapes; return the list of feature sizes ``d_i``."""
    if not isinstance(shapes, (list, tuple)) or not shapes or not isinstance(
        shapes[0], (list, tuple)
    ):
        raise ValueError(
            f"{layer_name}: features must be a list of feature tensors, each of shape (batch, "
            f"features). Received: features=a single input of shape "
            f"{_shape_text(shapes) if shapes else shapes}"
        )
    count = len(shapes)
    if count < min_inputs or (max_inputs is not None and count > max_inputs):
        expected = (
            f"exactly {min_inputs}" if max_inputs == min_inputs else f"at least {min_inputs}"
        )
        raise ValueError(
            f"{layer_name}: features must be a list of {expected} feature tensors (one per "
            f"modality). Received: features with {count} tensors"
        )
    for index, shape in enumerate(shapes):
        if len(shape) != 2:
            raise ValueError(
                f"{layer_name}: features[{index}] must have rank 2, shape (batch, features). "
                f"Received: features[{index}] of rank {len(shape)}, shape {_shape_text(shape)}"
            )
        if shape[-1] is None:
            raise ValueError(
                f"{layer_name}: features[{index}] must have a known feature size. "
                f"Received: features[{index}] of shape {_shape_text(shape)}"
            )
    batch_sizes = {shape[0] for shape in shapes if shape[0] is not None}
    if len(batch_sizes) > 1:
        raise ValueError(
            f"{layer_name}: features must all have the same batch size. Received: features "
            "with shapes " + ", ".join(_shape_text(shape) for shape in shapes)
        )
    return [int(shape[-1]) for shape in shapes]


class _FusionLayer(keras.layers.Layer):
    """Shared input checks and presence handling. Subclasses implement ``_fuse``."""

    min_inputs = 2
    max_inputs: int | None = None

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.input_dims: list[int] | None = None

    # -- checks ---------------------------------------------------------------------------
    def _validate(self, shapes):
        dims = _check_shapes(type(self).__name__, shapes, self.min_inputs, self.max_inputs)
        if self.input_dims is not None and dims != self.input_dims:
            raise ValueError(
                f"{type(self).__name__}: features must have the feature sizes the layer was "
                f"built for, {self.input_dims}. Received: features with feature sizes {dims}"
            )
        return dims

    def build(self, input_shape):
        shapes = [tuple(shape) for shape in input_shape] if isinstance(
            input_shape, (list, tuple)
        ) and input_shape and isinstance(input_shape[0], (list, tuple)) else input_shape
        dims = _check_shapes(type(self).__name__, shapes, self.min_inputs, self.max_inputs)
        self._check_dims(dims)
        self.input_dims = dims
        self._make_weights(dims)
        self.built = True

    def _check_dims(self, dims):  # subclasses add their own constraints
        pass

    def _make_weights(self, dims):  # subclasses create their weights here
        pass

    def _presence(self, presence, num_modalities: int, batch=None):
        if presence is None:
            return None
        layer = type(self).__name__
        expected = (f"a ({'batch' if batch is None else batch}, {num_modalities}) mask, 1 for a "
                    "present and 0 for a missing modality (bool or numbers)")
        if isinstance(presence, (str, bytes, list, tuple)) and not _is_numeric_nested(presence):
            raise check.type_error(f"{layer}: presence", expected, presence)
        presence = ops.convert_to_tensor(presence)
        dtype = str(getattr(presence.dtype, "name", presence.dtype))
        if not (dtype.startswith(("float", "int", "uint", "bfloat")) or dtype == "bool"):
            raise check.type_error(f"{layer}: presence", expected, presence)
        shape = tuple(presence.shape)
        if (len(shape) != 2 or (shape[1] is not None and shape[1] != num_modalities)
                or (batch is not None and shape[0] is not None and shape[0] != batch)):
            raise ValueError(
                f"{layer}: presence must have shape ({'batch' if batch is None else batch}, "
                f"{num_modalities}), 1 for a present and 0 for a missing modality. Received: "
                f"presence of shape {_shape_text(shape)}"
            )
        if not isinstance(presence, keras.KerasTensor) and _is_eager(presence):
            values = np.asarray(ops.convert_to_numpy(presence), dtype=np.float64)
            if not np.all((values == 0) | (values == 1)):
                odd = np.unique(values[(values != 0) & (values != 1)])[:5].tolist()
                raise check.value_error(f"{layer}: presence", expected, presence,
                                        f"a mask containing {odd}")
        return ops.cast(presence, self.compute_dtype)

    def call(self, features, presence=None):
        if not isinstance(features, (list, tuple)):
            raise ValueError(
                f"{type(self).__name__}: features must be a list of feature tensors, each of "
                f"shape (batch, features). Received: features={check.describe(features)}"
            )
        features, presence = self._prepare(features, presence)
        return self._fuse(features, presence)

    def _prepare(self, features, presence):
        """Cast and check the inputs; returns ``(features, presence)`` as tensors."""
        features = [ops.cast(ops.convert_to_tensor(f), self.compute_dtype) for f in features]
        shapes = [tuple(f.shape) for f in features]
        self._validate(shapes)
        batch = next((shape[0] for shape in shapes if shape[0] is not None), None)
        return features, self._presence(presence, len(features), batch)

    def _fuse(self, features, presence):  # pragma: no cover - abstract
        raise NotImplementedError

    # -- helpers --------------------------------------------------------------------------
    @staticmethod
    def _zero_missing(features, presence):
        if presence is None:
            return list(features)
        return [f * presence[:, index : index + 1] for index, f in enumerate(features)]

    def _make_projections(self, dims, units, prefix="projection"):
        self.projection_kernels = []
        self.projection_biases = []
        for index, dim in enumerate(dims):
            self.projection_kernels.append(
                self.add_weight(
                    shape=(dim, units), initializer="glorot_uniform", name=f"{prefix}_kernel_{index}"
                )
            )
            self.projection_biases.append(
                self.add_weight(shape=(units,), initializer="zeros", name=f"{prefix}_bias_{index}")
            )

    def _project(self, features):
        return [
            ops.matmul(f, kernel) + bias
            for f, kernel, bias in zip(
                features, self.projection_kernels, self.projection_biases, strict=True
            )
        ]

    @staticmethod
    def _projection_count(dims, units) -> int:
        return sum(dim * units + units for dim in dims)

    def expected_parameter_count(self, input_dims: Sequence[int]) -> int:
        """The number of weights this layer has for inputs with feature sizes ``input_dims``."""
        raise NotImplementedError  # pragma: no cover - every layer overrides it


def _check_units(layer_name: str, units, required: bool = False):
    if units is None and not required:
        return None
    return check.positive_int(units, f"{layer_name}: units")


def _is_numeric_nested(value) -> bool:
    try:
        return np.asarray(value).dtype.kind in "biuf"
    except (TypeError, ValueError):
        return False


def _is_eager(tensor) -> bool:
    """True for a concrete tensor (its values can be checked), False inside a traced function."""
    try:
        import tensorflow as tf
    except ImportError:  # pragma: no cover - the course runs on the TensorFlow backend
        return True
    return not tf.is_symbolic_tensor(tensor) if tf.is_tensor(tensor) else True


def _require_equal_dims(layer_name: str, dims, units):
    if units is None and len(set(dims)) > 1:
        raise ValueError(  # lesson 05 prints the text before the first ";"
            f"{layer_name}: without units the inputs must have equal feature sizes (the formula "
            f"adds or multiplies them element by element); pass units=... to project every "
            f"modality to the same size first. Received: features with feature sizes {dims}"
        )


@keras.saving.register_keras_serializable(package="mmcourse")
class WeightedAverage(_FusionLayer):
    """``α_1 f_1 + α_2 f_2 + ...`` — the article's weighted-average fusion.

    Args:
        units: project every modality to ``units`` features first (``f_i W_i + b_i``). Needed
            when feature sizes differ; ``None`` (default) uses the features as they are.
        fusion_weights: initial (or fixed) weights ``α_i``, one per modality; default equal.
        learnable: learn the weights (default) or keep them fixed.
        normalization: ``"softmax"`` (default): the weights are ``softmax(logits)``, positive
            and summing to 1; ``fusion_weights`` are then normalised to sum to 1 and must be
            positive. ``"none"``: the weights are free numbers used as they are.

    Output: ``(batch, units or d)``. Missing modalities: ``"softmax"`` renormalises the weights
    over the present modalities (a missing one gets weight 0; none present gives zeros);
    ``"none"`` just drops the missing terms.

    Parameters: ``n`` (if learnable; fixed weights are constants) ``+ Σ_i (d_i·units + units)``
    (if units).
    """

    def __init__(
        self,
        *,
        units=None,
        fusion_weights=None,
        learnable=True,
        normalization="softmax",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = _check_units("WeightedAverage", units)
        normalization = check.one_of(normalization, "WeightedAverage: normalization",
                                     ("softmax", "none"))
        learnable = check.boolean(learnable, "WeightedAverage: learnable")
        if fusion_weights is not None:
            fusion_weights = [
                float(weight) for weight in check.array(
                    fusion_weights, "WeightedAverage: fusion_weights", ndim=1, kind="numeric",
                    finite=True, what="one finite number per modality")
            ]
            if normalization == "softmax" and min(fusion_weights, default=0.0) <= 0:
                raise check.value_error(
                    "WeightedAverage: fusion_weights",
                    "positive numbers with normalization='softmax'", fusion_weights)
            if (normalization == "softmax" and not learnable
                    and not math.isclose(sum(fusion_weights), 1.0, rel_tol=1e-6)):
                raise check.value_error(
                    "WeightedAverage: fusion_weights",
                    "weights summing to 1 with learnable=False and normalization='softmax' "
                    "(they would be rescaled silently); pass normalization='none' to use them "
                    "as given", fusion_weights)
        elif not learnable:
            raise ValueError("WeightedAverage: learnable=False needs fusion_weights=[...]. "
                             "Received: fusion_weights=None")
        self.fusion_weights = fusion_weights
        self.learnable = learnable
        self.normalization = normalization

    def _check_dims(self, dims):
        _require_equal_dims("WeightedAverage", dims, self.units)
        if self.fusion_weights is not None and len(self.fusion_weights) != len(dims):
            raise ValueError(
                f"WeightedAverage: fusion_weights must hold one weight per input ({len(dims)}). "
                f"Received: fusion_weights={self.fusion_weights}"
            )

    def _initial_raw_weights(self, count):
        weights = self.fusion_weights or [1.0 / count] * count
        if self.normalization == "softmax":
            return [math.log(weight / sum(weights)) for weight in weights]
        return weights

    def _make_weights(self, dims):
        self.raw_weights = None
        if self.learnable:
            name = "weight_logits" if self.normalization == "softmax" else "fusion_weights"
            self.raw_weights = self.add_weight(
                shape=(len(dims),),
                initializer=keras.initializers.Constant(self._initial_raw_weights(len(dims))),
                name=name,
            )
        if self.units is not None:
            self._make_projections(dims, self.units)

    def modality_weights(self):
        """The effective weights ``α_i``, shape ``(num_modalities,)`` (before any masking).

        Fixed weights are constants, not variables (they are no parameters).
        """
        if not self.learnable:
            weights = self.fusion_weights
            if self.normalization == "softmax":
                weights = [weight / sum(weights) for weight in weights]
            return ops.convert_to_tensor(weights, dtype=self.compute_dtype)
        if self.normalization == "softmax":
            return ops.softmax(self.raw_weights)
        return ops.convert_to_tensor(self.raw_weights)

    def _fuse(self, features, presence):
        if self.units is not None:
            features = self._project(features)
        weights = ops.expand_dims(self.modality_weights(), 0)  # (1, n)
        if presence is not None:
            weights = weights * presence  # (batch, n)
            if self.normalization == "softmax":
                total = ops.sum(weights, axis=1, keepdims=True)
                weights = _safe_divide(weights, total)
        stacked = ops.stack(features, axis=1)  # (batch, n, d)
        return ops.sum(stacked * ops.expand_dims(weights, -1), axis=1)

    def expected_parameter_count(self, input_dims):
        count = len(input_dims) if self.learnable else 0
        if self.units is not None:
            count += self._projection_count(input_dims, self.units)
        return count

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units,
            fusion_weights=self.fusion_weights,
            learnable=self.learnable,
            normalization=self.normalization,
        )
        return config


@keras.saving.register_keras_serializable(package="mmcourse")
class Product(_FusionLayer):
    """``f_1 ⊙ f_2 ⊙ ...`` — element-wise (Hadamard) product, after optional projections.

    Args:
        units: project every modality to ``units`` features first; needed when sizes differ.

    Output: ``(batch, units or d)``. Missing modalities are replaced by ones (the neutral
    element of a product), so the product runs over the present modalities only.

    Parameters: ``Σ_i (d_i·units + units)`` if units, else 0.
    """

    def __init__(self, *, units=None, **kwargs):
        super().__init__(**kwargs)
        self.units = _check_units("Product", units)

    def _check_dims(self, dims):
        _require_equal_dims("Product", dims, self.units)

    def _make_weights(self, dims):
        if self.units is not None:
            self._make_projections(dims, self.units)

    def _fuse(self, features, presence):
        if self.units is not None:
            features = self._project(features)
        result = None
        for index, f in enumerate(features):
            if presence is not None:
                present = presence[:, index : index + 1]
                f = f * present + (1.0 - present)
            result = f if result is None else result * f
        return result

    def expected_parameter_count(self, input_dims):
        return 0 if self.units is None else self._projection_count(input_dims, self.units)

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units)
        return config


@keras.saving.register_keras_serializable(package="mmcourse")
class Concatenate(_FusionLayer):
    """``[f_1, f_2, ...]`` — concatenation, then an optional projection ``act(z W + b)``.

    Args:
        units: if given, a dense projection of the concatenation to ``units`` features.
        activation: activation of that projection (any Keras activation name), default none.

    Output: ``(batch, Σ d_i)`` or ``(batch, units)``. Missing modalities are zeroed.

    Parameters: ``(Σ_i d_i)·units + units`` if units, else 0.
    """

    def __init__(self, *, units=None, activation=None, **kwargs):
        if "axis" in kwargs:
            raise TypeError(
                "mmcourse.fusion.layers.Concatenate joins a list of (batch, d_i) features along "
                "the feature axis and takes units= (an optional projection), not axis= — that "
                "is keras.layers.Concatenate(axis=...). Received: axis="
                f"{kwargs['axis']!r}"
            )
        super().__init__(**kwargs)
        self.units = _check_units("Concatenate", units)
        self.activation = keras.activations.get(activation)

    def _make_weights(self, dims):
        if self.units is not None:
            self.kernel = self.add_weight(
                shape=(sum(dims), self.units), initializer="glorot_uniform", name="kernel"
            )
            self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

    def _fuse(self, features, presence):
        fused = ops.concatenate(self._zero_missing(features, presence), axis=-1)
        if self.units is not None:
            fused = self.activation(ops.matmul(fused, self.kernel) + self.bias)
        return fused

    def expected_parameter_count(self, input_dims):
        return 0 if self.units is None else sum(input_dims) * self.units + self.units

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, activation=keras.activations.serialize(self.activation))
        return config


@keras.saving.register_keras_serializable(package="mmcourse")
class Bilinear(_FusionLayer):
    """``s_k = f_1ᵀ W_k f_2 + b_k`` for ``k = 1..units`` — bilinear scores of two modalities.

    A plain ``keras.layers.Dot(axes=1)`` is the special case ``W = I``, ``units = 1``: it
    needs ``d_1 == d_2`` and collapses each pair of vectors to **one number** per sample
    (their similarity), throwing away everything else. ``Bilinear`` learns ``W_k`` (so sizes
    may differ) and gives ``units`` scores, i.e. ``units`` different "similarities".

    This is the bilinear (multiplicative) term **alone**. The matrix form of bilinear fusion
    in MultiBench (Liang et al., 2021) also has the two linear terms,
    ``f_1ᵀ W_k f_2 + f_1 u_k + f_2 v_k + b_k``; to get those, concatenate this layer's output
    with a ``Dense`` of ``[f_1, f_2]`` (or append a 1 to each input, as tensor fusion does).

    Args:
        units: number of bilinear scores (output size), default 1.

    Output: ``(batch, units)``. Missing modalities are zeroed (the scores fall back to ``b``).

    Parameters: ``units·d_1·d_2 + units``.
    """

    min_inputs = 2
    max_inputs = 2

    def __init__(self, units=1, **kwargs):
        super().__init__(**kwargs)
        self.units = _check_units("Bilinear", units, required=True)

    def _make_weights(self, dims):
        self.kernel = self.add_weight(
            shape=(self.units, dims[0], dims[1]), initializer="glorot_uniform", name="kernel"
        )
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

    def _fuse(self, features, presence):
        first, second = self._zero_missing(features, presence)
        # (batch, d1) x (units, d1, d2) -> (batch, units, d2), then dot with (batch, d2)
        left = ops.einsum("bi,kij->bkj", first, self.kernel)
        return ops.einsum("bkj,bj->bk", left, second) + self.bias

    def expected_parameter_count(self, input_dims):
        return self.units * input_dims[0] * input_dims[1] + self.units

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units)
        return config


@keras.saving.register_keras_serializable(package="mmcourse")
class AttentionFusion(_FusionLayer):
    """``Σ_i a_i h_i`` with ``a = softmax_i(vᵀ tanh(W_a h_i + b_a))`` — attention over modalities.

    Each modality is first projected to ``h_i = f_i W_i + b_i`` (when ``units`` is given;
    otherwise ``h_i = f_i`` and the sizes must match). A small scoring net shared by all
    modalities gives one score per modality and sample; a softmax over modalities turns the
    scores into per-sample weights ``a_i`` (they sum to 1).

    Args:
        units: projection size (``None``: no projection, equal sizes required).
        attention_units: hidden size of the scoring net, default 16.
        return_attention: if True the layer returns ``(fused, attention)`` with ``attention``
            of shape ``(batch, num_modalities)`` — for plotting which modality the model uses.

    Output: ``(batch, units or d)``. Missing modalities get exactly zero weight and the rest
    are renormalised (no modality present gives zeros).

    Parameters: ``Σ_i (d_i·units + units)`` (if units) ``+ h·attention_units + 2·attention_units``
    where ``h`` is the projected size (``W_a``, ``b_a`` and ``v``).
    """

    def __init__(self, *, units=None, attention_units=16, return_attention=False, **kwargs):
        super().__init__(**kwargs)
        self.units = _check_units("AttentionFusion", units)
        self.attention_units = check.positive_int(attention_units,
                                                  "AttentionFusion: attention_units")
        self.return_attention = check.boolean(return_attention,
                                              "AttentionFusion: return_attention")

    def _check_dims(self, dims):
        _require_equal_dims("AttentionFusion", dims, self.units)

    def _make_weights(self, dims):
        if self.units is not None:
            self._make_projections(dims, self.units)
        hidden = self.units if self.units is not None else dims[0]
        self.score_kernel = self.add_weight(
            shape=(hidden, self.attention_units), initializer="glorot_uniform", name="score_kernel"
        )
        self.score_bias = self.add_weight(
            shape=(self.attention_units,), initializer="zeros", name="score_bias"
        )
        self.score_vector = self.add_weight(
            shape=(self.attention_units,), initializer="glorot_uniform", name="score_vector"
        )

    def _fuse(self, features, presence):
        if self.units is not None:
            features = self._project(features)
        stacked = ops.stack(features, axis=1)  # (batch, n, h)
        hidden = ops.tanh(ops.einsum("bnh,ha->bna", stacked, self.score_kernel) + self.score_bias)
        scores = ops.einsum("bna,a->bn", hidden, self.score_vector)  # (batch, n)
        if presence is not None:  # a missing modality's score must not set the maximum
            scores = ops.where(presence > 0, scores, ops.min(scores, axis=1, keepdims=True))
        scores = scores - ops.max(scores, axis=1, keepdims=True)
        exponentials = ops.exp(scores)
        if presence is not None:
            exponentials = exponentials * presence  # exactly zero for a missing modality
        attention = _safe_divide(exponentials, ops.sum(exponentials, axis=1, keepdims=True))
        fused = ops.sum(stacked * ops.expand_dims(attention, -1), axis=1)
        if self.return_attention:
            return fused, attention
        return fused

    def expected_parameter_count(self, input_dims):
        count = 0
        hidden = input_dims[0]
        if self.units is not None:
            count += self._projection_count(input_dims, self.units)
            hidden = self.units
        return count + hidden * self.attention_units + 2 * self.attention_units

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units,
            attention_units=self.attention_units,
            return_attention=self.return_attention,
        )
        return config


def _append_one(features):
    ones = ops.ones_like(features[:, :1])
    return ops.concatenate([features, ones], axis=-1)


@keras.saving.register_keras_serializable(package="mmcourse")
class TensorFusion(_FusionLayer):
    """``vec([f_1, 1] ⊗ [f_2, 1] ⊗ ...)`` — tensor (outer-product) fusion, Zadeh et al. 2017.

    Appending a 1 to each vector keeps the unimodal features and every lower-order
    interaction inside the outer product. The output size ``Π_i (d_i + 1)`` grows
    multiplicatively — three 64-long vectors give 274,625 features — which is why
    :class:`LowRankFusion` exists.

    Output: ``(batch, Π_i (d_i + 1))``, the first index varying slowest (C order).
    Missing modalities are zeroed; their appended 1 stays, so the terms of the present
    modalities survive.

    Parameters: 0.
    """

    def _fuse(self, features, presence):
        features = self._zero_missing(features, presence)
        fused = _append_one(features[0])
        for f in features[1:]:
            augmented = _append_one(f)
            outer = ops.expand_dims(fused, 2) * ops.expand_dims(augmented, 1)
            fused = ops.reshape(outer, (-1, outer.shape[1] * outer.shape[2]))
        return fused

    @staticmethod
    def output_size(input_dims) -> int:
        """``Π_i (d_i + 1)``."""
        return math.prod(dim + 1 for dim in input_dims)

    def expected_parameter_count(self, input_dims):
        return 0


@keras.saving.register_keras_serializable(package="mmcourse")
class LowRankFusion(_FusionLayer):
    """``h = Σ_r Π_i ([f_i, 1] W_i^(r)) + b`` — low-rank multimodal fusion, Liu et al. 2018.

    Equal to ``TensorFusion`` followed by a dense layer whose weight tensor is the sum of
    ``rank`` outer products of the per-modality factors ``W_i^(r)`` — without ever forming
    the ``Π (d_i + 1)``-long tensor. With enough rank (``min_i (d_i + 1)`` for two
    modalities) it can express *any* linear map of the tensor-fusion features.

    Args:
        units: output size.
        rank: number of rank-one terms ``r``.

    Output: ``(batch, units)``. Missing modalities are zeroed (their appended 1 stays).

    Parameters: ``rank·units·Σ_i (d_i + 1) + units`` (factors ``(rank, d_i + 1, units)`` + bias).
    """

    def __init__(self, *, units, rank=4, **kwargs):
        super().__init__(**kwargs)
        self.units = _check_units("LowRankFusion", units, required=True)
        self.rank = check.positive_int(rank, "LowRankFusion: rank")

    def _make_weights(self, dims):
        self.factors = [
            self.add_weight(
                shape=(self.rank, dim + 1, self.units),
                initializer="glorot_uniform",
                name=f"factor_{index}",
            )
            for index, dim in enumerate(dims)
        ]
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

    def _fuse(self, features, presence):
        features = self._zero_missing(features, presence)
        product = None
        for f, factor in zip(features, self.factors, strict=True):
            term = ops.einsum("bi,riu->bru", _append_one(f), factor)  # (batch, rank, units)
            product = term if product is None else product * term
        return ops.sum(product, axis=1) + self.bias

    def expected_parameter_count(self, input_dims):
        return self.rank * self.units * sum(dim + 1 for dim in input_dims) + self.units

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, rank=self.rank)
        return config


@keras.saving.register_keras_serializable(package="mmcourse")
class GatedFusion(_FusionLayer):
    """Gated fusion: ``Σ_i g_i ⊙ tanh(f_i W_i + b_i)``, gates computed from all modalities.

    Every modality is transformed to ``h_i = tanh(f_i W_i + b_i)`` (``units`` features), and a
    sigmoid gate — computed from *all* the features ``x = [f_1, ..., f_n]``, so it can see which
    modality is reliable — decides, feature by feature, how much of each ``h_i`` passes.

    * ``competing=False`` (default): one independent gate per modality,
      ``g_i = σ(x G_i + c_i)``. The gates do **not** compete (they need not sum to 1), so this is
      *not* the gated multimodal unit of Arevalo et al. (2017) but a generalisation of it to any
      number of modalities: with two modalities it has one more gate matrix than the GMU and can
      represent strictly more, and its output lies in ``(−n, n)`` instead of the GMU's
      ``(−1, 1)``.
    * ``competing=True``: the paper's GMU, for exactly two modalities —
      ``z = σ(x G + c)``, output ``z ⊙ h_1 + (1 − z) ⊙ h_2`` (gates ``z`` and ``1 − z``, a
      per-feature convex combination, so the output stays in ``(−1, 1)``).

    Args:
        units: output size.
        competing: the paper's competing gates ``z, 1 − z`` (two modalities only).

    Output: ``(batch, units)``. Missing modalities are zeroed before the gates are computed
    and their gate is set to 0 (with ``competing=True`` the present modality then gets gate 1).

    Parameters: ``Σ_i (d_i·units + units) + k·(D·units + units)`` with ``D = Σ_i d_i`` and
    ``k = n`` gates (``k = 1`` with ``competing=True``).
    """

    def __init__(self, units, competing=False, **kwargs):
        super().__init__(**kwargs)
        self.units = _check_units("GatedFusion", units, required=True)
        if not isinstance(competing, bool):
            raise TypeError(f"GatedFusion: competing must be True or False. Received: "
                            f"competing={competing!r}")
        self.competing = competing

    def _check_dims(self, dims):
        if self.competing and len(dims) != 2:
            raise ValueError(
                "GatedFusion(competing=True) is the gated multimodal unit of Arevalo et al. "
                "(2017), defined for exactly 2 modalities (gates z and 1 − z); use "
                f"competing=False for more. Received: {len(dims)} inputs"
            )

    def _num_gates(self, num_modalities: int) -> int:
        return 1 if self.competing else num_modalities

    def _make_weights(self, dims):
        self._make_projections(dims, self.units)
        self.gate_kernels = []
        self.gate_biases = []
        for index in range(self._num_gates(len(dims))):
            self.gate_kernels.append(
                self.add_weight(
                    shape=(sum(dims), self.units),
                    initializer="glorot_uniform",
                    name=f"gate_kernel_{index}",
                )
            )
            self.gate_biases.append(
                self.add_weight(shape=(self.units,), initializer="zeros", name=f"gate_bias_{index}")
            )

    def gates(self, features, presence=None):
        """The gates ``g_i``: a list of ``(batch, units)`` tensors in ``[0, 1]``, one per modality.

        With ``competing=True`` they are ``[z, 1 − z]`` (they sum to 1 where both are present).
        """
        features, presence = self._prepare(features, presence)
        if not self.built:
            self.build([tuple(f.shape) for f in features])
        features = self._zero_missing(features, presence)
        everything = ops.concatenate(features, axis=-1)
        gates = [
            ops.sigmoid(ops.matmul(everything, kernel) + bias)
            for kernel, bias in zip(self.gate_kernels, self.gate_biases, strict=True)
        ]
        if self.competing:
            (z,) = gates
            if presence is None:
                return [z, 1.0 - z]
            first, second = presence[:, 0:1], presence[:, 1:2]
            # both present: z, 1 − z; one missing: the other gets 1; both missing: 0, 0
            return [first * (1.0 - second * (1.0 - z)), second * (1.0 - first * z)]
        if presence is not None:
            gates = [gate * presence[:, i : i + 1] for i, gate in enumerate(gates)]
        return gates

    def _fuse(self, features, presence):
        gates = self.gates(features, presence)
        transformed = [ops.tanh(h) for h in self._project(self._zero_missing(features, presence))]
        return sum(gate * h for gate, h in zip(gates, transformed, strict=True))

    def expected_parameter_count(self, input_dims):
        total = sum(input_dims)
        return self._projection_count(input_dims, self.units) + self._num_gates(
            len(input_dims)) * (total * self.units + self.units)

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, competing=self.competing)
        return config


FUSION_LAYERS = {
    layer.__name__: layer
    for layer in (
        WeightedAverage,
        Product,
        Concatenate,
        Bilinear,
        AttentionFusion,
        TensorFusion,
        LowRankFusion,
        GatedFusion,
    )
}
