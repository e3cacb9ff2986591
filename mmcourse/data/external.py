"""Optional loaders for real datasets: MNIST and the Free Spoken Digit Dataset (FSDD).

The course never needs them (MM-Digits ships inside the package). They download once into a
cache folder (``$MMCOURSE_DATA``, default ``~/.cache/mmcourse``), check the SHA-256 of the
file, and read it with NumPy/SciPy only. Offline, they raise :class:`DatasetUnavailableError`
saying which file to download by hand and where to put it.

* MNIST — ``mnist.npz`` as distributed for Keras (Yann LeCun and Corinna Cortes, CC BY-SA 3.0);
  its SHA-256 is the one Keras pins.
* FSDD — the GitHub release archive of Jakobovski/free-spoken-digit-dataset v1.0.10 (CC BY-SA
  4.0): 3,000 recordings, 6 speakers × 10 digits × 50 takes, 8 kHz. GitHub does not publish a
  checksum for release archives, so none is pinned here: the first download's SHA-256 is
  recorded next to the file (``<file>.sha256``) and every later load must match it; pass
  ``sha256=`` to pin a value yourself.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

from .speech import sha256_of

__all__ = [
    "DatasetUnavailableError",
    "FSDD_URL",
    "MNIST_SHA256",
    "MNIST_URL",
    "cache_dir",
    "fetch",
    "load_fsdd",
    "load_mnist",
]

MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
MNIST_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
FSDD_VERSION = "1.0.10"
FSDD_URL = (
    "https://github.com/Jakobovski/free-spoken-digit-dataset/archive/refs/tags/"
    f"v{FSDD_VERSION}.tar.gz"
)
_FSDD_NAME = re.compile(r"recordings/(\d)_([a-z]+)_(\d+)\.wav$")


class DatasetUnavailableError(OSError):
    """The file is neither in the cache nor downloadable (offline, or download disabled)."""


def cache_dir(path=None) -> Path:
    """The cache folder: ``path``, else ``$MMCOURSE_DATA``, else ``~/.cache/mmcourse``."""
    if path is not None:
        return Path(path)
    return Path(os.environ.get("MMCOURSE_DATA", Path.home() / ".cache" / "mmcourse"))


def fetch(url: str, filename: str, sha256: str | None, folder=None, download: bool = True) -> Path:
    """Return the path of ``filename`` in the cache, downloading it from ``url`` if needed.

    The file's SHA-256 must equal ``sha256``; with ``sha256=None`` the first download's checksum
    is recorded in ``<file>.sha256`` and later loads must match it. Raises ``ValueError`` for a
    checksum mismatch and :class:`DatasetUnavailableError` when the file is absent and cannot be
    downloaded (the message says where to put a copy fetched by hand).
    """
    folder = cache_dir(folder)
    target = folder / filename
    record = target.with_name(target.name + ".sha256")
    expected = sha256 or (record.read_text().strip() if record.is_file() else None)
    if not target.is_file():
        how = (
            f"Download {url} by hand (in a browser, or `curl -L -o {target} {url}`) and place "
            f"it at {target}"
            + (f" (SHA-256 {sha256})" if sha256 else "")
            + ". Set MMCOURSE_DATA to use another folder."
        )
        if not download:
            raise DatasetUnavailableError(f"{target} is not in the cache and download=False. {how}")
        folder.mkdir(parents=True, exist_ok=True)
        handle, partial_name = tempfile.mkstemp(dir=folder, prefix=filename, suffix=".part")
        os.close(handle)
        partial = Path(partial_name)
        try:
            with urllib.request.urlopen(url, timeout=30) as response, open(partial, "wb") as out:
                shutil.copyfileobj(response, out)
        except (urllib.error.URLError, OSError, ValueError) as error:
            partial.unlink(missing_ok=True)
            raise DatasetUnavailableError(f"could not download {url} ({error}). {how}") from None
        received = sha256_of(partial)
        if expected is not None and received != expected:
            partial.unlink(missing_ok=True)
            raise ValueError(
                f"the download of {url} has SHA-256 {received}, expected {expected}; "
                "nothing was saved. Try again, or place a good copy by hand at " + str(target)
            )
        partial.replace(target)
        if expected is None:
            record.write_text(received + "\n")
        return target
    received = sha256_of(target)
    if expected is not None and received != expected:
        raise ValueError(
            f"{target} is damaged: its SHA-256 must be {expected}, received {received}. "
            f"Delete it and load again to download {url} afresh."
        )
    if expected is None:
        record.write_text(received + "\n")
    return target


def load_mnist(folder=None, download: bool = True, sha256: str | None = MNIST_SHA256) -> dict:
    """MNIST as NumPy: ``x_train`` uint8 (60000, 28, 28), ``y_train`` (60000,), ``x_test``,
    ``y_test`` (10,000 each). ``sha256`` is Keras's pinned checksum (override only for tests).
    """
    path = fetch(MNIST_URL, "mnist.npz", sha256, folder, download)
    with np.load(path, allow_pickle=False) as archive:
        data = {key: archive[key] for key in ("x_train", "y_train", "x_test", "y_test")}
    for part in ("train", "test"):
        images, labels = data[f"x_{part}"], data[f"y_{part}"]
        if images.ndim != 3 or images.shape[1:] != (28, 28) or len(images) != len(labels):
            raise ValueError(
                f"{path}: x_{part} must have shape (N, 28, 28) matching y_{part}, received "
                f"{images.shape} and {labels.shape}"
            )
    return data


def _read_wav(payload: bytes) -> tuple[int, np.ndarray]:
    from scipy.io import wavfile

    rate, audio = wavfile.read(io.BytesIO(payload))
    if audio.ndim > 1:
        audio = audio.mean(axis=1)
    if np.issubdtype(audio.dtype, np.integer):
        audio = audio.astype(np.float32) / np.float32(np.iinfo(audio.dtype).max + 1)
    return rate, audio.astype(np.float32)


def load_fsdd(
    folder=None, download: bool = True, sha256: str | None = None, num_samples: int = 8000
) -> dict:
    """The Free Spoken Digit Dataset as 1 s clips at 8 kHz.

    Returns a dict: ``audio`` float32 (N, num_samples) (cut or zero-padded at the end),
    ``label`` int64 (N,), ``speaker`` str (N,), ``take`` int64 (N,), ``sample_rate`` 8000.
    Sorted by (speaker, label, take). Recordings that are not 8 kHz raise ``ValueError``.
    """
    path = fetch(FSDD_URL, f"fsdd-v{FSDD_VERSION}.tar.gz", sha256, folder, download)
    audio, labels, speakers, takes = [], [], [], []
    with tarfile.open(path, "r:gz") as archive:
        members = sorted(
            (member for member in archive.getmembers() if _FSDD_NAME.search(member.name)),
            key=lambda member: member.name,
        )
        for member in members:
            digit, speaker, take = _FSDD_NAME.search(member.name).groups()
            rate, clip = _read_wav(archive.extractfile(member).read())
            if rate != 8000:
                raise ValueError(f"{member.name}: sample rate must be 8000 Hz, received {rate}")
            window = np.zeros(num_samples, dtype=np.float32)
            window[: min(len(clip), num_samples)] = clip[:num_samples]
            audio.append(window)
            labels.append(int(digit))
            speakers.append(speaker)
            takes.append(int(take))
    if not audio:
        raise ValueError(f"{path} holds no recordings/<digit>_<speaker>_<take>.wav files")
    order = np.lexsort((takes, labels, speakers))
    return {
        "audio": np.stack(audio)[order],
        "label": np.asarray(labels, dtype=np.int64)[order],
        "speaker": np.asarray(speakers)[order],
        "take": np.asarray(takes, dtype=np.int64)[order],
        "sample_rate": 8000,
    }
