"""mmcourse.multitask (NumPy references, targets, the low-label split) and
mmcourse.multitask_keras (the masked loss, UncertaintyWeighting, the multi-head builder, fit).

The Keras parts are checked against the NumPy references on random inputs, through a config
and ``.keras`` round trip, and by one short real training run (a few seconds).
"""

from types import SimpleNamespace

import numpy as np
import pytest

from mmcourse import multitask as mt

# ----------------------------------------------------------------------------- NumPy references


def _probabilities(rng, samples, classes):
    logits = rng.normal(size=(samples, classes)) * 2
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def test_masked_crossentropy_skips_unknown_labels():
    probabilities = np.array([[0.5, 0.5], [0.9, 0.1], [0.2, 0.8]])
    labels = np.array([0, -1, 1])
    expected = -(np.log(0.5) + np.log(0.8)) / 2
    assert mt.masked_crossentropy(labels, probabilities) == pytest.approx(expected)
    assert mt.masked_crossentropy(np.array([-1, -1, -1]), probabilities) == 0.0
    # all labels known: the ordinary mean cross-entropy
    rng = np.random.default_rng(0)
    p = _probabilities(rng, 50, 4)
    y = rng.integers(0, 4, 50)
    assert mt.masked_crossentropy(y, p) == pytest.approx(-np.mean(np.log(p[np.arange(50), y])))


def test_weighted_and_uncertainty_losses():
    losses = np.array([2.0, 0.5, 1.0])
    assert mt.weighted_loss(losses, [1.0, 0.0, 2.0]) == pytest.approx(4.0)
    assert mt.uncertainty_weighted_loss(losses, np.zeros(3)) == pytest.approx(3.5)
    s = np.array([0.3, -1.0, 2.0])
    assert mt.uncertainty_weighted_loss(losses, s) == pytest.approx(
        float(np.sum(np.exp(-s) * losses + s / 2)))
    # the closed-form minimiser: weight exp(-s) = 1 / (2 L), and it is a minimum
    best = mt.optimal_log_variances(losses)
    np.testing.assert_allclose(np.exp(-best), 1 / (2 * losses))
    at_best = mt.uncertainty_weighted_loss(losses, best)
    for step in (-0.1, 0.1):
        assert mt.uncertainty_weighted_loss(losses, best + step) > at_best


@pytest.mark.parametrize("call, error", [
    (lambda: mt.weighted_loss([1.0, 2.0], [1.0]), ValueError),
    (lambda: mt.weighted_loss([1.0, 2.0], [1.0, -1.0]), ValueError),
    (lambda: mt.uncertainty_weighted_loss("1, 2", [0, 0]), TypeError),
    (lambda: mt.uncertainty_weighted_loss([1.0, np.nan], [0, 0]), ValueError),
    (lambda: mt.masked_crossentropy([0, 2], [[0.5, 0.5], [0.5, 0.5]]), ValueError),
    (lambda: mt.masked_crossentropy([0], [[0.5, 0.5], [0.5, 0.5]]), ValueError),
    (lambda: mt.masked_crossentropy([0, 1], [[1.5, -0.5], [0.5, 0.5]]), ValueError),
    (lambda: mt.low_label(np.arange(10) % 3, 0.0), ValueError),
    (lambda: mt.low_label(np.arange(10) % 3, 1.5), ValueError),
    (lambda: mt.low_label([0.5, 1.5], 0.5), TypeError),
    (lambda: mt.task_labels("train"), TypeError),
    (lambda: mt.task_labels(SimpleNamespace(label=np.arange(3)), ("colour",)), ValueError),
    (lambda: mt.accuracy([-1, -1], [[0.5, 0.5], [0.5, 0.5]]), ValueError),
])
def test_bad_inputs_name_the_argument(call, error):
    with pytest.raises(error, match="Received"):
        call()


def test_low_label_is_stratified_seeded_and_leaves_the_input_alone():
    labels = np.repeat(np.arange(10), 100)
    kept = mt.low_label(labels, 0.05, seed=3)
    assert kept is not labels and np.all(labels == np.repeat(np.arange(10), 100))
    known = kept != mt.UNKNOWN
    assert known.sum() == 50
    np.testing.assert_array_equal(kept[known], labels[known])
    np.testing.assert_array_equal(np.bincount(kept[known]), np.full(10, 5))
    np.testing.assert_array_equal(kept, mt.low_label(labels, 0.05, seed=3))
    assert not np.array_equal(kept, mt.low_label(labels, 0.05, seed=4))
    # every class keeps at least one label, even a rare one
    rare = np.array([0] * 200 + [1])
    assert 1 in mt.low_label(rare, 0.01, seed=0)
    np.testing.assert_array_equal(mt.low_label(labels, 1.0), labels)


