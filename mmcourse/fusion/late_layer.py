"""Late (decision-level) fusion inside a Keras model: the :class:`LateFusion` layer.

:mod:`mmcourse.fusion.late` combines the *predicted* probabilities of separately trained
unimodal classifiers in NumPy; this layer applies the same rules inside one model, so the
per-modality heads train end to end. It takes probabilities, not features, so its call differs
from the feature-fusion layers of :mod:`mmcourse.fusion.layers`::

    fused = LateFusion("product")([probabilities_1, probabilities_2, ...], presence=None)
"""

from __future__ import annotations

import keras

from mmcourse import _validate as check

__all__ = ["LATE_FUSION_RULES", "LateFusion"]

LATE_FUSION_RULES = ("product", "average")


@keras.saving.register_keras_serializable(package="mmcourse")
class LateFusion(keras.layers.Layer):
    """Decision-level fusion of per-modality class probabilities, inside a model.

    probabilities: list of ``num_modalities`` float tensors ``(batch, classes)``;
    presence: optional ``(batch, num_modalities)`` → fused probabilities ``(batch, classes)``.

    ``rule="product"`` (product of experts): ``softmax(Σ_i present_i · log max(p_i, floor))``;
    ``rule="average"``: ``Σ_i present_i p_i / Σ_i present_i``. A missing modality is left out;
    with none present the product gives the uniform distribution and the average zeros → uniform.
    Same rules as :mod:`mmcourse.fusion.late` (NumPy), here differentiable so the whole model
    trains end to end. No weights. (``models.build_multimodal_classifier(fusion="late")`` uses it;
    also reachable as ``mmcourse.models.LateFusion``.)
    """

    def __init__(self, rule: str = "product", *, floor: float = 1e-6, **kwargs):
        super().__init__(**kwargs)
        self.rule = check.one_of(rule, "LateFusion: rule", LATE_FUSION_RULES)
        self.floor = check.number(floor, "LateFusion: floor", minimum=0.0,
                                  exclusive_minimum=True, maximum=1.0,
                                  expected="a number in (0, 1] (a positive floor)")

    def call(self, probabilities, presence=None):
        if not isinstance(probabilities, (list, tuple)) or len(probabilities) < 1:
            raise ValueError(
                "LateFusion: probabilities must be a list of (batch, classes) probability "
                "tensors, one per modality. Received: probabilities="
                f"{check.describe(probabilities)}"
            )
        stacked = keras.ops.stack(list(probabilities), axis=1)  # (batch, M, classes)
        if presence is None:
            weights = keras.ops.ones_like(stacked[:, :, :1])
        else:
            weights = keras.ops.expand_dims(keras.ops.cast(presence, stacked.dtype), -1)
        if self.rule == "product":
            scores = keras.ops.sum(weights * keras.ops.log(keras.ops.maximum(stacked, self.floor)),
                                   axis=1)
            return keras.ops.softmax(scores, axis=-1)
        total = keras.ops.sum(weights * stacked, axis=1)
        count = keras.ops.sum(weights, axis=1)
        uniform = keras.ops.ones_like(total) / total.shape[-1]
        # no epsilon (1e-12 is 0 in float16): divide by a count that is 1 where it is 0
        safe_count = keras.ops.where(count > 0, count, keras.ops.ones_like(count))
        return keras.ops.where(count > 0, total / safe_count, uniform)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        return {**super().get_config(), "rule": self.rule, "floor": self.floor}
