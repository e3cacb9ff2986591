"""Shared pytest set-up: a non-interactive Matplotlib backend and quiet TensorFlow."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

import mmcourse  # noqa: E402,F401  (installs the TensorFlow log filter before any test imports TF)

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository's root folder (tests run from a clone, never from an installed copy)."""
    return REPO_ROOT
