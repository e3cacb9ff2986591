"""Metrics: accuracy, macro-F1, confusion matrix and log-loss of a model, with bootstrap intervals.

``evaluate`` scores a model on one split; ``bootstrap_interval`` and ``paired_bootstrap`` say how
far an accuracy measured on a few hundred test samples can be trusted (resampling the samples).
Part of :mod:`mmcourse.training` (``training.evaluate`` …), which re-exports every name.
"""

from __future__ import annotations

import numpy as np

from mmcourse import _validate as check
from mmcourse.training.fitting import (
    _check_data,
    _check_finite_inputs,
    _check_labels_fit,
    _keras,
    _modalities_of,
    _predict_inputs,
    model_inputs,
    predict_proba,
)

__all__ = [
    "confusion_matrix",
    "macro_f1",
    "evaluate",
    "bootstrap_interval",
    "paired_bootstrap",
]


def confusion_matrix(labels, predictions, num_classes: int = 10) -> np.ndarray:
    """int64 ``(num_classes, num_classes)``: row = true class, column = predicted class."""
    num_classes = check.positive_int(num_classes, "num_classes")
    labels = check.labels(labels, "labels", num_classes=num_classes)
    predictions = check.labels(predictions, "predictions", num_classes=num_classes)
    check.same_length({"labels": labels, "predictions": predictions})
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (labels, predictions), 1)
    return matrix


def macro_f1(matrix: np.ndarray) -> float:
    """Mean over classes of ``F1 = 2·TP / (2·TP + FP + FN)`` (a class never seen nor predicted: 0)."""
    matrix = np.asarray(matrix, dtype=np.float64)
    true_positive = np.diag(matrix)
    denominator = matrix.sum(axis=0) + matrix.sum(axis=1)  # = 2 TP + FP + FN
    scores = np.divide(2 * true_positive, denominator, out=np.zeros_like(true_positive),
                       where=denominator > 0)
    return float(scores.mean())


def evaluate(model, data, batch_size: int = 256) -> dict:
    """Accuracy, macro-F1, confusion matrix and mean log-loss of ``model`` on an MMDigits split.

    Returns ``{"accuracy": float, "macro_f1": float, "log_loss": float,
    "confusion_matrix": int64 (10, 10), "probabilities": (N, 10), "predictions": (N,)}``.
    """
    keras = _keras()
    if not isinstance(model, keras.Model):
        raise check.type_error("model", "a Keras model (e.g. from mmcourse.models)", model)
    _check_data(data)
    batch_size = check.positive_int(batch_size, "batch_size")
    _check_finite_inputs(data, "data", _modalities_of(model))
    _check_labels_fit(model, data, "data")
    probabilities = predict_proba(model, data, batch_size)
    return _scores(probabilities, np.asarray(data.label))


def _scores(probabilities, labels) -> dict:
    predictions = probabilities.argmax(axis=1)
    matrix = confusion_matrix(labels, predictions, probabilities.shape[1])
    picked = probabilities[np.arange(len(labels)), labels]
    return {
        "accuracy": float(np.mean(predictions == labels)),
        "macro_f1": macro_f1(matrix),
        "log_loss": float(-np.mean(np.log(np.maximum(picked, 1e-12)))),
        "confusion_matrix": matrix,
        "probabilities": probabilities,
        "predictions": predictions,
    }


def _evaluate_two(model, first, second, batch_size: int = 256) -> tuple[dict, dict]:
    """``evaluate`` on two splits with one ``predict`` call (one trace of the predict step)."""
    modalities = _modalities_of(model)
    inputs = [model_inputs(split, modalities) for split in (first, second)]
    joined = {key: np.concatenate([inputs[0][key], inputs[1][key]]) for key in inputs[0]}
    probabilities = _predict_inputs(model, joined, batch_size)
    count = len(first.label)
    return (_scores(probabilities[:count], np.asarray(first.label)),
            _scores(probabilities[count:], np.asarray(second.label)))


def _as_correct(correct, name: str) -> np.ndarray:
    """bool/0-1 ``(N,)`` or ``(num_runs, N)`` (or a sequence of ``(N,)`` arrays) → float 2-D."""
    try:
        array = np.asarray(correct, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be 0/1 or bool values of shape (N,) or (num_runs, N). "
                        f"Received: {type(correct).__name__}") from error
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.shape[1] == 0:
        raise ValueError(f"{name} must have shape (N,) or (num_runs, N) with N > 0. "
                         f"Received: shape {array.shape}")
    if not np.isin(array, (0.0, 1.0)).all():
        raise ValueError(f"{name} must hold only 0/1 (correct or not). Received values "
                         f"{np.unique(array)[:5]}")
    return array


def _resample_indices(num_samples: int, num_resamples: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, num_samples, size=(int(num_resamples), num_samples))


def bootstrap_interval(correct, *, confidence: float = 0.95, num_resamples: int = 2000,
                       seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of an accuracy over the test samples.

    correct: 0/1 ``(N,)`` for one run, or ``(num_runs, N)`` for several seeds of one method on the
    same samples (the interval is then for the mean over the runs). The samples are resampled
    with replacement ``num_resamples`` times (seeded). Returns ``(low, high)``. On 360 samples
    at accuracy 0.9 the 95 % interval is about ±3 points (one standard error ≈ 1.6 points).
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1). Received: confidence={confidence!r}")
    per_sample = _as_correct(correct, "correct").mean(axis=0)
    indices = _resample_indices(len(per_sample), num_resamples, seed)
    accuracies = per_sample[indices].mean(axis=1)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(accuracies, [tail, 100 - tail])
    return float(low), float(high)


def paired_bootstrap(correct_a, correct_b, *, confidence: float = 0.95,
                     num_resamples: int = 2000, seed: int = 0) -> dict:
    """Accuracy difference A − B on the **same** test samples, with a paired bootstrap interval.

    correct_a, correct_b: 0/1 ``(N,)`` or ``(num_runs, N)`` (e.g. the ``test_correct`` arrays of
    :func:`compare`'s runs for the same seeds). Both are resampled with the same indices, so the
    interval reflects the samples on which the two methods disagree. Returns ``{"difference",
    "low", "high", "beyond_noise"}``; ``beyond_noise`` is True when the interval excludes 0 —
    only then claim an ordering.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1). Received: confidence={confidence!r}")
    a = _as_correct(correct_a, "correct_a").mean(axis=0)
    b = _as_correct(correct_b, "correct_b").mean(axis=0)
    if a.shape != b.shape:
        raise ValueError(f"correct_a and correct_b must cover the same samples. Received: "
                         f"{a.shape[0]} and {b.shape[0]} samples")
    difference = a - b
    indices = _resample_indices(len(difference), num_resamples, seed)
    resampled = difference[indices].mean(axis=1)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(resampled, [tail, 100 - tail])
    return {"difference": float(difference.mean()), "low": float(low), "high": float(high),
            "beyond_noise": bool(low > 0 or high < 0)}
