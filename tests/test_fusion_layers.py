"""The fusion Keras layers against their NumPy references (the Keras test pattern).

One table of cases: a layer factory, the feature sizes it is fed, an independent NumPy
reference (built from ``mmcourse.fusion.reference``, reading the layer's weights) and the
parameter-count formula. Every case is checked for the reference match (with and without a
presence mask), parameter count, ``get_config`` and the ``.keras`` save/load round trip.
"""

import subprocess
import sys

import keras
import numpy as np
import pytest

from mmcourse.fusion import layers
from mmcourse.fusion import reference as ref

# -- NumPy references that read the layer's weights --------------------------------------------


def _weights(layer):
    return {variable.name: np.asarray(variable, dtype=np.float64) for variable in layer.weights}


def _projected(layer, features):
    if getattr(layer, "units", None) is None:
        return features
    w = _weights(layer)
    return [
        ref.linear(f, w[f"projection_kernel_{i}"], w[f"projection_bias_{i}"])
        for i, f in enumerate(features)
    ]


def _zeroed(features, presence):
    if presence is None:
        return features
    return [f * presence[:, i : i + 1] for i, f in enumerate(features)]


def weighted_average_reference(layer, features, presence):
    w = _weights(layer)
    if not layer.learnable:
        weights = np.asarray(layer.fusion_weights) / np.sum(layer.fusion_weights)
    elif layer.normalization == "softmax":
        weights = ref.softmax(w["weight_logits"])
    else:
        weights = w["fusion_weights"]
    features = _projected(layer, features)
    if presence is None:
        return ref.weighted_average(features, weights)
    per_sample = weights[None, :] * presence
    if layer.normalization == "softmax":
        per_sample = per_sample / per_sample.sum(axis=1, keepdims=True)
    return ref.attention_sum(features, per_sample)


def product_reference(layer, features, presence):
    features = _projected(layer, features)
    if presence is not None:
        features = [
            np.where(presence[:, i : i + 1] > 0, f, 1.0) for i, f in enumerate(features)
        ]
    return ref.product(features)


def concatenate_reference(layer, features, presence):
    fused = ref.concatenate(_zeroed(features, presence))
    if layer.units is None:
        return fused
    w = _weights(layer)
    return np.maximum(ref.linear(fused, w["kernel"], w["bias"]), 0.0)  # the case uses relu


def bilinear_reference(layer, features, presence):
    w = _weights(layer)
    first, second = _zeroed(features, presence)
    return ref.bilinear(first, second, w["kernel"], w["bias"])


def attention_scores(layer, features):
    w = _weights(layer)
    hidden = [np.tanh(ref.linear(h, w["score_kernel"], w["score_bias"])) for h in features]
    return np.stack([h @ w["score_vector"] for h in hidden], axis=1)  # (batch, n)


def attention_reference(layer, features, presence):
    features = _projected(layer, features)
    mask = None if presence is None else presence > 0
    attention = ref.attention_weights(attention_scores(layer, features), mask)
    return ref.attention_sum(features, attention)


def tensor_reference(layer, features, presence):
    return ref.tensor_fusion(_zeroed(features, presence))


def low_rank_reference(layer, features, presence):
    w = _weights(layer)
    factors = [w[f"factor_{i}"] for i in range(len(features))]
    return ref.low_rank_fusion(_zeroed(features, presence), factors, w["bias"])


def gated_reference(layer, features, presence):
    w = _weights(layer)
    n = len(features)
    features = _zeroed(features, presence)
    if presence is None:
        return ref.gated_fusion(
            features,
            [w[f"projection_kernel_{i}"] for i in range(n)],
            [w[f"projection_bias_{i}"] for i in range(n)],
            [w[f"gate_kernel_{i}"] for i in range(n)],
            [w[f"gate_bias_{i}"] for i in range(n)],
        )
    everything = ref.concatenate(features)
    total = 0.0
    for i, f in enumerate(features):
        gate = ref.sigmoid(ref.linear(everything, w[f"gate_kernel_{i}"], w[f"gate_bias_{i}"]))
        value = np.tanh(ref.linear(f, w[f"projection_kernel_{i}"], w[f"projection_bias_{i}"]))
        total = total + gate * presence[:, i : i + 1] * value
    return total


def _projections(dims, units):
    return sum(d * units + units for d in dims)