def test_task_labels_derive_the_targets():
    data = SimpleNamespace(label=np.array([0, 3, 5, 8, 9]),
                           hint_type=np.array(["exact", "partial", "", "arithmetic", "exact"]),
                           speaker=np.array([17, 4, 17, 30, 4]))
    labels = mt.task_labels(data, mt.TASK_NAMES)
    np.testing.assert_array_equal(labels["parity"], [0, 1, 1, 0, 1])
    np.testing.assert_array_equal(labels["is_large"], [0, 0, 1, 1, 1])
    np.testing.assert_array_equal(labels["hint_type"], [0, 2, -1, 1, 0])
    np.testing.assert_array_equal(labels["speaker"], [1, 0, 1, 2, 0])
    assert mt.num_classes_of(labels) == {"digit": 10, "parity": 2, "is_large": 2,
                                         "hint_type": 3, "speaker": 3}


def test_the_numpy_module_does_not_import_tensorflow():
    import subprocess
    import sys

    code = ("import sys, mmcourse.multitask as m; m.uncertainty_weighted_loss([1.0], [0.0]); "
            "print('tensorflow' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"


# ----------------------------------------------------------------------------- Keras parts


def test_masked_loss_and_uncertainty_layer_match_the_references():
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(1)
    loss = mt.MaskedSparseCrossentropy()
    for samples, classes in [(40, 10), (7, 2), (5, 3)]:
        p = _probabilities(rng, samples, classes).astype("float32")
        y = rng.integers(-1, classes, samples)
        assert float(loss(y, p)) == pytest.approx(mt.masked_crossentropy(y, p), rel=1e-5)
    assert float(loss(np.full(4, -1), _probabilities(rng, 4, 3).astype("float32"))) == 0.0
    layer = mt.UncertaintyWeighting(3, initial_log_variance=0.5)
    losses = rng.random(3).astype("float32") * 3
    assert float(layer(losses)) == pytest.approx(
        mt.uncertainty_weighted_loss(losses, np.full(3, 0.5)), rel=1e-5)
    layer.log_variances.assign(np.array([0.1, -0.4, 1.2], "float32"))
    assert float(layer([keras.ops.convert_to_tensor(v) for v in losses])) == pytest.approx(
        mt.uncertainty_weighted_loss(losses, [0.1, -0.4, 1.2]), rel=1e-5)
    np.testing.assert_allclose(layer.task_weights(), np.exp(-np.array([0.1, -0.4, 1.2])),
                               rtol=1e-6)


def test_uncertainty_layer_config_and_errors():
    keras = pytest.importorskip("keras")
    layer = mt.UncertaintyWeighting(2, initial_log_variance=-0.5, name="weights")
    clone = mt.UncertaintyWeighting.from_config(layer.get_config())
    assert (clone.num_tasks, clone.initial_log_variance, clone.name) == (2, -0.5, "weights")
    restored = keras.losses.deserialize(keras.losses.serialize(mt.MaskedSparseCrossentropy(
        epsilon=1e-5)))
    assert isinstance(restored, mt.MaskedSparseCrossentropy) and restored.epsilon == 1e-5
    with pytest.raises(ValueError, match="Received"):
        mt.UncertaintyWeighting(0)
    with pytest.raises(TypeError, match="Received"):
        mt.UncertaintyWeighting(2, initial_log_variance="big")
    with pytest.raises(ValueError, match="3 task losses"):
        mt.UncertaintyWeighting(3)(np.ones(2, "float32"))


def test_builder_shapes_names_and_save_round_trip(tmp_path):
    keras = pytest.importorskip("keras")
    model = mt.build_multitask_model({"image": 6, "text": 4}, {"digit": 10, "parity": 2},
                                     trunk_units=(8,))
    assert [layer.name for layer in model.layers if layer.name.startswith("trunk")] == ["trunk_1"]
    # parameters: trunk (6 + 4) * 8 + 8, heads 8 * 10 + 10 and 8 * 2 + 2
    assert model.count_params() == 88 + 90 + 18
    inputs = {"image": np.ones((3, 6), "float32"), "text": np.zeros((3, 4), "float32")}
    outputs = mt.predict_tasks(model, inputs)
    assert {k: v.shape for k, v in outputs.items()} == {"digit": (3, 10), "parity": (3, 2)}
    path = tmp_path / "multitask.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(mt.predict_tasks(loaded, inputs)["digit"], outputs["digit"],
                               rtol=1e-6)
    with pytest.raises(TypeError, match="Received"):
        mt.build_multitask_model([6, 4], {"digit": 10})
    with pytest.raises(ValueError, match="Received"):
        mt.build_multitask_model({"image": 6}, {"digit": 1})


