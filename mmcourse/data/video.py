"""Derived video: each digit image moving and zooming across a small canvas."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mmcourse import _validate as check

__all__ = ["make_video", "TwoDigitClips", "make_two_digit_clips"]


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
    # Source coordinates of every canvas pixel: rows (N, T, canvas, 1) and columns (N, T, 1,
    # canvas), broadcast against each other to (N, T, canvas, canvas) only where needed.
    r = ((grid[None, None, :] - centre[:, :, 0:1]) / zoom[:, :, None] + (height - 1) / 2)[..., None]
    c = ((grid[None, None, :] - centre[:, :, 1:2]) / zoom[:, :, None] + (width - 1) / 2)[:, :, None, :]

    r0, c0 = np.floor(r).astype(np.int64), np.floor(c).astype(np.int64)
    fr, fc = r - r0, c - c0
    sample = np.arange(num)[:, None, None, None]

    def pixel(row_index, col_index):
        inside = ((row_index >= 0) & (row_index < height)) & ((col_index >= 0) & (col_index < width))
        values = images[sample, np.clip(row_index, 0, height - 1), np.clip(col_index, 0, width - 1)]
        return np.where(inside, values, 0.0)

    video = (
        pixel(r0, c0) * (1 - fr) * (1 - fc)
        + pixel(r0, c0 + 1) * (1 - fr) * fc
        + pixel(r0 + 1, c0) * fr * (1 - fc)
        + pixel(r0 + 1, c0 + 1) * fr * fc
    )
    return video.astype(np.float32)[..., None]


@dataclass
class TwoDigitClips:
    """Clips of two digits in turn with a spoken word in one half (lesson 12).

    clip: float32 ``(N, T, S, S, 1)``; audio: float32 ``(N, samples)``; label: int64 ``(N,)``;
    digits: int64 ``(N, 2)`` (first half, second half); speech_half: int64 ``(N,)`` (0 or 1).
    """

    clip: np.ndarray
    audio: np.ndarray
    label: np.ndarray
    digits: np.ndarray
    speech_half: np.ndarray

    def __len__(self) -> int:
        return len(self.label)


def _speech_onset(clip: np.ndarray, threshold: float = 0.05) -> int:
    loud = np.flatnonzero(np.abs(clip) > threshold * max(float(np.max(np.abs(clip))), 1e-12))
    return int(loud[0]) if loud.size else 0


def make_two_digit_clips(images, labels, audio, *, timing_matters: bool, seed: int = 0,
                         num_frames: int = 8, canvas_size: int = 16) -> TwoDigitClips:
    """Two digits on screen in turn (first half of the frames, then second half), one word spoken.

    images (N, H, W[, 1]), labels (N,), audio (N, samples) of one MM-Digits split. Sample ``i``
    shows digit ``labels[i]`` then a partner of another digit; a word (the first half-clip of
    speech after its onset) is placed in the first or the second half of the audio, at random.

    * ``timing_matters=True``: the label is the digit **on screen while the word is spoken**;
      the word is a random clip of the split, so what is said tells nothing — only *when*;
    * ``timing_matters=False``: the label is one of the two digits, at random, and the word
      **names it**; it is spoken in a random half, so when tells nothing — only *what*.

    Deterministic given ``seed``.
    """
    labels = check.labels(labels, "labels")
    audio = check.array(audio, "audio", ndim=2, kind="float", finite=True,
                        what="audio clips (N, samples)")
    check.same_length({"images": images, "labels": labels, "audio": audio})
    timing_matters = check.boolean(timing_matters, "timing_matters")
    seed = check.seed(seed)
    num_frames = check.integer(num_frames, "num_frames", minimum=2)
    if num_frames % 2:
        raise check.value_error("num_frames", "an even number (two halves)", num_frames)
    rng = np.random.default_rng(seed)
    num, samples = audio.shape
    partner = np.empty(num, dtype=np.int64)
    for index in range(num):
        choices = np.flatnonzero(labels != labels[index])
        partner[index] = rng.choice(choices)
    half = num_frames // 2
    first = make_video(images, num_frames=half, canvas_size=canvas_size, seed=seed + 1)
    second = make_video(np.asarray(images)[partner], num_frames=half, canvas_size=canvas_size,
                        seed=seed + 2)
    clip = np.concatenate([first, second], axis=1)
    digits = np.stack([labels, labels[partner]], axis=1)
    speech_half = rng.integers(0, 2, size=num)
    if timing_matters:
        label = digits[np.arange(num), speech_half]
        source = rng.integers(0, num, size=num)  # whose word is spoken: unrelated to the label
    else:
        which = rng.integers(0, 2, size=num)
        label = digits[np.arange(num), which]
        source = np.where(which == 0, np.arange(num), partner)  # the word names the label
    half_samples = samples // 2
    placed = np.zeros_like(audio, dtype=np.float32)
    for index in range(num):
        clip_audio = audio[source[index]]
        start = _speech_onset(clip_audio)
        word = clip_audio[start:start + half_samples]
        offset = speech_half[index] * half_samples
        placed[index, offset:offset + len(word)] = word
    return TwoDigitClips(clip.astype(np.float32), placed, label.astype(np.int64),
                         digits.astype(np.int64), speech_half.astype(np.int64))
