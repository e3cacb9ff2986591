"""Multi-task learning on MM-Digits: targets, a low-label split, and the losses in NumPy.

One shared (fused) trunk, one head per task; the training loss is a combination of the tasks'
losses. This module is NumPy only (no TensorFlow is imported), so exercises and graders can use
its references cheaply:

* :func:`task_labels` — integer targets per task from an MM-Digits split: ``digit`` (10 classes),
  ``parity`` (2), ``is_large`` (digit >= 5, 2), ``hint_type`` (exact / arithmetic / partial, 3),
  ``speaker`` (the split's speakers, numbered in sorted order);
* :func:`low_label` — hide most labels of one task (``-1`` = unknown), stratified and seeded;
* :func:`masked_crossentropy` — the mean cross-entropy over the *known* labels only;
* :func:`weighted_loss` — ``sum_i w_i L_i``;
* :func:`uncertainty_weighted_loss` — Kendall, Gal & Cipolla (2018):
  ``sum_i exp(-s_i) L_i + s_i / 2`` with ``s_i = log sigma_i^2`` learned.

The Keras parts — :class:`UncertaintyWeighting` (a layer), :class:`MaskedSparseCrossentropy`
(a loss), :func:`build_multitask_model`, :func:`fit_multitask` (and
:func:`fit_multitask_seeds`, several seeds side by side), :func:`predict_tasks` — live in
:mod:`mmcourse.multitask_keras` and are importable from here too (TensorFlow is imported on the
first such access only).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from mmcourse import _validate as check

__all__ = [
    "HINT_TYPES",
    "TASK_NAMES",
    "UNKNOWN",
    "task_labels",
    "num_classes_of",
    "low_label",
    "masked_crossentropy",
    "weighted_loss",
    "uncertainty_weighted_loss",
    "optimal_log_variances",
    "accuracy",
    "label_free_features",
    "multitask_parameter_count",
    "widest_trunk",
    "seed_verdict",
    # Keras (mmcourse.multitask_keras, imported lazily)
    "UncertaintyWeighting",  # noqa: F822 - lazy, see __getattr__
    "MaskedSparseCrossentropy",  # noqa: F822 - lazy, see __getattr__
    "build_multitask_model",  # noqa: F822 - lazy, see __getattr__
    "fit_multitask",  # noqa: F822 - lazy, see __getattr__
    "fit_multitask_seeds",  # noqa: F822 - lazy, see __getattr__
    "predict_tasks",  # noqa: F822 - lazy, see __getattr__
]

UNKNOWN = -1  # the label of a sample whose label is hidden
HINT_TYPES = ("exact", "arithmetic", "partial")
TASK_NAMES = ("digit", "parity", "is_large", "hint_type", "speaker")
_KERAS_NAMES = ("UncertaintyWeighting", "MaskedSparseCrossentropy", "build_multitask_model",
                "fit_multitask", "fit_multitask_seeds", "predict_tasks")


def __getattr__(name: str):
    if name in _KERAS_NAMES:
        from mmcourse import multitask_keras

        return getattr(multitask_keras, name)
    raise AttributeError(f"module 'mmcourse.multitask' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_KERAS_NAMES])


# ----------------------------------------------------------------------------- targets
def task_labels(data, tasks: Sequence[str] = ("digit", "parity", "is_large")) -> dict:
    """``{task: int64 (N,)}`` for an MM-Digits split (or anything with the same attributes).

    ``digit`` = ``data.label``; ``parity`` = digit % 2; ``is_large`` = digit >= 5;
    ``hint_type`` = index in ``HINT_TYPES`` (a missing hint, ``""``, is ``UNKNOWN``);
    ``speaker`` = the speaker's rank among the split's sorted speaker ids (the splits are
    speaker-disjoint, so this target exists within one split only).
    """
    if isinstance(tasks, str):
        tasks = (tasks,)
    tasks = check.sequence(tasks, "tasks", expected=f"a sequence of task names from {TASK_NAMES}")
    if not hasattr(data, "label"):
        raise check.type_error("data", "an MMDigits split (from mmcourse.data.load_mmdigits)",
                               data)
    digit = check.labels(data.label, "data.label", num_classes=10)
    result = {}
    for task in tasks:
        task = check.one_of(task, "tasks", TASK_NAMES)
        if task == "digit":
            result[task] = digit.copy()
        elif task == "parity":
            result[task] = digit % 2
        elif task == "is_large":
            result[task] = (digit >= 5).astype(np.int64)
        elif task == "hint_type":
            kinds = np.asarray(data.hint_type).astype(str)
            codes = np.full(len(kinds), UNKNOWN, dtype=np.int64)
            for index, kind in enumerate(HINT_TYPES):
                codes[kinds == kind] = index
            result[task] = codes
        else:
            speakers = np.asarray(data.speaker)
            result[task] = np.searchsorted(np.unique(speakers), speakers).astype(np.int64)
    return result


def num_classes_of(labels: Mapping[str, np.ndarray]) -> dict:
    """``{task: number of classes}`` for :func:`build_multitask_model`: 10 for ``digit``, 2 for
    ``parity``/``is_large``, 3 for ``hint_type``, else ``max label + 1``."""
    if not isinstance(labels, Mapping):
        raise check.type_error("labels", "a dict {task: int labels (N,)}", labels)
    known = {"digit": 10, "parity": 2, "is_large": 2, "hint_type": len(HINT_TYPES)}
    return {task: known.get(task, int(np.max(values)) + 1) for task, values in labels.items()}


def low_label(labels, fraction: float, *, seed: int = 0, num_classes: int | None = None):
    """Keep a stratified ``fraction`` of the labels, set the others to ``UNKNOWN`` (-1).

    labels: int ``(N,)``. From every class, ``max(1, round(fraction * count))`` labels are kept,
    chosen at random with ``seed`` (so every class keeps at least one). Returns a new int64
    array; the input is not modified. ``fraction=1`` keeps every label.
    """
    labels = check.labels(labels, "labels", num_classes=num_classes)
    fraction = check.number(fraction, "fraction", minimum=0.0, maximum=1.0,
                            exclusive_minimum=True, expected="a fraction in (0, 1]")
    seed = check.seed(seed)
    rng = np.random.default_rng(seed)
    kept = np.full(len(labels), UNKNOWN, dtype=np.int64)
    for value in np.unique(labels):
        rows = np.flatnonzero(labels == value)
        count = max(1, int(round(fraction * len(rows))))
        chosen = rng.choice(rows, size=count, replace=False)
        kept[chosen] = value
    return kept


# ----------------------------------------------------------------------------- losses (NumPy)
def _probabilities(probabilities, name: str = "probabilities") -> np.ndarray:
    result = check.array(probabilities, name, ndim=2, kind="float", finite=True,
                         what="an array of class probabilities (N, num_classes)")
    if result.size and (result.min() < 0 or result.max() > 1):
        raise check.value_error(name, "probabilities in [0, 1]", result,
                                f"values in [{result.min():g}, {result.max():g}]")
    return result.astype(np.float64)


def masked_crossentropy(labels, probabilities, *, epsilon: float = 1e-7) -> float:
    """Mean of ``-log p[label]`` over the samples whose label is known (``label != -1``).

    labels: int ``(N,)`` with ``-1`` for unknown; probabilities: float ``(N, num_classes)``
    (clipped to ``[epsilon, 1]`` before the log, as Keras does). No known label → ``0.0``.
    """
    probabilities = _probabilities(probabilities)
    labels = check.array(labels, "labels", ndim=1, kind="int", what="an int label array")
    check.same_length({"labels": labels, "probabilities": probabilities})
    if labels.size and (labels.min() < UNKNOWN or labels.max() >= probabilities.shape[1]):
        raise check.value_error("labels", f"labels in [0, {probabilities.shape[1]}) or -1 "
                                "(unknown)", labels,
                                f"labels in [{labels.min()}, {labels.max()}]")
    known = labels != UNKNOWN
    if not known.any():
        return 0.0
    picked = probabilities[np.flatnonzero(known), labels[known]]
    return float(-np.mean(np.log(np.clip(picked, epsilon, 1.0))))


def _losses(losses, name: str = "losses") -> np.ndarray:
    return check.array(losses, name, ndim=1, kind="numeric", finite=True, min_length=1,
                       what="a 1-D array of per-task losses").astype(np.float64)


def weighted_loss(losses, weights) -> float:
    """``sum_i weights[i] * losses[i]``; losses, weights: ``(num_tasks,)``, weights >= 0."""
    losses = _losses(losses)
    weights = check.array(weights, "weights", shape=(len(losses),), kind="numeric", finite=True,
                          what="a 1-D array of loss weights (one per task)").astype(np.float64)
    if np.any(weights < 0):
        raise check.value_error("weights", "non-negative loss weights", weights,
                                f"{weights.tolist()}")
    return float(np.sum(weights * losses))


def uncertainty_weighted_loss(losses, log_variances, *, regression=None) -> float:
    """Kendall, Gal & Cipolla (2018), classification form: ``sum_i exp(-s_i) L_i + s_i / 2``.

    losses: ``(num_tasks,)`` per-task losses ``L_i``; log_variances: ``(num_tasks,)``
    ``s_i = log sigma_i^2`` (learned). A task with a large loss can lower its weight
    ``exp(-s_i)`` by raising ``s_i``, at the price ``s_i / 2``. ``regression``: optional bool
    ``(num_tasks,)``; a regression task (a squared-error loss) gets the paper's factor 1/2,
    ``exp(-s_i) L_i / 2 + s_i / 2``.
    """
    losses = _losses(losses)
    log_variances = check.array(log_variances, "log_variances", shape=(len(losses),),
                                kind="numeric", finite=True,
                                what="a 1-D array of log-variances (one per task)")
    log_variances = log_variances.astype(np.float64)
    factor = np.ones(len(losses))
    if regression is not None:
        regression = check.array(regression, "regression", shape=(len(losses),), kind="bool",
                                 what="a 1-D bool array (one per task)")
        factor[regression] = 0.5
    return float(np.sum(factor * np.exp(-log_variances) * losses + 0.5 * log_variances))


def optimal_log_variances(losses) -> np.ndarray:
    """The ``s_i`` minimising :func:`uncertainty_weighted_loss` for fixed positive losses:
    ``s_i = log(2 L_i)`` — the learned weight ``exp(-s_i)`` is ``1 / (2 L_i)``."""
    losses = _losses(losses)
    if np.any(losses <= 0):
        raise check.value_error("losses", "positive losses", losses, f"{losses.tolist()}")
    return np.log(2.0 * losses)


def accuracy(labels, probabilities) -> float:
    """Accuracy of ``argmax(probabilities)`` over the known labels (``-1`` skipped)."""
    probabilities = _probabilities(probabilities)
    labels = check.array(labels, "labels", ndim=1, kind="int", what="an int label array")
    check.same_length({"labels": labels, "probabilities": probabilities})
    known = labels != UNKNOWN
    if not known.any():
        raise check.value_error("labels", "at least one known label (not -1)", labels)
    return float(np.mean(probabilities[known].argmax(axis=1) == labels[known]))


# ----------------------------------------------------------------------------- features
def label_free_features(data, vocabulary: Sequence[str], *, audio_segments: int = 4) -> dict:
    """Features of an MM-Digits split that no label has shaped (fixed, not learned):

    * ``image``: the 64 pixels, float32 ``(N, 64)``;
    * ``audio``: the MFCC (13 × 101 frames, :func:`mmcourse.features.audio.mfcc`) averaged over
      ``audio_segments`` equal stretches of time, float32 ``(N, 13 * audio_segments)``;
    * ``text``: word counts of the hint over ``vocabulary`` (e.g.
      ``mmcourse.features.text.build_vocabulary(train.text)``; unknown words are not counted),
      float32 ``(N, len(vocabulary))``.

    Standardise them with the *training* split's mean and std before training on them.
    """
    from mmcourse.features import audio as audio_features
    from mmcourse.features import text as text_features

    for attribute in ("image", "audio", "text"):
        if not hasattr(data, attribute):
            raise check.type_error("data", "an MMDigits split (from mmcourse.data.load_mmdigits)",
                                   data)
    vocabulary = check.sequence(vocabulary, "vocabulary", expected="a list of words (str)")
    audio_segments = check.positive_int(audio_segments, "audio_segments")
    from mmcourse.env import one_blas_thread

    images = np.asarray(data.image, dtype=np.float32)
    with one_blas_thread():  # librosa clip by clip: small products, faster on one BLAS thread
        coefficients = audio_features.mfcc(np.asarray(data.audio, dtype=np.float32))
    stretches = np.array_split(np.arange(coefficients.shape[-1]), audio_segments)
    audio = np.concatenate([coefficients[:, :, rows].mean(axis=2) for rows in stretches], axis=1)
    position = {word: index for index, word in enumerate(vocabulary)}
    text = np.zeros((len(data.text), len(vocabulary)), dtype=np.float32)
    for row, hint in enumerate(np.asarray(data.text).astype(str)):
        for word in text_features.tokenize(hint):
            if word in position:
                text[row, position[word]] += 1.0
    return {"image": images.reshape(len(images), -1), "audio": audio.astype(np.float32),
            "text": text}


# ----------------------------------------------------------------------------- sizes and verdicts
def _sizes(sizes, name: str) -> dict:
    if not isinstance(sizes, Mapping) or not sizes:
        raise check.type_error(name, "a non-empty dict {name: size}", sizes)
    return {key: check.positive_int(value, f"{name}[{key!r}]") for key, value in sizes.items()}


def multitask_parameter_count(feature_dims: Mapping[str, int], task_classes: Mapping[str, int],
                              trunk_units: int) -> int:
    """Parameters of :func:`build_multitask_model` with one trunk layer of ``trunk_units``:
    ``(D + 1) u + sum_t (u + 1) c_t`` (D = sum of the feature sizes, c_t = classes of task t)."""
    dims, classes = _sizes(feature_dims, "feature_dims"), _sizes(task_classes, "task_classes")
    units = check.integer(trunk_units, "trunk_units", minimum=0)
    return (sum(dims.values()) + 1) * units + sum((units + 1) * c for c in classes.values())


def widest_trunk(feature_dims: Mapping[str, int], task_classes: Mapping[str, int],
                 budget: int) -> int:
    """The largest ``u`` with ``multitask_parameter_count(..., u) <= budget`` (0 if none fits)."""
    dims, classes = _sizes(feature_dims, "feature_dims"), _sizes(task_classes, "task_classes")
    budget = check.integer(budget, "budget", minimum=0)
    total_classes = sum(classes.values())
    per_unit = sum(dims.values()) + 1 + total_classes
    return max(0, (budget - total_classes) // per_unit)


def seed_verdict(first, second, *, names=("first", "second")) -> dict:
    """Compare two methods run with the same seeds (accuracies ``(num_seeds,)`` each).

    Returns ``{"difference": mean(second) - mean(first), "noise": 2 * hypot(std(first),
    std(second))`` (sample std, ``ddof=1``) ``, "verdict": ...}`` with the verdict
    ``f"{names[1]} better"`` if difference > noise, ``f"{names[0]} better"`` if
    difference < -noise, else ``"tie"`` — the lessons' rule "beyond twice the seed spread".
    """
    first = check.array(first, "first", ndim=1, kind="numeric", finite=True, min_length=2,
                        what="accuracies, one per seed").astype(np.float64)
    second = check.array(second, "second", ndim=1, kind="numeric", finite=True,
                         what="accuracies, one per seed").astype(np.float64)
    check.same_length({"first": first, "second": second}, "one accuracy per seed, same seeds")
    difference = float(second.mean() - first.mean())
    noise = float(2 * np.hypot(first.std(ddof=1), second.std(ddof=1)))
    verdict = (f"{names[1]} better" if difference > noise else
               f"{names[0]} better" if difference < -noise else "tie")
    return {"difference": difference, "noise": noise, "verdict": verdict}
