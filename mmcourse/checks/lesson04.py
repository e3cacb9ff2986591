"""Checks for exercise 04 (MFCC from scratch), against :mod:`mmcourse.features.audio` / librosa.

The learner's functions (signatures as in ``solutions/04_audio_features.ipynb``):

* ``frame_signal(clip, n_fft, hop_length)`` -> ``(frames, n_fft)``, centred with zero padding;
* ``mel_filterbank(sr, n_fft, n_mels)`` -> ``(n_mels, 1 + n_fft // 2)``, = ``librosa.filters.mel``;
* ``power_to_db(power, amin, top_db)`` -> dB with a floor ``top_db`` below the max;
* ``mfcc_from_scratch(clip, sr, n_mfcc, n_fft, hop_length, n_mels)`` -> ``(n_mfcc, frames)``,
  = ``librosa.feature.mfcc`` with the same settings, on fresh random signals.
"""

from __future__ import annotations

import numpy as np

from mmcourse.checks import Case, register
from mmcourse.features import audio


def random_clip(rng: np.random.Generator, samples: int, sr: int = 8000) -> np.ndarray:
    """Noise, a tone, a chirp or a mix, with a random silent stretch — float32 (samples,)."""
    t = np.arange(samples) / sr
    kind = int(rng.integers(0, 4))
    if kind == 0:
        clip = rng.normal(scale=rng.uniform(0.01, 0.3), size=samples)
    elif kind == 1:
        clip = rng.uniform(0.1, 0.9) * np.sin(2 * np.pi * rng.uniform(80, sr / 2 - 200) * t)
    elif kind == 2:
        clip = 0.5 * np.sin(2 * np.pi * (rng.uniform(100, 500) + rng.uniform(200, 2000) * t) * t)
    else:
        clip = 0.3 * np.sin(2 * np.pi * 300 * t) + rng.normal(scale=0.05, size=samples)
    start = int(rng.integers(0, samples))
    clip[start:start + samples // 4] = 0.0
    return clip.astype(np.float32)


@register(
    "04.frame_signal",
    hints=[
        "Pad n_fft // 2 zeros on both sides (np.pad with mode='constant'), then take n_fft "
        "samples starting every hop_length samples.",
        "The number of frames is 1 + (len(padded) - n_fft) // hop_length; frame t is "
        "padded[t * hop_length : t * hop_length + n_fft].",
    ],
)
def _frame_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for _ in range(5):
        n_fft = int(rng.choice([64, 128, 256]))
        hop = int(rng.choice([16, 32, 80, 100]))
        samples = int(rng.integers(n_fft, 3000))
        clip = rng.normal(size=samples).astype(np.float32)
        cases.append(Case(f"clip of {samples} samples, n_fft={n_fft}, hop_length={hop}",
                          args=(clip, n_fft, hop), expected=audio.frame_signal(clip, n_fft, hop)))
    return cases


@register(
    "04.mel_filterbank",
    hints=[
        "Place n_mels + 2 points evenly on the mel scale from hz_to_mel(0) to hz_to_mel(sr / 2), "
        "convert them back to Hz; filter i rises from point i to i+1 and falls to i+2.",
        "Evaluate the triangles at the FFT bin frequencies np.fft.rfftfreq(n_fft, 1 / sr); "
        "Slaney normalisation multiplies filter i by 2 / (points[i+2] - points[i]).",
    ],
)
def _mel_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for _ in range(4):
        sr = int(rng.choice([8000, 16000, 22050]))
        n_fft = int(rng.choice([256, 512]))
        n_mels = int(rng.integers(10, 41))
        cases.append(Case(f"sr={sr}, n_fft={n_fft}, n_mels={n_mels}", args=(sr, n_fft, n_mels),
                          expected=audio.mel_filterbank(sr, n_fft, n_mels), rtol=1e-4,
                          atol=1e-6))
    return cases


@register(
    "04.power_to_db",
    hints=[
        "10 * log10 of the power, but never of anything below amin: np.maximum(amin, power).",
        "Then floor at top_db below the maximum: np.maximum(db, db.max() - top_db).",
    ],
)
def _power_to_db_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for _ in range(4):
        power = 10.0 ** rng.uniform(-14, 3, size=(int(rng.integers(1, 40)),
                                                  int(rng.integers(1, 30))))
        power[rng.random(power.shape) < 0.1] = 0.0
        top_db = float(rng.choice([80.0, 60.0, 40.0]))
        cases.append(Case(f"power {power.shape} from 0 to {power.max():.3g}, amin=1e-10, "
                          f"top_db={top_db}", args=(power, 1e-10, top_db),
                          expected=audio.power_to_db(power, 1e-10, top_db)))
    return cases


@register(
    "04.mfcc",
    hints=[
        "Chain your functions: frame_signal -> times the periodic Hann window -> "
        "abs(np.fft.rfft(frames, axis=-1))**2, transposed to (frequencies, frames) -> "
        "mel_filterbank @ power -> power_to_db -> DCT.",
        "The DCT is type II, orthonormal, over the mel axis (axis 0), keeping the first n_mfcc "
        "rows: scipy.fft.dct(log_mel, type=2, norm='ortho', axis=0)[:n_mfcc].",
        "The periodic Hann window is 0.5 - 0.5 * cos(2 pi n / n_fft) for n = 0..n_fft-1 (divide by "
        "n_fft, not n_fft - 1).",
    ],
)
def _mfcc_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for sr, n_fft, hop, n_mels, n_mfcc in [(8000, 256, 80, 40, 13), (8000, 256, 128, 32, 20),
                                           (16000, 512, 160, 40, 13)]:
        clip = random_clip(rng, int(rng.integers(2 * n_fft, 8000)), sr)
        cases.append(Case(
            f"a random {len(clip)}-sample signal, sr={sr}, n_mfcc={n_mfcc}, n_fft={n_fft}, "
            f"hop_length={hop}, n_mels={n_mels}",
            args=(clip, sr, n_mfcc, n_fft, hop, n_mels),
            expected=audio.mfcc(clip, sr=sr, n_mfcc=n_mfcc, n_fft=n_fft, hop_length=hop,
                                n_mels=n_mels),
            rtol=1e-4, atol=1e-2))
    return cases
