"""mmcourse.temporal: Conv3D arithmetic against Keras, frame-rate alignment, masked pooling,
multiply-adds of the clip encoders; the two-digit clips of lesson 12."""

import numpy as np
import pytest

from mmcourse import temporal
from mmcourse.data.video import make_two_digit_clips

LAYERS = [((8, 16, 16, 1), 8, 3, 1, "same"), ((8, 16, 16, 1), 8, 3, 1, "valid"),
          ((8, 16, 16, 1), 4, (2, 3, 3), (2, 1, 1), "valid"), ((4, 8, 8, 8), 16, 3, 2, "same"),
          ((7, 15, 13, 3), 5, (3, 5, 1), (2, 3, 1), "same"), ((6, 9, 9, 2), 3, (1, 4, 2), (1, 2, 3), "valid")]


@pytest.mark.parametrize("clip_shape, filters, kernel, strides, padding", LAYERS)
def test_conv3d_arithmetic_matches_keras(clip_shape, filters, kernel, strides, padding):
    import keras

    layer = keras.layers.Conv3D(filters, kernel, strides=strides, padding=padding)
    output = layer(keras.Input(clip_shape))
    assert temporal.conv3d_output_shape(clip_shape, filters, kernel, strides, padding) == tuple(output.shape[1:])
    assert temporal.conv3d_parameter_count(clip_shape[-1], filters, kernel) == layer.count_params()
    kernel3 = (kernel,) * 3 if isinstance(kernel, int) else kernel
    expected_macs = int(np.prod(output.shape[1:])) * int(np.prod(kernel3)) * clip_shape[-1]
    assert temporal.conv3d_multiply_adds(clip_shape, filters, kernel, strides, padding) == expected_macs


def test_multiply_adds_of_the_encoders_by_hand():
    from mmcourse.features import video

    shape = (8, 16, 16, 1)
    conv3d = video.build_conv3d_encoder(32, shape, spatial_pooling="flatten")
    by_hand = (8 * 16 * 16 * 8 * 27 * 1 + 4 * 8 * 8 * 16 * 27 * 8 + 2 * 4 * 4 * 16 * 32)
    assert temporal.multiply_adds(conv3d) == by_hand
    frames = video.build_frame_average_encoder(32, shape, spatial_pooling="flatten")
    per_frame = 16 * 16 * 8 * 9 + 8 * 8 * 16 * 9 * 8 + 4 * 4 * 16 * 32
    assert temporal.multiply_adds(frames) == 8 * per_frame + 32 * 32
    lstm = video.build_timedistributed_lstm_encoder(32, shape, spatial_pooling="flatten")
    assert temporal.multiply_adds(lstm) == 8 * per_frame + 8 * 4 * (32 + 32) * 32 + 32 * 32
    assert lstm.get_layer("lstm").count_params() == temporal.lstm_parameter_count(32, 32)
    with pytest.raises(TypeError, match="model"):
        temporal.multiply_adds("conv3d")


def test_frame_average_encoder_ignores_frame_order():
    from mmcourse.features import video

    model = video.build_frame_average_encoder(8, (5, 8, 8, 1), filters=(4,))
    clips = np.random.default_rng(0).random((2, 5, 8, 8, 1), dtype=np.float32)
    assert np.allclose(model(clips), model(clips[:, ::-1]), atol=1e-6)
    with pytest.raises(ValueError, match="spatial_pooling"):
        video.build_conv3d_encoder(8, (4, 8, 8, 1), spatial_pooling="max")


def _brute_force_alignment(num_source, source_rate, num_target, target_rate):
    from fractions import Fraction

    weights = np.zeros((num_target, num_source))
    source_rate, target_rate = Fraction(source_rate), Fraction(target_rate)
    for target in range(num_target):
        start, end = target / target_rate, (target + 1) / target_rate
        members = [s for s in range(num_source) if start <= s / source_rate < end]
        if members:
            weights[target, members] = 1 / len(members)
        else:
            playing = [s for s in range(num_source) if s / source_rate <= start]
            weights[target, playing[-1] if playing else 0] = 1
    return weights


@pytest.mark.parametrize("num_source, source_rate, num_target, target_rate",
                         [(101, 100, 8, 8), (101, 100, 25, 25), (20, 10, 48, 24), (31, 30, 25, 25),
                          (7, 3, 2, 1), (50, 50, 30, 30), (13, 12.5, 31, 30)])
def test_alignment_matrix_against_exact_fractions(num_source, source_rate, num_target, target_rate):
    weights = temporal.alignment_matrix(num_source, source_rate, num_target, target_rate)
    assert np.allclose(weights, _brute_force_alignment(num_source, source_rate, num_target, target_rate))
    assert np.allclose(weights.sum(axis=1), 1.0)


