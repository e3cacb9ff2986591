"""Checks for exercise 04 (MFCC from scratch), against :mod:`mmcourse.features.audio` / librosa.

The learner's functions (signatures as in ``solutions/04_audio_features.ipynb``):

* ``frame_signal(clip, n_fft, hop_length, pad_mode)`` -> ``(frames, n_fft)``, centred with zero
  (``"constant"``) or mirrored (``"reflect"``) padding;
* ``mel_filterbank(sr, n_fft, n_mels)`` -> ``(n_mels, 1 + n_fft // 2)``, = ``librosa.filters.mel``;
* ``power_to_db(power, ref, amin, top_db)`` -> dB relative to ``ref`` (a number or ``"max"``)
  with a floor ``top_db`` below the max;
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


def reference_frames(clip, n_fft: int, hop_length: int, pad_mode: str = "constant") -> np.ndarray:
    """Centred frames ``(frames, n_fft)`` with ``pad_mode`` "constant" or "reflect" (the reference)."""
    padded = np.pad(np.asarray(clip), n_fft // 2, mode=pad_mode)
    return audio.frame_signal(padded, n_fft, hop_length, center=False)


def reference_power_to_db(power, ref=1.0, amin: float = 1e-10, top_db: float = 80.0) -> np.ndarray:
    """``librosa.power_to_db`` with ``ref`` a number or ``"max"`` (the reference)."""
    import librosa

    return librosa.power_to_db(np.asarray(power, dtype=np.float64),
                               ref=np.max if isinstance(ref, str) and ref == "max" else ref,
                               amin=amin, top_db=top_db)


@register(
    "04.frame_signal",
    hints=[
        "First pad n_fft // 2 samples on each side, then cut: frame t starts at sample "
        "t * hop_length of the padded clip and is n_fft samples long.",
        "NumPy's padding function takes the padding mode by name, and 'constant' and 'reflect' "
        "are exactly the two names asked for — pass pad_mode through instead of fixing one mode.",
        "Count the frames with the formula in the task; an index array (starts as a column plus "
        "offsets as a row) or a list of slices stacked together both give (frames, n_fft).",
    ],
)
def _frame_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for mode in ("constant", "reflect", "reflect", "constant", "reflect"):
        n_fft = int(rng.choice([64, 128, 256]))
        hop = int(rng.choice([16, 32, 80, 100]))
        samples = int(rng.integers(n_fft, 3000))
        clip = rng.normal(size=samples).astype(np.float32)
        cases.append(Case(f"clip of {samples} samples, n_fft={n_fft}, hop_length={hop}, "
                          f"pad_mode={mode!r}", args=(clip, n_fft, hop, mode),
                          expected=reference_frames(clip, n_fft, hop, mode)))
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
        "Two logarithms: the power and the reference level, both clipped from below at amin, "
        "each turned into dB; the result is their difference.",
        "ref='max' means the reference level is the largest power in the array; any other ref is "
        "the level itself.",
        "The floor comes last, on the referenced dB values: nothing may lie more than top_db "
        "below their maximum.",
    ],
)
def _power_to_db_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for ref in (1.0, "max", float(10.0 ** rng.uniform(-6, 1)), "max"):
        power = 10.0 ** rng.uniform(-14, 3, size=(int(rng.integers(1, 40)),
                                                  int(rng.integers(1, 30))))
        power[rng.random(power.shape) < 0.1] = 0.0
        top_db = float(rng.choice([80.0, 60.0, 40.0]))
        cases.append(Case(f"power {power.shape} from 0 to {power.max():.3g}, ref={ref!r}, "
                          f"amin=1e-10, top_db={top_db}", args=(power, ref, 1e-10, top_db),
                          expected=reference_power_to_db(power, ref, 1e-10, top_db)))
    return cases


@register(
    "04.mfcc",
    hints=[
        "Chain your own functions in lesson 04's order; after the FFT, turn the spectrum into "
        "(frequencies, frames) so that the mel filterbank can multiply it from the left.",
        "The periodic Hann window divides by n_fft, not n_fft - 1 (that would be the symmetric "
        "window, which librosa does not use).",
        "The DCT runs over the mel axis, not over time, and keeps only the first n_mfcc "
        "coefficients; scipy.fft.dct takes the type, the norm and the axis as arguments.",
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
