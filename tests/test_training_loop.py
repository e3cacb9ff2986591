"""training.fit_seeds: the same training as Keras (Model.fit on the same batches), Keras's early
stopping with the best weights restored, repeatable, seeds independent, bad input refused."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from mmcourse import training
from mmcourse.env import set_seed

pytestmark = pytest.mark.slow


def _build():
    inputs = keras.Input((6,), name="x")
    hidden = keras.layers.Dense(8, activation="relu", name="hidden")(inputs)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="out")(hidden))


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 6)) * 2
    labels = rng.integers(0, 3, 96)
    inputs = (centres[labels] + rng.normal(size=(96, 6))).astype(np.float32)
    return (inputs[:64], labels[:64]), (inputs[64:], labels[64:])


def test_two_epochs_equal_keras_fit_on_the_same_batches(data):
    train, val = data
    (run,) = training.fit_seeds(_build, train, val, seeds=[3], epochs=2, batch_size=16,
                                learning_rate=0.01, patience=5)
    assert run.best_epoch == 2 and len(run.val_loss) == 2  # val loss fell: epoch 2's weights kept
    # Keras: the same initial weights (built under the same seed), Adam at the same rate, and the
    # two epochs' batch orders (rng(seed).permutation twice) laid end to end, 64 % 16 == 0
    set_seed(3)
    reference = _build()
    reference.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(3)
    order = np.concatenate([rng.permutation(64), rng.permutation(64)])
    reference.fit(train[0][order], train[1][order], batch_size=16, epochs=1, shuffle=False, verbose=0)
    for ours, theirs in zip(run.model.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)
    expected = reference.predict(val[0], verbose=0)
    np.testing.assert_allclose(run.predict_proba(val[0]), expected, rtol=1e-4, atol=1e-5)
    loss = -np.mean(np.log(expected[np.arange(len(val[1])), val[1]]))
    assert run.val_loss[-1] == pytest.approx(loss, rel=1e-4)


def test_early_stopping_keeps_the_best_epoch_and_stops_after_patience(data):
    train, val = data
    # validation labels that contradict training: its loss rises once the model learns
    wrong_val = (train[0], (train[1] + 1) % 3)
    runs = training.fit_seeds(_build, train, wrong_val, seeds=[0, 1], epochs=30, batch_size=16,
                              learning_rate=0.05, patience=2)
    for run in runs:
        best = int(np.argmin(run.val_loss)) + 1
        assert run.best_epoch == best < 30
        assert len(run.val_loss) == best + 2  # two epochs without improvement, then stop
        (again,) = training.fit_seeds(_build, train, wrong_val, seeds=[run.seed], epochs=best,
                                      batch_size=16, learning_rate=0.05, patience=2)
        for kept, trained in zip(run.model.get_weights(), again.model.get_weights(), strict=True):
            np.testing.assert_allclose(kept, trained, rtol=1e-5, atol=1e-6)


def test_repeatable_and_each_seed_its_own(data):
    train, val = data
    first = training.fit_seeds(_build, train, val, seeds=[0, 1], epochs=3, batch_size=16)
    second = training.fit_seeds(_build, train, val, seeds=[1], epochs=3, batch_size=16)
    for ours, again in zip(first[1].model.get_weights(), second[0].model.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, again)  # seed 1 alone = seed 1 after seed 0
    assert first[0].val_loss != first[1].val_loss
    assert not np.allclose(first[0].model.get_weights()[0], first[1].model.get_weights()[0])
    assert [run.seed for run in first] == [0, 1] and all(run.train_seconds > 0 for run in first)


@pytest.mark.parametrize("change, error, words", [
    ({"build": "dense"}, TypeError, "build must be a function"),
    ({"build": lambda: "not a model"}, TypeError, "build must be a function returning"),
    ({"seeds": []}, ValueError, "seeds must be a non-empty list"),
    ({"seeds": 0}, TypeError, "seeds must be a non-empty list"),
    ({"epochs": 0}, ValueError, "epochs must be a positive int"),
    ({"learning_rate": -1.0}, ValueError, "learning_rate must be a finite number > 0"),
    ({"train": [1, 2]}, TypeError, "train must be a tuple (inputs, labels)"),
    ({"train": "bad labels"}, ValueError, "train[1] must be labels in [0, 3)"),
    ({"train": "short labels"}, ValueError, "train[0], train[1] must have the same number"),
    ({"val": "nan"}, ValueError, "val[0] must be an array of model inputs of finite values"),
    ({"val": "wide"}, ValueError, "val[0] must be an array of shape (N, 6)"),
])
def test_bad_input_is_refused_by_name(data, change, error, words):
    train, val = data
    arguments = {"build": _build, "train": train, "val": val, "seeds": [0], "epochs": 1}
    special = {"bad labels": (train[0], train[1] + 3), "short labels": (train[0], train[1][:5]),
               "nan": (np.full_like(val[0], np.nan), val[1]),
               "wide": (np.zeros((len(val[1]), 7), np.float32), val[1])}
    arguments.update({key: special.get(value, value) if isinstance(value, str) and key != "build"
                      else value for key, value in change.items()})
    with pytest.raises(error) as caught:
        training.fit_seeds(arguments.pop("build"), arguments.pop("train"), arguments.pop("val"),
                           **arguments)
    assert words in str(caught.value)


def test_a_build_that_changes_architecture_is_refused(data):
    train, val = data
    widths = iter([4, 8])

    def changing():
        inputs = keras.Input((6,))
        hidden = keras.layers.Dense(next(widths), activation="relu")(inputs)
        return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(hidden))

    with pytest.raises(ValueError, match="build must be a function returning the same architecture"):
        training.fit_seeds(changing, train, val, seeds=[0, 1], epochs=1)
