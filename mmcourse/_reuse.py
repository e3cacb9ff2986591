"""Compiled trainers, reused across calls.

Tracing a training step costs about a second, as much as training one of the course's small
models, so the helpers that train many of them (``training.fit_seeds``, the multi-task trainers,
DP-SGD) keep one compiled trainer per setting in a bounded dict and restart it for each run:
:func:`reuse` finds or makes it, :func:`restart_adam` gives it a fresh Adam.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def reuse(cache: dict, key, make: Callable[[], object], limit: int = 16):
    """``cache[key]``, made by ``make()`` the first time; when the cache already holds ``limit``
    trainers, the oldest one is dropped first."""
    trainer = cache.get(key)
    if trainer is None:
        if len(cache) >= limit:
            cache.pop(next(iter(cache)))
        trainer = cache[key] = make()
    return trainer


def restart_adam(optimizer, learning_rate: float) -> None:
    """Adam as new: its step count and moments back to zero, at ``learning_rate``."""
    for variable in optimizer.variables:
        if not variable.name.endswith("learning_rate"):
            variable.assign(np.zeros(variable.shape, variable.dtype))
    optimizer.learning_rate = float(learning_rate)
