"""Training helpers: a tiny real fit lowers the loss, metrics agree with scikit-learn,
compare() tabulates, and modality_importance ranks a pure-noise modality last."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as sk_metrics

from mmcourse import models, training
from mmcourse.data import load_mmdigits
from mmcourse.env import set_seed

pytestmark = pytest.mark.slow


def _subset(data, count):
    """The first ``count`` samples of an MMDigits split (every per-sample array sliced)."""
    changes = {
        field.name: getattr(data, field.name)[:count]
        for field in dataclasses.fields(data)
        if isinstance(getattr(data, field.name), np.ndarray)
    }
    return dataclasses.replace(data, **changes)


CLEAN = {"image_noise": 0.0, "image_occlusion": 0.0, "hint_vagueness": 0.0}


@pytest.fixture(scope="module")
def splits():
    return (_subset(load_mmdigits("train", **CLEAN), 480),
            _subset(load_mmdigits("val", **CLEAN), 160))


def test_metrics_match_scikit_learn():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, size=200)
    predictions = np.where(rng.random(200) < 0.6, labels, rng.integers(0, 10, size=200))
    matrix = training.confusion_matrix(labels, predictions)
    np.testing.assert_array_equal(matrix, sk_metrics.confusion_matrix(labels, predictions,
                                                                      labels=range(10)))
    assert training.macro_f1(matrix) == pytest.approx(
        sk_metrics.f1_score(labels, predictions, average="macro"))
    with pytest.raises(ValueError, match="the same number of samples"):
        training.confusion_matrix(labels, predictions[:-1])
    with pytest.raises(ValueError, match=r"labels in \[0, 10\)"):
        training.confusion_matrix(np.array([0, -1]), np.array([0, 9]))  # not counted as class 9


def test_tiny_fit_lowers_the_loss_and_evaluate_agrees_with_sklearn(splits):
    train, val = splits
    set_seed(0)
    model = models.build_multimodal_classifier(("image", "text"), "concat", 16,
                                               text_vocabulary=train.text)
    before = training.evaluate(model, val)
    history = training.fit(model, train, val, epochs=4, batch_size=32, seed=0, verbose=0)
    after = training.evaluate(model, val)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert after["log_loss"] < before["log_loss"] - 0.2
    assert 1 <= history.best_epoch <= 4 and history.train_seconds > 0
    predictions = after["probabilities"].argmax(1)
    assert after["accuracy"] == pytest.approx(sk_metrics.accuracy_score(val.label, predictions))
    assert after["macro_f1"] == pytest.approx(
        sk_metrics.f1_score(val.label, predictions, average="macro"))
    assert after["confusion_matrix"].sum() == len(val)


def test_fit_is_reproducible(splits):
    train, val = splits
    losses = []
    for _ in range(2):
        set_seed(3)
        model = models.build_unimodal_classifier("image", 8)
        history = training.fit(model, train, val, epochs=2, seed=3, verbose=0)
        losses.append(history.history["loss"])
    assert losses[0] == losses[1]


def test_compare_returns_a_tidy_table(splits):
    train, val = splits
    encoders = {m: models.build_encoder(m, 8, train.text) for m in ("image", "text")}
    test = dataclasses.replace(val)  # another object: compare must score both splits
    table, runs = training.compare(
        {"image": {"modalities": ("image",)}, "concat": {"fusion": "concat"}},
        train, val, test, encoders=encoders, seeds=(0, 1), epochs=3, return_runs=True,
        verbose=False,
    )
    assert list(runs["name"]) == ["image", "image", "concat", "concat"]
    assert set(table["name"]) == {"image", "concat"}
    row = table.set_index("name").loc["concat"]
    assert row["num_seeds"] == 2
    concat_runs = runs[runs["name"] == "concat"]
    for split in ("val", "test"):
        accuracies = concat_runs[f"{split}_accuracy"]
        assert row[f"{split}_accuracy_mean"] == pytest.approx(accuracies.mean())
        assert row[f"{split}_accuracy_std"] == pytest.approx(accuracies.std(ddof=1))
    correct = np.stack(list(concat_runs["test_correct"]))
    assert correct.shape == (2, len(test))
    np.testing.assert_allclose(correct.mean(axis=1), concat_runs["test_accuracy"])
    assert row["test_ci_low"] <= row["test_accuracy_mean"] <= row["test_ci_high"]
    assert table["val_accuracy_mean"].is_monotonic_decreasing
    assert row["params"] > table.set_index("name").loc["image", "params"]


def test_compare_output_separates_choosing_from_reporting():
    """No unprefixed metric column: a reader cannot rank on a column without saying which split."""
    runs = pd.DataFrame({
        "name": ["a", "b", "c"], "seed": [0, 0, 0],
        "val_accuracy": [0.80, 0.90, 0.85], "val_log_loss": [0.5, 0.4, 0.45],
        "test_accuracy": [0.95, 0.70, 0.99],  # the test order disagrees on purpose
        "test_correct": [np.ones(4, bool), np.zeros(4, bool), np.ones(4, bool)],
    })
    table = training.summarize_runs(runs)
    assert list(table["name"]) == ["b", "c", "a"]  # ranked on validation, not on test
    metric_columns = [c for c in table.columns if "accuracy" in c or "f1" in c or "loss" in c]
    assert metric_columns and all(c.startswith(("val_", "test_")) for c in metric_columns)
    # equal validation accuracy: the lower validation log-loss ranks first, test never decides
    tied = runs.assign(val_accuracy=0.9)
    assert list(training.summarize_runs(tied)["name"]) == ["b", "c", "a"]


def test_compare_rejects_seed_and_missing_validation(splits):
    train, val = splits
    with pytest.raises(TypeError, match=r"seeds=\(1,\)"):
        training.compare({"image": {"modalities": ("image",)}}, train, val, val, seed=1)
    with pytest.raises(TypeError, match="seeds must be a sequence"):
        training.compare({"image": {"modalities": ("image",)}}, train, val, val, seeds=1)
    with pytest.raises(ValueError, match="val=None"):
        training.compare({"image": {"modalities": ("image",)}}, train, None, val)


def test_bootstrap_intervals_match_the_binomial_noise():
    rng = np.random.default_rng(0)
    correct = rng.random(360) < 0.9
    low, high = training.bootstrap_interval(correct)
    accuracy = correct.mean()
    standard_error = np.sqrt(accuracy * (1 - accuracy) / 360)
    assert low < accuracy < high
    assert (high - low) / 2 == pytest.approx(1.96 * standard_error, rel=0.15)
    # paired: a copy with 3 of 360 answers flipped to wrong is not distinguishable; 40 are
    slightly_worse, much_worse = correct.copy(), correct.copy()
    slightly_worse[np.flatnonzero(correct)[:3]] = False
    much_worse[np.flatnonzero(correct)[:40]] = False
    close = training.paired_bootstrap(correct, slightly_worse)
    assert close["difference"] == pytest.approx(3 / 360) and not close["beyond_noise"]
    far = training.paired_bootstrap(correct, much_worse)
    assert far["beyond_noise"] and far["low"] > 0
    with pytest.raises(ValueError, match="same samples"):
        training.paired_bootstrap(correct, correct[:10])
    with pytest.raises(ValueError, match="0/1"):
        training.bootstrap_interval(np.full(5, 0.5))


def test_noise_modality_is_ranked_last(splits):
    train, val = splits
    rng = np.random.default_rng(0)
    noisy_train = dataclasses.replace(
        train, audio=rng.normal(0, 0.1, train.audio.shape).astype(np.float32))
    noisy_val = dataclasses.replace(
        val, audio=rng.normal(0, 0.1, val.audio.shape).astype(np.float32))
    set_seed(0)
    model = models.build_multimodal_classifier(("image", "audio"), "concat", 16)
    training.fit(model, noisy_train, noisy_val, epochs=6, seed=0, verbose=0)
    importance = training.modality_importance(model, noisy_val, num_repeats=2)
    assert list(importance["modality"]) == ["image", "audio"]  # sorted by drop importance
    by_name = importance.set_index("modality")
    assert by_name.loc["image", "drop_importance"] > 0.2
    assert by_name.loc["image", "permutation_importance"] > 0.2
    assert by_name.loc["audio", "permutation_importance"] < by_name.loc["image",
                                                                        "permutation_importance"]
    assert abs(by_name.loc["audio", "permutation_importance"]) < 0.1


def test_lesson07_checks_accept_the_reference_and_reject_wrong_answers(capsys):
    from mmcourse.checks import check

    assert check("07.confusion_matrix", training.confusion_matrix)
    assert check("07.macro_f1", training.macro_f1)
    transposed = lambda labels, predictions, n: training.confusion_matrix(predictions, labels, n)  # noqa: E731
    assert not check("07.confusion_matrix", transposed)

    def micro_f1(matrix):  # = accuracy: not the macro average
        matrix = np.asarray(matrix)
        return float(np.trace(matrix) / matrix.sum())

    assert not check("07.macro_f1", micro_f1)
    assert "hint" in capsys.readouterr().out


def test_fit_traces_the_training_step_once(splits):
    """fit creates the optimizer's variables before the first step: a tf.function that creates
    variables is traced twice, which doubled the fixed cost of every short fit."""
    train, val = splits
    set_seed(0)
    model = models.build_unimodal_classifier("image", 8)
    traces = []
    train_step = model.train_step

    def counting_train_step(data):
        traces.append(1)  # runs once per trace, not per batch
        return train_step(data)

    model.train_step = counting_train_step
    history = training.fit(model, train, val, epochs=3, batch_size=64, seed=0, verbose=0)
    assert len(history.history["loss"]) == 3
    assert len(traces) == 1


def test_compare_on_precomputed_features_equals_compare_with_encoders(splits):
    train, val = splits
    set_seed(0)
    encoders = {m: models.build_encoder(m, 8, train.text) for m in ("image", "text")}
    configs = {"image": {"modalities": ("image",)}, "concat": {"fusion": "concat"}}
    options = dict(epochs=3, return_runs=True, verbose=False)
    _, with_encoders = training.compare(configs, train, val, val, encoders=encoders, **options)
    train_features, val_features = (training.encode(encoders, s) for s in (train, val))
    _, on_features = training.compare(configs, train_features, val_features, val_features,
                                      **options)
    columns = ["name", "seed", "val_accuracy", "test_accuracy", "test_macro_f1", "params",
               "epochs"]
    assert with_encoders[columns].equals(on_features[columns])
    with pytest.raises(TypeError, match="Features for every split"):
        training.compare(configs, train_features, val, val_features, **options)
    with pytest.raises(TypeError, match="and encoders"):
        training.compare(configs, train_features, val_features, val_features,
                         encoders=encoders, **options)


def test_compare_scores_val_and_test_like_evaluate(splits):
    """compare predicts both splits in one call; the scores equal two separate evaluate calls."""
    train, val = splits
    set_seed(0)
    model = models.build_unimodal_classifier("image", 8)
    training.fit(model, train, val, epochs=2, seed=0, verbose=0)
    first, second = training._evaluate_two(model, val, train)
    for joined, alone in ((first, training.evaluate(model, val)),
                          (second, training.evaluate(model, train))):
        assert joined["accuracy"] == pytest.approx(alone["accuracy"])
        np.testing.assert_allclose(joined["probabilities"], alone["probabilities"], atol=1e-6)
