"""mmcourse.privacy against NumPy references, the real accountant and its own claims.

NumPy-only tests first (FedAvg, clipping + noise, the attack, the accountant); three small
TensorFlow tests: the DP-SGD Keras step equals the NumPy reference on explicit per-example
gradients, clients trained side by side equal clients trained one at a time, and bad inputs.
"""

from __future__ import annotations

import numpy as np
import pytest

from mmcourse import privacy


# --- FedAvg -------------------------------------------------------------------------------------
def test_fedavg_is_the_size_weighted_average_not_the_plain_mean():
    rng = np.random.default_rng(0)
    clients = [[rng.normal(size=(3, 2)), rng.normal(size=2)] for _ in range(4)]
    sizes = np.array([1, 10, 100, 1000])
    result = privacy.fedavg(clients, sizes)
    for layer in range(2):
        expected = np.einsum("k,k...->...", sizes / sizes.sum(), np.stack([c[layer] for c in clients]))
        assert np.allclose(result[layer], expected, atol=1e-6)
        assert not np.allclose(result[layer], np.mean([c[layer] for c in clients], axis=0), atol=1e-3)
    assert [r.dtype for r in result] == [np.float32, np.float32]


@pytest.mark.parametrize("clients, sizes, error, words", [
    ([[np.ones(2)], [np.ones(3)]], [1, 1], ValueError, "shapes"),
    ([[np.ones(2)], [np.ones(2)]], [1], ValueError, "one entry per client"),
    ([[np.ones(2)], [np.ones(2)]], [1, 0], ValueError, "positive"),
    ([], [], ValueError, "client_weights"),
    ("weights", [1], TypeError, "client_weights"),
])
def test_fedavg_rejects_bad_input_by_name(clients, sizes, error, words):
    with pytest.raises(error, match=words):
        privacy.fedavg(clients, sizes)


# --- clipping + noise ---------------------------------------------------------------------------
def test_clip_and_noise_clips_each_example_then_adds_scaled_noise():
    rng = np.random.default_rng(1)
    gradients = rng.normal(size=(50, 7)) * rng.uniform(0.01, 10, size=(50, 1))
    noise = rng.normal(size=7)
    norms = np.linalg.norm(gradients, axis=1, keepdims=True)
    clipped = gradients * np.minimum(1, 0.7 / norms)
    assert np.all(np.linalg.norm(clipped, axis=1) <= 0.7 + 1e-12)
    expected = (clipped.sum(0) + 1.3 * 0.7 * noise) / 12.5
    assert np.allclose(privacy.clip_and_noise(gradients, 0.7, 1.3, noise, batch_size=12.5), expected)
    single = privacy.clip_and_noise(gradients[:1], 0.7, 0.0, np.zeros(7))
    assert np.linalg.norm(single) == pytest.approx(min(0.7, norms[0, 0]))
    with pytest.raises(ValueError, match="noise"):
        privacy.clip_and_noise(gradients, 0.7, 1.0, np.zeros(6))
    with pytest.raises(ValueError, match="clip_norm"):
        privacy.clip_and_noise(gradients, 0.0, 1.0, noise)


# --- the accountant -----------------------------------------------------------------------------
def test_dp_epsilon_is_dp_accountings_rdp_epsilon_and_behaves():
    from dp_accounting import dp_event
    from dp_accounting.rdp import rdp_privacy_accountant

    accountant = rdp_privacy_accountant.RdpAccountant(list(privacy.RDP_ORDERS))
    accountant.compose(dp_event.SelfComposedDpEvent(
        dp_event.PoissonSampledDpEvent(0.2, dp_event.GaussianDpEvent(1.5)), 400))
    assert privacy.dp_epsilon(1.5, 0.2, 400, delta=1e-5) == pytest.approx(accountant.get_epsilon(1e-5))
    by_noise = [privacy.dp_epsilon(sigma, 0.2, 400) for sigma in (0.8, 1.5, 4.0)]
    assert by_noise[0] > by_noise[1] > by_noise[2] > 0
    assert privacy.dp_epsilon(1.5, 0.2, 800) > privacy.dp_epsilon(1.5, 0.2, 400)
    assert privacy.dp_epsilon(0.0, 0.2, 10) == float("inf")
    with pytest.raises(ValueError, match="sampling_probability"):
        privacy.dp_epsilon(1.0, 1.5, 10)


