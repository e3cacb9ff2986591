"""mmcourse.interpret: Shapley values, ablation, permutation importance, attention read-out.

The pure functions are checked against independent references (Shapley by enumerating all
orders, closed-form games, SciPy's Spearman); the model-facing ones on small fusion heads built
by ``mmcourse.models.build_fusion_head`` on random features (no training needed: a read-out
must match the layer, whatever its weights).
"""

import itertools

import numpy as np
import pytest
from scipy import stats

from mmcourse import interpret

PLAYERS = ("image", "audio", "text")


def _random_game(rng, players=PLAYERS, shape=()):
    return {subset: rng.normal(size=shape) for subset in interpret.coalitions(players)}


# -- Shapley values -------------------------------------------------------------------------------


def test_coalitions_are_all_subsets_smallest_first():
    subsets = interpret.coalitions(PLAYERS)
    assert len(subsets) == 8 and subsets[0] == () and subsets[-1] == PLAYERS
    assert len(set(subsets)) == 8


@pytest.mark.parametrize("num_players", [1, 2, 3, 4])
@pytest.mark.parametrize("shape", [(), (7,)])
def test_shapley_matches_the_average_over_all_orders(num_players, shape):
    rng = np.random.default_rng(num_players)
    players = tuple(f"p{i}" for i in range(num_players))
    game = _random_game(rng, players, shape)
    exact = interpret.shapley_values(game, players)
    reference = interpret.shapley_values_by_permutations(game, players)
    for player in players:
        np.testing.assert_allclose(exact[player], reference[player], rtol=1e-12, atol=1e-12)
    # efficiency: the values share out v(N) - v(empty)
    total = sum(np.asarray(exact[p]) for p in players)
    np.testing.assert_allclose(total, game[players] - game[()], rtol=1e-12, atol=1e-12)


def test_shapley_of_an_additive_game_is_each_players_own_worth():
    worth = {"image": 0.3, "audio": 0.5, "text": 0.1}
    game = {s: 0.1 + sum(worth[p] for p in s) for s in interpret.coalitions(PLAYERS)}
    values = interpret.shapley_values(game, PLAYERS)
    ablation = interpret.ablation_importance(game, PLAYERS)
    for player in PLAYERS:
        assert values[player] == pytest.approx(worth[player])
        assert ablation[player] == pytest.approx(worth[player])


def test_shapley_splits_a_redundant_pair_where_ablation_sees_nothing():
    # either image or audio alone is enough (redundant): leave-one-out gives both 0
    game = {s: float("image" in s or "audio" in s) for s in interpret.coalitions(PLAYERS)}
    values = interpret.shapley_values(game, PLAYERS)
    ablation = interpret.ablation_importance(game, PLAYERS)
    assert values["image"] == pytest.approx(0.5) and values["audio"] == pytest.approx(0.5)
    assert values["text"] == pytest.approx(0.0)
    assert ablation["image"] == 0.0 and ablation["audio"] == 0.0


def test_shapley_keys_may_come_in_any_order():
    rng = np.random.default_rng(3)
    game = _random_game(rng)
    shuffled = {tuple(reversed(key)): value for key, value in game.items()}
    a = interpret.shapley_values(game, PLAYERS)
    b = interpret.shapley_values(shuffled, PLAYERS)
    assert all(a[p] == pytest.approx(b[p]) for p in PLAYERS)


def test_shapley_bad_input_names_the_argument():
    game = {s: 0.0 for s in interpret.coalitions(PLAYERS)}
    with pytest.raises(ValueError, match="missing"):
        interpret.shapley_values({k: v for k, v in game.items() if k != ()}, PLAYERS)
    with pytest.raises(ValueError, match="outside"):
        interpret.shapley_values({**game, ("video",): 1.0}, PLAYERS)
    with pytest.raises(TypeError, match="Received: values"):
        interpret.shapley_values([0.0] * 8, PLAYERS)
    with pytest.raises(TypeError, match="Received: players"):
        interpret.shapley_values(game, "image")
    with pytest.raises(ValueError, match="same shape"):
        interpret.shapley_values({**game, (): np.zeros(3)}, PLAYERS)


