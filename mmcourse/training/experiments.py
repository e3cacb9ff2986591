"""Experiments: train configurations over seeds, summarise the runs honestly, measure reliance.

``compare`` trains every configuration for every seed and scores each run on validation (to
choose) and test (to report); ``summarize_runs`` ranks on validation only; ``modality_importance``
measures how much a trained model relies on each modality. Part of :mod:`mmcourse.training`
(``training.compare`` …), which re-exports every name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from mmcourse import _validate as check
from mmcourse.env import set_seed
from mmcourse.training.fitting import (
    Features,
    _check_data,
    _modalities_of,
    _predict_inputs,
    encode,
    fit,
    model_inputs,
)
from mmcourse.training.metrics import _evaluate_two, _scores, bootstrap_interval

__all__ = [
    "compare",
    "summarize_runs",
    "modality_importance",
]


def _builder(config, train, feature_dims=None) -> Callable[[], object]:
    if callable(config):
        return config
    if not isinstance(config, Mapping):
        raise TypeError(
            "each configuration must be a callable returning a model, or a dict of keyword "
            "arguments for build_multimodal_classifier (modalities=..., fusion=...); received "
            f"{type(config).__name__}"
        )
    from mmcourse import models

    options = {key: value for key, value in config.items() if key not in ("seeds", "fit")}
    if feature_dims is not None:  # fusion heads on precomputed features
        modalities = options.pop("modalities", tuple(feature_dims))
        modalities = (modalities,) if isinstance(modalities, str) else tuple(modalities)
        if len(modalities) == 1:  # one modality: its own Dense head (late fusion of one)
            options["fusion"] = "late"
        options.pop("text_vocabulary", None)
        options.pop("feature_dim", None)
        dims = {m: feature_dims[m] for m in modalities}
        return lambda: models.build_fusion_head(modalities, feature_dims=dims, **options)
    options.setdefault("text_vocabulary", train.text)
    modalities = options.get("modalities", ("image", "text", "audio"))
    if isinstance(modalities, str) or len(tuple(modalities)) == 1:
        (modality,) = (modalities,) if isinstance(modalities, str) else tuple(modalities)
        options.pop("modalities", None)
        options.pop("fusion", None)
        return lambda: models.build_unimodal_classifier(modality, **options)
    return lambda: models.build_multimodal_classifier(**options)


_RUN_METRICS = ("accuracy", "macro_f1", "log_loss")


def compare(configs: Mapping, train, val, test, *, seeds: Sequence[int] = (0,),
            encoders: Mapping | None = None, return_runs: bool = False, verbose: bool = True,
            **fit_options):
    """Train every configuration for every seed; return a tidy table, one row per configuration.

    The honest protocol is built in: ``val`` chooses and ``test`` reports. Every run is scored on
    both splits, in separate, named columns (``val_*`` for choosing, ``test_*`` for reporting),
    and the table is ranked by validation accuracy only (ties: lower validation log-loss first).
    Pick the best row, the "top k", a threshold … from the ``val_*`` columns; quote the ``test_*``
    columns of what you picked.

    configs: ``{name: config}`` where a config is a dict of keyword arguments for
    :func:`mmcourse.models.build_multimodal_classifier` (one modality → the unimodal builder;
    ``text_vocabulary`` defaults to ``train.text``; an optional ``"seeds"`` entry overrides
    ``seeds`` and ``"fit"`` adds ``fit`` options for that configuration) or a callable returning
    a fresh model. ``seeds``: the seeds every configuration is trained with — give every
    compared method the same seeds. ``fit_options`` go to :func:`fit` (its ``verbose`` is 0 and
    its ``seed`` comes from ``seeds``).

    ``encoders``: ``{modality: trained encoder}`` to compare fusion methods on **frozen**
    features — the splits are encoded once (:func:`encode`) and every configuration becomes a
    :func:`mmcourse.models.build_fusion_head` (one modality: its own Dense head), which trains in
    seconds. ``params`` then counts the head only. Splits that are :class:`Features` already
    (``encode`` called once by you, e.g. to reuse them across several ``compare`` calls) are
    used the same way, without ``encoders``.

    Columns (see :func:`summarize_runs`): ``name, val_accuracy_mean, val_accuracy_std,
    val_log_loss_mean, test_accuracy_mean, test_accuracy_std, test_ci_low, test_ci_high,
    test_macro_f1_mean, num_seeds, params, train_seconds, epochs``. With ``return_runs=True``
    also the per-run table (``name, seed, val_accuracy, val_macro_f1, val_log_loss,
    test_accuracy, test_macro_f1, test_log_loss, params, train_seconds, epochs, test_correct``;
    ``test_correct`` is the bool ``(N_test,)`` array of correct predictions that the bootstrap
    intervals and :func:`paired_bootstrap` use).
    """
    import pandas as pd

    if "seed" in fit_options:
        raise TypeError(
            "compare trains every configuration once per seed of seeds=(...); it takes no "
            f"seed=. Received: seed={fit_options['seed']!r} (write seeds=({fit_options['seed']!r},))"
        )
    if isinstance(seeds, (int, np.integer)) or isinstance(seeds, (str, bytes)):
        raise TypeError(f"seeds must be a sequence of ints, e.g. (0, 1, 2). Received: "
                        f"seeds={seeds!r}")
    if val is None:
        raise ValueError("compare needs a validation split to choose on (val); test only "
                         "reports. Received: val=None")
    splits = {"train": _check_data(train, "train"), "val": _check_data(val, "val"),
              "test": _check_data(test, "test")}
    encoded = [name for name, split in splits.items() if isinstance(split, Features)]
    if encoded and (len(encoded) < len(splits) or encoders is not None):
        raise TypeError(
            "compare needs either MMDigits splits (optionally with encoders=...) or Features "
            f"for every split (from training.encode) and no encoders; received Features for "
            f"{encoded} of {list(splits)}" + (" and encoders" if encoders is not None else "")
        )
    if encoders is not None:
        train, val, test = (encode(encoders, split) for split in (train, val, test))
    feature_dims = None
    if isinstance(train, Features):
        feature_dims = {name: value.shape[1] for name, value in train.features.items()}
    test_labels = np.asarray(test.label)
    runs = []
    for name, config in configs.items():
        config_seeds = config.get("seeds", seeds) if isinstance(config, Mapping) else seeds
        extra_fit = dict(config.get("fit", {})) if isinstance(config, Mapping) else {}
        if "seed" in extra_fit:
            raise TypeError(f"configs[{name!r}]['fit'] sets seed=; use a 'seeds' entry. "
                            f"Received: seed={extra_fit['seed']!r}")
        build = _builder(config, train, feature_dims)
        for seed in config_seeds:
            set_seed(int(seed))
            model = build()
            history = fit(model, train, val, seed=int(seed), verbose=0,
                          **{**fit_options, **extra_fit})
            val_scores, test_scores = _evaluate_two(model, val, test)
            run = {"name": name, "seed": int(seed)}
            for split, split_scores in (("val", val_scores), ("test", test_scores)):
                run.update({f"{split}_{metric}": split_scores[metric] for metric in _RUN_METRICS})
            run.update({
                "params": int(model.count_params()),
                "train_seconds": history.train_seconds,
                "epochs": len(history.history["loss"]),
                "test_correct": test_scores["predictions"] == test_labels,
            })
            runs.append(run)
            if verbose:
                print(f"{name:>18s}  seed {seed}  val accuracy {run['val_accuracy']:.3f}  "
                      f"{run['params']:>7,d} params  {history.train_seconds:5.1f} s",
                      flush=True)
    run_table = pd.DataFrame(runs)
    table = summarize_runs(run_table)
    return (table, run_table) if return_runs else table


def _sample_std(values) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def summarize_runs(run_table, *, confidence: float = 0.95):
    """Per-configuration summary of a per-run table (see :func:`compare`), ranked on validation.

    Rows are sorted by ``val_accuracy_mean`` (descending; ties by ``val_log_loss_mean``), never by
    a test column. ``*_std`` is the sample standard deviation over seeds (0 for one seed);
    ``test_ci_low``/``test_ci_high`` the bootstrap interval (:func:`bootstrap_interval`) of the
    mean test accuracy over the configuration's runs (NaN when the runs have no
    ``test_correct``); seconds and epochs are means.
    """
    import pandas as pd

    required = ("name", "seed", "val_accuracy", "test_accuracy")
    missing = [column for column in required if column not in run_table.columns]
    if missing:
        raise ValueError(f"run_table needs the columns {list(required)} of compare's runs; "
                         f"missing {missing}. Received columns: {list(run_table.columns)}")
    rows = []
    for name, group in run_table.groupby("name", sort=False):
        row = {
            "name": name,
            "val_accuracy_mean": float(group["val_accuracy"].mean()),
            "val_accuracy_std": _sample_std(group["val_accuracy"]),
            "val_log_loss_mean": float(group["val_log_loss"].mean())
            if "val_log_loss" in group else float("nan"),
            "test_accuracy_mean": float(group["test_accuracy"].mean()),
            "test_accuracy_std": _sample_std(group["test_accuracy"]),
            "test_ci_low": float("nan"),
            "test_ci_high": float("nan"),
        }
        if "test_correct" in group and group["test_correct"].notna().all():
            row["test_ci_low"], row["test_ci_high"] = bootstrap_interval(
                list(group["test_correct"]), confidence=confidence)
        if "test_macro_f1" in group:
            row["test_macro_f1_mean"] = float(group["test_macro_f1"].mean())
        row["num_seeds"] = int(group["seed"].count())
        for column, how in (("params", "first"), ("train_seconds", "mean"), ("epochs", "mean")):
            if column in group:
                row[column] = group[column].iloc[0] if how == "first" else group[column].mean()
        rows.append(row)
    table = pd.DataFrame(rows)
    order = np.lexsort((table["val_log_loss_mean"].fillna(np.inf).to_numpy(),
                        -table["val_accuracy_mean"].to_numpy()))
    return table.iloc[order].reset_index(drop=True)


def _blank(name: str, array: np.ndarray) -> np.ndarray:
    if array.dtype.kind in "USO":  # strings: the empty hint
        return np.full_like(array, "")
    return np.zeros_like(array)


def modality_importance(model, data, *, num_repeats: int = 3, seed: int = 0,
                        batch_size: int = 256):
    """How much the model relies on each modality, two ways, on an MMDigits split.

    * **drop** (ablation): the modality is removed — input zeroed (text: ``""``) and its
      ``present`` column set to 0 — and the accuracy drop is measured;
    * **permutation**: the modality's inputs are shuffled across samples (breaking their link
      with the label, keeping their distribution), mean drop over ``num_repeats`` shuffles.

    Returns a DataFrame, one row per modality: ``modality, accuracy, drop_accuracy,
    drop_importance, permutation_accuracy, permutation_importance`` (importance = baseline
    accuracy − accuracy without it; larger = relied on more), sorted by ``drop_importance``
    descending.
    """
    import pandas as pd

    _check_data(data)
    num_repeats = check.positive_int(num_repeats, "num_repeats")
    seed = check.seed(seed, "seed")
    batch_size = check.positive_int(batch_size, "batch_size")
    modalities = _modalities_of(model)
    labels = np.asarray(data.label)
    inputs = model_inputs(data, modalities)
    baseline = _scores(_predict_inputs(model, inputs, batch_size), labels)["accuracy"]
    rng = np.random.default_rng(seed)
    rows = []
    for column, name in enumerate(modalities):
        dropped = dict(inputs)
        dropped[name] = _blank(name, inputs[name])
        present = inputs["present"].copy()
        present[:, column] = 0.0
        dropped["present"] = present
        drop_accuracy = _scores(_predict_inputs(model, dropped, batch_size), labels)["accuracy"]
        permuted_accuracies = []
        for _ in range(num_repeats):
            order = rng.permutation(len(labels))
            permuted = dict(inputs)
            permuted[name] = inputs[name][order]
            present = inputs["present"].copy()
            present[:, column] = inputs["present"][order, column]
            permuted["present"] = present
            permuted_accuracies.append(
                _scores(_predict_inputs(model, permuted, batch_size), labels)["accuracy"]
            )
        permutation_accuracy = float(np.mean(permuted_accuracies))
        rows.append({
            "modality": name,
            "accuracy": baseline,
            "drop_accuracy": drop_accuracy,
            "drop_importance": baseline - drop_accuracy,
            "permutation_accuracy": permutation_accuracy,
            "permutation_importance": baseline - permutation_accuracy,
        })
    table = pd.DataFrame(rows)
    return table.sort_values("drop_importance", ascending=False, kind="stable").reset_index(
        drop=True
    )