# --- membership inference -----------------------------------------------------------------------
def test_membership_advantage_and_threshold_choice():
    members, nonmembers = np.array([0.1, 0.2, 0.3, 2.0]), np.array([0.25, 1.0, 3.0, 4.0])
    assert privacy.membership_advantage(members, nonmembers, 0.3) == pytest.approx(0.75 - 0.25)
    assert privacy.membership_advantage(members, nonmembers, -1.0) == 0.0
    assert privacy.choose_threshold(members, nonmembers) == 0.2  # TPR − FPR = 0.5, smallest τ
    separated = privacy.choose_threshold(np.array([0.1, 0.2]), np.array([0.5, 0.6]))
    assert privacy.membership_advantage(np.array([0.1, 0.2]), np.array([0.5, 0.6]), separated) == 1.0
    with pytest.raises(ValueError, match="member_losses"):
        privacy.membership_advantage(np.array([]), nonmembers, 0.1)


def test_speaker_probe_reads_a_planted_speaker_and_refuses_unseen_speakers():
    rng = np.random.default_rng(2)
    centres = rng.normal(scale=5, size=(4, 6))
    speakers = np.repeat(np.arange(4), 20)
    embeddings = centres[speakers] + rng.normal(size=(80, 6))
    result = privacy.speaker_probe(embeddings[::2], speakers[::2], embeddings[1::2], speakers[1::2])
    assert result["accuracy"] > 0.9 and result["chance"] == 0.25 and result["num_speakers"] == 4
    noise = rng.normal(size=(80, 6))  # no speaker information: near chance
    assert privacy.speaker_probe(noise[::2], speakers[::2], noise[1::2], speakers[1::2])["accuracy"] < 0.6
    with pytest.raises(ValueError, match="test_speakers"):
        privacy.speaker_probe(embeddings[:40], speakers[:40], embeddings[40:], speakers[40:])


# --- TensorFlow: the Keras DP-SGD step and the client-parallel SGD ------------------------------
def test_dp_sgd_keras_step_equals_the_numpy_reference_on_per_example_gradients():
    import keras
    import tensorflow as tf

    rng = np.random.default_rng(3)
    x = rng.normal(size=(9, 5)).astype(np.float32) * 3
    y = rng.integers(0, 3, size=9)
    model = privacy.DPSGDClassifier([keras.Input((5,)), keras.layers.Dense(4, activation="relu"),
                                     keras.layers.Dense(3, activation="softmax")],
                                    clip_norm=0.5, noise_multiplier=0.0, sampling_probability=0.5)
    sampled = np.array([1, 0, 1, 1, 0, 1, 1, 1, 0], np.float32)
    gradients, variables, _, _ = model.private_gradients(tf.constant(x), tf.constant(y),
                                                         tf.constant(sampled))
    per_example = []
    for i in range(len(x)):  # explicit per-example gradients, one tape each
        with tf.GradientTape() as tape:
            loss = keras.losses.sparse_categorical_crossentropy(y[i:i + 1], model(x[i:i + 1]))[0]
        per_example.append(np.concatenate([np.ravel(g) for g in tape.gradient(loss, variables)]))
    per_example = np.array(per_example)[sampled == 1]
    reference = privacy.clip_and_noise(per_example, 0.5, 0.0, np.zeros(per_example.shape[1]),
                                       batch_size=0.5 * len(x))
    received = np.concatenate([np.ravel(g) for g in gradients])
    assert np.allclose(received, reference, atol=1e-5)
    assert np.any(np.linalg.norm(np.array(per_example), axis=1) > 0.5)  # the clip was active


