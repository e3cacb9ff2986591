"""mmcourse.fusion.dropout.ModalityDropout: train-only, seeded, keeps at least one modality.

Checked like the fusion layers: behaviour against a NumPy description of the rule, config and
``.keras`` round trip, a real training step, and clear errors for bad options.
"""

import keras
import numpy as np
import pytest

from mmcourse.fusion.dropout import ModalityDropout


def _presence(batch=2000, modalities=3, seed=0, missing=0.2):
    rng = np.random.default_rng(seed)
    return (rng.random((batch, modalities)) >= missing).astype("float32")


def test_inference_passes_the_mask_through():
    presence = _presence()
    layer = ModalityDropout(0.5, seed=1)
    np.testing.assert_array_equal(np.asarray(layer(presence)), presence)
    np.testing.assert_array_equal(np.asarray(layer(presence, training=False)), presence)


def test_training_drops_only_present_modalities_and_keeps_one():
    presence = _presence()
    dropped = np.asarray(ModalityDropout(0.5, seed=1)(presence, training=True))
    assert set(np.unique(dropped)) <= {0.0, 1.0}
    assert np.all(dropped <= presence)  # never adds a modality
    had_some = presence.sum(axis=1) > 0
    assert np.all(dropped[had_some].sum(axis=1) >= 1)  # keeps at least one
    assert np.all(dropped[~had_some].sum(axis=1) == 0)  # nothing to keep
    # the drop rate is the asked one, up to the rescues (a binomial check, 5 sigma)
    lost = (presence - dropped).sum() / presence.sum()
    assert 0.35 < lost < 0.5


def test_rescue_picks_every_modality_sometimes():
    presence = np.ones((3000, 3), dtype="float32")
    dropped = np.asarray(ModalityDropout(0.9, seed=2)(presence, training=True))
    single = dropped[dropped.sum(axis=1) == 1]
    counts = single.sum(axis=0)
    assert counts.min() > 0.2 * counts.sum()  # not always the first modality


def test_rate_zero_is_the_identity_in_training_too():
    presence = _presence()
    np.testing.assert_array_equal(
        np.asarray(ModalityDropout(0.0, seed=0)(presence, training=True)), presence)


def test_seeded_layers_drop_the_same_modalities():
    presence = _presence()
    first = np.asarray(ModalityDropout(0.3, seed=7)(presence, training=True))
    second = np.asarray(ModalityDropout(0.3, seed=7)(presence, training=True))
    other = np.asarray(ModalityDropout(0.3, seed=8)(presence, training=True))
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, other)


def test_config_and_keras_file_round_trip(tmp_path):
    layer = ModalityDropout(0.25, seed=3, name="moddrop")
    clone = ModalityDropout.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    features = keras.Input((4,), name="features")
    present = keras.Input((2,), name="present")
    kept = layer(present)
    outputs = keras.layers.Dense(2)(keras.layers.Concatenate()([features, kept]))
    model = keras.Model({"features": features, "present": present}, outputs)
    path = tmp_path / "moddrop.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.get_layer("moddrop"), ModalityDropout)
    assert loaded.get_layer("moddrop").get_config() == layer.get_config()
    batch = {"features": np.ones((5, 4), "float32"), "present": np.ones((5, 2), "float32")}
    np.testing.assert_allclose(loaded.predict(batch, verbose=0), model.predict(batch, verbose=0),
                               rtol=1e-6)


def test_a_training_step_uses_the_dropped_mask():
    # a model that outputs the mask it sees: trained, its outputs are the dropped mask
    present = keras.Input((3,), name="present")
    outputs = ModalityDropout(0.5, seed=0)(present)
    model = keras.Model(present, outputs)
    ones = np.ones((64, 3), "float32")
    assert np.asarray(model(ones, training=True)).sum() < ones.sum()
    assert np.asarray(model(ones, training=False)).sum() == ones.sum()
    # and inside a model that trains, fit runs with it
    features = keras.Input((3,), name="features")
    mask = keras.Input((3,), name="mask")
    hidden = keras.layers.Multiply()([features, ModalityDropout(0.3, seed=0)(mask)])
    trainable = keras.Model([features, mask], keras.layers.Dense(1)(hidden))
    trainable.compile(optimizer="sgd", loss="mse")
    history = trainable.fit([ones, ones], np.ones((64, 1)), epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2


@pytest.mark.parametrize("rate, error", [(1.0, ValueError), (-0.1, ValueError),
                                         ("0.3", TypeError), (True, TypeError)])
def test_bad_rate_raises(rate, error):
    with pytest.raises(error, match="Received: rate="):
        ModalityDropout(rate)


@pytest.mark.parametrize("seed, error", [(1.5, TypeError), (-1, ValueError)])
def test_bad_seed_raises(seed, error):
    with pytest.raises(error, match="Received: seed="):
        ModalityDropout(0.3, seed=seed)


def test_bad_shape_raises():
    with pytest.raises(ValueError, match="num_modalities"):
        ModalityDropout(0.3)(np.ones((2, 3, 1), "float32"))