def test_fit_trains_with_fixed_and_learned_weights():
    pytest.importorskip("keras")
    rng = np.random.default_rng(2)
    x = rng.normal(size=(300, 5)).astype("float32")
    digit = (x[:, 0] > 0).astype(int) + 2 * (x[:, 1] > 0)
    parity = (x[:, 0] > 0).astype(int)
    hidden = digit.copy()
    hidden[150:] = -1  # half of the digit labels
    inputs, labels = {"image": x}, {"digit": hidden, "parity": parity}
    model = mt.build_multitask_model({"image": 5}, {"digit": 4, "parity": 2}, trunk_units=(16,))
    history = mt.fit_multitask(model, inputs, labels, inputs, {"digit": digit, "parity": parity},
                               epochs=30, seed=0, loss_weights={"parity": 0.5})
    assert history.task_weights == {"digit": 1.0, "parity": 0.5}
    accuracy = mt.accuracy(digit, mt.predict_tasks(model, inputs)["digit"])
    assert accuracy > 0.6, accuracy  # chance is 0.25
    learned = mt.build_multitask_model({"image": 5}, {"digit": 4, "parity": 2},
                                       trunk_units=(16,))
    history = mt.fit_multitask(learned, inputs, labels, inputs,
                               {"digit": digit, "parity": parity}, epochs=5, seed=0,
                               loss_weights="uncertainty")
    assert set(history.task_weights) == {"digit", "parity"}
    assert all(weight != 1.0 for weight in history.task_weights.values())  # they were learned
    with pytest.raises(ValueError, match="missing"):
        mt.fit_multitask(model, inputs, {"digit": digit}, inputs, labels)
    with pytest.raises(ValueError, match="Received"):
        mt.fit_multitask(model, inputs, labels, inputs, labels, loss_weights="equal")
    with pytest.raises(ValueError, match="unknown"):
        mt.fit_multitask(model, inputs, labels, inputs, labels, loss_weights={"speaker": 1.0})


def test_a_reused_trainer_trains_like_a_new_one_and_check_every_counts_passes():
    pytest.importorskip("keras")
    from mmcourse import multitask_keras
    from mmcourse.env import set_seed

    rng = np.random.default_rng(3)
    x = rng.normal(size=(200, 5)).astype("float32")
    digit = (x[:, 0] > 0).astype(int) + 2 * (x[:, 1] > 0)
    inputs, labels = {"image": x}, {"digit": digit, "parity": (x[:, 0] > 0).astype(int)}

    def trained(**options):
        set_seed(1)
        model = mt.build_multitask_model({"image": 5}, {"digit": 4, "parity": 2},
                                         trunk_units=(8,))
        history = mt.fit_multitask(model, inputs, labels, inputs, labels, epochs=6, seed=1,
                                   loss_weights="uncertainty", **options)
        return mt.predict_tasks(model, inputs)["digit"], history

    multitask_keras._TRAINERS.clear()
    fresh, first = trained()
    assert len(multitask_keras._TRAINERS) == 1
    reused, second = trained()  # the cached trainer: weights, Adam and log-variances restart
    assert len(multitask_keras._TRAINERS) == 1
    np.testing.assert_allclose(reused, fresh, rtol=1e-5, atol=1e-6)
    assert second.task_weights == pytest.approx(first.task_weights, rel=1e-5)
    assert second.history["val_digit_loss"] == pytest.approx(first.history["val_digit_loss"])
    # check_every=3: 6 passes are 2 validation checks; best_epoch counts passes
    _, every_third = trained(check_every=3)
    assert len(every_third.history["val_digit_loss"]) == 2
    assert every_third.best_epoch in (3, 6)
    with pytest.raises(ValueError, match="check_every"):
        trained(check_every=0)


