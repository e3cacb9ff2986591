"""mmcourse.alignment: InfoNCE against its NumPy reference, recall@k, probes, clustering, trainers.

The NumPy tests take milliseconds; the three Keras tests (the ``keras.ops`` loss, the ``Loss``
class saved and loaded, one short two-tower and two-view run on synthetic views) a few seconds.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import mmcourse.alignment as alignment


def _loop_info_nce(a, b, temperature):
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    total = 0.0
    for i in range(len(a)):
        row = [a[i] @ b[j] / temperature for j in range(len(b))]
        column = [a[j] @ b[i] / temperature for j in range(len(a))]
        total += 0.5 * (-row[i] + math.log(sum(math.exp(x) for x in row)))
        total += 0.5 * (-column[i] + math.log(sum(math.exp(x) for x in column)))
    return total / len(a)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_info_nce_numpy_matches_a_loop_on_fresh_inputs(seed):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(2, 9, 5)) * rng.uniform(0.1, 4.0, size=(2, 9, 1))
    temperature = float(rng.uniform(0.05, 2.0))
    assert math.isclose(alignment.info_nce_numpy(a, b, temperature), _loop_info_nce(a, b, temperature),
                        rel_tol=1e-10)
    # symmetric in its arguments and blind to the length of each row
    assert math.isclose(alignment.info_nce_numpy(a, b, temperature), alignment.info_nce_numpy(b, a, temperature))
    assert math.isclose(alignment.info_nce_numpy(3 * a, b / 7, temperature), alignment.info_nce_numpy(a, b, temperature))


def test_info_nce_is_log_n_without_information_and_small_for_clear_pairs():
    same = np.ones((6, 3))
    assert math.isclose(alignment.info_nce_numpy(same, same, 0.1), math.log(6))
    assert alignment.info_nce_numpy(np.eye(6), np.eye(6), 0.05) < 1e-6


def test_recall_at_k_matches_the_loop_with_ties():
    rng = np.random.default_rng(0)
    similarity = rng.integers(0, 4, size=(30, 30)).astype(float)  # many ties
    for k in (1, 3, 10, 30):
        assert alignment.recall_at_k(similarity, k) == alignment.recall_at_k_reference(similarity, k)
    assert alignment.recall_at_k(np.eye(5), 1) == 1.0
    assert alignment.recall_at_k(-np.eye(5), 4) == 0.0
    assert alignment.random_recall_at_k(360, 10) == pytest.approx(10 / 360)
    random_recalls = [alignment.recall_at_k(rng.normal(size=(200, 200)), 20) for _ in range(20)]
    assert abs(np.mean(random_recalls) - 0.1) < 0.02


@pytest.mark.parametrize(("call", "error", "names"), [
    (lambda: alignment.info_nce_numpy(np.ones((3, 2)), np.ones((4, 2))), ValueError, ("a", "b")),
    (lambda: alignment.info_nce_numpy(np.ones((3, 2)), np.ones((3, 2)), 0.0), ValueError, ("temperature",)),
    (lambda: alignment.recall_at_k(np.ones((3, 4)), 1), ValueError, ("similarity",)),
    (lambda: alignment.recall_at_k(np.eye(3), 4), ValueError, ("k",)),
    (lambda: alignment.cosine_similarity("abc", np.ones((2, 2))), TypeError, ("a",)),
    (lambda: alignment.few_label_indices([0, 1, 1], 0.0), ValueError, ("fraction",)),
    (lambda: alignment.class_prototypes(np.ones((3, 2)), [0, 0, 1], num_classes=3), ValueError, ("labels",)),
    (lambda: alignment.train_two_tower({"image": np.ones((4, 2))}), ValueError, ("train_views",)),
])
def test_bad_input_names_the_argument(call, error, names):
    with pytest.raises(error) as raised:
        call()
    assert all(name in str(raised.value) for name in names), raised.value
    assert "Received" in str(raised.value)


def test_few_label_indices_is_stratified_and_seeded():
    labels = np.repeat(np.arange(10), [100, 90, 110, 100, 95, 105, 100, 100, 100, 100])
    chosen = alignment.few_label_indices(labels, 0.05, seed=3)
    assert np.array_equal(np.bincount(labels[chosen]), np.round(0.05 * np.bincount(labels)).astype(int))
    assert np.array_equal(chosen, alignment.few_label_indices(labels, 0.05, seed=3))
    assert not np.array_equal(chosen, alignment.few_label_indices(labels, 0.05, seed=4))
    assert np.bincount(labels[alignment.few_label_indices(labels, 0.001)]).min() == 1  # at least one


def test_prototypes_probe_co_training_and_clusters_on_separable_blobs():
    rng = np.random.default_rng(0)
    centres = 5 * rng.normal(size=(4, 6))
    labels = np.repeat(np.arange(4), 50)
    views = {"x": centres[labels] + rng.normal(size=(200, 6)),
             "y": centres[labels] @ rng.normal(size=(6, 6)) + rng.normal(size=(200, 6))}
    prototypes = alignment.class_prototypes(views["x"], labels, num_classes=4)
    assert np.allclose(np.linalg.norm(prototypes, axis=1), 1.0)
    assert np.mean(alignment.prototype_predict(views["x"], prototypes) == labels) > 0.95
    labelled = alignment.few_label_indices(labels, 0.04, seed=0)
    probe = alignment.linear_probe(views["x"][labelled], labels[labelled])
    assert np.mean(probe.predict(views["x"]) == labels) > 0.9
    probes = alignment.co_train(views, labelled, labels[labelled], rounds=2, per_round=0.3)
    assert set(probes) == {"x", "y"}
    assert np.mean(probes["y"].predict(views["y"]) == labels) > 0.9
    scores = alignment.cluster_scores(views["x"], labels, num_clusters=4, seed=0, normalize=False)
    assert scores["nmi"] > 0.9 and scores["purity"] > 0.95
    noise = alignment.cluster_scores(rng.normal(size=(200, 6)), labels, num_clusters=4, seed=0)
    assert noise["nmi"] < 0.1


def test_purity_by_hand():
    assert alignment.purity([0, 0, 1, 1, 2, 2], [5, 5, 5, 7, 7, 7]) == pytest.approx(4 / 6)
    assert alignment.purity([0, 1, 2], [0, 1, 2]) == 1.0


def test_mfcc_summary_shape():
    mfcc = np.random.default_rng(0).normal(size=(4, 13, 101)).astype(np.float32)
    summary = alignment.mfcc_summary(mfcc)
    assert summary.shape == (4, 13 * 2 + 13 * 11) and summary.dtype == np.float32
    assert np.allclose(summary[:, :13], mfcc.mean(axis=2), atol=1e-6)


# --- Keras --------------------------------------------------------------------------------------
def test_keras_info_nce_matches_numpy_and_the_loss_saves(tmp_path):
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(5)
    for temperature in (0.07, 0.5, 1.3):
        a, b = rng.normal(size=(2, 16, 8)).astype(np.float32)
        value = float(keras.ops.convert_to_numpy(alignment.info_nce(a, b, temperature)))
        assert math.isclose(value, alignment.info_nce_numpy(a, b, temperature), rel_tol=1e-4)
    loss = alignment.SymmetricInfoNCE(0.2)
    both = np.concatenate([a, b], axis=1)
    assert math.isclose(float(loss(np.zeros(16), both)), alignment.info_nce_numpy(a, b, 0.2), rel_tol=1e-4)
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert restored.temperature == 0.2 and type(restored) is type(loss)
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(4)(inputs))
    model.compile(optimizer="adam", loss=loss)
    model.save(tmp_path / "m.keras")
    assert keras.models.load_model(tmp_path / "m.keras").loss.temperature == 0.2


def test_two_tower_and_two_views_learn_synthetic_pairs_without_labels():
    rng = np.random.default_rng(0)
    latent = rng.normal(size=(600, 4))
    views = {"left": latent @ rng.normal(size=(4, 12)) + 0.1 * rng.normal(size=(600, 12)),
             "right": np.tanh(latent @ rng.normal(size=(4, 10))) + 0.1 * rng.normal(size=(600, 10))}
    train = {name: value[:500] for name, value in views.items()}
    test = {name: value[500:] for name, value in views.items()}
    towers, history = alignment.train_two_tower(train, test, embedding_dim=8, hidden_units=32,
                                                epochs=15, batch_size=100, seed=0)
    assert min(history.history["val_loss"]) < 0.5 * math.log(100)
    similarity = alignment.embed(towers["left"], test["left"]) @ alignment.embed(towers["right"], test["right"]).T
    assert alignment.recall_at_k(similarity, 5) > 5 * alignment.random_recall_at_k(100, 5)
    first = train["left"] + 0.3 * rng.normal(size=train["left"].shape)
    second = train["left"] + 0.3 * rng.normal(size=train["left"].shape)
    tower, history = alignment.train_two_views(first, second, embedding_dim=8, hidden_units=32,
                                               epochs=5, batch_size=100, seed=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert alignment.embed(tower, test["left"]).shape == (100, 8)


def test_a_reused_compiled_model_trains_like_a_new_one_and_embed_matches_predict():
    pytest.importorskip("keras")
    rng = np.random.default_rng(4)
    latent = rng.normal(size=(300, 3))
    views = {"left": latent @ rng.normal(size=(3, 6)), "right": latent @ rng.normal(size=(3, 5))}
    options = dict(embedding_dim=4, hidden_units=8, epochs=4, batch_size=50, patience=1)

    def trained(seed):
        towers, history = alignment.train_two_tower(views, views, seed=seed, **options)
        return alignment.embed(towers["left"], views["left"]), history.history["val_loss"]

    alignment._COMPILED.clear()
    fresh, fresh_loss = trained(0)
    assert len(alignment._COMPILED) == 1
    other, _ = trained(1)  # another seed on the cached model: its towers are its own
    reused, reused_loss = trained(0)  # the cached model again: weights and Adam restart
    assert len(alignment._COMPILED) == 1
    np.testing.assert_allclose(reused, fresh, rtol=1e-5, atol=1e-6)
    assert reused_loss == pytest.approx(fresh_loss)
    assert not np.allclose(other, fresh)
    towers, _ = alignment.train_two_tower(views, seed=2, **options)
    predicted = towers["left"].predict(views["left"], verbose=0)
    np.testing.assert_allclose(alignment.embed(towers["left"], views["left"], batch_size=64),
                               alignment.l2_normalize(predicted), rtol=1e-5, atol=1e-6)
