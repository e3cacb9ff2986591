"""Optional real-data loaders, tested on small fake archives made here (never the network)."""

from __future__ import annotations

import io
import tarfile

import numpy as np
import pytest
from scipy.io import wavfile

from mmcourse.data import DatasetUnavailableError, load_fsdd, load_mnist
from mmcourse.data.external import FSDD_URL, MNIST_URL, fetch
from mmcourse.data.speech import sha256_of


def _fake_fsdd(path, rate=8000):
    rng = np.random.default_rng(0)
    with tarfile.open(path, "w:gz") as archive:
        for digit, speaker, take, length in [
            (3, "jackson", 0, 3000), (3, "jackson", 1, 9000), (7, "nicolas", 0, 4000),
        ]:  # fmt: skip
            buffer = io.BytesIO()
            wavfile.write(buffer, rate, (rng.normal(size=length) * 3000).astype(np.int16))
            payload = buffer.getvalue()
            info = tarfile.TarInfo(
                f"free-spoken-digit-dataset-1.0.10/recordings/{digit}_{speaker}_{take}.wav"
            )
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))
    return sha256_of(path)


def _fake_mnist(path):
    rng = np.random.default_rng(1)
    arrays = {
        "x_train": rng.integers(0, 256, size=(20, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, size=20).astype(np.uint8),
        "x_test": rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, size=5).astype(np.uint8),
    }
    np.savez_compressed(path, **arrays)
    return arrays, sha256_of(path)


def test_fsdd_from_the_cache(tmp_path):
    digest = _fake_fsdd(tmp_path / "fsdd-v1.0.10.tar.gz")
    data = load_fsdd(tmp_path, download=False, sha256=digest)
    assert data["audio"].shape == (3, 8000) and data["audio"].dtype == np.float32
    assert data["label"].tolist() == [3, 3, 7]
    assert data["speaker"].tolist() == ["jackson", "jackson", "nicolas"]
    assert np.all(data["audio"][0, 3000:] == 0) and np.any(data["audio"][0, :3000] != 0)
    assert np.abs(data["audio"]).max() <= 1.0


def test_fsdd_records_the_first_checksum_and_refuses_a_changed_file(tmp_path):
    path = tmp_path / "fsdd-v1.0.10.tar.gz"
    digest = _fake_fsdd(path)
    load_fsdd(tmp_path, download=False)  # nothing pinned: trust on first use
    assert (tmp_path / "fsdd-v1.0.10.tar.gz.sha256").read_text().strip() == digest
    payload = bytearray(path.read_bytes())
    payload[-10] ^= 0xFF
    path.write_bytes(bytes(payload))
    with pytest.raises(ValueError, match="SHA-256") as error:
        load_fsdd(tmp_path, download=False)
    assert digest in str(error.value)


def test_offline_error_names_the_file_to_place_by_hand(tmp_path):
    with pytest.raises(DatasetUnavailableError) as error:
        load_fsdd(tmp_path / "cache", download=False)
    message = str(error.value)
    assert str(tmp_path / "cache" / "fsdd-v1.0.10.tar.gz") in message and FSDD_URL in message
    with pytest.raises(DatasetUnavailableError, match="mnist.npz"):
        load_mnist(tmp_path / "cache", download=False)


def test_download_checks_the_checksum(tmp_path):
    source = tmp_path / "served" / "mnist.npz"
    source.parent.mkdir()
    arrays, digest = _fake_mnist(source)
    url = source.as_uri()  # a file:// URL: the download path runs without any network
    with pytest.raises(ValueError, match="expected"):
        fetch(url, "mnist.npz", "0" * 64, tmp_path / "cache")
    assert not (tmp_path / "cache" / "mnist.npz").exists()
    path = fetch(url, "mnist.npz", digest, tmp_path / "cache")
    assert sha256_of(path) == digest
    data = load_mnist(tmp_path / "cache", download=False, sha256=digest)
    assert np.array_equal(data["x_train"], arrays["x_train"])
    with pytest.raises(ValueError, match="damaged"):
        load_mnist(tmp_path / "cache", download=False)  # Keras's pinned hash: not our fake


def test_unreachable_url_gives_the_manual_instructions(tmp_path):
    missing = (tmp_path / "nowhere" / "mnist.npz").as_uri()
    with pytest.raises(DatasetUnavailableError, match="by hand") as error:
        fetch(missing, "mnist.npz", None, tmp_path / "cache")
    assert str(tmp_path / "cache" / "mnist.npz") in str(error.value)
    assert MNIST_URL.startswith("https://")
