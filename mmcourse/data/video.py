"""Derived video: each digit image moving and zooming across a small canvas."""

from __future__ import annotations

import numpy as np

from mmcourse import _validate as check

__all__ = ["make_video"]


def make_video(
    images, *, num_frames: int = 8, canvas_size: int = 16, seed: int = 0, max_zoom: float = 1.4
) -> np.ndarray:
    """Turn images into short clips of the digit gliding (and zooming) over a blank canvas.

    images: (N, H, W) or (N, H, W, 1), values in [0, 1]. Each sample gets a straight path from a
    random start to a random end position and a zoom that changes linearly between two random
    scales in [1 / max_zoom, max_zoom]; pixels are sampled bilinearly, zero outside the digit.
    Returns float32 (N, num_frames, canvas_size, canvas_size, 1). Deterministic given ``seed``.
    """
    images = check.array(images, "images", ndim=(3, 4), kind="numeric", finite=True,
                         what="images (N, H, W) or (N, H, W, 1)").astype(np.float32)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3:
        raise check.value_error("images", "images of shape (N, H, W) or (N, H, W, 1)", images)
    num_frames = check.positive_int(num_frames, "num_frames")
    canvas_size = check.integer(canvas_size, "canvas_size", minimum=4)
    seed = check.seed(seed)
    max_zoom = check.number(max_zoom, "max_zoom", minimum=1.0)

    num, height, width = images.shape
    rng = np.random.default_rng(seed)
    log_zoom = rng.uniform(-np.log(max_zoom), np.log(max_zoom), size=(num, 2))
    margin = 0.5 * max(height, width) * 0.6  # keep most of the digit on the canvas
    low, high = margin - 0.5, canvas_size - margin - 0.5
    if high < low:
        low = high = (canvas_size - 1) / 2
    centres = rng.uniform(low, high, size=(num, 2, 2))  # (sample, start/end, row/col)

    time = np.linspace(0.0, 1.0, num_frames) if num_frames > 1 else np.zeros(1)
    zoom = np.exp(log_zoom[:, :1] + (log_zoom[:, 1:] - log_zoom[:, :1]) * time)  # (N, T)
    centre = centres[:, :1, :] + (centres[:, 1:, :] - centres[:, :1, :]) * time[None, :, None]

    grid = np.arange(canvas_size, dtype=np.float64)
    # Source coordinates of every canvas pixel: (N, T, canvas) for rows and columns.
    rows = (grid[None, None, :] - centre[:, :, 0:1]) / zoom[:, :, None] + (height - 1) / 2
    cols = (grid[None, None, :] - centre[:, :, 1:2]) / zoom[:, :, None] + (width - 1) / 2
    r = rows[:, :, :, None] * np.ones(canvas_size)[None, None, None, :]
    c = cols[:, :, None, :] * np.ones(canvas_size)[None, None, :, None]

    r0, c0 = np.floor(r).astype(np.int64), np.floor(c).astype(np.int64)
    fr, fc = r - r0, c - c0
    sample = np.arange(num)[:, None, None, None]

    def pixel(row_index, col_index):
        inside = (row_index >= 0) & (row_index < height) & (col_index >= 0) & (col_index < width)
        values = images[sample, np.clip(row_index, 0, height - 1), np.clip(col_index, 0, width - 1)]
        return np.where(inside, values, 0.0)

    video = (
        pixel(r0, c0) * (1 - fr) * (1 - fc)
        + pixel(r0, c0 + 1) * (1 - fr) * fc
        + pixel(r0 + 1, c0) * fr * (1 - fc)
        + pixel(r0 + 1, c0 + 1) * fr * fc
    )
    return video.astype(np.float32)[..., None]
