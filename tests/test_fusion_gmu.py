"""GatedFusion(competing=True) is the gated multimodal unit of Arevalo et al. (2017).

The paper's bimodal GMU: ``h_i = tanh(f_i W_i + b_i)``, ``z = σ([f_1, f_2] W_z + b_z)``,
output ``z ⊙ h_1 + (1 − z) ⊙ h_2``. Checked here against a NumPy reference written from the
paper (reading the layer's weights), with and without a presence mask, plus its parameter
count, config, ``.keras`` round trip, its (−1, 1) range, and the default (non-competing) form's
documented difference: with two modalities it can leave that range.
"""

import keras
import numpy as np
import pytest

from mmcourse.fusion import layers

DIMS = (3, 5)
UNITS = 4
BATCH = 9


def _sigmoid(values):
    return 1.0 / (1.0 + np.exp(-values))


def gmu_reference(weights, features, presence=None):
    """The paper's GMU in NumPy; a missing modality gives its gate to the other one."""
    first, second = (np.asarray(f, np.float64) for f in features)
    if presence is not None:
        first, second = first * presence[:, :1], second * presence[:, 1:]
    h1 = np.tanh(first @ weights["projection_kernel_0"] + weights["projection_bias_0"])
    h2 = np.tanh(second @ weights["projection_kernel_1"] + weights["projection_bias_1"])
    z = _sigmoid(np.concatenate([first, second], axis=1) @ weights["gate_kernel_0"]
                 + weights["gate_bias_0"])
    if presence is None:
        return z * h1 + (1 - z) * h2
    both = presence[:, :1] * presence[:, 1:]
    only_first = presence[:, :1] * (1 - presence[:, 1:])
    only_second = (1 - presence[:, :1]) * presence[:, 1:]
    return both * (z * h1 + (1 - z) * h2) + only_first * h1 + only_second * h2


def _layer(competing=True, scale=0.5, seed=1):
    layer = layers.GatedFusion(units=UNITS, competing=competing)
    layer.build([(None, d) for d in DIMS])
    rng = np.random.default_rng(seed)
    layer.set_weights([scale * rng.normal(size=w.shape) for w in layer.get_weights()])
    return layer


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    features = [rng.normal(size=(BATCH, d)).astype("float32") for d in DIMS]
    presence = np.array([[1, 1], [1, 0], [0, 1], [0, 0], [1, 1], [1, 0], [0, 1], [1, 1],
                         [1, 1]], dtype="float32")
    return features, presence


def _weights(layer):
    return {v.name: np.asarray(v, dtype=np.float64) for v in layer.weights}


@pytest.mark.parametrize("masked", [False, True], ids=["all_present", "masked"])
def test_competing_gated_fusion_is_the_papers_gmu(masked):
    layer = _layer()
    features, presence = _inputs()
    presence = presence if masked else None
    expected = gmu_reference(_weights(layer), features, presence)
    got = np.asarray(layer(features, presence=presence))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    gates = [np.asarray(g) for g in layer.gates(features, presence=presence)]
    if not masked:
        np.testing.assert_allclose(gates[0] + gates[1], 1.0, atol=1e-6)  # z and 1 − z


def test_competing_gates_keep_the_output_in_minus_one_one_and_the_default_does_not():
    features, _ = _inputs()
    big = [10 * f for f in features]
    competing = np.asarray(_layer(competing=True, scale=3.0)(big))
    assert np.abs(competing).max() <= 1.0  # a convex mix of two tanh values (float32 may round to 1)
    independent = _layer(competing=False, scale=3.0)
    # open both independent gates fully: the two tanh outputs add up, beyond the GMU's range
    weights = independent.get_weights()
    names = [v.name for v in independent.weights]
    for index, name in enumerate(names):
        if name.startswith("gate_kernel"):
            weights[index] = np.zeros_like(weights[index])
        elif name.startswith("gate_bias"):
            weights[index] = np.full_like(weights[index], 20.0)
        elif name.startswith("projection_bias"):
            weights[index] = np.full_like(weights[index], 5.0)
    independent.set_weights(weights)
    assert np.asarray(independent(big)).max() > 1.5


def test_competing_parameter_count_config_and_keras_file(tmp_path):
    layer = _layer()
    projections = sum(d * UNITS + UNITS for d in DIMS)
    assert layer.count_params() == projections + sum(DIMS) * UNITS + UNITS
    assert layer.count_params() == layer.expected_parameter_count(list(DIMS))
    default = layers.GatedFusion(units=UNITS)
    assert default.expected_parameter_count(list(DIMS)) == projections + 2 * (
        sum(DIMS) * UNITS + UNITS)
    clone = layers.GatedFusion.from_config(layer.get_config())
    assert clone.competing is True and clone.units == UNITS
    inputs = [keras.Input(shape=(d,)) for d in DIMS]
    model = keras.Model(inputs, layers.GatedFusion(units=UNITS, competing=True)(inputs))
    features, _ = _inputs()
    path = tmp_path / "gmu.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(np.asarray(loaded(features)), np.asarray(model(features)),
                               atol=1e-6)
    assert loaded.layers[-1].competing is True


def test_competing_needs_two_modalities_and_a_bool():
    rng = np.random.default_rng(0)
    three = [rng.normal(size=(2, 3)).astype("float32") for _ in range(3)]
    with pytest.raises(ValueError, match="exactly 2 modalities"):
        layers.GatedFusion(units=2, competing=True)(three)
    with pytest.raises(TypeError, match="competing must be True or False"):
        layers.GatedFusion(units=2, competing="yes")
