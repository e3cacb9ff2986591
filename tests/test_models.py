"""Model builders: signatures for every modality subset and fusion name, errors, save/load."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from mmcourse import models
from mmcourse.data import load_mmdigits
from mmcourse.env import set_seed
from mmcourse.fusion import late
from mmcourse.training import encode, model_inputs, predict_proba

pytestmark = pytest.mark.slow

SUBSETS = [
    subset
    for size in (1, 2, 3)
    for subset in itertools.combinations(models.MODALITIES, size)
]


@pytest.fixture(scope="module")
def train():
    return load_mmdigits("train")


@pytest.fixture(scope="module")
def vectorizer(train):
    return models.text_vectorizer_for(train.text)


def _check_signature(model, modalities):
    names = sorted(tensor.name.split(":")[0] for tensor in model.inputs)
    assert names == sorted([*modalities, "present"])
    by_name = {tensor.name.split(":")[0]: tensor for tensor in model.inputs}
    assert tuple(by_name["present"].shape) == (None, len(modalities))
    if "image" in modalities:
        assert tuple(by_name["image"].shape) == (None, 8, 8, 1)
    if "audio" in modalities:
        assert tuple(by_name["audio"].shape) == (None, 8000)
    if "text" in modalities:
        assert by_name["text"].dtype == "string"
    assert tuple(model.outputs[0].shape) == (None, 10)
    assert models.model_modalities(model) == tuple(m for m in models.MODALITIES if m in modalities)


@pytest.mark.parametrize("subset", SUBSETS, ids="+".join)
def test_every_modality_subset(subset, vectorizer):
    if len(subset) == 1:
        model = models.build_unimodal_classifier(subset[0], text_vocabulary=vectorizer)
        _check_signature(model, subset)
        return
    for fusion in ("concat", "late"):
        _check_signature(
            models.build_multimodal_classifier(subset, fusion, text_vocabulary=vectorizer), subset
        )


@pytest.mark.parametrize("fusion", [name for name in models.FUSION_NAMES if name != "bilinear"])
def test_every_fusion_name_on_three_modalities(fusion, vectorizer):
    model = models.build_multimodal_classifier(fusion=fusion, text_vocabulary=vectorizer)
    _check_signature(model, models.MODALITIES)
    if fusion == "late":  # one head per modality, fused by LateFusion
        names = [layer.name for layer in model.layers]
        assert {"image_classifier", "audio_classifier", "text_classifier", "fusion"} <= set(names)
    else:  # the article's y = W_fused f_fused + b_fused
        assert tuple(model.get_layer("classifier").kernel.shape) == (models.HIDDEN_UNITS, 10)


def test_bilinear_needs_two_modalities(vectorizer):
    model = models.build_multimodal_classifier(("image", "text"), "bilinear",
                                               text_vocabulary=vectorizer)
    _check_signature(model, ("image", "text"))
    with pytest.raises(ValueError, match="exactly two"):
        models.build_multimodal_classifier(fusion="bilinear", text_vocabulary=vectorizer)


def test_fusion_layer_instance_is_used(vectorizer):
    from mmcourse.fusion.layers import GatedFusion

    layer = GatedFusion(units=8, name="my_gate")
    model = models.build_multimodal_classifier(("image", "audio"), layer)
    assert model.get_layer("my_gate") is layer
    assert layer.input_dims == [32, 32]


def test_unknown_names_list_the_valid_ones(vectorizer):
    with pytest.raises(ValueError, match="'image', 'audio', 'text'"):
        models.build_unimodal_classifier("smell")
    with pytest.raises(ValueError, match="concat, weighted_average"):
        models.build_multimodal_classifier(fusion="sum", text_vocabulary=vectorizer)
    with pytest.raises(ValueError, match="'product', 'average'"):
        models.build_multimodal_classifier(fusion="late", late_rule="max",
                                           text_vocabulary=vectorizer)
    with pytest.raises(ValueError, match="vocabulary"):
        models.build_unimodal_classifier("text")
    with pytest.raises(ValueError, match="at least two"):
        models.build_multimodal_classifier(("image",), "concat")


def test_text_vocabulary_from_texts_or_layer_agree(train, vectorizer):
    from_texts = models.text_vectorizer_for(train.text)
    copied = models.text_vectorizer_for(vectorizer)
    assert copied is not vectorizer
    assert from_texts.get_vocabulary() == copied.get_vocabulary()
    np.testing.assert_array_equal(np.asarray(from_texts(train.text[:20])),
                                  np.asarray(copied(train.text[:20])))


def test_late_fusion_layer_matches_numpy_reference():
    rng = np.random.default_rng(0)
    probabilities = [rng.dirichlet(np.ones(10), size=6).astype(np.float32) for _ in range(3)]
    presence = (rng.random((6, 3)) > 0.3).astype(np.float32)
    presence[0] = 0  # nothing present → uniform
    product = models.LateFusion("product")(probabilities, presence=presence)
    np.testing.assert_allclose(
        np.asarray(product), late.product_of_experts(probabilities, presence=presence), atol=1e-5
    )
    average = models.LateFusion("average")(probabilities, presence=presence)
    np.testing.assert_allclose(
        np.asarray(average), late.average_probabilities(probabilities, presence=presence),
        atol=1e-5,
    )


def test_save_and_load_give_identical_predictions(tmp_path, train):
    import keras

    set_seed(0)
    model = models.build_multimodal_classifier(fusion="attention", text_vocabulary=train.text)
    inputs = model_inputs(train, models.model_modalities(model))
    batch = {name: value[:16] for name, value in inputs.items()}
    batch["present"][3, 1] = 0.0  # a missing modality goes through the mask too
    from mmcourse.env import quiet_tensorflow

    batch = quiet_tensorflow().data.Dataset.from_tensor_slices(batch).batch(8)
    before = np.asarray(model.predict(batch, verbose=0))
    path = tmp_path / "attention.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    after = np.asarray(loaded.predict(batch, verbose=0))
    np.testing.assert_array_equal(before, after)
    assert loaded.count_params() == model.count_params()


def test_fusion_head_with_attached_encoders_equals_head_on_features(train):
    set_seed(0)
    encoders = {m: models.build_encoder(m, 16, train.text) for m in ("image", "text")}
    head = models.build_fusion_head(("image", "text"), "gated", feature_dims=16)
    full = models.attach_encoders(head, encoders)
    features = encode(encoders, train)
    on_features = predict_proba(head, features)
    on_raw = predict_proba(full, train)
    np.testing.assert_allclose(on_features, on_raw, atol=1e-5)
    assert models.get_encoder(full, "image") is encoders["image"]
    with pytest.raises(ValueError, match="no audio encoder"):
        models.get_encoder(full, "audio")


def test_lesson15_checks_accept_the_reference_and_reject_the_article_bugs(capsys):
    import keras

    from mmcourse.checks import check, lesson15

    assert check("15.flatten_size", lesson15.reference_flatten_size)
    assert lesson15.reference_flatten_size(224, 224, 3) == 394_272
    assert not check("15.flatten_size", lambda h, w, c, f=32: h * w * f)  # forgot conv and pool
    assert check("15.article_model", lesson15.reference_article_model)

    def with_dot(max_length, num_vocab, image_shape=(8, 8, 1)):
        image_input = keras.Input(shape=image_shape)
        x = keras.layers.Flatten()(keras.layers.MaxPooling2D(2)(
            keras.layers.Conv2D(32, 3, activation="relu")(image_input)))
        text_input = keras.Input(shape=(max_length, num_vocab))
        text = keras.layers.Dense(x.shape[-1])(keras.layers.LSTM(64)(text_input))
        fused = keras.layers.Dot(axes=1)([x, text])
        outputs = keras.layers.Dense(10, activation="softmax")(
            keras.layers.Dense(128, activation="relu")(fused))
        return keras.Model([image_input, text_input], outputs)

    assert not check("15.article_model", with_dot)
    assert "Dot" in capsys.readouterr().out
