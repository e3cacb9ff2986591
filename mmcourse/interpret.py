"""Which modality does a fused model use? Attention read-out and three modality importances.

* :func:`attention_weights` — the per-sample modality weights ``a`` of an
  :class:`~mmcourse.fusion.layers.AttentionFusion` layer inside a model (``(N, M)``, rows sum
  to 1 over the present modalities);
* **ablation** — the accuracy lost when one modality is removed through the presence mask,
  ``v(N) − v(N \\ {i})`` (:func:`ablation_importance`);
* **permutation importance** — the accuracy lost when one modality is shuffled across the
  samples, keeping its distribution but breaking its link with the label
  (:func:`permutation_importance`);
* **exact Shapley values** over the modalities (Shapley 1953) — every coalition ``S`` of
  modalities is evaluated once through the presence mask (:func:`coalition_values`: ``2^M``
  evaluations, 8 for three modalities) and ``φ_i = Σ_{S ⊆ N \\ {i}} |S|! (M − |S| − 1)! / M! ·
  (v(S ∪ {i}) − v(S))`` (:func:`shapley_values`). Values may be numbers (accuracy) or arrays
  (one value per sample), so per-sample Shapley values come from the same function.

Models are those of :mod:`mmcourse.models` (named inputs, a ``present`` input); data is an
MMDigits split or :class:`mmcourse.training.Features`. The pure functions on values
(:func:`shapley_values`, :func:`shapley_values_by_permutations`, :func:`ablation_importance`,
:func:`spearman`) need no TensorFlow; :func:`shapley_values_by_permutations` is the NumPy
reference the tests compare :func:`shapley_values` with (averaging marginal contributions over
all ``M!`` orders, a different computation of the same number).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np

__all__ = [
    "coalitions",
    "predict",
    "blank_modalities",
    "coalition_values",
    "shapley_values",
    "shapley_values_by_permutations",
    "ablation_importance",
    "permutation_importance",
    "importance_table",
    "attention_weights",
    "attention_entropy",
    "spearman",
    "VALUE_NAMES",
]

VALUE_NAMES = ("accuracy", "correct", "true_class_probability")


# ----------------------------------------------------------------------------- validation
def _received(name: str, value) -> str:
    text = repr(value)
    if len(text) > 80:
        text = f"{type(value).__name__} of shape {getattr(value, 'shape', '?')}"
    return f"Received: {name}={text}"


def _check_players(players, name: str = "players") -> tuple[str, ...]:
    if isinstance(players, str) or not isinstance(players, Sequence):
        raise TypeError(f"{name} must be a sequence of modality names, e.g. ('image', 'audio', "
                        f"'text'). {_received(name, players)}")
    players = tuple(players)
    if not players or len(set(players)) != len(players):
        raise ValueError(f"{name} must be a non-empty sequence of distinct names. "
                         f"{_received(name, players)}")
    return players


def _check_int(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int >= {minimum}. {_received(name, value)}")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}. {_received(name, value)}")
    return int(value)


def _check_data(data, name: str = "data"):
    from mmcourse.training import Features

    if isinstance(data, Features):
        return data
    if not all(hasattr(data, key) for key in ("present", "label", "image", "audio", "text")):
        raise TypeError(f"{name} must be an MMDigits split or training.Features. "
                        f"Received: {name} of type {type(data).__name__}")
    return data


def _check_value_name(value: str) -> str:
    if value not in VALUE_NAMES:
        raise ValueError(f"value must be one of {VALUE_NAMES}. {_received('value', value)}")
    return value


# ----------------------------------------------------------------------------- coalitions
def coalitions(players: Sequence[str]) -> list[tuple[str, ...]]:
    """All ``2^M`` subsets of ``players`` as tuples in the players' order, smallest first."""
    players = _check_players(players)
    return [subset for size in range(len(players) + 1)
            for subset in itertools.combinations(players, size)]


def _modalities_of(model) -> tuple[str, ...]:
    from mmcourse.models import model_modalities

    return model_modalities(model)


def predict(model, inputs: Mapping[str, np.ndarray], batch_size: int = 512) -> np.ndarray:
    """Class probabilities float64 ``(N, classes)`` of ``model`` on an input dict, in batches.

    A direct call ``model(batch, training=False)`` (no ``tf.data``): fast for the small heads
    and the 360-sample test split the lessons evaluate dozens of times.
    """
    batch_size = _check_int(batch_size, "batch_size", 1)
    count = len(next(iter(inputs.values())))
    outputs = []
    for start in range(0, count, batch_size):
        batch = {name: value[start:start + batch_size] for name, value in inputs.items()}
        outputs.append(np.asarray(model(batch, training=False), dtype=np.float64))
    return np.concatenate(outputs, axis=0)


