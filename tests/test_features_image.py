"""Shapes and behaviour of the image encoders in mmcourse.features.image."""

import numpy as np
import pytest

from mmcourse.features import image


@pytest.mark.parametrize(
    "size, kernel, stride, padding, expected",
    [(8, 3, 1, "valid", 6), (8, 3, 1, "same", 8), (8, 2, 2, "valid", 4), (7, 2, 2, "valid", 3),
     (7, 3, 2, "same", 4), (28, 5, 1, "valid", 24)],
)
def test_conv_output_shape_formula(size, kernel, stride, padding, expected):
    assert image.conv_output_shape(size, kernel, stride, padding) == expected


def test_conv_output_shape_rejects_bad_input():
    with pytest.raises(ValueError, match="does not fit"):
        image.conv_output_shape(2, 3)
    with pytest.raises(ValueError, match="padding"):
        image.conv_output_shape(8, 3, padding="full")
    with pytest.raises(TypeError):
        image.conv_output_shape(8.0, 3)
    with pytest.raises(ValueError):
        image.conv_output_shape(8, 0)


@pytest.mark.parametrize(
    "input_shape, filters, padding, feature_dim",
    [((8, 8, 1), (16, 32), "same", 32), ((8, 8, 1), (8,), "valid", 10),
     ((16, 12, 3), (4, 8), "valid", 7), ((28, 28, 1), (8, 16), "same", 64)],
)
def test_cnn_encoder_shapes_match_arithmetic(input_shape, filters, padding, feature_dim):
    model = image.build_cnn_encoder(feature_dim, input_shape, filters=filters, padding=padding)
    batch = np.random.default_rng(0).random((3, *input_shape), dtype=np.float32)
    features = np.asarray(model(batch))
    assert features.shape == (3, feature_dim)
    arithmetic = image.cnn_output_shapes(input_shape, filters, padding=padding,
                                         feature_dim=feature_dim)
    by_name = {layer.name: tuple(layer.output.shape[1:]) for layer in model.layers}
    assert by_name["flatten"] == arithmetic[-2][1]
    conv_shapes = [shape for label, shape in arithmetic if label.startswith("conv")]
    assert conv_shapes == [by_name[f"conv{i + 1}"] for i in range(len(filters))]
    pool_shapes = [shape for label, shape in arithmetic if label.startswith("pool")]
    assert pool_shapes == [by_name[f"pool{i + 1}"] for i in range(len(filters))]


def test_cnn_encoder_default_is_sized_for_8x8():
    shapes = dict(image.cnn_output_shapes())
    assert shapes["flatten"] == (128,)
    model = image.build_cnn_encoder()
    assert model.output.shape[1:] == (32,)


def test_cnn_encoder_rejects_windows_that_do_not_fit():
    with pytest.raises(ValueError, match="does not fit"):
        image.build_cnn_encoder(8, (4, 4, 1), filters=(4, 4, 4), padding="valid")
    with pytest.raises(ValueError, match="input_shape"):
        image.build_cnn_encoder(8, (8, 8))


@pytest.mark.parametrize("input_shape, feature_dim", [((8, 8, 1), 10), ((5, 3, 2), 4)])
def test_linear_encoder_is_wx_plus_b(input_shape, feature_dim):
    model = image.build_linear_encoder(feature_dim, input_shape)
    batch = np.random.default_rng(1).random((4, *input_shape), dtype=np.float32)
    kernel, bias = model.get_layer("features").get_weights()
    assert kernel.shape == (int(np.prod(input_shape)), feature_dim)
    bias = np.random.default_rng(2).normal(size=bias.shape).astype(np.float32)
    model.get_layer("features").set_weights([kernel, bias])
    expected = batch.reshape(4, -1) @ kernel + bias
    np.testing.assert_allclose(np.asarray(model(batch)), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "input_shape, filters, kernel, padding, feature_dim",
    [((8, 8, 1), (16, 32), 3, "same", 32), ((8, 8, 1), (4,), 3, "valid", 10),
     ((16, 12, 3), (4, 8), 5, "same", 7)],
)
def test_parameter_count_arithmetic_matches_keras(input_shape, filters, kernel, padding,
                                                  feature_dim):
    model = image.build_cnn_encoder(feature_dim, input_shape, filters=filters,
                                    kernel_size=kernel, padding=padding)
    assert image.cnn_parameter_count(input_shape, filters, kernel, 2, padding,
                                     feature_dim) == model.count_params()