# -- Spearman, entropy ----------------------------------------------------------------------------


def test_spearman_matches_scipy_with_ties():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 5, size=40).astype(float)
    b = a + rng.normal(size=40)
    assert interpret.spearman(a, b) == pytest.approx(stats.spearmanr(a, b).statistic)


def test_spearman_per_row():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(20, 3)), rng.normal(size=(20, 3))
    a[0] = [1.0, 1.0, 2.0]  # a tie
    b[1] = 5.0  # no ranking at all
    got = interpret.spearman(a, b, per_row=True)
    for row in range(20):
        if row == 1:
            assert np.isnan(got[row])
        else:
            assert got[row] == pytest.approx(stats.spearmanr(a[row], b[row]).statistic)
    with pytest.raises(ValueError, match="same shape"):
        interpret.spearman(a, b[:, :2])


def test_attention_entropy():
    attention = np.array([[1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3], [0.5, 0.5, 0.0]])
    np.testing.assert_allclose(interpret.attention_entropy(attention),
                               [0.0, np.log(3), np.log(2)])
    with pytest.raises(ValueError, match="Received: attention"):
        interpret.attention_entropy(-attention)


# -- on models ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def heads():
    from mmcourse import models
    from mmcourse.env import set_seed
    from mmcourse.training import Features

    set_seed(0)
    rng = np.random.default_rng(0)
    count = 64
    features = {m: rng.normal(size=(count, 6)).astype("float32") for m in PLAYERS}
    present = np.ones((count, 3), dtype=bool)
    present[::5, 1] = False  # some audio missing
    data = Features(features, present, rng.integers(0, 10, size=count))
    built = {fusion: models.build_fusion_head(PLAYERS, fusion=fusion, feature_dims=6)
             for fusion in ("attention", "concat")}
    return built, data


def _numpy_attention(layer, features, present):
    from mmcourse.fusion import reference as ref

    weights = {v.name: np.asarray(v, dtype=np.float64) for v in layer.weights}
    projected = [f @ weights[f"projection_kernel_{i}"] + weights[f"projection_bias_{i}"]
                 for i, f in enumerate(features)]
    scores = np.stack([np.tanh(h @ weights["score_kernel"] + weights["score_bias"])
                       @ weights["score_vector"] for h in projected], axis=1)
    return ref.attention_weights(scores, present)


def test_attention_read_out_matches_the_layer(heads):
    import keras

    from mmcourse.training import model_inputs

    built, data = heads
    model = built["attention"]
    attention = interpret.attention_weights(model, data)
    assert attention.shape == (len(data), 3)
    present = data.present.astype(float)
    np.testing.assert_allclose(attention.sum(axis=1), 1.0, rtol=1e-6)
    assert np.all(attention[present == 0] == 0.0)
    # the same weights from the layer's formula, in NumPy
    layer = model.get_layer("fusion")
    inputs = model_inputs(data, ("image", "audio", "text"))
    expected = _numpy_attention(layer, [inputs[m] for m in PLAYERS], present)
    np.testing.assert_allclose(attention, expected, rtol=1e-4, atol=1e-6)
    # the read-out leaves the model alone
    assert not layer.return_attention
    assert isinstance(model.output, keras.KerasTensor)


def test_attention_read_out_refuses_a_model_without_attention(heads):
    built, data = heads
    with pytest.raises(ValueError, match="AttentionFusion"):
        interpret.attention_weights(built["concat"], data)