# id, factory, feature sizes, NumPy reference, parameter-count formula (written out independently)
CASES = [
    ("weighted_average_softmax", lambda: layers.WeightedAverage(), (4, 4, 4),
     weighted_average_reference, lambda dims: len(dims)),
    ("weighted_average_projected", lambda: layers.WeightedAverage(units=6), (3, 5),
     weighted_average_reference, lambda dims: len(dims) + _projections(dims, 6)),
    ("weighted_average_free", lambda: layers.WeightedAverage(normalization="none"), (4, 4),
     weighted_average_reference, lambda dims: len(dims)),
    ("weighted_average_fixed",
     lambda: layers.WeightedAverage(fusion_weights=[0.7, 0.3], learnable=False), (4, 4),
     weighted_average_reference, lambda dims: 0),
    ("product", lambda: layers.Product(), (5, 5, 5), product_reference, lambda dims: 0),
    ("product_projected", lambda: layers.Product(units=4), (3, 6), product_reference,
     lambda dims: _projections(dims, 4)),
    ("concatenate", lambda: layers.Concatenate(), (3, 5, 2), concatenate_reference,
     lambda dims: 0),
    ("concatenate_projected", lambda: layers.Concatenate(units=4, activation="relu"), (3, 5),
     concatenate_reference, lambda dims: sum(dims) * 4 + 4),
    ("bilinear", lambda: layers.Bilinear(units=3), (3, 5), bilinear_reference,
     lambda dims: 3 * dims[0] * dims[1] + 3),
    ("attention", lambda: layers.AttentionFusion(attention_units=5), (4, 4, 4),
     attention_reference, lambda dims: dims[0] * 5 + 2 * 5),
    ("attention_projected", lambda: layers.AttentionFusion(units=6, attention_units=5), (3, 5),
     attention_reference, lambda dims: _projections(dims, 6) + 6 * 5 + 2 * 5),
    ("tensor", lambda: layers.TensorFusion(), (2, 3, 4), tensor_reference, lambda dims: 0),
    ("low_rank", lambda: layers.LowRankFusion(units=4, rank=3), (3, 5), low_rank_reference,
     lambda dims: 3 * 4 * sum(d + 1 for d in dims) + 4),
    ("low_rank_three", lambda: layers.LowRankFusion(units=2, rank=2), (2, 3, 4),
     low_rank_reference, lambda dims: 2 * 2 * sum(d + 1 for d in dims) + 2),
    ("gated", lambda: layers.GatedFusion(units=4), (3, 5), gated_reference,
     lambda dims: _projections(dims, 4) + len(dims) * (sum(dims) * 4 + 4)),
    ("gated_three", lambda: layers.GatedFusion(units=3), (2, 3, 4), gated_reference,
     lambda dims: _projections(dims, 3) + len(dims) * (sum(dims) * 3 + 3)),
]
CASE_IDS = [case[0] for case in CASES]
BATCH = 7


def _inputs(dims, seed=0):
    rng = np.random.default_rng(seed)
    features = [rng.normal(size=(BATCH, d)).astype("float32") for d in dims]
    presence = rng.random((BATCH, len(dims))) < 0.6
    presence[np.arange(BATCH), rng.integers(0, len(dims), BATCH)] = True  # one present per row
    presence[0] = True  # one row with everything present
    return features, presence.astype("float32")


def _built_layer(factory, dims, seed=1):
    """A layer built for ``dims`` whose weights are all random (biases too, not zeros)."""
    layer = factory()
    layer.build([(None, d) for d in dims])
    rng = np.random.default_rng(seed)
    layer.set_weights([0.5 * rng.normal(size=w.shape) for w in layer.get_weights()])
    return layer


def _fused(output):
    return output[0] if isinstance(output, tuple) else output


@pytest.mark.parametrize("with_presence", [False, True], ids=["all_present", "masked"])
@pytest.mark.parametrize("name, factory, dims, reference, count", CASES, ids=CASE_IDS)
def test_layer_matches_numpy_reference(name, factory, dims, reference, count, with_presence):
    layer = _built_layer(factory, dims)
    features, presence = _inputs(dims)
    presence = presence if with_presence else None
    expected = reference(layer, [f.astype(np.float64) for f in features], presence)
    got = np.asarray(_fused(layer(features, presence=presence)))
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name, factory, dims, reference, count", CASES, ids=CASE_IDS)
def test_parameter_count_formula(name, factory, dims, reference, count):
    layer = _built_layer(factory, dims)
    assert layer.count_params() == count(dims)
    assert layer.expected_parameter_count(dims) == count(dims)


@pytest.mark.parametrize("name, factory, dims, reference, count", CASES, ids=CASE_IDS)
def test_get_config_recreates_the_same_layer(name, factory, dims, reference, count):
    layer = _built_layer(factory, dims)
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    clone.build([(None, d) for d in dims])
    clone.set_weights(layer.get_weights())
    features, presence = _inputs(dims, seed=3)
    np.testing.assert_allclose(
        np.asarray(_fused(clone(features, presence=presence))),
        np.asarray(_fused(layer(features, presence=presence))),
        rtol=1e-6,
    )