def test_clients_side_by_side_train_exactly_like_clients_alone():
    rng = np.random.default_rng(4)
    clients = [(rng.normal(size=(n, 6)).astype(np.float32), rng.integers(0, 3, size=n))
               for n in (13, 30)]

    def build():
        return privacy.build_classifier(6, hidden_units=5, num_classes=3, seed=0)

    together = privacy.local_training(build, clients, epochs=3, batch_size=4, seed=7,
                                      evaluate_on=clients[1])
    model = build()
    padded = privacy._pad_clients(clients)
    both = privacy._train_clients(model, model.get_weights(), padded, padded[2], 3, 4, 0.1,
                                  np.random.default_rng(7))
    plan = privacy._batch_plan(padded[2], 3, 4, np.random.default_rng(7))
    for index, (x, y) in enumerate(clients):  # the same batches, one client alone
        batches, masks = plan[0][:, index:index + 1], plan[1][:, index:index + 1]
        alone = privacy._local_sgd_function()(
            [w[None] for w in model.get_weights()], x[None], y[None], batches, masks, np.float32(0.1))
        for a, b in zip(alone, both[index], strict=True):
            assert np.allclose(np.asarray(a)[0], b, atol=1e-5)
    assert together.shape == (2,) and np.all((0 <= together) & (together <= 1))
    with pytest.raises(TypeError, match="clients"):
        privacy.federated_training(build, "clients")


def test_dp_sgd_classifier_saves_and_loads_with_its_options(tmp_path):
    import keras

    model, _ = privacy.train_dp_sgd(np.random.default_rng(5).normal(size=(30, 4)).astype(np.float32),
                                    np.arange(30) % 3, noise_multiplier=1.1, steps=5,
                                    sampling_probability=0.3, clip_norm=0.7, hidden_units=3,
                                    num_classes=3, seed=2)
    path = tmp_path / "dp.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded).__name__ == "DPSGDClassifier"
    assert (loaded.clip_norm, loaded.noise_multiplier, loaded.sampling_probability,
            loaded.noise_seed) == (0.7, 1.1, 0.3, 2)
    x = np.ones((2, 4), np.float32)
    assert np.allclose(np.asarray(loaded(x)), np.asarray(model(x)), atol=1e-6)


def test_train_dp_sgd_reuses_one_compiled_trainer_and_trains_exactly_like_a_new_one():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(40, 4)).astype(np.float32)
    y = rng.integers(0, 3, size=40)
    options = dict(noise_multiplier=1.3, steps=20, sampling_probability=0.3, clip_norm=0.8,
                   hidden_units=5, num_classes=3, learning_rate=0.5)
    privacy._DP_TRAINERS.clear()
    fresh, epsilon = privacy.train_dp_sgd(x, y, seed=4, **options)  # a new trainer
    assert len(privacy._DP_TRAINERS) == 1
    other, _ = privacy.train_dp_sgd(x[::-1].copy(), y[::-1].copy(), seed=9, **options)
    reused, again = privacy.train_dp_sgd(x, y, seed=4, **options)  # the same trainer, reused
    assert len(privacy._DP_TRAINERS) == 1 and again == epsilon
    for a, b in zip(fresh.get_weights(), reused.get_weights(), strict=True):
        assert np.array_equal(a, b)
    # the returned models are independent, and the seed changes the run
    assert not np.allclose(other.get_weights()[0], fresh.get_weights()[0])
    assert other is not fresh and other is not reused


def test_lesson_14_uses_exactly_the_settings_its_validation_grid_chose():
    from pathlib import Path

    from conftest import assert_lesson_uses_tuned_setting

    assert_lesson_uses_tuned_setting("14_privacy.ipynb", "TUNED", "tune_lesson14")
    root = Path(__file__).resolve().parent.parent
    assert "test" not in (root / "scripts" / "tune_lesson14.py").read_text(encoding="utf-8").split(
        "def load", 1)[1].split("def score", 1)[0].replace("the test split", "")  # never loaded
