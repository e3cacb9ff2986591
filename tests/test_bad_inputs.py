"""The bad-input table: every public function and layer, called the way a learner gets it wrong.

Each case is ``(id, call, exception type, argument name)``. The test asserts the exception type
(``TypeError`` for a wrong type, ``ValueError`` for a wrong value — never a deep TensorFlow,
NumPy or pandas error, never a silent result), that the message names the argument, and that it
uses the package's one wording (``"... Received: ..."``, see :mod:`mmcourse._validate`).

Nothing here trains a model: every call fails before any computation starts (that is the point).
"""

import dataclasses

import numpy as np
import pytest

from mmcourse import _validate as check
from mmcourse import plotting
from mmcourse.data import corruption, hints, load_mmdigits, make_video
from mmcourse.env import report, set_seed
from mmcourse.features import audio, image, text, video
from mmcourse.fusion import late, layers
from mmcourse.fusion import reference as ref

NAN, INF = float("nan"), float("inf")
RNG = np.random.default_rng(0)
IMAGES = np.zeros((3, 8, 8, 1), np.float32)
CLIPS = np.zeros((2, 1000), np.float32)
CLIP = np.sin(np.arange(1000) / 7.0).astype(np.float32)
F2 = np.ones((4, 3))
PROBABILITIES = [np.full((4, 3), 1 / 3), np.full((4, 3), 1 / 3)]
VOCABULARY = ["", "[UNK]", "seven", "odd"]
HINTS = ["seven", "an odd number"]


def _nan_at(array, index=0):
    array = np.array(array, dtype=np.float32)
    array.flat[index] = np.nan
    return array


# ---------------------------------------------------------------------------- lazy fixtures
_CACHE = {}


def _cached(key, make):
    if key not in _CACHE:
        _CACHE[key] = make()
    return _CACHE[key]


def split():
    return _cached("split", lambda: load_mmdigits("val"))


def edited(**changes):
    """A copy of the val split with some arrays replaced (an MMDigits a learner edited)."""
    data = split()
    return dataclasses.replace(
        data, **{name: value(data) if callable(value) else value for name, value in changes.items()}
    )


def empty():
    data = split()
    arrays = {f.name: getattr(data, f.name)[:0] for f in dataclasses.fields(data)
              if isinstance(getattr(data, f.name), np.ndarray)}
    return dataclasses.replace(data, **arrays)


def head():
    """A small fusion head on (image, audio) features, compiled so fit never builds anything."""
    def make():
        from mmcourse import models

        return models.build_fusion_head(("image", "audio"), "concat", feature_dims=4)
    return _cached("head", make)


def encoder():
    def make():
        from mmcourse import models

        return models.build_encoder("image", 4)
    return _cached("encoder", make)


def features():
    from mmcourse import training

    data = split()
    return training.Features({"image": np.zeros((len(data), 4)), "audio": np.zeros((len(data), 4))},
                             data.present.copy(), data.label.copy())


def model(builder, /, *args, **kwargs):
    def call():
        from mmcourse import models

        return getattr(models, builder)(*args, **kwargs)
    return call


def train(function, /, *args, **kwargs):
    def call():
        from mmcourse import training

        return getattr(training, function)(*args, **kwargs)
    return call


def fit(train_data=None, val_data=None, **kwargs):
    def call():
        from mmcourse import training

        model_ = head()
        return training.fit(model_, train_data() if callable(train_data) else train_data,
                            val_data() if callable(val_data) else val_data,
                            verbose=0, **kwargs)
    return call


def with_features(transform):
    def make():
        data = features()
        transform(data)
        return data
    return make


def _history(logs):
    return lambda: plotting.plot_training_curves(logs)


def _table(**columns):
    import pandas as pd

    base = {"name": ["a", "b"], "accuracy_mean": [0.5, 0.6], "accuracy_std": [0.01, 0.02]}
    base.update(columns)
    return pd.DataFrame(base)


def _importance(rows=2):
    import pandas as pd

    return pd.DataFrame({"modality": ["image", "audio"][:rows],
                         "drop_importance": [0.1, 0.2][:rows],
                         "permutation_importance": [0.1, 0.0][:rows]})


def layer_call(make, inputs, presence=None):
    def call():
        import keras

        tensors = [keras.ops.convert_to_tensor(np.asarray(x, np.float32)) for x in inputs]
        return make()(tensors, presence=presence)
    return call