@pytest.mark.parametrize("name, factory, dims, reference, count", CASES, ids=CASE_IDS)
def test_keras_file_round_trip(name, factory, dims, reference, count, tmp_path):
    feature_inputs = [keras.Input((d,), name=f"modality_{i}") for i, d in enumerate(dims)]
    presence_input = keras.Input((len(dims),), name="presence")
    fused = factory()(feature_inputs, presence=presence_input)
    outputs = keras.layers.Dense(2)(_fused(fused))
    model = keras.Model([*feature_inputs, presence_input], outputs)
    rng = np.random.default_rng(5)
    model.set_weights([0.5 * rng.normal(size=w.shape) for w in model.get_weights()])
    features, presence = _inputs(dims, seed=4)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(fused_layer(loaded)) is type(fused_layer(model))
    assert fused_layer(loaded).get_config() == fused_layer(model).get_config()
    np.testing.assert_allclose(
        loaded.predict([*features, presence], verbose=0),
        model.predict([*features, presence], verbose=0),
        rtol=1e-6,
    )


def fused_layer(model):
    return next(layer for layer in model.layers if isinstance(layer, layers._FusionLayer))


# -- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name, factory, dims, reference, count", CASES, ids=CASE_IDS)
def test_bad_shapes_raise_clear_value_errors(name, factory, dims, reference, count):
    features, presence = _inputs(dims)
    with pytest.raises(ValueError, match="list of feature tensors"):
        factory()(features[0])
    with pytest.raises(ValueError, match="feature tensors"):
        factory()(features[:1])
    with pytest.raises(ValueError, match="rank 2"):
        factory()([features[0][:, :, None], *features[1:]])
    with pytest.raises(ValueError, match="same batch size"):
        factory()([features[0][:3], *features[1:]])
    with pytest.raises(ValueError, match="presence must have shape"):
        factory()(features, presence=presence[:, :1])
    with pytest.raises(ValueError, match="presence must have shape"):
        factory()(features, presence=presence[:, :, None])
    built = factory()
    built(features)
    with pytest.raises(ValueError, match="was built for"):
        built([np.ones((BATCH, d + 1), "float32") for d in dims])


def test_bilinear_takes_exactly_two_inputs():
    features, _ = _inputs((3, 3, 3))
    with pytest.raises(ValueError, match="exactly 2"):
        layers.Bilinear()(features)


@pytest.mark.parametrize(
    "layer_class", [layers.WeightedAverage, layers.Product, layers.AttentionFusion]
)
def test_unequal_sizes_need_units(layer_class):
    features, _ = _inputs((3, 5))
    with pytest.raises(ValueError, match="units="):
        layer_class()(features)


@pytest.mark.parametrize(
    "make",
    [
        lambda: layers.LowRankFusion(units=0),
        lambda: layers.LowRankFusion(units=4, rank=0),
        lambda: layers.GatedFusion(units=-1),
        lambda: layers.WeightedAverage(normalization="l1"),
        lambda: layers.WeightedAverage(fusion_weights=[0.5, -0.5]),
        lambda: layers.WeightedAverage(learnable=False),
        lambda: layers.Concatenate(units=0),
    ],
)
def test_bad_options_raise(make):
    with pytest.raises(ValueError):
        make()


def test_weighted_average_weight_count_must_match_inputs():
    features, _ = _inputs((4, 4, 4))
    with pytest.raises(ValueError, match="fusion_weights"):
        layers.WeightedAverage(fusion_weights=[0.5, 0.5])(features)


# -- behaviour worth its own test ----------------------------------------------------------------


def test_fixed_weighted_average_is_alpha_f1_plus_beta_f2():
    features, _ = _inputs((4, 4))
    layer = layers.WeightedAverage(fusion_weights=[0.7, 0.3], learnable=False)
    got = np.asarray(layer(features))
    np.testing.assert_allclose(got, 0.7 * features[0] + 0.3 * features[1], rtol=1e-5, atol=1e-6)
    assert layer.trainable_weights == []


