"""mmcourse — helpers for a Jupyter course on multimodal learning.

Importing ``mmcourse`` is cheap: TensorFlow, Keras and librosa are imported only by the
submodules that need them (``mmcourse.fusion``, ``mmcourse.features``, ...), never here.

This module is also the one place where TensorFlow's start-up log noise (oneDNN notices,
``cpu_feature_guard`` lines) is turned down, by setting ``TF_CPP_MIN_LOG_LEVEL`` before
TensorFlow is ever imported. A value the user set explicitly is respected.
"""

from __future__ import annotations

import importlib
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # hide INFO and WARNING lines from TF's C++ core
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

__version__ = "0.1.0"

_SUBMODULES = (
    "checks",
    "data",
    "env",
    "features",
    "fusion",
    "grading",
    "models",
    "plotting",
    "training",
)

__all__ = ["__version__", *_SUBMODULES]


def __getattr__(name: str):
    """Import submodules on first attribute access (``mmcourse.env`` works without an import)."""
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'mmcourse' has no attribute {name!r}")