def test_coalition_values_use_the_presence_mask(heads):
    built, data = heads
    model = built["concat"]
    values = interpret.coalition_values(model, data, value="true_class_probability")
    assert set(values) == set(interpret.coalitions(PLAYERS))
    everything = interpret.predict(model, {**data.features,
                                           "present": data.present.astype("float32")})
    np.testing.assert_allclose(values[PLAYERS],
                               everything[np.arange(len(data)), data.label], rtol=1e-6)
    # with nothing present every sample gets the same prediction (concat zeroes all features)
    empty = interpret.coalition_values(model, data, value="correct")[()]
    assert empty.shape == (len(data),) and set(np.unique(empty)) <= {0.0, 1.0}
    accuracy = interpret.coalition_values(model, data)
    assert accuracy[()] == pytest.approx(empty.mean())
    with pytest.raises(ValueError, match="Received: value"):
        interpret.coalition_values(model, data, value="f1")


def test_importance_table_is_consistent(heads):
    built, data = heads
    table = interpret.importance_table(built["concat"], data, num_repeats=3, seed=0)
    assert list(table["modality"]) == list(PLAYERS)
    assert table["shapley"].sum() == pytest.approx(table.attrs["full"] - table.attrs["empty"])
    values = table.attrs["values"]
    for _, row in table.iterrows():
        rest = tuple(m for m in PLAYERS if m != row["modality"])
        assert row["ablation"] == pytest.approx(values[PLAYERS] - values[rest])
    again = interpret.importance_table(built["concat"], data, num_repeats=3, seed=0)
    np.testing.assert_array_equal(again["permutation"], table["permutation"])  # seeded


def test_permutation_importance_detects_the_only_useful_input():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, size=300)
    inputs = {"image": labels.astype(float), "audio": rng.normal(size=300),
              "present": np.ones((300, 2), dtype="float32")}

    def predict_fn(batch):  # reads the label off the image, ignores the audio
        return np.eye(10)[np.asarray(batch["image"]).astype(int)]

    result = interpret.permutation_importance(predict_fn, inputs, labels, ("image", "audio"),
                                              num_repeats=4, seed=1)
    assert result["image"][0] > 0.8 and result["audio"] == (0.0, 0.0)
    with pytest.raises(TypeError, match="predict_fn"):
        interpret.permutation_importance(None, inputs, labels, ("image", "audio"))
    with pytest.raises(ValueError, match="num_repeats"):
        interpret.permutation_importance(predict_fn, inputs, labels, ("image", "audio"),
                                         num_repeats=0)
    with pytest.raises(ValueError, match="lacks"):
        interpret.permutation_importance(predict_fn, inputs, labels, ("image", "text"))


def test_blank_modalities_rejects_unknown_names():
    inputs = {"image": np.ones((2, 3)), "present": np.ones((2, 1))}
    with pytest.raises(ValueError, match="cannot drop"):
        interpret.blank_modalities(inputs, ("image",), ["audio"])
    blank = interpret.blank_modalities(inputs, ("image",), ["image"])
    assert blank["image"].sum() == 0 and blank["present"].sum() == 0
    assert inputs["image"].sum() == 6  # the input is not changed


def test_all_coalitions_enumerated_for_four_players():
    subsets = interpret.coalitions(("a", "b", "c", "d"))
    assert sorted(map(frozenset, subsets), key=sorted) == sorted(
        (frozenset(c) for n in range(5) for c in itertools.combinations("abcd", n)), key=sorted)


def test_attention_read_out_on_a_model_with_raw_inputs():
    from mmcourse import models, training
    from mmcourse.data import load_mmdigits
    from mmcourse.env import set_seed

    set_seed(0)
    train = load_mmdigits("train")
    test = load_mmdigits("test", missing_rate={"text": 0.3})
    model = models.build_multimodal_classifier(PLAYERS, fusion="attention",
                                               text_vocabulary=train.text)
    attention = interpret.attention_weights(model, test)
    encoded = training.encode({m: models.get_encoder(model, m) for m in PLAYERS}, test)
    expected = _numpy_attention(model.get_layer("fusion"), [encoded.features[m] for m in PLAYERS],
                                test.present)
    np.testing.assert_allclose(attention, expected, rtol=1e-4, atol=1e-6)
    assert np.all(attention[~test.present] == 0.0)
