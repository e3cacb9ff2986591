"""Lesson 07's unimodal models, trained once per machine and cached.

Lesson 07 trains one unimodal classifier per modality (seed 0, at most 20 epochs, early stopping
with patience 3) and freezes their encoders; lessons 08, 09 and 16 start from exactly those
models. Training them takes about 20 s on a laptop CPU, every time a lesson needs them.
:func:`unimodal_models` trains them the same way (the same calls as lesson 07's cell) the first
time, saves them as ``.keras`` files and loads them on every later call with the same inputs.

Same inputs means: the same training and validation splits (their bytes), seed, epochs,
patience and modalities, the same ``mmcourse`` source, the same TensorFlow, Keras and NumPy
versions, and the same machine (CPU instruction-set flags, GPUs, and the oneDNN environment
variables). TensorFlow picks its kernels by instruction set, so another CPU may train other
weights; it then trains its own. On one machine training is deterministic, so a loaded model is
the model a retraining would give, weight for weight (``tests/test_pretrained.py`` checks it).

The folder is ``$MMCOURSE_MODELS``, else ``models/`` in the data cache
(:func:`mmcourse.data.external.cache_dir`). Set ``MMCOURSE_MODELS=off`` (or pass
``cache=False``) to train every time. Two notebooks asking at once (CI runs them in parallel)
take turns on a lock: one trains, the other then loads.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mmcourse import _validate as check
from mmcourse.data.external import cache_dir

__all__ = ["MODALITIES", "cache_folder", "cache_key", "unimodal_models"]

MODALITIES = ("image", "audio", "text")
_KEY_VERSION = 1
_ENVIRONMENT = ("TF_ENABLE_ONEDNN_OPTS", "ONEDNN_MAX_CPU_ISA", "TF_DETERMINISTIC_OPS",
                "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "CUDA_VISIBLE_DEVICES")


def cache_folder(folder=None) -> Path | None:
    """Where the models are kept: ``folder``, else ``$MMCOURSE_MODELS``, else
    ``<data cache>/models``; ``None`` when caching is off (``MMCOURSE_MODELS=off``)."""
    if folder is not None:
        return Path(folder)
    setting = os.environ.get("MMCOURSE_MODELS", "")
    if setting.strip().lower() in {"off", "0", "false", "no"}:
        return None
    return Path(setting) if setting else cache_dir() / "models"


def _check_split(split, name: str):
    if not all(hasattr(split, field) for field in (*MODALITIES, "label", "present")):
        raise check.type_error(name, "an MMDigits split (from mmcourse.data.load_mmdigits)",
                               split)
    return split


def _split_digest(split, name: str, modalities) -> str:
    digest = hashlib.sha256()
    _check_split(split, name)
    for field in (*modalities, "label", "present"):
        values = np.asarray(getattr(split, field))
        if values.dtype.kind in "US":  # text: the UTF-8 bytes of every string
            values = np.char.encode(values.astype(str), "utf-8")
        digest.update(f"{field}{values.shape}{values.dtype.str}".encode())
        digest.update(np.ascontiguousarray(values).tobytes())
    return digest.hexdigest()


def _source_digest() -> str:
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _machine() -> dict:
    flags = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                flags = " ".join(sorted(line.split(":", 1)[1].split()))
                break
    import tensorflow as tf

    return {
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpu_flags": hashlib.sha256(flags.encode()).hexdigest(),
        "gpus": [device.name for device in tf.config.list_physical_devices("GPU")],
        "environment": {name: os.environ.get(name) for name in _ENVIRONMENT},
    }


def cache_key(train, val, *, modalities: Sequence[str] = MODALITIES, seed: int = 0,
              epochs: int = 20, patience: int = 3) -> str:
    """The cache's name for these models: a SHA-256 over everything that decides their weights
    (see the module's docstring)."""
    import keras
    import tensorflow as tf

    description = {
        "key_version": _KEY_VERSION,
        "train": _split_digest(train, "train", modalities),
        "val": _split_digest(val, "val", modalities),
        "modalities": list(modalities),
        "seed": seed,
        "epochs": epochs,
        "patience": patience,
        "source": _source_digest(),
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__,
                     "numpy": np.__version__},
        "machine": _machine(),
    }
    return hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()[:24]


