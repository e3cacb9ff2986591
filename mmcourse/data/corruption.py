"""Seeded corruptions of MM-Digits: image noise and occlusion, audio noise at a target SNR.

Each function takes a NumPy ``Generator`` and returns a new array (the input is not changed).
"""

from __future__ import annotations

import numpy as np

from mmcourse import _validate as check

__all__ = ["add_image_noise", "occlude_images", "add_noise_at_snr", "measured_snr_db"]


def _check_rng(rng) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise check.type_error("rng", "a numpy.random.Generator (np.random.default_rng(seed))", rng)
    return rng


def _check_images(images) -> np.ndarray:
    images = check.array(images, "images", ndim=4, kind="numeric", finite=True,
                         what="a batch of images (N, H, W, C)")
    return images.astype(np.float32)


def add_image_noise(images: np.ndarray, std: float, rng: np.random.Generator) -> np.ndarray:
    """Add Gaussian noise of standard deviation ``std`` and clip to [0, 1]; same shape, float32.

    images: (N, H, W, C); std: a finite number >= 0; rng: a NumPy ``Generator``.
    """
    images = _check_images(images)
    std = check.number(std, "std", minimum=0.0, expected="a finite number >= 0 (a std)")
    rng = _check_rng(rng)
    if std == 0:
        return images.copy()
    noisy = images + rng.normal(0.0, std, size=images.shape).astype(np.float32)
    return np.clip(noisy, 0.0, 1.0).astype(np.float32)


def occlude_images(images: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Blank (set to 0) one square block per image whose side is ``fraction`` of the image side.

    images: (N, H, W, C) with H == W; fraction in [0, 1]. The block's position is uniform.
    """
    images = _check_images(images).copy()
    if images.shape[1] != images.shape[2]:
        raise check.value_error("images", "square images (N, H, W, C) with H == W", images)
    fraction = check.probability(fraction, "fraction")
    rng = _check_rng(rng)
    size = images.shape[1]
    side = int(round(fraction * size))
    if side == 0:
        return images
    top = rng.integers(0, size - side + 1, size=len(images))
    left = rng.integers(0, size - side + 1, size=len(images))
    rows = np.arange(size)
    in_rows = (rows[None, :] >= top[:, None]) & (rows[None, :] < top[:, None] + side)
    in_cols = (rows[None, :] >= left[:, None]) & (rows[None, :] < left[:, None] + side)
    block = in_rows[:, :, None] & in_cols[:, None, :]
    images[block] = 0.0
    return images


def add_noise_at_snr(
    audio: np.ndarray, snr_db: float, rng: np.random.Generator, noise: np.ndarray | None = None
) -> np.ndarray:
    """Add noise to each clip so that its signal-to-noise ratio is ``snr_db`` decibels.

    audio: float32 (N, samples). The signal power is each clip's mean square over the whole
    clip. ``noise`` (same shape) is scaled to the target power; None means white Gaussian noise.
    Returns float32 (N, samples).
    """
    audio = check.array(audio, "audio", ndim=(1, 2), kind="float", finite=True,
                        what="clips (samples,) or (N, samples)").astype(np.float32)
    snr_db = check.number(snr_db, "snr_db")
    rng = _check_rng(rng)
    if noise is None:
        noise = rng.standard_normal(size=audio.shape, dtype=np.float32)
    noise = check.array(noise, "noise", kind="float", finite=True, what="noise clips")
    if noise.shape != audio.shape:
        raise check.value_error("noise", f"None or noise of the same shape as audio {audio.shape}",
                                noise)
    noise = noise.astype(np.float32)
    signal_power = np.mean(np.square(audio, dtype=np.float64), axis=-1, keepdims=True)
    noise_power = np.mean(np.square(noise, dtype=np.float64), axis=-1, keepdims=True)
    target_power = signal_power / 10.0 ** (snr_db / 10.0)
    scale = np.sqrt(target_power / np.maximum(noise_power, 1e-20)).astype(np.float32)
    return audio + noise * scale


def measured_snr_db(clean: np.ndarray, noisy: np.ndarray) -> np.ndarray:
    """SNR in dB of each noisy clip against its clean version: 10 log10(P_clean / P_noise)."""
    clean = check.array(clean, "clean", kind="float", finite=True).astype(np.float64)
    noisy = check.array(noisy, "noisy", kind="float", finite=True).astype(np.float64)
    if noisy.shape != clean.shape:
        raise check.value_error("noisy", f"clips of the same shape as clean {clean.shape}", noisy)
    noise = noisy - clean
    return 10.0 * np.log10(np.mean(clean**2, axis=-1) / np.mean(noise**2, axis=-1))
