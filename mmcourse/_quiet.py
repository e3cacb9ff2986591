"""The one place where TensorFlow's start-up noise is turned down.

TensorFlow prints lines such as ``cudart_stub.cc: Could not find cuda drivers``, the oneDNN notice
or ``cpu_feature_guard`` hints straight to file descriptor 2 while it is imported (and
``failed call to cuInit`` when it first looks for GPUs), before its own log-level setting is read;
Jupyter copies them into every lesson's output. ``install()`` (called by ``import mmcourse``) adds
an import hook that runs the *first* ``import tensorflow``, and its first look for devices, with
descriptor 2 captured, then writes back every captured line that is not known start-up noise — so
real errors still show. If the learner has not chosen a level, ``TF_CPP_MIN_LOG_LEVEL`` is set to
``2`` (TensorFlow's C++ INFO and WARNING lines off, **errors still shown**; ``3`` would hide
errors too). TensorFlow's Python logger is left alone (its retracing warnings teach something).
TensorFlow itself is not imported here.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import re
import sys
import tempfile

# TensorFlow's C++ log level unless the learner set one: 2 = errors only (3 would hide errors).
LOG_LEVEL = "2"

# Lines TensorFlow writes to stderr while loading that say nothing a learner can act on.
NOISE = re.compile(
    r"absl::InitializeLog|cudart_stub\.cc|cuda_platform\.cc|cuda_dnn\.cc|cuda_fft\.cc|cuda_blas\.cc"
    r"|Unable to register cu(DNN|FFT|BLAS) factory|computation_placer\.cc|cpu_feature_guard"
    r"|oneDNN custom operations are on|This TensorFlow binary is optimized|rebuild TensorFlow with"
    r"|TF-TRT Warning|Could not find cuda drivers|failed call to cuInit"
)


class _QuietLoader(importlib.abc.Loader):
    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        with _filtered_stderr():
            self._loader.exec_module(module)
            try:  # the first device query prints "failed call to cuInit" on a CPU-only machine
                module.config.list_physical_devices()
            except Exception:  # noqa: BLE001 - never let the quieting break the import
                pass


class _QuietTensorFlowFinder(importlib.abc.MetaPathFinder):
    """Wraps the loader of the top-level ``tensorflow`` package; steps aside after one use."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        spec.loader = _QuietLoader(spec.loader)
        return spec


class _filtered_stderr:
    """Capture file descriptor 2 in a temporary file; on exit write back the non-noise lines."""

    def __enter__(self):
        try:
            sys.stderr.flush()
            self._saved = os.dup(2)
        except (OSError, ValueError):  # no real descriptor 2 (unusual embedders): do nothing
            self._saved = None
            return self
        self._capture = tempfile.TemporaryFile(mode="w+b")
        os.dup2(self._capture.fileno(), 2)
        return self

    def __exit__(self, *exc_info):
        if self._saved is None:
            return False
        os.dup2(self._saved, 2)
        os.close(self._saved)
        self._capture.seek(0)
        text = self._capture.read().decode("utf-8", errors="replace")
        self._capture.close()
        kept = [line for line in text.splitlines() if line.strip() and not NOISE.search(line)]
        if kept:
            sys.stderr.write("\n".join(kept) + "\n")
        return False


def install() -> None:
    """Turn TensorFlow's C++ INFO/WARNING lines off and quiet its first import (idempotent)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", LOG_LEVEL)
    if "tensorflow" in sys.modules:
        return
    if not any(isinstance(finder, _QuietTensorFlowFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlowFinder())