def test_attention_gives_missing_modalities_exactly_zero_weight():
    dims = (3, 5, 4)
    layer = _built_layer(lambda: layers.AttentionFusion(units=4, return_attention=True), dims)
    features, presence = _inputs(dims)
    presence[-1] = 0.0  # no modality at all in the last row
    fused, attention = (np.asarray(t) for t in layer(features, presence=presence))
    assert attention.shape == (BATCH, 3)
    assert np.all(attention[presence == 0] == 0.0)
    np.testing.assert_allclose(attention[:-1].sum(axis=1), 1.0, rtol=1e-6)
    assert np.all(attention[presence[:, 0] > 0, 0] > 0)
    np.testing.assert_array_equal(fused[-1], 0.0)
    # a missing modality's features do not matter at all
    changed = [f.copy() for f in features]
    changed[1][presence[:, 1] == 0] = 1000.0
    fused_changed, _ = (np.asarray(t) for t in layer(changed, presence=presence))
    np.testing.assert_allclose(fused_changed, fused, rtol=1e-6)


def test_weighted_average_renormalises_over_present_modalities():
    features, _ = _inputs((4, 4, 4))
    layer = layers.WeightedAverage(fusion_weights=[0.5, 0.3, 0.2], learnable=False)
    presence = np.ones((BATCH, 3), "float32")
    presence[:, 1] = 0.0
    got = np.asarray(layer(features, presence=presence))
    expected = (0.5 * features[0] + 0.2 * features[2]) / 0.7
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_bilinear_with_identity_kernel_is_keras_dot():
    features, _ = _inputs((6, 6))
    layer = layers.Bilinear(units=1)
    layer.build([(None, 6), (None, 6)])
    layer.set_weights([np.eye(6)[None], np.zeros(1)])
    dot = keras.layers.Dot(axes=1)(features)
    assert tuple(dot.shape) == (BATCH, 1)  # one number per sample
    np.testing.assert_allclose(np.asarray(layer(features)), np.asarray(dot), rtol=1e-5)


def _full_kernel_from_factors(factors):
    """``W[:, k] = Σ_r vec(W_1^(r)[:, k] ⊗ W_2^(r)[:, k] ⊗ ...)``, shape (Π (d_i + 1), units)."""
    rank, _, units = factors[0].shape
    kernel = np.zeros((int(np.prod([f.shape[1] for f in factors])), units))
    for k in range(units):
        for r in range(rank):
            outer = np.ones(1)
            for factor in factors:
                outer = np.outer(outer, factor[r, :, k]).ravel()
            kernel[:, k] += outer
    return kernel


@pytest.mark.parametrize("dims, rank", [((3, 5), 2), ((2, 3, 4), 3)])
def test_low_rank_fusion_is_tensor_fusion_then_a_linear_map(dims, rank):
    layer = _built_layer(lambda: layers.LowRankFusion(units=4, rank=rank), dims)
    weights = _weights(layer)
    factors = [weights[f"factor_{i}"] for i in range(len(dims))]
    features, _ = _inputs(dims)
    tensor = np.asarray(layers.TensorFusion()(features), dtype=np.float64)
    expected = tensor @ _full_kernel_from_factors(factors) + weights["bias"]
    np.testing.assert_allclose(np.asarray(layer(features)), expected, rtol=1e-4, atol=1e-5)


def test_low_rank_with_full_rank_reproduces_any_dense_on_tensor_fusion():
    dims, units = (3, 4), 2
    rank = min(d + 1 for d in dims)  # the matrix rank of a (d1+1, d2+1) slice
    rng = np.random.default_rng(7)
    dense_kernel = rng.normal(size=((dims[0] + 1) * (dims[1] + 1), units))
    first = np.zeros((rank, dims[0] + 1, units))
    second = np.zeros((rank, dims[1] + 1, units))
    for k in range(units):  # an SVD of each output's (d1+1, d2+1) slice gives the factors
        left, singular, right = np.linalg.svd(dense_kernel[:, k].reshape(dims[0] + 1, dims[1] + 1))
        first[:, :, k] = (left[:, :rank] * singular[:rank]).T
        second[:, :, k] = right[:rank]
    layer = layers.LowRankFusion(units=units, rank=rank)
    layer.build([(None, d) for d in dims])
    layer.set_weights([first, second, np.zeros(units)])
    features, _ = _inputs(dims)
    tensor_then_dense = np.asarray(layers.TensorFusion()(features), np.float64) @ dense_kernel
    np.testing.assert_allclose(np.asarray(layer(features)), tensor_then_dense, rtol=1e-4,
                               atol=1e-4)
    low = layers.LowRankFusion(units=units, rank=1)
    low.build([(None, d) for d in dims])
    low.set_weights([first[:1], second[:1], np.zeros(units)])
    assert not np.allclose(np.asarray(low(features)), tensor_then_dense, atol=1e-3)


def test_tensor_fusion_output_size_blows_up():
    assert layers.TensorFusion.output_size([64, 64, 64]) == 65**3
    assert layers.TensorFusion()(_inputs((2, 3, 4))[0]).shape == (BATCH, 3 * 4 * 5)


