"""Output shapes and behaviour of the clip encoders in mmcourse.features.video."""

import numpy as np
import pytest

from mmcourse.features import video

BUILDERS = [video.build_timedistributed_lstm_encoder, video.build_conv3d_encoder]


@pytest.mark.parametrize("builder", BUILDERS)
@pytest.mark.parametrize("input_shape, feature_dim",
                         [((8, 16, 16, 1), 32), ((4, 8, 8, 1), 10), ((5, 12, 20, 1), 3)])
def test_encoder_output_shapes(builder, input_shape, feature_dim):
    model = builder(feature_dim, input_shape, filters=(4, 8))
    clips = np.random.default_rng(0).random((2, *input_shape), dtype=np.float32)
    features = np.asarray(model(clips))
    assert features.shape == (2, feature_dim)
    assert np.isfinite(features).all()


def test_timedistributed_encoder_sees_frame_order():
    """The LSTM reads frames in order: reversing time changes the features (a bag of frames would not)."""
    model = video.build_timedistributed_lstm_encoder(16, (6, 8, 8, 1), filters=(4,))
    clips = np.random.default_rng(1).random((1, 6, 8, 8, 1), dtype=np.float32)
    forward = np.asarray(model(clips))
    backward = np.asarray(model(clips[:, ::-1]))
    assert not np.allclose(forward, backward)


@pytest.mark.parametrize("builder", BUILDERS)
def test_bad_shapes_are_rejected(builder):
    with pytest.raises(ValueError, match="input_shape"):
        builder(8, (16, 16, 1))
    with pytest.raises(ValueError, match="feature_dim"):
        builder(0, (4, 8, 8, 1))


@pytest.mark.parametrize("builder", BUILDERS)
def test_encoders_take_mmdigits_video_clips(builder):
    from mmcourse.data import load_mmdigits, make_video

    clips = make_video(load_mmdigits("test", image_noise=0, image_occlusion=0).image[:4])
    model = builder(12, clips.shape[1:], filters=(4, 8))
    features = np.asarray(model(clips))
    assert features.shape == (4, 12) and np.isfinite(features).all()


def test_frames_as_batch_matches_keras_timedistributed(tmp_path):
    """Folding time into the batch gives Keras's TimeDistributed outputs, with the same weights."""
    import keras

    frame_cnn = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(3, 3, activation="relu"),
                                  keras.layers.Flatten(), keras.layers.Dense(5)])
    inputs = keras.Input((6, 8, 8, 1))
    folded = keras.Model(inputs, video.frames_as_batch(frame_cnn, name="folded")(inputs))
    looped = keras.Model(inputs, keras.layers.TimeDistributed(frame_cnn)(inputs))
    clips = np.random.default_rng(2).random((3, 6, 8, 8, 1), dtype=np.float32)
    expected = np.stack([np.asarray(frame_cnn(clips[:, step])) for step in range(6)], axis=1)
    assert isinstance(folded.get_layer("folded"), keras.layers.TimeDistributed)
    assert folded.count_params() == looped.count_params() == frame_cnn.count_params()
    np.testing.assert_allclose(np.asarray(folded(clips)), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(looped(clips)), expected, rtol=1e-5, atol=1e-6)
    path = tmp_path / "folded.keras"
    folded.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded.get_layer("folded")).__name__ == "FoldedTimeDistributed"
    np.testing.assert_allclose(np.asarray(loaded(clips)), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError, match="layer"):
        video.frames_as_batch("conv")


def test_frame_cnn_encoders_fold_time_into_the_batch():
    """Both frame-CNN encoders run their CNN once per batch (FoldedTimeDistributed), not per frame."""
    for builder in (video.build_frame_average_encoder, video.build_timedistributed_lstm_encoder):
        model = builder(8, (4, 8, 8, 1), filters=(4,))
        assert type(model.get_layer("per_frame_cnn")).__name__ == "FoldedTimeDistributed"
