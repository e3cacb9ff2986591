"""NumPy reference fusion formulas: hand-computed cases, properties, and clear shape errors."""

from __future__ import annotations

import numpy as np
import pytest

from mmcourse.fusion import reference as ref


def test_weighted_average_hand_computed():
    f1 = np.array([1.0, 2.0, 3.0])
    f2 = np.array([10.0, 20.0, 30.0])
    np.testing.assert_allclose(ref.weighted_average([f1, f2], [0.25, 0.5]), [5.25, 10.5, 15.75])


def test_weighted_average_batch_and_three_modalities():
    rng = np.random.default_rng(0)
    features = [rng.normal(size=(4, 3)) for _ in range(3)]
    weights = [0.2, 0.3, 0.5]
    expected = 0.2 * features[0] + 0.3 * features[1] + 0.5 * features[2]
    np.testing.assert_allclose(ref.weighted_average(features, weights), expected)


def test_weighted_average_errors():
    with pytest.raises(ValueError, match="same shape"):
        ref.weighted_average([np.ones(3), np.ones(4)], [0.5, 0.5])
    with pytest.raises(ValueError, match="one number per modality"):
        ref.weighted_average([np.ones(3), np.ones(3)], [0.5, 0.25, 0.25])
    with pytest.raises(TypeError, match="list of arrays"):
        ref.weighted_average(np.ones((2, 3)), [0.5, 0.5])
    with pytest.raises(ValueError, match="at least one"):
        ref.weighted_average([], [])


def test_product_hand_computed_and_shape_error():
    np.testing.assert_allclose(ref.product([[1.0, 2.0], [3.0, -4.0], [2.0, 0.5]]), [6.0, -4.0])
    with pytest.raises(ValueError, match="same shape"):
        ref.product([np.ones((2, 3)), np.ones((3, 3))])


def test_concatenate_shapes_and_errors():
    np.testing.assert_allclose(ref.concatenate([[1.0], [2.0, 3.0]]), [1.0, 2.0, 3.0])
    assert ref.concatenate([np.ones((5, 2)), np.zeros((5, 7))]).shape == (5, 9)
    with pytest.raises(ValueError, match="batch size"):
        ref.concatenate([np.ones((5, 2)), np.zeros((4, 7))])
    with pytest.raises(ValueError, match="all batches"):
        ref.concatenate([np.ones((5, 2)), np.zeros(7)])
    with pytest.raises(ValueError, match=r"\(d,\) or \(batch, d\)"):
        ref.concatenate([np.ones((2, 2, 2))])


def test_softmax_hand_computed_stable_and_normalised():
    np.testing.assert_allclose(ref.softmax([0.0, np.log(3.0)]), [0.25, 0.75])
    large = ref.softmax([1000.0, 1000.0, 1000.0])
    np.testing.assert_allclose(large, [1 / 3] * 3)
    rng = np.random.default_rng(1)
    scores = rng.normal(size=(6, 4)) * 50
    np.testing.assert_allclose(ref.softmax(scores).sum(axis=-1), np.ones(6))
    np.testing.assert_allclose(ref.softmax(scores, axis=0).sum(axis=0), np.ones(4))
    # shift invariance
    np.testing.assert_allclose(ref.softmax(scores + 7.0), ref.softmax(scores))
    with pytest.raises(ValueError, match="scalar"):
        ref.softmax(3.0)


def test_attention_weights_mask_gives_zero_weight():
    weights = ref.attention_weights([[1.0, 2.0, 3.0]], mask=[[True, False, True]])
    assert weights[0, 1] == 0.0
    np.testing.assert_allclose(weights[0, [0, 2]], ref.softmax([1.0, 3.0]))
    with pytest.raises(ValueError, match="at least one present"):
        ref.attention_weights([1.0, 2.0], mask=[False, False])
    with pytest.raises(ValueError, match="shape of scores"):
        ref.attention_weights([[1.0, 2.0]], mask=[True, False])


def test_attention_sum_per_sample():
    f1 = np.array([[1.0, 0.0], [2.0, 2.0]])
    f2 = np.array([[0.0, 1.0], [4.0, 0.0]])
    weights = np.array([[0.5, 0.5], [0.25, 0.75]])
    np.testing.assert_allclose(ref.attention_sum([f1, f2], weights), [[0.5, 0.5], [3.5, 0.5]])
    with pytest.raises(ValueError, match="one weight per modality per sample"):
        ref.attention_sum([f1, f2], [0.5, 0.5])


def test_tensor_fusion_hand_computed():
    fused = ref.tensor_fusion([[2.0], [3.0, 5.0]])
    # [2, 1] ⊗ [3, 5, 1] = [6, 10, 2, 3, 5, 1]
    np.testing.assert_allclose(fused, [6.0, 10.0, 2.0, 3.0, 5.0, 1.0])


def test_tensor_fusion_shape_and_contains_unimodal_features():
    rng = np.random.default_rng(2)
    features = [rng.normal(size=(3, d)) for d in (2, 3, 4)]
    fused = ref.tensor_fusion(features)
    assert fused.shape == (3, 3 * 4 * 5)
    np.testing.assert_allclose(fused[:, -1], 1.0)
    cube = fused.reshape(3, 3, 4, 5)
    np.testing.assert_allclose(cube[:, :2, -1, -1], features[0])  # f1 survives thanks to the 1s
    np.testing.assert_allclose(cube[:, -1, -1, :4], features[2])
    with pytest.raises(ValueError, match="batch size"):
        ref.tensor_fusion([np.ones((2, 3)), np.ones((3, 3))])
