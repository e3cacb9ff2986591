"""The shipped spoken-digit clips (espeak-ng, 8 kHz, 1 s) and their integrity check.

Made by ``scripts/make_speech.py --seed 20261126``; see ``docs/data_card.md``.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["SPEECH_FILE", "SPEECH_SHA256", "SpeechClips", "load_speech_clips", "sha256_of"]

SPEECH_FILE = Path(__file__).resolve().parent / "assets" / "mmdigits_speech.npz"
SPEECH_SHA256 = "aa10dd296283af2c52e8d089b509054d5927069e88f36147c45770e666374022"
SAMPLE_RATE = 8000


@dataclass(frozen=True)
class SpeechClips:
    """All clips: ``audio`` int16 (C, 8000), ``digit``/``speaker``/``take`` (C,), speaker table."""

    audio: np.ndarray
    digit: np.ndarray
    speaker: np.ndarray
    take: np.ndarray
    speaker_voice: np.ndarray
    speaker_pitch: np.ndarray
    speaker_rate: np.ndarray
    sample_rate: int

    @property
    def num_speakers(self) -> int:
        return len(self.speaker_voice)


def sha256_of(path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@functools.lru_cache(maxsize=4)
def load_speech_clips(path=None, expected_sha256: str = SPEECH_SHA256) -> SpeechClips:
    """Load the speech archive after checking its SHA-256 (cached per path).

    Raises ``ValueError`` naming the file, the expected and the received checksum when the file
    is damaged, and ``FileNotFoundError`` when it is missing.
    """
    path = Path(path) if path is not None else SPEECH_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"the MM-Digits speech file {path} is missing; reinstall mmcourse or regenerate it "
            "with `python scripts/make_speech.py --seed 20261126`"
        )
    received = sha256_of(path)
    if received != expected_sha256:
        raise ValueError(
            f"speech data file {path} is damaged: its SHA-256 must be {expected_sha256}, "
            f"received {received}. Reinstall mmcourse (or `git checkout` the file)."
        )
    with np.load(path, allow_pickle=False) as archive:
        clips = SpeechClips(
            audio=archive["audio"],
            digit=archive["digit"].astype(np.int64),
            speaker=archive["speaker"].astype(np.int64),
            take=archive["take"].astype(np.int64),
            speaker_voice=archive["speaker_voice"],
            speaker_pitch=archive["speaker_pitch"],
            speaker_rate=archive["speaker_rate"],
            sample_rate=int(archive["sample_rate"]),
        )
    for array in (clips.audio, clips.digit, clips.speaker, clips.take):
        array.flags.writeable = False
    return clips