def blank_modalities(inputs: Mapping[str, np.ndarray], modalities: Sequence[str],
                     dropped: Sequence[str]) -> dict[str, np.ndarray]:
    """A copy of ``inputs`` with the ``dropped`` modalities removed: input zeroed (text: ``""``)
    and its ``present`` column (in the order of ``modalities``) set to 0."""
    result = dict(inputs)
    present = np.array(inputs["present"], dtype=np.float32, copy=True)
    for name in dropped:
        if name not in modalities:
            raise ValueError(f"cannot drop {name!r}: the model's modalities are {modalities}. "
                             f"{_received('dropped', tuple(dropped))}")
        array = np.asarray(inputs[name])
        result[name] = np.full_like(array, "") if array.dtype.kind in "USO" else np.zeros_like(
            array)
        present[:, modalities.index(name)] = 0.0
    result["present"] = present
    return result


def _value(probabilities: np.ndarray, labels: np.ndarray, value: str):
    if value == "true_class_probability":
        return probabilities[np.arange(len(labels)), labels]
    correct = (probabilities.argmax(axis=1) == labels).astype(np.float64)
    return float(correct.mean()) if value == "accuracy" else correct


def coalition_values(model, data, *, value: str = "accuracy",
                     batch_size: int = 512) -> dict[tuple[str, ...], float | np.ndarray]:
    """``v(S)`` for every coalition ``S`` of the model's modalities, through the presence mask.

    The modalities outside ``S`` are removed (:func:`blank_modalities`) and the model is run on
    ``data`` (MMDigits split or ``training.Features``). ``value``: ``"accuracy"`` (a float per
    coalition), ``"correct"`` (float ``(N,)`` of 0/1) or ``"true_class_probability"`` (float
    ``(N,)``, the probability given to the true digit) — the per-sample values for per-sample
    Shapley values. Keys are tuples in the order of :func:`mmcourse.models.model_modalities`.
    """
    from mmcourse.training import model_inputs

    value = _check_value_name(value)
    data = _check_data(data)
    modalities = _modalities_of(model)
    inputs = model_inputs(data, modalities)
    labels = np.asarray(data.label)
    result = {}
    for subset in coalitions(modalities):
        dropped = [name for name in modalities if name not in subset]
        probabilities = predict(model, blank_modalities(inputs, modalities, dropped), batch_size)
        result[subset] = _value(probabilities, labels, value)
    return result


def _check_values(values, players) -> dict[frozenset, np.ndarray]:
    if not isinstance(values, Mapping):
        raise TypeError("values must be a mapping {coalition (tuple of names): value}, e.g. "
                        f"from coalition_values. Received: values of type {type(values).__name__}")
    by_set = {}
    for key, number in values.items():
        if isinstance(key, str) or not isinstance(key, (tuple, frozenset, set, list)):
            raise TypeError(f"every key of values must be a tuple of player names. "
                            f"{_received('key', key)}")
        unknown = set(key) - set(players)
        if unknown:
            raise ValueError(f"coalition {tuple(key)} names players outside {players}. "
                             f"{_received('key', key)}")
        by_set[frozenset(key)] = np.asarray(number, dtype=np.float64)
    missing = [subset for subset in coalitions(players) if frozenset(subset) not in by_set]
    if missing:
        raise ValueError(f"values must hold all {2 ** len(players)} coalitions of {players}; "
                         f"missing {missing}")
    shapes = {array.shape for array in by_set.values()}
    if len(shapes) > 1:
        raise ValueError(f"all values must have the same shape; received shapes {sorted(shapes)}")
    return by_set


def shapley_values(values: Mapping, players: Sequence[str]) -> dict[str, float | np.ndarray]:
    """Exact Shapley values ``φ_i`` from a complete coalition → value table.

    values: ``{coalition: v}`` for all ``2^M`` coalitions (tuples of player names, any order; the
    empty tuple included), ``v`` a number or an array (per-sample values, same shape for all).
    Returns ``{player: φ}`` (float, or an array of ``v``'s shape). Efficiency holds:
    ``Σ_i φ_i = v(N) − v(∅)``.
    """
    players = _check_players(players)
    table = _check_values(values, players)
    count = len(players)
    result = {}
    for player in players:
        others = [name for name in players if name != player]
        total = np.zeros_like(table[frozenset()])
        for size in range(count):
            weight = math.factorial(size) * math.factorial(count - size - 1) / math.factorial(
                count)
            for subset in itertools.combinations(others, size):
                total = total + weight * (table[frozenset(subset) | {player}]
                                          - table[frozenset(subset)])
        result[player] = float(total) if total.ndim == 0 else total
    return result


