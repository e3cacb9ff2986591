"""Checks for exercise 01 (modalities and data), against :mod:`mmcourse.data`.

The learner's functions (signatures as in ``solutions/01_modalities_and_data.ipynb``):

* ``class_balance(labels, num_classes=10)`` -> float (num_classes,), the fraction of each class;
* ``measured_snr_db(clean, noisy)`` -> float (N,), ``10 log10(P_clean / P_noise)`` per clip;
* ``add_white_noise(clean, snr_db, rng)`` -> float (N, samples), clean plus Gaussian noise scaled
  so that each clip's SNR is ``snr_db``.
"""

from __future__ import annotations

import numpy as np

from mmcourse.checks import Case, register
from mmcourse.data import measured_snr_db as _reference_snr


def _class_balance_reference(labels, num_classes):
    return np.bincount(np.asarray(labels), minlength=num_classes) / len(labels)


@register(
    "01.class_balance",
    hints=[
        "Count how often each class 0 .. num_classes-1 occurs, then divide by the number of labels.",
        "A class that never occurs must still get its 0: NumPy's counting function for small "
        "non-negative ints has an argument for the minimum number of bins — look it up.",
        "Check the length of your result on labels that miss the last classes: it must be "
        "num_classes, and the shares must add up to 1.",
    ],
)
def _class_balance_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for size, num_classes in [(50, 10), (7, 10), (1000, 3), (1, 4)]:
        labels = rng.integers(0, num_classes, size=size)
        cases.append(
            Case(
                f"{size} labels in 0..{num_classes - 1}, num_classes={num_classes}",
                args=(labels,),
                kwargs={"num_classes": num_classes},
                expected=_class_balance_reference(labels, num_classes),
            )
        )
    labels = rng.integers(0, 3, size=20)  # edge case: classes 3..9 absent
    cases.append(
        Case(
            "20 labels that use only 0, 1, 2, num_classes=10 (seven classes absent)",
            args=(labels,),
            kwargs={"num_classes": 10},
            expected=_class_balance_reference(labels, 10),
        )
    )
    return cases


@register(
    "01.measured_snr_db",
    hints=[
        "The noise is what the corruption added: noisy - clean. Power = mean of the squares.",
        "Take the mean over the last axis (the samples of one clip), so each clip gets its own "
        "SNR: `np.mean(x ** 2, axis=-1)`.",
        "Decibels of a power ratio: ten times the base-10 logarithm of signal power over noise "
        "power (not twenty: that is for amplitudes).",
    ],
)
def _measured_snr_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for num, samples in [(3, 8000), (1, 500), (5, 64)]:
        clean = rng.normal(size=(num, samples)) * rng.uniform(0.1, 2.0, size=(num, 1))
        noisy = clean + rng.normal(size=(num, samples)) * rng.uniform(0.01, 3.0, size=(num, 1))
        cases.append(
            Case(
                f"clean and noisy of shape {(num, samples)}, different loudness per clip",
                args=(clean, noisy),
                expected=_reference_snr(clean, noisy),
            )
        )
    return cases


def _compare_noisy(received, expected) -> str | None:
    clean, snr_db = expected
    received = np.asarray(received, dtype=np.float64)
    if received.shape != clean.shape:
        return f"wrong shape: expected {clean.shape} (same as clean), received {received.shape}"
    if not np.all(np.isfinite(received)):
        return "the result contains nan or inf"
    noise = received - clean
    if np.any(np.mean(noise**2, axis=-1) == 0):
        return "some clip came back unchanged: no noise was added"
    measured = _reference_snr(clean, received)
    worst = int(np.argmax(np.abs(measured - snr_db)))
    if abs(measured[worst] - snr_db) > 0.3:
        return (
            f"clip {worst} has a measured SNR of {measured[worst]:.2f} dB, expected {snr_db:.2f} dB "
            "(± 0.3): scale the noise per clip from that clip's own signal power"
        )
    if np.abs(noise.mean(axis=-1)).max() > 0.2 * np.sqrt(np.mean(noise**2)):
        return "the added noise is not centred on zero — white noise has mean 0"
    return None


@register(
    "01.add_white_noise",
    hints=[
        "SNR_dB = 10 log10(P_signal / P_noise), so the noise power must be "
        "P_signal / 10 ** (snr_db / 10) — for each clip separately.",
        "Draw `noise = rng.standard_normal(clean.shape)`, then multiply each row by "
        "sqrt(target_power / its own power); keep the means with `axis=-1, keepdims=True`.",
        "Scaling a signal by a factor multiplies its power by the factor squared: that is why the "
        "noise is scaled by a square root. Measure your result with your measured_snr_db.",
    ],
)
def _add_white_noise_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for num, snr_db in [
        (4, float(rng.uniform(-10, 20))),
        (1, 0.0),
        (3, float(rng.uniform(-20, -5))),
    ]:
        clean = rng.normal(size=(num, 8000)) * rng.uniform(0.05, 1.0, size=(num, 1))
        cases.append(
            Case(
                f"clean of shape {(num, 8000)}, snr_db={snr_db:.2f}",
                args=(clean, snr_db, np.random.default_rng(int(rng.integers(1 << 31)))),
                expected=(clean, snr_db),
                compare=_compare_noisy,
            )
        )
    return cases