def test_product_ignores_missing_modalities():
    features, _ = _inputs((4, 4, 4))
    presence = np.ones((BATCH, 3), "float32")
    presence[:, 2] = 0.0
    got = np.asarray(layers.Product()(features, presence=presence))
    np.testing.assert_allclose(got, features[0] * features[1], rtol=1e-6)


def test_learned_weighted_average_moves_towards_the_informative_modality():
    """Training pulls α towards the modality that carries the label (real Keras training)."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 512)
    informative = (labels[:, None] * 2.0 - 1.0 + 0.3 * rng.normal(size=(512, 4))).astype("f4")
    noise = rng.normal(size=(512, 4)).astype("float32")
    inputs = [keras.Input((4,)), keras.Input((4,))]
    fusion = layers.WeightedAverage()
    outputs = keras.layers.Dense(1, activation="sigmoid")(fusion(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="binary_crossentropy")
    model.fit([noise, informative], labels, epochs=10, batch_size=64, verbose=0)
    alpha = np.asarray(fusion.modality_weights())
    assert alpha[1] > 0.6, alpha


def test_importing_the_package_does_not_import_tensorflow():
    code = (
        "import sys, mmcourse.fusion as fusion; fusion.reference.tensor_fusion; "
        "fusion.average_probabilities; print('tensorflow' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"


# -- edge rows and mixed precision (the layer table again, float32 and float16) ----------------


@pytest.mark.parametrize("dtype", ["float32", "mixed_float16"])
@pytest.mark.parametrize("name, factory, dims, reference, count", CASES, ids=CASE_IDS)
def test_a_row_with_every_modality_missing_stays_finite(name, factory, dims, reference, count,
                                                        dtype):
    """Under ``mixed_float16`` a constant epsilon such as 1e-12 is 0: 0/0 for an empty row."""
    import tensorflow as tf

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(dtype)
    try:
        layer = _built_layer(factory, dims)
    finally:
        keras.config.set_dtype_policy(previous)
    features, presence = _inputs(dims)
    presence[1] = 0.0  # row 1: nothing present
    tensors = [tf.convert_to_tensor(f) for f in features]
    with tf.GradientTape() as tape:
        tape.watch(tensors)
        fused = _fused(layer(tensors, presence=presence))
        loss = tf.reduce_sum(tf.cast(fused, "float32"))
    assert fused.dtype.name == ("float16" if dtype == "mixed_float16" else "float32")
    values = np.asarray(fused, dtype=np.float64)
    assert np.all(np.isfinite(values)), f"{name} ({dtype}) gives {values[1]} for an empty row"
    gradients = tape.gradient(loss, [*tensors, *layer.trainable_variables])
    assert all(np.all(np.isfinite(np.asarray(g, np.float64))) for g in gradients if g is not None)
    if name.startswith(("weighted_average", "attention")):  # renormalised weights: none present
        np.testing.assert_array_equal(values[1], 0.0)


def test_presence_must_be_zero_or_one_in_eager_calls():
    features, _ = _inputs((4, 4))
    for layer in (layers.WeightedAverage(), layers.Concatenate(), layers.TensorFusion()):
        with pytest.raises(ValueError, match=r"presence.*0\.5"):
            layer(features, presence=np.full((BATCH, 2), 0.5, np.float32))
        with pytest.raises(ValueError, match="presence must have shape"):
            layer(features, presence=np.ones((BATCH + 1, 2), np.float32))
        assert np.all(np.isfinite(np.asarray(layer(features, presence=np.ones((BATCH, 2), bool)))))


def test_fixed_weights_that_do_not_sum_to_one_need_normalization_none():
    features, _ = _inputs((4, 4))
    with pytest.raises(ValueError, match="normalization='none'"):
        layers.WeightedAverage(fusion_weights=[2, 1], learnable=False)
    layer = layers.WeightedAverage(fusion_weights=[2, 1], learnable=False, normalization="none")
    np.testing.assert_allclose(np.asarray(layer(features)), 2 * features[0] + features[1],
                               rtol=1e-5, atol=1e-5)


def test_concatenate_is_not_keras_concatenate():
    with pytest.raises(TypeError, match="keras.layers.Concatenate"):
        layers.Concatenate(axis=1)
    with pytest.raises(TypeError):
        layers.Concatenate(1)  # options are keyword-only: Concatenate(1) cannot mean units=1


def test_numpy_integers_are_accepted_as_units():
    layer = layers.LowRankFusion(units=np.int64(3), rank=np.int32(2))
    assert (layer.units, layer.rank) == (3, 2) and type(layer.units) is int