def shapley_values_by_permutations(values: Mapping, players: Sequence[str]) -> dict:
    """The same Shapley values, computed as the mean marginal contribution over all ``M!``
    orders of the players (the NumPy reference of :func:`shapley_values`)."""
    players = _check_players(players)
    table = _check_values(values, players)
    totals = {player: np.zeros_like(table[frozenset()]) for player in players}
    orders = list(itertools.permutations(players))
    for order in orders:
        before = frozenset()
        for player in order:
            totals[player] = totals[player] + table[before | {player}] - table[before]
            before = before | {player}
    return {player: float(total) / len(orders) if total.ndim == 0 else total / len(orders)
            for player, total in totals.items()}


def ablation_importance(values: Mapping, players: Sequence[str]) -> dict[str, float | np.ndarray]:
    """Leave-one-out importance from the same table: ``v(N) − v(N \\ {i})`` per player."""
    players = _check_players(players)
    table = _check_values(values, players)
    everyone = frozenset(players)
    result = {}
    for player in players:
        difference = table[everyone] - table[everyone - {player}]
        result[player] = float(difference) if difference.ndim == 0 else difference
    return result


def permutation_importance(predict_fn: Callable[[Mapping], np.ndarray],
                           inputs: Mapping[str, np.ndarray], labels, modalities: Sequence[str],
                           *, num_repeats: int = 5, seed: int = 0) -> dict[str, tuple[float, float]]:
    """Accuracy lost when one modality's rows are shuffled across samples.

    predict_fn: ``inputs dict → probabilities (N, classes)``; inputs: the model's input dict
    (``present`` column of the shuffled modality is shuffled with it). Returns
    ``{modality: (mean drop, std of the drop over the num_repeats shuffles)}``. Seeded: the
    same ``seed`` gives the same shuffles for every model compared.
    """
    if not callable(predict_fn):
        raise TypeError(f"predict_fn must be callable (inputs dict -> probabilities). "
                        f"Received: predict_fn of type {type(predict_fn).__name__}")
    modalities = _check_players(modalities, "modalities")
    num_repeats = _check_int(num_repeats, "num_repeats", 1)
    seed = _check_int(seed, "seed", 0)
    labels = np.asarray(labels)
    missing = [name for name in (*modalities, "present") if name not in inputs]
    if missing:
        raise ValueError(f"inputs lacks {missing}; it must hold every modality and 'present'. "
                         f"Received: inputs with keys {sorted(inputs)}")
    baseline = _value(np.asarray(predict_fn(inputs)), labels, "accuracy")
    result = {}
    for column, name in enumerate(modalities):
        rng = np.random.default_rng([seed, column])
        drops = []
        for _ in range(num_repeats):
            order = rng.permutation(len(labels))
            shuffled = dict(inputs)
            shuffled[name] = np.asarray(inputs[name])[order]
            present = np.array(inputs["present"], dtype=np.float32, copy=True)
            present[:, column] = np.asarray(inputs["present"])[order, column]
            shuffled["present"] = present
            drops.append(baseline - _value(np.asarray(predict_fn(shuffled)), labels, "accuracy"))
        result[name] = (float(np.mean(drops)), float(np.std(drops)))
    return result


def importance_table(model, data, *, num_repeats: int = 5, seed: int = 0):
    """Ablation, permutation and Shapley importance of each modality, side by side (accuracy).

    Returns a DataFrame, one row per modality (the model's order): ``modality, ablation,
    permutation, permutation_std, shapley``, and ``table.attrs["values"]`` the coalition →
    accuracy table it was computed from (``attrs["full"]`` = ``v(N)``, ``attrs["empty"]`` =
    ``v(∅)``; the Shapley column sums to their difference).
    """
    import pandas as pd

    from mmcourse.training import model_inputs

    data = _check_data(data)
    modalities = _modalities_of(model)
    values = coalition_values(model, data, value="accuracy")
    shapley = shapley_values(values, modalities)
    ablation = ablation_importance(values, modalities)
    permutation = permutation_importance(lambda inputs: predict(model, inputs),
                                         model_inputs(data, modalities), data.label, modalities,
                                         num_repeats=num_repeats, seed=seed)
    table = pd.DataFrame({
        "modality": list(modalities),
        "ablation": [ablation[m] for m in modalities],
        "permutation": [permutation[m][0] for m in modalities],
        "permutation_std": [permutation[m][1] for m in modalities],
        "shapley": [shapley[m] for m in modalities],
    })
    table.attrs["values"] = values
    table.attrs["full"] = values[modalities]
    table.attrs["empty"] = values[()]
    return table


