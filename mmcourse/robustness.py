"""Robustness curves over corruption levels and MultiBench's two robustness numbers.

A **robustness curve** is test accuracy against the level of one corruption, from the cleanest
level to the worst (:func:`sweep`). MultiBench (Liang et al., 2021) summarises a curve two ways:

* **relative robustness** — the area under the accuracy–level curve (trapezoids), the levels
  spread evenly over ``[0, 1]`` from clean to worst (:func:`relative_robustness`; with 11
  levels this is exactly MultiBench's ``Σ (a_k + a_{k+1}) · 0.1 / 2``). It rewards high
  accuracy under imperfection, whatever the clean accuracy.
* **effective robustness** — accuracy above the *baseline's* curve once the two are shifted to
  start at the same clean accuracy: ``Σ_k (f_k − (b_k + f_0 − b_0))``, summed over levels,
  MultiBench's baseline being late fusion (:func:`effective_robustness`). It isolates how fast
  accuracy falls: 0 = falls like the baseline, > 0 = falls more slowly.

MultiBench then min–max normalises both numbers across the methods of a table; we report the raw
numbers (a normalised one changes when a method is added or removed).

:func:`add_modality_dropout` puts a :class:`mmcourse.fusion.dropout.ModalityDropout` in front
of a model's ``present`` input; :func:`impute` builds the zero- and mean-imputation baselines.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

__all__ = [
    "CORRUPTION_LEVELS",
    "relative_robustness",
    "effective_robustness",
    "sweep",
    "robustness_table",
    "add_modality_dropout",
    "impute",
    "bootstrap_interval",
]

#: Levels of each MM-Digits corruption, cleanest first (``load_mmdigits`` keyword → levels).
#: ``missing_rate`` applies to every modality at once. Audio starts at the default (training)
#: SNR of -6 dB: cleaner audio than the models were trained on is a shift too, not a clean level.
CORRUPTION_LEVELS = {
    "image_noise": (0.0, 0.15, 0.3, 0.45, 0.6, 0.75),
    "image_occlusion": (0.0, 0.25, 0.375, 0.5, 0.625, 0.75),
    "audio_snr_db": (-6.0, -9.0, -12.0, -15.0, -18.0, -21.0),
    "hint_vagueness": (0.0, 0.2, 0.4, 0.6, 0.8, 1.0),
    "missing_rate": (0.0, 0.1, 0.2, 0.3, 0.4, 0.5),
}


def _received(name: str, value) -> str:
    text = repr(value)
    if len(text) > 80:
        text = f"{type(value).__name__} of shape {np.shape(value)}"
    return f"Received: {name}={text}"


def _curve(values, name: str) -> np.ndarray:
    if isinstance(values, (str, bytes)) or np.ndim(values) != 1:
        raise TypeError(f"{name} must be a 1-D sequence of accuracies, cleanest level first. "
                        f"{_received(name, values)}")
    try:
        curve = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a 1-D sequence of numbers. "
                        f"{_received(name, values)}") from None
    if len(curve) < 2:
        raise ValueError(f"{name} needs at least 2 levels. {_received(name, values)}")
    if not np.all(np.isfinite(curve)):
        raise ValueError(f"{name} must be finite. {_received(name, values)}")
    return curve


def relative_robustness(accuracies: Sequence[float]) -> float:
    """Area under the accuracy curve, levels evenly spaced on ``[0, 1]`` (MultiBench).

    accuracies: ``(K,)``, cleanest level first. A flat curve at accuracy ``a`` gives ``a``.
    """
    curve = _curve(accuracies, "accuracies")
    step = 1.0 / (len(curve) - 1)
    return float(np.sum((curve[:-1] + curve[1:]) * step / 2.0))


def effective_robustness(accuracies: Sequence[float], baseline: Sequence[float]) -> float:
    """``Σ_k (f_k − (b_k + f_0 − b_0))``: the curve ``f`` against the baseline ``b`` shifted to
    the same clean accuracy (MultiBench, baseline = late fusion). Both ``(K,)``, clean first."""
    curve = _curve(accuracies, "accuracies")
    base = _curve(baseline, "baseline")
    if curve.shape != base.shape:
        raise ValueError(f"accuracies and baseline must have the same number of levels. "
                         f"Received: len(accuracies)={len(curve)}, len(baseline)={len(base)}")
    return float(np.sum(curve - (base + curve[0] - base[0])))


def _accuracy(model, data) -> float:
    from mmcourse.interpret import predict
    from mmcourse.models import model_modalities
    from mmcourse.training import model_inputs

    probabilities = predict(model, model_inputs(data, model_modalities(model)))
    return float(np.mean(probabilities.argmax(axis=1) == np.asarray(data.label)))


def sweep(models: Mapping[str, object], make_data: Callable[[float], object],
          levels: Sequence[float], *, corruption: str = "corruption",
          score: Callable | None = None):
    """Accuracy of every model at every level: a tidy DataFrame ``corruption, level, step,
    model, accuracy`` (``step`` = 0 … K−1, cleanest first).

    models: ``{name: model}`` — a model, or a list of models (e.g. one per seed: each is scored
    and the rows carry ``seed`` = its position). make_data: ``level → data`` the models read
    (an MMDigits split or ``training.Features``), called once per level and shared by all
    models. score: ``(model, data) → float``, default test accuracy.
    """
    import pandas as pd

    if not isinstance(models, Mapping) or not models:
        raise TypeError("models must be a non-empty mapping {name: model or list of models}. "
                        f"Received: models of type {type(models).__name__}")
    if not callable(make_data):
        raise TypeError(f"make_data must be callable (level -> data). "
                        f"Received: make_data of type {type(make_data).__name__}")
    if isinstance(levels, (str, bytes)) or len(levels) < 2:
        raise ValueError(f"levels must hold at least 2 levels, cleanest first. "
                         f"{_received('levels', levels)}")
    score = score or _accuracy
    rows = []
    for step, level in enumerate(levels):
        data = make_data(level)
        for name, entry in models.items():
            entries = entry if isinstance(entry, (list, tuple)) else [entry]
            for seed, model in enumerate(entries):
                rows.append({"corruption": corruption, "level": level, "step": step,
                             "model": name, "seed": seed, "accuracy": float(score(model, data))})
    return pd.DataFrame(rows)


def robustness_table(curves, baseline: str):
    """Per model and corruption: ``clean_accuracy``, ``relative`` and ``effective`` robustness,
    each the mean over seeds with its standard deviation (``_std``, ddof 1; 0 for one seed).

    curves: the (concatenated) output of :func:`sweep`. baseline: the model name whose curve
    (mean over its seeds) is the effective-robustness reference (MultiBench: late fusion).
    """
    import pandas as pd

    required = {"corruption", "step", "model", "seed", "accuracy"}
    if not hasattr(curves, "columns") or not required <= set(curves.columns):
        raise TypeError(f"curves must be a DataFrame from sweep with columns {sorted(required)}. "
                        f"Received: curves of type {type(curves).__name__}")
    if baseline not in set(curves["model"]):
        raise ValueError(f"baseline must be one of the models in curves "
                         f"{sorted(set(curves['model']))}. {_received('baseline', baseline)}")
    rows = []
    for corruption, group in curves.groupby("corruption", sort=False):
        reference = (group[group["model"] == baseline].groupby("step")["accuracy"].mean()
                     .sort_index().to_numpy())
        for name, runs in group.groupby("model", sort=False):
            per_seed = []
            for _, run in runs.groupby("seed"):
                curve = run.sort_values("step")["accuracy"].to_numpy()
                per_seed.append((curve[0], relative_robustness(curve),
                                 effective_robustness(curve, reference)))
            per_seed = np.asarray(per_seed)
            spread = per_seed.std(axis=0, ddof=1) if len(per_seed) > 1 else np.zeros(3)
            rows.append({"corruption": corruption, "model": name,
                         "clean_accuracy": per_seed[:, 0].mean(),
                         "relative": per_seed[:, 1].mean(), "relative_std": spread[1],
                         "effective": per_seed[:, 2].mean(), "effective_std": spread[2],
                         "num_seeds": len(per_seed)})
    return pd.DataFrame(rows)


def add_modality_dropout(model, rate: float = 0.3, *, seed: int | None = 0,
                         name: str | None = None):
    """``model`` behind a :class:`~mmcourse.fusion.dropout.ModalityDropout` on its ``present``
    input: the same named inputs, the same output; modalities are dropped only in training.

    Works for every model of :mod:`mmcourse.models` (on raw inputs or a fusion head on features).
    The wrapped model's weights are shared, not copied.
    """
    import keras

    from mmcourse.fusion.dropout import ModalityDropout

    names = [tensor.name.split(":")[0] for tensor in getattr(model, "inputs", None) or []]
    if "present" not in names:
        raise ValueError(f"model must have an input named 'present' (a presence mask). "
                         f"Received: model with inputs {names}")
    inputs = {}
    for tensor, input_name in zip(model.inputs, names, strict=True):
        inputs[input_name] = keras.Input(shape=tuple(tensor.shape[1:]), dtype=tensor.dtype,
                                         name=input_name)
    routed = dict(inputs)
    routed["present"] = ModalityDropout(rate, seed=seed, name="modality_dropout")(
        inputs["present"])
    outputs = model(routed)
    return keras.Model(inputs, outputs, name=name or f"{model.name}_moddrop")


def impute(data, modality: str, how: str = "zero", *, reference=None):
    """A copy of ``data`` (``training.Features``) with ``modality`` missing and *imputed*:
    its features replaced by zeros (``how="zero"``) or by ``reference``'s mean feature vector
    (``how="mean"``, pass the training Features), and its presence set to **1** — the model is
    not told that the modality is missing (the imputation baselines)."""
    from mmcourse.training import Features

    if not isinstance(data, Features):
        raise TypeError(f"data must be training.Features. "
                        f"Received: data of type {type(data).__name__}")
    if modality not in data.features:
        raise ValueError(f"modality must be one of {sorted(data.features)}. "
                         f"{_received('modality', modality)}")
    if how not in ("zero", "mean"):
        raise ValueError(f"how must be 'zero' or 'mean'. {_received('how', how)}")
    if how == "mean" and not isinstance(reference, Features):
        raise TypeError(f"how='mean' needs reference=<training Features>. "
                        f"Received: reference of type {type(reference).__name__}")
    features = dict(data.features)
    value = features[modality]
    if how == "zero":
        features[modality] = np.zeros_like(value)
    else:
        features[modality] = np.broadcast_to(reference.features[modality].mean(axis=0),
                                             value.shape).copy()
    present = np.array(data.present, copy=True)
    present[:, ("image", "audio", "text").index(modality)] = True
    return Features(features, present, data.label)


def bootstrap_interval(correct, *, num_resamples: int = 2000, level: float = 0.95,
                       seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of a mean (e.g. accuracy from 0/1 ``correct`` ``(N,)``, or
    a paired difference of two models' ``correct``), seeded."""
    values = np.asarray(correct, dtype=np.float64)
    if values.ndim != 1 or len(values) < 2:
        raise ValueError(f"correct must be a 1-D array of at least 2 values. "
                         f"{_received('correct', correct)}")
    if isinstance(num_resamples, bool) or not isinstance(num_resamples, (int, np.integer)) \
            or num_resamples < 1:
        raise ValueError(f"num_resamples must be a positive int. "
                         f"{_received('num_resamples', num_resamples)}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1). {_received('level', level)}")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(int(num_resamples), len(values)))].mean(
        axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)