def test_align_frames_on_mfcc_layout_and_bad_input():
    mfcc = np.random.default_rng(1).normal(size=(3, 13, 101))
    aligned = temporal.align_frames(mfcc, 100.0, 8, 8.0, time_axis=-1)
    assert aligned.shape == (3, 13, 8)
    assert np.allclose(aligned[..., 0], mfcc[..., :13].mean(axis=-1))
    assert np.allclose(temporal.align_frames(np.swapaxes(mfcc, 1, 2), 100.0, 8, 8.0), np.swapaxes(aligned, 1, 2))
    with pytest.raises(ValueError, match="target_rate"):
        temporal.alignment_matrix(10, 100.0, 8, 0.0)
    with pytest.raises(TypeError, match="features"):
        temporal.align_frames("mfcc", 100.0, 8, 8.0)


def test_temporal_pool_mean_max_and_mask():
    rng = np.random.default_rng(2)
    sequence = rng.normal(loc=-1.0, size=(4, 6, 3))
    assert np.allclose(temporal.temporal_pool(sequence), sequence.mean(axis=1))
    assert np.allclose(temporal.temporal_pool(sequence, "max"), sequence.max(axis=1))
    mask = np.array([[1] * 6, [1, 1, 0, 0, 0, 0], [0] * 6, [1, 0, 1, 0, 1, 0]])
    mean = temporal.temporal_pool(sequence, "mean", mask)
    largest = temporal.temporal_pool(sequence, "max", mask)
    assert np.allclose(mean[1], sequence[1, :2].mean(axis=0)) and np.allclose(mean[2], 0.0)
    assert np.allclose(largest[3], sequence[3, ::2].max(axis=0)) and np.allclose(largest[2], 0.0)
    with pytest.raises(ValueError, match="mode"):
        temporal.temporal_pool(sequence, "median")
    with pytest.raises(ValueError, match="mask"):
        temporal.temporal_pool(sequence, "mean", mask[:, :3])


def test_conv3d_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="input_shape"):
        temporal.conv3d_output_shape((16, 16, 1), 8)
    with pytest.raises(ValueError, match="kernel_size"):
        temporal.conv3d_output_shape((2, 16, 16, 1), 8, 3)  # a 3-frame kernel on 2 frames, valid
    with pytest.raises(ValueError, match="padding"):
        temporal.conv3d_output_shape((8, 16, 16, 1), 8, 3, 1, "full")


@pytest.mark.parametrize("timing_matters", [True, False])
def test_two_digit_clips_carry_the_label_as_designed(timing_matters):
    rng = np.random.default_rng(3)
    labels = np.arange(40) % 10
    images = rng.random((40, 8, 8))
    audio = np.zeros((40, 800), dtype=np.float32)
    audio[:, 100:300] = (1 + labels[:, None]) * 0.01 * np.sin(np.arange(200))  # a "word" per clip
    made = make_two_digit_clips(images, labels, audio, timing_matters=timing_matters, seed=4)
    assert made.clip.shape == (40, 8, 16, 16, 1) and made.audio.shape == (40, 800)
    assert np.all(made.digits[:, 0] == labels) and np.all(made.digits[:, 0] != made.digits[:, 1])
    loud_half = (np.abs(made.audio[:, 400:]).sum(1) > np.abs(made.audio[:, :400]).sum(1)).astype(int)
    assert np.array_equal(loud_half, made.speech_half)
    assert np.all((made.label == made.digits[:, 0]) | (made.label == made.digits[:, 1]))
    shown = made.digits[np.arange(40), made.speech_half]
    spoken = np.round(np.abs(made.audio).max(axis=1) / 0.01).astype(int) - 1
    if timing_matters:
        assert np.array_equal(made.label, shown)
    else:
        assert np.array_equal(made.label, spoken)
    again = make_two_digit_clips(images, labels, audio, timing_matters=timing_matters, seed=4)
    assert np.array_equal(again.clip, made.clip) and np.array_equal(again.audio, made.audio)


def test_lesson_12_uses_exactly_the_setting_its_validation_grid_chose():
    from pathlib import Path

    from conftest import assert_lesson_uses_tuned_setting

    assert_lesson_uses_tuned_setting("12_video_and_time.ipynb", "ENCODER_SETTING", "tune_lesson12")
    script = (Path(__file__).resolve().parent.parent / "scripts" / "tune_lesson12.py").read_text(
        encoding="utf-8")
    assert '("train", "val")' in script.split("def load", 1)[1].split("def encoders", 1)[0]
    code = script.split('"""', 2)[2].replace("the test split is never loaded", "")
    assert "test" not in code  # no code after the docstring names the test split
