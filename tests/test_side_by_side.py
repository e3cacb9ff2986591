"""Side-by-side training (mmcourse.training.side_by_side, multitask.fit_multitask_over_seeds):
the copies come out exactly as if each seed had been trained by its own fit."""

from __future__ import annotations

import numpy as np
import pytest

from mmcourse import multitask
from mmcourse.env import set_seed

SEEDS = (0, 1, 2)
DIMS = {"a": 12, "b": 7}
TASKS = {"digit": 10, "parity": 2}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    inputs = {m: rng.normal(size=(400, d)).astype("float32") for m, d in DIMS.items()}
    val_inputs = {m: rng.normal(size=(150, d)).astype("float32") for m, d in DIMS.items()}
    mixing = rng.normal(size=(sum(DIMS.values()), 10))

    def digits(x):
        return (np.concatenate([x["a"], x["b"]], axis=1) @ mixing).argmax(axis=1)

    return inputs, digits(inputs), val_inputs, digits(val_inputs)


def _labels(digits, seed, fraction):
    labels = {"digit": digits.copy(), "parity": digits % 2}
    if fraction < 1:
        labels["digit"] = multitask.low_label(labels["digit"], fraction, seed=seed)
    return labels


def _models():
    models = []
    for seed in SEEDS:
        set_seed(seed)
        models.append(multitask.build_multitask_model(DIMS, TASKS, trunk_units=(16,)))
    return models


# fraction 0.1 at this rate: the copies stop at different epochs (asserted below)
@pytest.mark.parametrize("weights, fraction", [(None, 1.0), ({"parity": 0.3}, 0.1),
                                               ("uncertainty", 0.1)])
def test_side_by_side_trains_each_seed_exactly_like_its_own_fit(data, weights, fraction):
    inputs, digits, val_inputs, val_digits = data
    val_labels = {"digit": val_digits, "parity": val_digits % 2}
    schedule = dict(loss_weights=weights, epochs=24, patience=2, check_every=2, batch_size=64,
                    learning_rate=1e-2)
    alone = []
    for seed, model in zip(SEEDS, _models(), strict=True):
        history = multitask.fit_multitask(model, inputs, _labels(digits, seed, fraction), val_inputs,
                                          val_labels, seed=seed, **schedule)
        alone.append((model.get_weights(), history))
    together = _models()
    runs = multitask.fit_multitask_over_seeds(together, SEEDS, inputs,
                                              [_labels(digits, seed, fraction) for seed in SEEDS],
                                              val_inputs, val_labels, **schedule)
    for (weights_alone, history), model, run in zip(alone, together, runs, strict=True):
        for expected, received in zip(weights_alone, model.get_weights(), strict=True):
            np.testing.assert_array_equal(received, expected)  # bit for bit
        assert run.best_epoch == history.best_epoch
        assert run.val_losses == history.history["val_digit_loss"]
        assert run.task_weights == pytest.approx(history.task_weights, rel=0, abs=0)
    if fraction < 1:  # per-copy early stopping was exercised: the seeds stopped at different checks
        assert len({len(run.val_losses) for run in runs}) > 1, [len(run.val_losses) for run in runs]


def test_a_reused_side_by_side_trainer_starts_afresh(data):
    """The second call (the cached, compiled trainer) trains like the first (the schedule of the
    first test above: its trainer is cached already)."""
    inputs, digits, val_inputs, val_digits = data
    val_labels = {"digit": val_digits, "parity": val_digits % 2}
    results = []
    for _ in range(2):
        models = _models()
        multitask.fit_multitask_over_seeds(models, SEEDS, inputs, [_labels(digits, s, 1.0) for s in SEEDS],
                                           val_inputs, val_labels, epochs=4, check_every=2,
                                           batch_size=64, learning_rate=1e-2)
        results.append([model.get_weights() for model in models])
    for first, second in zip(*results, strict=True):
        for a, b in zip(first, second, strict=True):
            np.testing.assert_array_equal(a, b)


def test_bad_arguments_are_named(data):
    inputs, digits, val_inputs, val_digits = data
    val_labels = {"digit": val_digits, "parity": val_digits % 2}
    labels = [_labels(digits, s, 1.0) for s in SEEDS]
    with pytest.raises(ValueError, match="seeds.*one seed and one train_labels per model"):
        multitask.fit_multitask_over_seeds(_models(), SEEDS[:2], inputs, labels, val_inputs, val_labels)
    other = multitask.build_multitask_model(DIMS, TASKS, trunk_units=(8,))
    with pytest.raises(ValueError, match="models.*one architecture"):
        multitask.fit_multitask_over_seeds([*_models()[:2], other], SEEDS, inputs, labels, val_inputs,
                                           val_labels)
    with pytest.raises(TypeError, match="models"):
        multitask.fit_multitask_over_seeds("model", SEEDS, inputs, labels, val_inputs, val_labels)
    with pytest.raises(ValueError, match="train_labels"):
        multitask.fit_multitask_over_seeds(_models(), SEEDS, inputs, [{"digit": digits}] * 3, val_inputs,
                                           val_labels)


def test_side_by_side_refuses_copies_whose_metrics_clash():
    import keras

    from mmcourse.training.side_by_side import ClassifierCopy, SideBySide, copy_prefix

    network = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    with pytest.raises(ValueError, match="copies.*used twice"):
        SideBySide([ClassifierCopy(network, "same_"), ClassifierCopy(network, "same_")])
    with pytest.raises(TypeError, match=r"copies\[1\]"):
        SideBySide([ClassifierCopy(network, copy_prefix(0)), "not a model"])
    with pytest.raises(ValueError, match="index"):
        copy_prefix(-1)
