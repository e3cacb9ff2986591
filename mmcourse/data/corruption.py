"""Seeded corruptions of MM-Digits: image noise and occlusion, audio noise at a target SNR.

Each function takes a NumPy ``Generator`` and returns a new array (the input is not changed).
"""

from __future__ import annotations

import numpy as np

__all__ = ["add_image_noise", "occlude_images", "add_noise_at_snr", "measured_snr_db"]


def add_image_noise(images: np.ndarray, std: float, rng: np.random.Generator) -> np.ndarray:
    """Add Gaussian noise of standard deviation ``std`` and clip to [0, 1]; same shape, float32."""
    images = np.asarray(images, dtype=np.float32)
    if std == 0:
        return images.copy()
    noisy = images + rng.normal(0.0, std, size=images.shape).astype(np.float32)
    return np.clip(noisy, 0.0, 1.0).astype(np.float32)


def occlude_images(images: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Blank (set to 0) one square block per image whose side is ``fraction`` of the image side.

    images: (N, H, W, C) with H == W. The block's position is uniform over the image.
    """
    images = np.array(images, dtype=np.float32, copy=True)
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
    audio = np.asarray(audio, dtype=np.float32)
    if noise is None:
        noise = rng.standard_normal(size=audio.shape, dtype=np.float32)
    noise = np.asarray(noise, dtype=np.float32)
    signal_power = np.mean(np.square(audio, dtype=np.float64), axis=-1, keepdims=True)
    noise_power = np.mean(np.square(noise, dtype=np.float64), axis=-1, keepdims=True)
    target_power = signal_power / 10.0 ** (snr_db / 10.0)
    scale = np.sqrt(target_power / np.maximum(noise_power, 1e-20)).astype(np.float32)
    return audio + noise * scale


def measured_snr_db(clean: np.ndarray, noisy: np.ndarray) -> np.ndarray:
    """SNR in dB of each noisy clip against its clean version: 10 log10(P_clean / P_noise)."""
    clean = np.asarray(clean, dtype=np.float64)
    noise = np.asarray(noisy, dtype=np.float64) - clean
    return 10.0 * np.log10(np.mean(clean**2, axis=-1) / np.mean(noise**2, axis=-1))