# ----------------------------------------------------------------------------- attention
def attention_weights(model, data, *, batch_size: int = 512) -> np.ndarray:
    """Per-sample modality attention ``a`` float64 ``(N, M)`` of the model's ``fusion`` layer.

    ``model``: built by :mod:`mmcourse.models` with ``fusion="attention"`` (a layer named
    ``"fusion"`` that is an ``AttentionFusion``), on raw inputs or on features. The layer is
    read out with the same weights and ``return_attention=True``, on the features the model
    feeds it and the data's presence mask (a missing modality gets weight 0). Columns follow
    :func:`mmcourse.models.model_modalities`.
    """
    import keras

    from mmcourse.fusion.layers import AttentionFusion
    from mmcourse.training import model_inputs

    data = _check_data(data)
    try:
        layer = model.get_layer("fusion")
    except (ValueError, AttributeError):
        layer = None
    if not isinstance(layer, AttentionFusion):
        raise ValueError("model must have an AttentionFusion layer named 'fusion' (build it with "
                         "fusion='attention'). Received: model with layers "
                         f"{[sub.name for sub in getattr(model, 'layers', [])]}")
    readout = AttentionFusion.from_config({**layer.get_config(), "return_attention": True,
                                           "name": "attention_readout"})
    readout.build([(None, dim) for dim in layer.input_dims])
    readout.set_weights(layer.get_weights())
    modalities = _modalities_of(model)
    # the layer's inputs are the feature tensors, then the presence mask
    feature_model = keras.Model(model.inputs, list(layer.input)[:len(layer.input_dims)])
    inputs = model_inputs(data, modalities)
    count = len(data.label)
    batch_size = _check_int(batch_size, "batch_size", 1)
    outputs = []
    for start in range(0, count, batch_size):
        batch = {name: value[start:start + batch_size] for name, value in inputs.items()}
        features = feature_model(batch, training=False)
        _, attention = readout(list(features), presence=batch["present"])
        outputs.append(np.asarray(attention, dtype=np.float64))
    return np.concatenate(outputs, axis=0)


def attention_entropy(attention) -> np.ndarray:
    """Entropy in nats of each row of ``attention`` ``(N, M)`` (0 · log 0 = 0): 0 = one modality
    only, ``log M`` = uniform."""
    attention = np.asarray(attention, dtype=np.float64)
    if attention.ndim != 2 or np.any(attention < 0) or not np.all(np.isfinite(attention)):
        raise ValueError("attention must be a finite, non-negative (N, M) array. "
                         f"{_received('attention', attention)}")
    logs = np.log(np.where(attention > 0, attention, 1.0))
    return -np.sum(attention * logs, axis=1)


def _ranks(values: np.ndarray) -> np.ndarray:
    """Average ranks (ties share their mean rank) along the last axis, 1-based."""
    order = np.argsort(values, axis=-1, kind="stable")
    ranks = np.empty_like(values, dtype=np.float64)
    np.put_along_axis(ranks, order, np.arange(1, values.shape[-1] + 1, dtype=np.float64)
                      * np.ones_like(values, dtype=np.float64), axis=-1)
    flat_values = values.reshape(-1, values.shape[-1])
    flat_ranks = ranks.reshape(-1, values.shape[-1])
    for row_values, row_ranks in zip(flat_values, flat_ranks, strict=True):
        unique, inverse, counts = np.unique(row_values, return_inverse=True, return_counts=True)
        if len(unique) < len(row_values):
            sums = np.bincount(inverse, weights=row_ranks)
            row_ranks[:] = (sums / counts)[inverse]
    return flat_ranks.reshape(values.shape)


def spearman(first, second, *, per_row: bool = False):
    """Spearman rank correlation of two equal-shape arrays (ties: average ranks).

    ``per_row=False``: one correlation over all entries (flattened). ``per_row=True``: inputs
    ``(N, M)``, one correlation per row over its ``M`` entries → float64 ``(N,)``; a row with
    all-equal entries in either array has no ranking and gives NaN.
    """
    first = np.asarray(first, dtype=np.float64)
    second = np.asarray(second, dtype=np.float64)
    if first.shape != second.shape or first.size < 2:
        raise ValueError(f"first and second must have the same shape with at least 2 entries. "
                         f"Received: first.shape={first.shape}, second.shape={second.shape}")
    if per_row:
        if first.ndim != 2:
            raise ValueError(f"per_row=True needs (N, M) arrays. "
                             f"Received: first.shape={first.shape}")
        a, b = _ranks(first), _ranks(second)
    else:
        a, b = _ranks(first.ravel()[None, :])[0], _ranks(second.ravel()[None, :])[0]
    a = a - a.mean(axis=-1, keepdims=True)
    b = b - b.mean(axis=-1, keepdims=True)
    numerator = np.sum(a * b, axis=-1)
    denominator = np.sqrt(np.sum(a * a, axis=-1) * np.sum(b * b, axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        result = np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1),
                          np.nan)
    return result if per_row else float(result)