T, V = TypeError, ValueError
CASES = [
    # -------------------------------------------------------------- data.load_mmdigits
    ("load/split-typo", lambda: load_mmdigits("training"), V, "split"),
    ("load/split-int", lambda: load_mmdigits(3), T, "split"),
    ("load/split-list", lambda: load_mmdigits(["train"]), T, "split"),
    ("load/seed-negative", lambda: load_mmdigits("val", -1), V, "seed"),
    ("load/seed-float", lambda: load_mmdigits("val", 1.5), T, "seed"),
    ("load/seed-str", lambda: load_mmdigits("val", "0"), T, "seed"),
    ("load/image_noise-negative", lambda: load_mmdigits("val", image_noise=-0.1), V, "image_noise"),
    ("load/image_noise-nan", lambda: load_mmdigits("val", image_noise=NAN), V, "image_noise"),
    ("load/image_noise-inf", lambda: load_mmdigits("val", image_noise=INF), V, "image_noise"),
    ("load/image_noise-str", lambda: load_mmdigits("val", image_noise="high"), T, "image_noise"),
    ("load/occlusion-above-1", lambda: load_mmdigits("val", image_occlusion=1.5), V,
     "image_occlusion"),
    ("load/occlusion-negative", lambda: load_mmdigits("val", image_occlusion=-0.2), V,
     "image_occlusion"),
    ("load/occlusion-nan", lambda: load_mmdigits("val", image_occlusion=NAN), V,
     "image_occlusion"),
    ("load/snr-too-high", lambda: load_mmdigits("val", audio_snr_db=100), V, "audio_snr_db"),
    ("load/snr-nan", lambda: load_mmdigits("val", audio_snr_db=NAN), V, "audio_snr_db"),
    ("load/snr-str", lambda: load_mmdigits("val", audio_snr_db="loud"), T, "audio_snr_db"),
    ("load/noise-type", lambda: load_mmdigits("val", audio_noise="pink"), V, "audio_noise"),
    ("load/noise-type-int", lambda: load_mmdigits("val", audio_noise=3), T, "audio_noise"),
    ("load/vagueness-2", lambda: load_mmdigits("val", hint_vagueness=2), V, "hint_vagueness"),
    ("load/vagueness-nan", lambda: load_mmdigits("val", hint_vagueness=NAN), V, "hint_vagueness"),
    ("load/missing-above-1", lambda: load_mmdigits("val", missing_rate=1.2), V, "missing_rate"),
    ("load/missing-negative", lambda: load_mmdigits("val", missing_rate=-0.1), V, "missing_rate"),
    ("load/missing-nan", lambda: load_mmdigits("val", missing_rate=NAN), V, "missing_rate"),
    ("load/missing-unknown-key", lambda: load_mmdigits("val", missing_rate={"video": 0.1}), V,
     "missing_rate"),
    ("load/missing-dict-value", lambda: load_mmdigits("val", missing_rate={"text": 3}), V,
     "missing_rate['text']"),
    ("load/missing-str", lambda: load_mmdigits("val", missing_rate="half"), T, "missing_rate"),
    ("load/unknown-knob", lambda: load_mmdigits("val", image_nosie=0.1), T, "image_nosie"),
    # -------------------------------------------------------------- MMDigits.to_tf_dataset
    ("dataset/batch-0", lambda: split().to_tf_dataset(batch_size=0), V, "batch_size"),
    ("dataset/batch-float", lambda: split().to_tf_dataset(batch_size=2.5), T, "batch_size"),
    ("dataset/batch-bool", lambda: split().to_tf_dataset(batch_size=True), T, "batch_size"),
    ("dataset/modality-unknown", lambda: split().to_tf_dataset(modalities=("smell",)), V,
     "modalities"),
    ("dataset/modality-empty", lambda: split().to_tf_dataset(modalities=()), V, "modalities"),
    ("dataset/modality-repeat", lambda: split().to_tf_dataset(modalities=("audio", "audio")), V,
     "modalities"),
    ("dataset/modality-int", lambda: split().to_tf_dataset(modalities=5), T, "modalities"),
    ("dataset/shuffle-str", lambda: split().to_tf_dataset(shuffle="yes"), T, "shuffle"),
    ("dataset/seed-negative", lambda: split().to_tf_dataset(shuffle=True, seed=-3), V, "seed"),
    ("dataset/present-int", lambda: split().to_tf_dataset(include_present=1), T,
     "include_present"),
    ("dataset/empty-split", lambda: empty().to_tf_dataset(), V, "split"),
    # -------------------------------------------------------------- data.corruption
    ("noise/std-negative", lambda: corruption.add_image_noise(IMAGES, -1, RNG), V, "std"),
    ("noise/std-nan", lambda: corruption.add_image_noise(IMAGES, NAN, RNG), V, "std"),
    ("noise/rng-int", lambda: corruption.add_image_noise(IMAGES, 0.1, 0), T, "rng"),
    ("noise/images-rank3", lambda: corruption.add_image_noise(IMAGES[0], 0.1, RNG), V, "images"),
    ("noise/images-nan", lambda: corruption.add_image_noise(_nan_at(IMAGES), 0.1, RNG), V,
     "images"),
    ("occlude/fraction-1.5", lambda: corruption.occlude_images(IMAGES, 1.5, RNG), V, "fraction"),
    ("occlude/fraction-nan", lambda: corruption.occlude_images(IMAGES, NAN, RNG), V, "fraction"),
    ("occlude/images-rank3", lambda: corruption.occlude_images(IMAGES[..., 0], 0.5, RNG), V,
     "images"),
    ("occlude/not-square", lambda: corruption.occlude_images(np.zeros((2, 8, 6, 1)), 0.5, RNG), V,
     "images"),
    ("snr/nan", lambda: corruption.add_noise_at_snr(CLIPS, NAN, RNG), V, "snr_db"),
    ("snr/str", lambda: corruption.add_noise_at_snr(CLIPS, "10", RNG), T, "snr_db"),
    ("snr/noise-length", lambda: corruption.add_noise_at_snr(CLIPS, 10, RNG,
                                                            noise=np.ones((2, 999), np.float32)),
     V, "noise"),
    ("snr/int16-audio", lambda: corruption.add_noise_at_snr(CLIPS.astype(np.int16), 10, RNG), T,
     "audio"),
    ("snr/nan-audio", lambda: corruption.add_noise_at_snr(_nan_at(CLIPS), 10, RNG), V, "audio"),
    ("measured/shapes", lambda: corruption.measured_snr_db(CLIPS, CLIPS[:, :10]), V, "noisy"),
    # -------------------------------------------------------------- data.make_video
    ("video/frames-0", lambda: make_video(IMAGES, num_frames=0), V, "num_frames"),
    ("video/canvas-2", lambda: make_video(IMAGES, canvas_size=2), V, "canvas_size"),
    ("video/zoom-below-1", lambda: make_video(IMAGES, max_zoom=0.5), V, "max_zoom"),
    ("video/zoom-nan", lambda: make_video(IMAGES, max_zoom=NAN), V, "max_zoom"),
    ("video/images-rank2", lambda: make_video(IMAGES[0, ..., 0]), V, "images"),
    ("video/seed-negative", lambda: make_video(IMAGES, seed=-1), V, "seed"),
    # -------------------------------------------------------------- data.hints
    ("hint/digit-10", lambda: hints.exact_hint(10, RNG), V, "digit"),
    ("hint/digit-float", lambda: hints.exact_hint(3.0, RNG), T, "digit"),
    ("hint/partial-negative", lambda: hints.partial_hint(-1, RNG), V, "digit"),
    ("hint/arithmetic-bool", lambda: hints.arithmetic_hint(True, RNG), T, "digit"),
    ("hint/mask-11", lambda: hints.candidates_mask([11]), V, "digit"),
    ("bayes/candidates-shape", lambda: hints.text_bayes_predict(np.ones((2, 9), bool),
                                                                np.ones(10)), V, "candidates"),
    ("bayes/prior-shape", lambda: hints.text_bayes_predict(np.ones((2, 10), bool), np.ones(9)), V,
     "prior"),
    ("bayes/candidates-values", lambda: hints.text_bayes_predict(np.full((2, 10), 0.5),
                                                                 np.ones(10)), V, "candidates"),
    ("bayes/prior-negative", lambda: hints.text_bayes_predict(np.ones((2, 10), bool),
                                                              -np.ones(10)), V, "prior"),
    ("bayes/labels-length", lambda: hints.text_bayes_accuracy(np.ones((2, 10), bool), [1, 2, 3],
                                                              np.ones(10)), V, "labels"),
    ("bayes/labels-range", lambda: hints.text_bayes_accuracy(np.ones((2, 10), bool), [1, 10],
                                                             np.ones(10)), V, "labels"),
    # -------------------------------------------------------------- features.audio (NumPy)
    ("audio/int16", lambda: audio.validate_audio(CLIPS.astype(np.int16)), T, "audio"),
    ("audio/rank3", lambda: audio.validate_audio(np.zeros((1, 2, 1000), np.float32)), V, "audio"),
    ("audio/short", lambda: audio.validate_audio(np.zeros(100, np.float32)), V, "audio"),
    ("audio/nan", lambda: audio.validate_audio(_nan_at(CLIPS)), V, "audio"),
    ("audio/str", lambda: audio.validate_audio("clip.wav"), T, "audio"),
    ("frames/hop-0", lambda: audio.num_frames(8000, hop_length=0), V, "hop_length"),
    ("frames/hop-float", lambda: audio.num_frames(8000, hop_length=2.5), T, "hop_length"),
    ("frames/samples-negative", lambda: audio.num_frames(-1), V, "num_samples"),
    ("frames/samples-float", lambda: audio.num_frames(8000.0), T, "num_samples"),
    ("frames/uncentred-short", lambda: audio.num_frames(100, center=False), V, "num_samples"),
    ("frames/n_fft-0", lambda: audio.num_frames(8000, n_fft=0), V, "n_fft"),
    ("mfcc/sr-0", lambda: audio.mfcc(CLIP, sr=0), V, "sr"),
    ("mfcc/sr-nan", lambda: audio.mfcc(CLIP, sr=NAN), V, "sr"),
    ("mfcc/n_mfcc-above-mels", lambda: audio.mfcc(CLIP, n_mfcc=50), V, "n_mfcc"),
    ("mfcc/hop-0", lambda: audio.mfcc(CLIP, hop_length=0), V, "hop_length"),
    ("mfcc/fmin-negative", lambda: audio.mfcc(CLIP, fmin=-1), V, "fmin"),
    ("mfcc/fmax-above-nyquist", lambda: audio.mfcc(CLIP, fmax=5000), V, "fmax"),
    ("mfcc/fmax-below-fmin", lambda: audio.mfcc(CLIP, fmin=3000, fmax=2000), V, "fmax"),
    ("mfcc/top_db-negative", lambda: audio.mfcc(CLIP, top_db=-5), V, "top_db"),
    ("mfcc/mel_norm", lambda: audio.mfcc(CLIP, mel_norm="l2"), V, "mel_norm"),
    ("mfcc/htk-str", lambda: audio.mfcc(CLIP, htk="yes"), T, "htk"),
    ("filterbank/n_fft-0", lambda: audio.mel_filterbank(n_fft=0), V, "n_fft"),
    ("filterbank/n_mels-0", lambda: audio.mel_filterbank(n_mels=0), V, "n_mels"),
    ("filterbank/sr-negative", lambda: audio.mel_filterbank(sr=-8000), V, "sr"),
    ("filterbank/fmax", lambda: audio.mel_filterbank(fmax=10000), V, "fmax"),
    ("filterbank/norm", lambda: audio.mel_filterbank(norm="l1"), V, "norm"),
    ("filterbank/n_fft-float", lambda: audio.mel_filterbank(n_fft=256.0), T, "n_fft"),
    ("dct/n_mfcc-0", lambda: audio.dct_matrix(0, 40), V, "n_mfcc"),
    ("dct/n_mfcc-above-mels", lambda: audio.dct_matrix(50, 40), V, "n_mfcc"),
    ("framing/hop-0", lambda: audio.frame_signal(CLIP, hop_length=0), V, "hop_length"),
    ("framing/n_fft-0", lambda: audio.frame_signal(CLIP, n_fft=0), V, "n_fft"),
    ("framing/batch", lambda: audio.frame_signal(CLIPS), V, "clip"),
    ("framing/nan", lambda: audio.frame_signal(_nan_at(CLIP)), V, "clip"),
    ("spectrogram/width", lambda: audio.power_spectrogram(np.zeros((5, 100))), V, "frames"),
    ("db/negative-power", lambda: audio.power_to_db(-np.ones(4)), V, "power"),
    ("db/amin-0", lambda: audio.power_to_db(np.ones(4), amin=0), V, "amin"),
    ("db/top_db-negative", lambda: audio.power_to_db(np.ones(4), top_db=-1), V, "top_db"),
    ("db/nan", lambda: audio.power_to_db(_nan_at(np.ones(4))), V, "power"),
    ("mfcc_numpy/hop-0", lambda: audio.mfcc_numpy(CLIP, hop_length=0), V, "hop_length"),
    ("mfcc_numpy/n_mfcc-0", lambda: audio.mfcc_numpy(CLIP, n_mfcc=0), V, "n_mfcc"),
    ("mfcc_numpy/sr-0", lambda: audio.mfcc_numpy(CLIP, sr=0), V, "sr"),
    ("mfcc_numpy/top_db-0", lambda: audio.mfcc_numpy(CLIP, top_db=0), V, "top_db"),
    ("deltas/int", lambda: audio.deltas(np.ones((13, 20), int)), T, "features"),
    ("deltas/order-3", lambda: audio.deltas(np.ones((13, 20)), order=3), V, "order"),
    ("deltas/width-even", lambda: audio.deltas(np.ones((13, 20)), width=4), V, "width"),
    ("deltas/width-float", lambda: audio.deltas(np.ones((13, 20)), width=3.0), T, "width"),
    ("deltas/nan", lambda: audio.deltas(_nan_at(np.ones((13, 20)))), V, "features"),
    # -------------------------------------------------------------- features.audio (Keras)
    ("MFCC/hop-0", lambda: audio.MFCC(hop_length=0), V, "hop_length"),
    ("MFCC/top_db-0", lambda: audio.MFCC(top_db=0), V, "top_db"),
    ("MFCC/amin-0", lambda: audio.MFCC(amin=0), V, "amin"),
    ("MFCC/int-audio", lambda: audio.MFCC()(np.zeros((2, 1000), np.int32)), T, "audio"),
    ("MFCC/rank3-audio", lambda: audio.MFCC()(np.zeros((2, 1000, 1), np.float32)), V, "audio"),
    ("MFCC/nan-audio", lambda: audio.MFCC()(_nan_at(CLIPS)), V, "audio"),
    ("MFCC/short-audio", lambda: audio.MFCC()(np.zeros((2, 100), np.float32)), V, "audio"),
    ("mfcc_encoder/feature_dim-0", lambda: audio.build_mfcc_encoder(0), V, "feature_dim"),
    ("mfcc_encoder/kind", lambda: audio.build_mfcc_encoder(kind="lstm"), V, "kind"),
    ("mfcc_encoder/samples-0", lambda: audio.build_mfcc_encoder(audio_samples=0), V,
     "audio_samples"),
    ("mfcc_encoder/dropout-1.5", lambda: audio.build_mfcc_encoder(dropout=1.5), V, "dropout"),
    # -------------------------------------------------------------- features.image
    ("conv/size-0", lambda: image.conv_output_shape(0, 3), V, "size"),
    ("conv/window-too-big", lambda: image.conv_output_shape(8, 9), V, "kernel_size"),
    ("conv/padding", lambda: image.conv_output_shape(8, 3, padding="full"), V, "padding"),
    ("conv/stride-0", lambda: image.conv_output_shape(8, 3, stride=0), V, "stride"),
    ("conv/size-float", lambda: image.conv_output_shape(8.0, 3), T, "size"),
    ("cnn_shapes/input-rank", lambda: image.cnn_output_shapes(input_shape=(8, 8)), V,
     "input_shape"),
    ("cnn_shapes/filters-empty", lambda: image.cnn_output_shapes(filters=()), V, "filters"),
    ("cnn_shapes/filters-0", lambda: image.cnn_output_shapes(filters=(16, 0)), V, "filters"),
    ("cnn_count/kernel-0", lambda: image.cnn_parameter_count(kernel_size=0), V, "kernel_size"),
    ("cnn/feature_dim-0", lambda: image.build_cnn_encoder(0), V, "feature_dim"),
    ("cnn/input-str", lambda: image.build_cnn_encoder(input_shape="8x8"), T, "input_shape"),
    ("cnn/dropout-1", lambda: image.build_cnn_encoder(dropout=1.0), V, "dropout"),
    ("linear/feature_dim-negative", lambda: image.build_linear_encoder(-1), V, "feature_dim"),
    ("linear/input-0", lambda: image.build_linear_encoder(input_shape=(8, 8, 0)), V,
     "input_shape"),
    # -------------------------------------------------------------- features.text
    ("vectorizer/single-str", lambda: text.make_vectorizer("seven"), T, "train_texts"),
    ("vectorizer/empty", lambda: text.make_vectorizer([]), V, "train_texts"),
    ("vectorizer/ints", lambda: text.make_vectorizer([1, 2]), T, "train_texts"),
    ("vectorizer/max_length-0", lambda: text.make_vectorizer(HINTS, max_length=0), V,
     "max_length"),
    ("vectorizer/max_tokens-1", lambda: text.make_vectorizer(HINTS, max_tokens=1), V,
     "max_tokens"),
    ("vectorizer/standardize", lambda: text.make_vectorizer(HINTS, standardize="upper"), V,
     "standardize"),
    ("vectorize/not-a-layer", lambda: text.vectorize(None, HINTS), T, "vectorizer"),
    ("tokenize/int", lambda: text.tokenize(5), T, "text"),
    ("vocabulary/single-str", lambda: text.build_vocabulary("seven"), T, "texts"),
    ("encode_text/max_length-0", lambda: text.encode_text("seven", VOCABULARY, 0), V,
     "max_length"),
    ("encode_text/vocabulary-str", lambda: text.encode_text("seven", "seven odd", 3), T,
     "vocabulary"),
    ("encode_text/text-int", lambda: text.encode_text(5, VOCABULARY, 3), T, "text"),
    ("one_hot/float-ids", lambda: text.one_hot_tokens([[0.5]], 3), T, "token_ids"),
    ("one_hot/id-out-of-range", lambda: text.one_hot_tokens([[5]], 3), V, "token_ids"),
    ("one_hot/num_vocab-1", lambda: text.one_hot_tokens([[0]], 1), V, "num_vocab"),
    ("TokenOneHot/num_vocab-1", lambda: text.TokenOneHot(1), V, "num_vocab"),
    ("rnn/num_vocab-0", lambda: text.build_rnn_encoder(0), V, "num_vocab"),
    ("lstm/input_mode", lambda: text.build_lstm_encoder(10, input_mode="onehot"), V,
     "input_mode"),
    ("lstm/units-0", lambda: text.build_lstm_encoder(10, units=0), V, "units"),
    ("rnn/return_sequences-str", lambda: text.build_rnn_encoder(10, return_sequences="yes"), T,
     "return_sequences"),
    # -------------------------------------------------------------- features.video
    ("conv3d/input-rank", lambda: video.build_conv3d_encoder(input_shape=(8, 16, 16)), V,
     "input_shape"),
    ("conv3d/feature_dim-0", lambda: video.build_conv3d_encoder(0), V, "feature_dim"),
    ("conv3d/kernel-0", lambda: video.build_conv3d_encoder(kernel_size=0), V, "kernel_size"),
    ("td_lstm/filters-empty", lambda: video.build_timedistributed_lstm_encoder(filters=()), V,
     "filters"),
    ("td_lstm/lstm_units-0", lambda: video.build_timedistributed_lstm_encoder(lstm_units=0), V,
     "lstm_units"),
    # -------------------------------------------------------------- fusion.reference
    ("ref.weighted_average/array", lambda: ref.weighted_average(np.ones((2, 3)), [1, 1]), T,
     "features"),
    ("ref.weighted_average/empty", lambda: ref.weighted_average([], []), V, "features"),
    ("ref.weighted_average/nan-weight", lambda: ref.weighted_average([F2, F2], [1, NAN]), V,
     "weights"),
    ("ref.weighted_average/weight-count", lambda: ref.weighted_average([F2, F2], [1]), V,
     "weights"),
    ("ref.weighted_average/nan-feature", lambda: ref.weighted_average([F2, _nan_at(F2)], [1, 1]),
     V, "features[1]"),
    ("ref.weighted_average/str-feature", lambda: ref.weighted_average([F2, "abc"], [1, 1]), T,
     "features[1]"),
    ("ref.product/rank3", lambda: ref.product([np.ones((2, 2, 2))]), V, "features[0]"),
    ("ref.concatenate/batch", lambda: ref.concatenate([np.ones((2, 3)), np.ones((3, 3))]), V,
     "features"),
    ("ref.softmax/scalar", lambda: ref.softmax(5.0), V, "scores"),
    ("ref.softmax/nan", lambda: ref.softmax([1.0, NAN]), V, "scores"),
    ("ref.softmax/axis", lambda: ref.softmax([1.0, 2.0], axis=3), V, "axis"),
    ("ref.attention_weights/rank3", lambda: ref.attention_weights(np.ones((2, 2, 2))), V,
     "scores"),
    ("ref.attention_weights/presence-shape", lambda: ref.attention_weights(
        np.ones((2, 3)), presence=np.ones((2, 2))), V, "presence"),
    ("ref.attention_weights/presence-soft", lambda: ref.attention_weights(
        np.ones((1, 2)), presence=[[0.5, 1.0]]), V, "presence"),
    ("ref.attention_weights/presence-empty-row", lambda: ref.attention_weights(
        np.ones((1, 2)), presence=[[0, 0]]), V, "presence"),
    ("ref.attention_weights/mask-and-presence", lambda: ref.attention_weights(
        np.ones((1, 2)), presence=[[1, 1]], mask=[[1, 1]]), T, "presence"),
    ("ref.attention_sum/weights-shape", lambda: ref.attention_sum([F2, F2], np.ones((4, 3))), V,
     "weights"),
    ("ref.tensor_fusion/batch", lambda: ref.tensor_fusion([np.ones((2, 3)), np.ones((3, 3))]), V,
     "features"),
    ("ref.linear/rank1", lambda: ref.linear(np.ones(3), np.ones((3, 2))), V, "features"),
    ("ref.linear/kernel", lambda: ref.linear(F2, np.ones((4, 2))), V, "kernel"),
    ("ref.linear/bias", lambda: ref.linear(F2, np.ones((3, 2)), np.ones(3)), V, "bias"),
    ("ref.sigmoid/str", lambda: ref.sigmoid("a"), T, "values"),
    ("ref.bilinear/kernel", lambda: ref.bilinear(F2, F2, np.ones((2, 3, 4))), V, "kernel"),
    ("ref.bilinear/batch", lambda: ref.bilinear(F2, np.ones((3, 3)), np.ones((1, 3, 3))), V,
     "first"),
    ("ref.low_rank/factor-count", lambda: ref.low_rank_fusion([F2, F2], [np.ones((2, 4, 3))]), V,
     "factors"),
    ("ref.low_rank/factors-str", lambda: ref.low_rank_fusion([F2, F2], "factors"), T, "factors"),
    ("ref.gated/kernel-count", lambda: ref.gated_fusion([F2, F2], [np.ones((3, 2))], [0, 0],
                                                        [0, 0], [0, 0]), V, "kernels"),
    ("ref.poe/floor-0", lambda: ref.product_of_experts_reference(PROBABILITIES, floor=0), V,
     "floor"),
    ("ref.average/negative-weight", lambda: ref.average_probabilities_reference(
        PROBABILITIES, weights=[-1, 1]), V, "weights"),
    ("ref.vote/negative-probability", lambda: ref.weighted_vote_reference(
        [-np.ones((2, 3)), np.ones((2, 3))]), V, "probabilities[0]"),
    # -------------------------------------------------------------- fusion.late
    ("late.average/array", lambda: late.average_probabilities(np.ones((2, 3))), T,
     "probabilities"),
    ("late.average/empty", lambda: late.average_probabilities([]), V, "probabilities"),
    ("late.average/nan-weight", lambda: late.average_probabilities(PROBABILITIES,
                                                                   weights=[1, NAN]), V,
     "weights"),
    ("late.average/zero-weights", lambda: late.average_probabilities(PROBABILITIES,
                                                                     weights=[0, 0]), V,
     "weights"),
    ("late.vote/presence-batch", lambda: late.weighted_vote(PROBABILITIES,
                                                            presence=np.ones((5, 2))), V,
     "presence"),
    ("late.vote/presence-soft", lambda: late.weighted_vote(PROBABILITIES,
                                                           presence=np.full((4, 2), 0.5)), V,
     "presence"),
    ("late.vote/presence-str", lambda: late.weighted_vote(PROBABILITIES,
                                                          presence=np.full((4, 2), "yes")), T,
     "presence"),
    ("late.poe/floor-nan", lambda: late.product_of_experts(PROBABILITIES, floor=NAN), V, "floor"),
    ("late.poe/prior-zero", lambda: late.product_of_experts(PROBABILITIES, prior=[0, 1, 1]), V,
     "prior"),
    ("late.poe/prior-nan", lambda: late.product_of_experts(PROBABILITIES, prior=[NAN, 1, 1]), V,
     "prior"),
    ("late.vote/nan-probability", lambda: late.weighted_vote([_nan_at(np.ones((2, 3)))]), V,
     "probabilities[0]"),
    ("late.accuracy/labels-range", lambda: late.accuracy(np.ones((2, 3)), [0, 3]), V, "labels"),
    ("late.accuracy/labels-float", lambda: late.accuracy(np.ones((2, 3)), [0.5, 1]), T, "labels"),
    ("late.accuracy/labels-length", lambda: late.accuracy(np.ones((2, 3)), [0, 1, 2]), V,
     "labels"),
    # -------------------------------------------------------------- fusion.layers (options)
    ("WeightedAverage/units-0", lambda: layers.WeightedAverage(units=0), V, "units"),
    ("WeightedAverage/units-float", lambda: layers.WeightedAverage(units=2.5), T, "units"),
    ("WeightedAverage/weights-nan", lambda: layers.WeightedAverage(fusion_weights=[1, NAN]), V,
     "fusion_weights"),
    ("WeightedAverage/fixed-renormalised", lambda: layers.WeightedAverage(
        fusion_weights=[2, 1], learnable=False), V, "fusion_weights"),
    ("WeightedAverage/normalization", lambda: layers.WeightedAverage(normalization="l1"), V,
     "normalization"),
    ("WeightedAverage/learnable-str", lambda: layers.WeightedAverage(learnable="no"), T,
     "learnable"),
    ("WeightedAverage/fixed-no-weights", lambda: layers.WeightedAverage(learnable=False), V,
     "fusion_weights"),
    ("Product/units-negative", lambda: layers.Product(units=-1), V, "units"),
    ("Concatenate/axis", lambda: layers.Concatenate(axis=-1), T, "axis"),
    ("Concatenate/units-0", lambda: layers.Concatenate(units=0), V, "units"),
    ("AttentionFusion/attention_units-0", lambda: layers.AttentionFusion(attention_units=0), V,
     "attention_units"),
    ("AttentionFusion/return_attention-str", lambda: layers.AttentionFusion(
        return_attention="yes"), T, "return_attention"),
    ("LowRankFusion/rank-0", lambda: layers.LowRankFusion(units=4, rank=0), V, "rank"),
    ("LowRankFusion/units-None", lambda: layers.LowRankFusion(units=None), T, "units"),
    ("GatedFusion/units-0", lambda: layers.GatedFusion(units=0), V, "units"),
    ("Bilinear/units-0", lambda: layers.Bilinear(units=0), V, "units"),
    # -------------------------------------------------------------- fusion.layers (calls)
    ("layer-call/presence-batch", layer_call(layers.WeightedAverage, [F2, F2],
                                             np.ones((5, 2), np.float32)), V, "presence"),
    ("layer-call/presence-soft", layer_call(layers.AttentionFusion, [F2, F2],
                                            np.full((4, 2), 0.5, np.float32)), V, "presence"),
    ("layer-call/presence-str", layer_call(layers.Concatenate, [F2, F2],
                                           np.full((4, 2), "yes")), T, "presence"),
    ("layer-call/presence-columns", layer_call(layers.Product, [F2, F2],
                                               np.ones((4, 3), np.float32)), V, "presence"),
    ("layer-call/single-tensor", lambda: layers.Concatenate()(np.ones((2, 3), np.float32)), V,
     "features"),
    ("layer-call/batch-mismatch", layer_call(layers.TensorFusion, [F2, np.ones((3, 3))]), V,
     "features"),
    ("layer-call/bilinear-three", layer_call(lambda: layers.Bilinear(units=2), [F2, F2, F2]), V,
     "features"),
    ("layer-call/rank3", layer_call(lambda: layers.LowRankFusion(units=2),
                                    [F2, np.ones((4, 3, 1))]), V, "features[1]"),
    # -------------------------------------------------------------- models
    ("encoder/modality-unknown", model("build_encoder", "smell"), V, "modality"),
    ("encoder/modality-int", model("build_encoder", 3), T, "modality"),
    ("encoder/feature_dim-0", model("build_encoder", "image", 0), V, "feature_dim"),
    ("encoder/text-no-vocabulary", model("build_encoder", "text"), V, "text_vocabulary"),
    ("encoder/text-vocabulary-str", model("build_encoder", "text", 8, "seven"), T,
     "text_vocabulary"),
    ("encoder/name-int", model("build_encoder", "image", name=5), T, "name"),
    ("fusion_layer/name", model("build_fusion_layer", "sum", 2), V, "fusion"),
    ("fusion_layer/int", model("build_fusion_layer", 3, 2), T, "fusion"),
    ("fusion_layer/bilinear-three", model("build_fusion_layer", "bilinear", 3), V,
     "num_modalities"),
    ("fusion_layer/one-modality", model("build_fusion_layer", "concat", 1), V, "num_modalities"),
    ("fusion_layer/feature_dim-0", model("build_fusion_layer", "concat", 2, 0), V, "feature_dim"),
    ("fusion_layer/rank-0", model("build_fusion_layer", "low_rank", 2, rank=0), V, "rank"),
    ("multimodal/one-modality", model("build_multimodal_classifier", ("image",)), V,
     "modalities"),
    ("multimodal/unknown-modality", model("build_multimodal_classifier", ("image", "smell")), V,
     "modalities"),
    ("multimodal/modalities-int", model("build_multimodal_classifier", 5), T, "modalities"),
    ("multimodal/repeated", model("build_multimodal_classifier", ("image", "image")), V,
     "modalities"),
    ("multimodal/late_rule", model("build_multimodal_classifier", ("image", "audio"), "late",
                                   late_rule="max"), V, "late_rule"),
    ("multimodal/fusion-int", model("build_multimodal_classifier", ("image", "audio"), 3), T,
     "fusion"),
    ("multimodal/tensor_dim-0", model("build_multimodal_classifier", ("image", "audio"),
                                      "tensor", tensor_dim=0), V, "tensor_dim"),
    ("multimodal/dropout-1.5", model("build_multimodal_classifier", ("image", "audio"),
                                     dropout=1.5), V, "dropout"),
    ("multimodal/encoders-list", model("build_multimodal_classifier", ("image", "audio"),
                                       encoders=["image"]), T, "encoders"),
    ("multimodal/encoders-extra", lambda: model("build_multimodal_classifier",
                                                ("image", "audio"),
                                                encoders={"text": encoder()})(), V, "encoders"),
    ("head/feature_dims-0", model("build_fusion_head", ("image", "audio"), feature_dims=0), V,
     "feature_dims"),
    ("head/feature_dims-missing", model("build_fusion_head", ("image", "audio"),
                                        feature_dims={"image": 4}), V, "feature_dims"),
    ("head/feature_dims-entry", model("build_fusion_head", ("image", "audio"),
                                      feature_dims={"image": 4, "audio": 0}), V,
     "feature_dims['audio']"),
    ("unimodal/dropout-negative", model("build_unimodal_classifier", "image", dropout=-0.1), V,
     "dropout"),
    ("unimodal/feature_dim-float", model("build_unimodal_classifier", "image", 2.0), T,
     "feature_dim"),
    ("get_encoder/not-a-model", model("get_encoder", "model", "image"), T, "model"),
    ("get_encoder/modality", lambda: model("get_encoder", head(), "smell")(), V, "modality"),
    ("get_encoder/missing", lambda: model("get_encoder", head(), "image")(), V, "model"),
    ("attach/encoders-list", lambda: model("attach_encoders", head(), ["image"])(), T,
     "encoders"),
    ("attach/encoders-missing", lambda: model("attach_encoders", head(), {})(), V, "encoders"),
    ("model_modalities/not-a-model", model("model_modalities", "model"), T, "model"),
    ("LateFusion/rule", lambda: model("LateFusion", "max")(), V, "rule"),
    ("LateFusion/floor-0", lambda: model("LateFusion", floor=0)(), V, "floor"),
    ("vectorizer_for/None", model("text_vectorizer_for", None), V, "text_vocabulary"),
    ("vectorizer_for/max_length-0", model("text_vectorizer_for", HINTS, 0), V, "max_length"),
    # -------------------------------------------------------------- training.fit / evaluate / encode
    ("confusion_matrix/label-minus-one", train("confusion_matrix", [0, -1], [0, 1]), V,
     "labels"),  # was silently counted as class 9
    ("confusion_matrix/prediction-10", train("confusion_matrix", [0, 1], [0, 10]), V,
     "predictions"),  # was an IndexError
    ("confusion_matrix/lengths", train("confusion_matrix", [0, 1], [0]), V, "predictions"),
    ("confusion_matrix/float-labels", train("confusion_matrix", [0.5, 1.0], [0, 1]), T, "labels"),
    ("confusion_matrix/num_classes-0", train("confusion_matrix", [0], [0], num_classes=0), V,
     "num_classes"),
    ("modality_importance/num_repeats-0", lambda: train(
        "modality_importance", head(), split(), num_repeats=0)(), V, "num_repeats"),
    ("modality_importance/num_repeats-float", lambda: train(
        "modality_importance", head(), split(), num_repeats=1.5)(), T, "num_repeats"),
    ("fit/train-str", fit("train", split), T, "train"),
    ("fit/val-str", fit(features, "val"), T, "val"),
    ("fit/model-str", lambda: train("fit", "model", split(), split())(), T, "model"),
    ("fit/epochs-0", fit(features, None, epochs=0), V, "epochs"),
    ("fit/epochs-float", fit(features, None, epochs=2.5), T, "epochs"),
    ("fit/batch-0", fit(features, None, batch_size=0), V, "batch_size"),
    ("fit/learning_rate-negative", fit(features, None, learning_rate=-1), V, "learning_rate"),
    ("fit/learning_rate-nan", fit(features, None, learning_rate=NAN), V, "learning_rate"),
    ("fit/patience-negative", fit(features, None, patience=-1), V, "patience"),
    ("fit/seed-negative", fit(features, None, seed=-1), V, "seed"),
    ("fit/callbacks-str", fit(features, None, callbacks="early"), T, "callbacks"),
    ("fit/empty-train", lambda: train("fit", head(), empty(), None, verbose=0)(), V, "train"),
    ("fit/ragged-split", lambda: train("fit", head(), edited(audio=lambda d: d.audio[:-1]), None,
                                       verbose=0)(), V, "train"),
    ("fit/nan-audio", lambda: train("fit", head(), with_features(
        lambda d: d.features["audio"].__setitem__((0, 0), np.nan))(), None, verbose=0)(), V,
     "train.audio"),
    ("fit/label-10", lambda: train("fit", head(), with_features(
        lambda d: d.label.__setitem__(0, 10))(), None, verbose=0)(), V, "train.label"),
    ("fit/label-negative", lambda: train("fit", head(), features(), with_features(
        lambda d: d.label.__setitem__(0, -1))(), verbose=0)(), V, "val.label"),
    ("evaluate/str", lambda: train("evaluate", head(), "test")(), T, "data"),
    ("evaluate/empty", lambda: train("evaluate", head(), empty())(), V, "data"),
    ("evaluate/label-negative", lambda: train("evaluate", head(), with_features(
        lambda d: d.label.__setitem__(0, -1))())(), V, "data.label"),
    ("evaluate/nan", lambda: train("evaluate", head(), with_features(
        lambda d: d.features["image"].__setitem__((1, 1), np.inf))())(), V, "data.image"),
    ("evaluate/batch-0", lambda: train("evaluate", head(), features(), batch_size=0)(), V,
     "batch_size"),
    ("encode/encoders-str", lambda: train("encode", "image", split())(), T, "encoders"),
    ("encode/encoders-empty", lambda: train("encode", {}, split())(), V, "encoders"),
    ("encode/unknown-modality", lambda: train("encode", {"smell": encoder()}, split())(), V,
     "encoders"),
    ("encode/not-a-model", lambda: train("encode", {"image": 5}, split())(), T,
     "encoders['image']"),
    ("encode/data-str", lambda: train("encode", {"image": encoder()}, "val")(), T, "data"),
    ("encode/batch-0", lambda: train("encode", {"image": encoder()}, split(), 0)(), V,
     "batch_size"),
    ("encode/nan-image", lambda: train("encode", {"image": encoder()}, edited(
        image=lambda d: _nan_at(d.image)))(), V, "data.image"),
    # -------------------------------------------------------------- plotting
    ("curves/not-history", lambda: plotting.plot_training_curves(5), T, "history"),
    ("curves/empty", _history({}), V, "history"),
    ("curves/unknown-metric", lambda: plotting.plot_training_curves({"loss": [1.0]},
                                                                    metrics=("f1",)), V,
     "metrics"),
    ("curves/length-mismatch", _history({"loss": [1.0, 0.5], "val_loss": [1.0],
                                         "accuracy": [0.1, 0.2]}), V, "history"),
    ("curves/no-epochs", lambda: plotting.plot_training_curves({"loss": []}, metrics="loss"), V,
     "history['loss']"),
    ("confusion/not-square", lambda: plotting.plot_confusion_matrix(np.ones((2, 3))), V,
     "matrix"),
    ("confusion/negative", lambda: plotting.plot_confusion_matrix(-np.ones((2, 2))), V, "matrix"),
    ("confusion/class-names-count", lambda: plotting.plot_confusion_matrix(
        np.ones((2, 2)), class_names=["a"]), V, "class_names"),
    ("confusion/class-names-str", lambda: plotting.plot_confusion_matrix(
        np.ones((2, 2)), class_names="ab"), T, "class_names"),
    ("confusion/normalize-str", lambda: plotting.plot_confusion_matrix(
        np.ones((2, 2)), normalize="rows"), T, "normalize"),
    ("results/empty", lambda: plotting.plot_results(_table().iloc[:0]), V, "table"),
    ("results/list", lambda: plotting.plot_results([0.5, 0.6]), T, "table"),
    ("results/unknown-column", lambda: plotting.plot_results(_table(), value="f1"), V, "table"),
    ("results/nan", lambda: plotting.plot_results(_table(accuracy_mean=[0.5, NAN])), V,
     "table['accuracy_mean']"),
    ("importance/empty", lambda: plotting.plot_importance(_importance(0)), V, "importance"),
    ("importance/not-a-table", lambda: plotting.plot_importance(5), T, "importance"),
    # -------------------------------------------------------------- env
    ("set_seed/negative", lambda: set_seed(-1, tensorflow=False), V, "seed"),
    ("set_seed/float", lambda: set_seed(1.5, tensorflow=False), T, "seed"),
    ("set_seed/tensorflow-str", lambda: set_seed(0, tensorflow="no"), T, "tensorflow"),
    ("report/print-str", lambda: report(print_report="yes"), T, "print_report"),
]


def test_the_table_is_large_and_has_unique_ids():
    ids = [case[0] for case in CASES]
    assert len(ids) >= 150
    assert len(set(ids)) == len(ids), [name for name in ids if ids.count(name) > 1]


@pytest.mark.parametrize("case_id, call, error, argument", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_a_clear_error(case_id, call, error, argument):
    with pytest.raises(Exception) as info:  # noqa: PT011 - the exact type is asserted below
        call()
    message = str(info.value)
    assert type(info.value) is error, f"{type(info.value).__name__}: {message}"
    assert argument in message, f"the message does not name {argument!r}: {message}"
    assert "Received" in message, f"not the package's wording: {message}"


def test_validator_rule_type_versus_value():
    with pytest.raises(TypeError, match=r"units must be a positive int\. Received: units='4'"):
        check.positive_int("4", "units")
    with pytest.raises(ValueError, match=r"units must be a positive int\. Received: units=0"):
        check.positive_int(0, "units")
    assert check.positive_int(np.int64(4), "units") == 4  # NumPy integers are integers
    assert check.number(np.float32(0.5), "rate") == 0.5
    with pytest.raises(TypeError):
        check.number(True, "rate")  # a bool is not a number here
