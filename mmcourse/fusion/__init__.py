"""Fusion: how features from several modalities become one.

* ``mmcourse.fusion.reference`` — the formulas in plain NumPy (no TensorFlow);
* ``mmcourse.fusion.layers`` — the same formulas as Keras layers (imported on first use);
* ``mmcourse.fusion.late`` — decision-level (late) fusion helpers in NumPy;
* ``mmcourse.fusion.late_layer`` — ``LateFusion``, the same rules as a Keras layer inside a model;
* ``mmcourse.fusion.dropout`` — ``ModalityDropout``, a train-only layer on the presence mask.

Every public name of those modules is reachable as ``mmcourse.fusion.<name>``, each from exactly
one module (the map ``NAMES`` below; ``dir(mmcourse.fusion)`` and tab completion list them), so
``mmcourse.fusion.product_of_experts`` is the late-fusion helper with weights, presence and a
prior, and the bare NumPy formula is ``reference.product_of_experts_reference``.

Every layer is called the same way: ``layer([features_1, features_2, ...], presence=None)`` with
features of shape ``(batch, d_i)`` and an optional ``(batch, num_modalities)`` presence mask.
The late-fusion helpers take a list of ``(batch, classes)`` probability arrays.
"""

from __future__ import annotations

import importlib

_SUBMODULES = ("reference", "layers", "late", "late_layer", "dropout")

# name -> the submodule it comes from (like the stub of librosa's lazy_loader).
NAMES = {
    **dict.fromkeys(
        (
            "weighted_average", "product", "concatenate", "softmax", "attention_weights",
            "attention_sum", "tensor_fusion", "linear", "sigmoid", "bilinear", "low_rank_fusion",
            "gated_fusion", "average_probabilities_reference", "weighted_vote_reference",
            "product_of_experts_reference",
        ),
        "reference",
    ),
    **dict.fromkeys(
        (
            "WeightedAverage", "Product", "Concatenate", "Bilinear", "AttentionFusion",
            "TensorFusion", "LowRankFusion", "GatedFusion", "FUSION_LAYERS",
        ),
        "layers",
    ),
    **dict.fromkeys(
        ("average_probabilities", "weighted_vote", "product_of_experts", "LATE_FUSION_METHODS",
         "accuracy"),
        "late",
    ),
    **dict.fromkeys(("LateFusion", "LATE_FUSION_RULES"), "late_layer"),
    "ModalityDropout": "dropout",
}

__all__ = [*_SUBMODULES, *NAMES]


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in NAMES:
        module = importlib.import_module(f"{__name__}.{NAMES[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'mmcourse.fusion' has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *__all__})
