"""Generate the spoken-digit clips of MM-Digits with espeak-ng (dev-time only).

The ten digit names ("zero" ... "nine") are spoken by 32 synthetic "speakers". A speaker is one
espeak-ng English voice/accent (8 of them) combined with one voice variant (``+m3``, ``+f2``,
``+klatt``, ...), a base pitch and a base speaking rate. Each speaker says every digit in 3 takes;
a take jitters pitch, rate and amplitude envelope slightly and places the word at a slightly
different time in the 1 s window. Every clip is

* synthesised by ``espeak-ng`` (22,050 Hz WAV),
* resampled to 8 kHz with librosa (soxr, high quality),
* trimmed of leading/trailing silence (``librosa.effects.trim``, 35 dB),
* placed at a random onset inside a 1 s window (exactly 8,000 samples, zero-padded),
* peak-normalised to 0.9 of full scale and stored as int16.

The result is written to ``mmcourse/data/assets/mmdigits_speech.npz`` as a compressed NumPy
archive with fixed zip timestamps, so the same ``--seed`` and the same espeak-ng/librosa versions
give the same bytes. Its SHA-256 must then be copied into ``mmcourse/data/speech.py``
(``SPEECH_SHA256``); the loader refuses a file whose checksum differs.

Exact command used for the shipped file (espeak-ng 1.51, librosa 0.11)::

    .venv/bin/python scripts/make_speech.py --seed 20261126

Arrays in the archive (C = number of clips, S = number of speakers):

``audio`` int16 (C, 8000) · ``digit`` int8 (C,) · ``speaker`` int16 (C,) · ``take`` int8 (C,) ·
``clip_pitch`` int16 (C,) · ``clip_rate`` int16 (C,) · ``speaker_voice`` str (S,) such as
``"en-gb-scotland+f3"`` · ``speaker_pitch`` int16 (S,) · ``speaker_rate`` int16 (S,) ·
``sample_rate`` int (scalar) · ``seed`` int (scalar) · ``espeak_version`` str (scalar).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
SAMPLE_RATE = 8000
CLIP_SAMPLES = 8000
# espeak-ng's own (gmw/) English voices; the mbrola ones need extra packages.
ACCENTS = (
    "en-gb",
    "en-us",
    "en-gb-scotland",
    "en-gb-x-gbclan",
    "en-gb-x-rp",
    "en-gb-x-gbcwmd",
    "en-029",
    "en-us-nyc",
)
# Human-sounding variants (no robots, no whisper).
VARIANTS = (
    "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8",
    "f1", "f2", "f3", "f4", "f5",
    "klatt", "klatt2", "klatt3", "grandma", "grandpa", "aunty",
    "linda", "steph", "john", "david", "paul",
)  # fmt: skip
SPEAKERS_PER_ACCENT = 4
DEFAULT_OUTPUT = Path(__file__).resolve().parents[1] / "mmcourse/data/assets/mmdigits_speech.npz"


def make_speakers(rng: np.random.Generator) -> list[dict]:
    """Draw the speaker table: accent × variant × base pitch × base rate, all distinct."""
    speakers = []
    for accent in ACCENTS:
        variants = rng.choice(len(VARIANTS), size=SPEAKERS_PER_ACCENT, replace=False)
        for variant_index in variants:
            speakers.append(
                {
                    "voice": f"{accent}+{VARIANTS[variant_index]}",
                    "pitch": int(rng.integers(25, 76)),  # espeak -p, 0..99, default 50
                    "rate": int(rng.integers(135, 196)),  # espeak -s, words per minute
                }
            )
    return speakers


def synthesise(text: str, voice: str, pitch: int, rate: int, amplitude: int, workdir: Path):
    """Run espeak-ng once; return float32 mono audio at 8 kHz."""
    import librosa

    wav_path = workdir / "clip.wav"
    command = [
        "espeak-ng", "-v", voice, "-p", str(pitch), "-s", str(rate), "-a", str(amplitude),
        "-w", str(wav_path), text,
    ]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True)
    audio, _ = librosa.load(wav_path, sr=SAMPLE_RATE, mono=True, res_type="soxr_hq")
    return audio.astype(np.float32)


def fit_to_window(audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Trim silence, place at a random onset in a 1 s window, peak-normalise; return int16."""
    import librosa

    trimmed, _ = librosa.effects.trim(audio, top_db=35)
    if len(trimmed) > CLIP_SAMPLES:
        raise RuntimeError(f"a word lasted {len(trimmed)} samples, more than {CLIP_SAMPLES}")
    room = CLIP_SAMPLES - len(trimmed)
    onset = int(rng.integers(0, min(room, 1600) + 1))
    window = np.zeros(CLIP_SAMPLES, dtype=np.float32)
    window[onset : onset + len(trimmed)] = trimmed
    peak = np.max(np.abs(window))
    if peak <= 0:
        raise RuntimeError("espeak-ng produced a silent clip")
    return np.round(window / peak * 0.9 * 32767).astype(np.int16)


def save_npz_deterministic(path: Path, arrays: dict) -> None:
    """Like ``np.savez_compressed`` but with fixed zip timestamps, so the bytes are reproducible."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, value in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asanyarray(value), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, buffer.getvalue(), compresslevel=9)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=20261126)
    parser.add_argument("--takes", type=int, default=3, help="takes per speaker and digit")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    if shutil.which("espeak-ng") is None:
        sys.exit("espeak-ng is not installed (Debian/Ubuntu: apt-get install espeak-ng)")
    version = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True).stdout
    rng = np.random.default_rng(args.seed)
    speakers = make_speakers(rng)
    clips, digits, speaker_ids, takes, pitches, rates = [], [], [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for speaker_id, speaker in enumerate(speakers):
            for digit, name in enumerate(DIGIT_NAMES):
                for take in range(args.takes):
                    pitch = int(np.clip(speaker["pitch"] + rng.integers(-6, 7), 0, 99))
                    rate = int(speaker["rate"] + rng.integers(-12, 13))
                    amplitude = int(rng.integers(90, 131))
                    audio = synthesise(name, speaker["voice"], pitch, rate, amplitude, workdir)
                    clips.append(fit_to_window(audio, rng))
                    digits.append(digit)
                    speaker_ids.append(speaker_id)
                    takes.append(take)
                    pitches.append(pitch)
                    rates.append(rate)
            print(f"speaker {speaker_id:2d} {speaker['voice']:<24s} done", flush=True)
    arrays = {
        "audio": np.stack(clips),
        "digit": np.asarray(digits, dtype=np.int8),
        "speaker": np.asarray(speaker_ids, dtype=np.int16),
        "take": np.asarray(takes, dtype=np.int8),
        "clip_pitch": np.asarray(pitches, dtype=np.int16),
        "clip_rate": np.asarray(rates, dtype=np.int16),
        "speaker_voice": np.asarray([speaker["voice"] for speaker in speakers]),
        "speaker_pitch": np.asarray([speaker["pitch"] for speaker in speakers], dtype=np.int16),
        "speaker_rate": np.asarray([speaker["rate"] for speaker in speakers], dtype=np.int16),
        "sample_rate": np.asarray(SAMPLE_RATE),
        "seed": np.asarray(args.seed),
        "espeak_version": np.asarray(version.strip()),
    }
    save_npz_deterministic(args.output, arrays)
    digest = hashlib.sha256(args.output.read_bytes()).hexdigest()
    size_mb = args.output.stat().st_size / 1e6
    print(f"wrote {args.output} ({len(clips)} clips, {len(speakers)} speakers, {size_mb:.2f} MB)")
    print(f"SHA-256 {digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
