"""mmcourse — helpers for a Jupyter course on multimodal learning.

Importing ``mmcourse`` is cheap: TensorFlow, Keras and librosa are imported only by the
submodules that need them (``mmcourse.fusion``, ``mmcourse.features``, ...), never here.

Importing it also filters TensorFlow's start-up log noise, in one place
(:mod:`mmcourse._quiet`): lessons import ``mmcourse`` before TensorFlow and get clean outputs,
while TensorFlow's errors and Python warnings still show.
"""

from __future__ import annotations

import importlib
import os

from mmcourse import _quiet

_quiet.install()
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

__version__ = "0.1.0"

_SUBMODULES = (
    "alignment",
    "checks",
    "data",
    "env",
    "features",
    "fusion",
    "grading",
    "interpret",
    "models",
    "multitask",
    "multitask_keras",
    "plotting",
    "pretrained",
    "privacy",
    "robustness",
    "syllabus",
    "temporal",
    "training",
)

__all__ = ["__version__", *_SUBMODULES]


def __getattr__(name: str):
    """Import submodules on first attribute access (``mmcourse.env`` works without an import)."""
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'mmcourse' has no attribute {name!r}")