def test_seeds_side_by_side_train_like_one_fit_per_seed():
    """fit_multitask_seeds = one fit_multitask per seed (own initialisation, batches, labels,
    Adam state and early stopping), up to float rounding; the weights go to each model."""
    pytest.importorskip("keras")
    from mmcourse.env import set_seed

    rng = np.random.default_rng(5)
    x = {"image": rng.normal(size=(240, 5)).astype("float32"),
         "audio": rng.normal(size=(240, 3)).astype("float32")}
    digit = (x["image"][:, 0] > 0).astype(int) + 2 * (x["audio"][:, 1] > 0)
    parity = (x["image"][:, 0] > 0).astype(int)
    seeds = (0, 1, 2)
    per_seed = [{"digit": mt.low_label(digit, 0.2, seed=seed), "parity": parity} for seed in seeds]
    val = {"digit": digit, "parity": parity}

    def models():
        built = []
        for seed in seeds:
            set_seed(seed)
            built.append(mt.build_multitask_model({"image": 5, "audio": 3},
                                                  {"digit": 4, "parity": 2}, trunk_units=(8,)))
        return built

    # a high rate and patience 2: seeds overfit their few labels and stop at different checks
    for weights, patience, rate in (({"parity": 0.5}, 2, 0.05), ("uncertainty", 8, 3e-3)):
        alone, histories = models(), []
        for seed, model, labels in zip(seeds, alone, per_seed, strict=True):
            histories.append(mt.fit_multitask(model, x, labels, x, val, epochs=30, seed=seed,
                                              loss_weights=weights, patience=patience,
                                              check_every=2, learning_rate=rate))
        together = models()
        stacked = mt.fit_multitask_seeds(together, x, per_seed, x, val, seeds=seeds, epochs=30,
                                         loss_weights=weights, patience=patience,
                                         check_every=2, learning_rate=rate)
        for one, many, first, second in zip(alone, together, histories, stacked, strict=True):
            np.testing.assert_allclose(mt.predict_tasks(many, x)["digit"],
                                       mt.predict_tasks(one, x)["digit"], rtol=1e-4, atol=1e-5)
            assert second.best_epoch == first.best_epoch
            assert second.history["val_digit_loss"] == pytest.approx(
                first.history["val_digit_loss"], rel=1e-4)  # stops where it would alone
            assert second.task_weights == pytest.approx(first.task_weights, rel=1e-4)
        if patience == 2:  # 15 checks at most; seeds stopping apart exercise per-seed stopping
            lengths = [len(h.history["val_digit_loss"]) for h in stacked]
            assert min(lengths) < 15 and len(set(lengths)) > 1, lengths
    assert not np.allclose(mt.predict_tasks(together[0], x)["digit"],
                           mt.predict_tasks(together[1], x)["digit"])  # seeds differ


def test_seeds_side_by_side_reject_bad_input():
    pytest.importorskip("keras")
    x = {"image": np.zeros((20, 5), "float32")}
    labels = {"digit": np.zeros(20, int)}
    model = mt.build_multitask_model({"image": 5}, {"digit": 4}, trunk_units=(8,))
    other = mt.build_multitask_model({"image": 5}, {"digit": 4}, trunk_units=(6,))
    dropped = mt.build_multitask_model({"image": 5}, {"digit": 4}, trunk_units=(8,), dropout=0.2)
    with pytest.raises(TypeError, match="models"):
        mt.fit_multitask_seeds(model, x, labels, x, labels, seeds=(0,))
    with pytest.raises(ValueError, match="same architecture"):
        mt.fit_multitask_seeds([model, other], x, labels, x, labels, seeds=(0, 1))
    with pytest.raises(ValueError, match="seeds"):
        mt.fit_multitask_seeds([model], x, labels, x, labels, seeds=(0, 1))
    with pytest.raises(ValueError, match="dropout"):
        mt.fit_multitask_seeds([dropped], x, labels, x, labels, seeds=(0,))
    with pytest.raises(ValueError, match="missing"):
        mt.fit_multitask_seeds([model], x, {"parity": labels["digit"]}, x, labels, seeds=(0,))
    with pytest.raises(TypeError, match="train_labels"):
        mt.fit_multitask_seeds([model], x, [labels, labels], x, labels, seeds=(0,))