@contextlib.contextmanager
def _locked(path: Path):
    try:
        import fcntl
    except ImportError:  # Windows: no lock; the atomic renames below still keep files whole
        yield
        return
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _train(train, val, modalities, seed, epochs, patience) -> dict:
    # Lesson 07's cell, call for call (tests/test_pretrained.py compares the two)
    from mmcourse import env, models, training

    trained = {}
    for modality in modalities:
        env.set_seed(seed)
        trained[modality] = models.build_unimodal_classifier(modality, text_vocabulary=train.text)
        training.fit(trained[modality], train, val, epochs=epochs, patience=patience, seed=seed,
                     verbose=0)
    return trained


def _load(folder: Path, key: str, modalities) -> dict | None:
    # the grader's loader: it registers the course's own layers (the audio model's MFCC) first
    from mmcourse.grading.tasks import _load_keras_safely

    manifest = folder / f"unimodal-{key}.json"
    if not manifest.is_file():
        return None
    try:
        return {modality: _load_keras_safely(folder / f"unimodal-{key}-{modality}.keras")
                for modality in modalities}
    except Exception as error:  # noqa: BLE001 - a damaged cache is retrained, never trusted
        warnings.warn(f"the cached unimodal models {key} did not load ({error}); retraining them",
                      RuntimeWarning, stacklevel=3)
        return None


def _save(trained: dict, folder: Path, key: str, seconds: float) -> None:
    for modality, model in trained.items():
        target = folder / f"unimodal-{key}-{modality}.keras"
        partial = target.with_name(f".{target.name}.{os.getpid()}.partial.keras")
        model.save(partial)
        os.replace(partial, target)
    manifest = folder / f"unimodal-{key}.json"
    partial = manifest.with_name(f".{manifest.name}.{os.getpid()}.partial")
    partial.write_text(json.dumps({"modalities": list(trained), "train_seconds": round(seconds, 1),
                                   "saved": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}))
    os.replace(partial, manifest)  # written last: its presence means every model is complete


def unimodal_models(train, val, *, modalities: Sequence[str] = MODALITIES, seed: int = 0,
                    epochs: int = 20, patience: int = 3, cache: bool = True,
                    folder=None) -> dict:
    """Lesson 07's unimodal classifiers ``{modality: keras.Model}``, trained on ``train`` with
    early stopping on ``val`` — loaded from the cache when the same models were trained before
    on this machine, else trained (and saved, with ``cache=True``).

    Each model is what ``models.build_unimodal_classifier(modality, text_vocabulary=train.text)``
    becomes after ``training.fit(model, train, val, epochs=epochs, patience=patience,
    seed=seed)`` with ``set_seed(seed)`` before the build. Loaded models are not compiled
    (``training.fit`` compiles one if you train it further). Either way the call ends with
    ``set_seed(seed)``, so what a notebook does next does not depend on whether it trained.
    """
    from mmcourse import env, models

    _check_split(train, "train")
    _check_split(val, "val")
    modalities = models._check_modalities(modalities)
    seed = check.seed(seed)
    epochs = check.positive_int(epochs, "epochs")
    patience = check.positive_int(patience, "patience")
    cache = check.boolean(cache, "cache")
    place = cache_folder(folder) if cache else None
    if place is None:
        trained = _train(train, val, modalities, seed, epochs, patience)
    else:
        key = cache_key(train, val, modalities=modalities, seed=seed, epochs=epochs,
                        patience=patience)
        with contextlib.ExitStack() as stack:
            try:
                place.mkdir(parents=True, exist_ok=True)
                stack.enter_context(_locked(place / f"unimodal-{key}.lock"))
            except OSError as error:  # a read-only home, a full disk: train, keep nothing
                warnings.warn(f"cannot use the model cache {place} ({error}); training without "
                              "it", RuntimeWarning, stacklevel=2)
                place = None
            trained = _load(place, key, modalities) if place is not None else None
            if trained is None:
                started = time.perf_counter()
                trained = _train(train, val, modalities, seed, epochs, patience)
                if place is not None:
                    try:
                        _save(trained, place, key, time.perf_counter() - started)
                    except OSError as error:
                        warnings.warn(f"could not save to the model cache {place} ({error})",
                                      RuntimeWarning, stacklevel=2)
    env.set_seed(seed)
    return trained
