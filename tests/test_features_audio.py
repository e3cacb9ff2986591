"""MFCC (librosa wrapper, NumPy from scratch, Keras layer), deltas and the MFCC encoder."""

import keras
import librosa
import numpy as np
import pytest
import scipy.fft
import tensorflow as tf

from mmcourse.features import audio

# Largest allowed |layer - librosa| in MFCC units (dB after an orthonormal DCT). MFCCs of real
# clips span several hundred units, so this is below 1e-4 of the range.
LAYER_TOLERANCE = 1e-2


def random_signals(num_clips=3, samples=8000, seed=0):
    """White noise, a tone with a silent half and a chirp — float32 (num_clips, samples)."""
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / 8000
    clips = [0.1 * rng.normal(size=samples),
             np.where(t < t[-1] / 2, 0.0, 0.5 * np.sin(2 * np.pi * rng.uniform(100, 3500) * t)),
             0.3 * np.sin(2 * np.pi * (200 + 1500 * t) * t)]
    return np.stack([clips[i % 3] for i in range(num_clips)]).astype(np.float32)


def mmdigits_clips(count=24, **corruption):
    from mmcourse.data import load_mmdigits

    return load_mmdigits("test", **corruption).audio[:count]


def test_wrapper_is_librosa_with_course_defaults():
    clips = random_signals()
    out = audio.mfcc(clips)
    assert out.shape == (3, 13, 101) and out.dtype == np.float32
    for clip, coefficients in zip(clips, out, strict=True):
        expected = librosa.feature.mfcc(y=clip, sr=8000, n_mfcc=13, n_fft=256, hop_length=80,
                                        n_mels=40)
        np.testing.assert_allclose(coefficients, expected, rtol=0, atol=1e-4)
    np.testing.assert_array_equal(audio.mfcc(clips[1]), out[1])  # 1-D in, 2-D out


def test_a_batch_gets_each_clips_own_top_db_floor():
    # clips 1000x apart in loudness, more than one chunk of the batched computation: every clip's
    # MFCC equals librosa's on that clip alone (whose top_db floor sits below its own maximum)
    clips = random_signals(num_clips=520) * np.geomspace(1e-3, 1.0, 520, dtype=np.float32)[:, None]
    out = audio.mfcc(clips)
    for index in (0, 1, 2, 259, 511, 512, 519):
        expected = librosa.feature.mfcc(y=clips[index], sr=8000, n_mfcc=13, n_fft=256,
                                        hop_length=80, n_mels=40)
        np.testing.assert_allclose(out[index], expected, rtol=0, atol=1e-4)
        np.testing.assert_array_equal(audio.mfcc(clips[index]), out[index])


@pytest.mark.parametrize("samples, hop, n_fft, n_mfcc", [(8000, 80, 256, 13), (4000, 128, 256, 20),
                                                         (2048, 64, 512, 13), (300, 100, 256, 5)])
def test_shapes_for_several_sizes(samples, hop, n_fft, n_mfcc):
    clips = random_signals(2, samples)
    options = dict(n_fft=n_fft, hop_length=hop, n_mfcc=n_mfcc)
    expected_shape = (2, n_mfcc, audio.num_frames(samples, hop))
    assert audio.mfcc(clips, **options).shape == expected_shape
    layer = audio.MFCC(**options)
    assert tuple(layer(clips).shape) == expected_shape
    assert layer.compute_output_shape((None, samples)) == (None, *expected_shape[1:])


@pytest.mark.parametrize("htk, norm", [(False, "slaney"), (True, None), (True, "slaney")])
def test_mel_filterbank_matches_librosa(htk, norm):
    for sr, n_fft, n_mels in [(8000, 256, 40), (16000, 512, 64)]:
        ours = audio.mel_filterbank(sr, n_fft, n_mels, htk=htk, norm=norm)
        theirs = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, htk=htk, norm=norm)
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-7)


def test_dct_matrix_is_scipy_dct_ortho():
    x = np.random.default_rng(3).normal(size=40)
    np.testing.assert_allclose(audio.dct_matrix(13, 40) @ x,
                               scipy.fft.dct(x, type=2, norm="ortho")[:13], atol=1e-12)


def test_numpy_mfcc_matches_librosa_on_fresh_signals():
    for seed in range(3):
        clips = random_signals(3, 8000, seed)
        expected = audio.mfcc(clips)
        ours = np.stack([audio.mfcc_numpy(clip) for clip in clips])
        assert np.abs(ours - expected).max() < 1e-3


@pytest.mark.parametrize("options", [{}, {"htk": True, "mel_norm": None, "n_mels": 32},
                                     {"top_db": None, "n_mfcc": 20, "fmin": 50.0, "fmax": 3800.0}])
def test_layer_matches_librosa_on_synthetic_signals(options):
    clips = random_signals(6, 8000, seed=4)
    expected = audio.mfcc(clips, **options)
    got = np.asarray(audio.MFCC(**options)(clips))
    # Without the top_db floor, bins ~100 dB below the peak keep float32 FFT round-off.
    tolerance = LAYER_TOLERANCE if options.get("top_db", 80.0) is not None else 5e-2
    assert np.abs(got - expected).max() < tolerance


