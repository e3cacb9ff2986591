"""Fusion: how features from several modalities become one.

* ``mmcourse.fusion.reference`` — the formulas in plain NumPy (imported eagerly, no TensorFlow);
* ``mmcourse.fusion.layers`` — the same formulas as Keras layers (imported on first use);
* ``mmcourse.fusion.late`` — decision-level (late) fusion helpers.

Every public name of those modules is reachable as ``mmcourse.fusion.<name>``.

Every layer is called the same way: ``layer([features_1, features_2, ...], presence=None)`` with
features of shape ``(batch, d_i)`` and an optional ``(batch, num_modalities)`` presence mask.
The late-fusion helpers take a list of ``(batch, classes)`` probability arrays.
"""

from __future__ import annotations

import importlib

_LAZY_MODULES = ("reference", "layers", "late")


def __getattr__(name: str):
    if name in _LAZY_MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    for module_name in _LAZY_MODULES:
        try:
            module = importlib.import_module(f"{__name__}.{module_name}")
        except ModuleNotFoundError as error:
            if error.name == f"{__name__}.{module_name}":
                continue
            raise
        if hasattr(module, name):
            return getattr(module, name)
    raise AttributeError(f"module 'mmcourse.fusion' has no attribute {name!r}")