@pytest.mark.parametrize("corruption", [{"audio_snr_db": None}, {}])  # clean, default noise
def test_layer_matches_librosa_on_mmdigits_clips(corruption):
    clips = mmdigits_clips(**corruption)
    expected = audio.mfcc(clips)
    got = np.asarray(audio.MFCC()(clips))
    error = np.abs(got - expected).max()
    print(f"MFCC layer vs librosa on {len(clips)} MM-Digits clips: max |diff| = {error:.2e}, "
          f"coefficient range {expected.min():.1f}..{expected.max():.1f}")
    assert error < LAYER_TOLERANCE


def test_layer_in_tf_data_and_tf_function():
    clips = random_signals(4)
    layer = audio.MFCC()
    dataset = tf.data.Dataset.from_tensor_slices(clips).batch(2).map(layer)
    mapped = np.concatenate([batch.numpy() for batch in dataset])
    np.testing.assert_allclose(mapped, np.asarray(layer(clips)), atol=1e-4)


def test_model_with_mfcc_layer_saves_and_loads(tmp_path):
    model = audio.build_mfcc_encoder(feature_dim=8, audio_samples=8000, filters=(4,),
                                     mfcc_options={"n_mels": 32, "n_mfcc": 12})
    clips = random_signals(3)
    path = tmp_path / "audio_encoder.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.get_layer("mfcc").get_config() == model.get_layer("mfcc").get_config()
    np.testing.assert_array_equal(np.asarray(loaded(clips)), np.asarray(model(clips)))
    layer = audio.MFCC.from_config(audio.MFCC(sr=16000, hop_length=160).get_config())
    assert (layer.sr, layer.hop_length) == (16000.0, 160)


@pytest.mark.parametrize("kind", ["conv1d", "conv2d"])
@pytest.mark.parametrize("n_mfcc, frames, feature_dim", [(13, 101, 32), (20, 40, 7)])
def test_mfcc_encoder_shapes(kind, n_mfcc, frames, feature_dim):
    model = audio.build_mfcc_encoder(feature_dim, n_mfcc, frames, kind=kind, filters=(4, 8))
    features = np.random.default_rng(0).normal(size=(2, n_mfcc, frames)).astype(np.float32)
    assert np.asarray(model(features)).shape == (2, feature_dim)


def test_deltas_match_librosa():
    coefficients = audio.mfcc(random_signals(2))
    for order in (1, 2):
        got = audio.deltas(coefficients, order=order)
        assert got.shape == coefficients.shape
        np.testing.assert_allclose(
            got, librosa.feature.delta(coefficients, order=order, width=9), atol=1e-5)
    ramp = np.tile(np.arange(20, dtype=np.float64), (3, 1)) * 2.5
    np.testing.assert_allclose(audio.deltas(ramp), 2.5, atol=1e-9)  # slope of a ramp


@pytest.mark.parametrize("bad, error, match", [
    (np.zeros((2, 2, 8000), np.float32), ValueError, "shape"),
    (np.zeros((2, 8000), np.int16), TypeError, "floating"),
    (np.zeros((2, 100), np.float32), ValueError, "shorter than one frame"),
    (np.full((1, 8000), np.nan, np.float32), ValueError, "NaN"),
    (np.full((1, 8000), np.inf, np.float32), ValueError, "NaN or infinite"),
])
def test_bad_audio_is_rejected_clearly(bad, error, match):
    with pytest.raises(error, match=match):
        audio.mfcc(bad)
    with pytest.raises(error, match=match):
        audio.MFCC()(bad)


def test_bad_options_are_rejected_clearly():
    clip = random_signals(1)
    for sr in (0, -8000):
        with pytest.raises(ValueError, match="sample rate"):
            audio.mfcc(clip, sr=sr)
        with pytest.raises(ValueError, match="sample rate"):
            audio.MFCC(sr=sr)
    with pytest.raises(ValueError, match="n_mfcc"):
        audio.MFCC(n_mfcc=50, n_mels=40)
    with pytest.raises(ValueError, match="order"):
        audio.deltas(audio.mfcc(clip), order=3)
    with pytest.raises(ValueError, match="width"):
        audio.deltas(np.zeros((13, 5)))
    with pytest.raises(ValueError, match="shape"):
        audio.build_mfcc_encoder(audio_samples=8000).get_layer("mfcc").build((8000,))


def test_model_with_mfcc_layer_trains_in_graph_mode():
    """fit() traces the layer (no eager checks) and gradients flow to the layers after it."""
    from mmcourse.env import set_seed

    set_seed(0)
    model = keras.Sequential([
        audio.build_mfcc_encoder(feature_dim=8, audio_samples=2000, filters=(4,)),
        keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    clips = random_signals(8, 2000, seed=5)
    labels = np.arange(8) % 2
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(clips, labels, epochs=2, batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights(), strict=True))
    compiled = tf.function(audio.MFCC())
    np.testing.assert_allclose(compiled(clips).numpy(), audio.mfcc(clips), atol=LAYER_TOLERANCE)
