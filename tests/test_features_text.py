"""Vocabulary, one-hot / embedding paths and recurrent encoders in mmcourse.features.text."""

import keras
import numpy as np
import pytest

from mmcourse.features import text

TRAIN = ["seven", "three plus four", "an odd number above five", "two minus two", "nine"]


@pytest.fixture(scope="module")
def vectorizer():
    return text.make_vectorizer(TRAIN, max_length=6)


def test_vocabulary_has_padding_and_oov(vectorizer):
    vocabulary = vectorizer.get_vocabulary()
    assert vocabulary[text.PADDING_INDEX] == ""
    assert vocabulary[text.OOV_INDEX] == "[UNK]"
    assert set(vocabulary[2:]) == {w for hint in TRAIN for w in hint.lower().split()}


def test_unknown_words_empty_strings_and_truncation(vectorizer):
    vocabulary = vectorizer.get_vocabulary()
    ids = text.vectorize(vectorizer, ["Seven!", "eleven plus four", "", "a b c d e f g h"])
    assert ids.shape == (4, 6)
    assert ids[0, 0] == vocabulary.index("seven") and (ids[0, 1:] == 0).all()
    assert ids[1, 0] == text.OOV_INDEX and ids[1, 1] == vocabulary.index("plus")
    assert (ids[2] == 0).all()
    assert (ids[3] == text.OOV_INDEX).all()  # truncated to max_length, every word unknown


def test_vectorizer_rejects_bad_input():
    with pytest.raises(TypeError, match="single str"):
        text.make_vectorizer("seven")
    with pytest.raises(ValueError, match="empty"):
        text.make_vectorizer([])
    with pytest.raises(TypeError, match="strings"):
        text.make_vectorizer(["seven", 7])
    with pytest.raises(ValueError, match="max_length"):
        text.make_vectorizer(TRAIN, max_length=0)


def test_one_hot_layer_matches_numpy_reference_and_masks_padding():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 9, size=(5, 7))
    ids[:, 4:] = 0
    layer = text.TokenOneHot(9)
    out = np.asarray(layer(ids))
    assert out.shape == (5, 7, 9)
    np.testing.assert_array_equal(out, text.one_hot_tokens(ids, 9))
    assert (out[:, 4:] == 0).all()
    np.testing.assert_array_equal(np.asarray(layer.compute_mask(ids)), ids != 0)
    with pytest.raises(ValueError):
        text.one_hot_tokens(np.array([[9]]), 9)
    with pytest.raises(TypeError):
        text.one_hot_tokens(np.array([[1.0]]), 9)


@pytest.mark.parametrize("builder", [text.build_rnn_encoder, text.build_lstm_encoder])
@pytest.mark.parametrize("input_mode", ["one_hot", "embedding"])
@pytest.mark.parametrize("max_length, feature_dim", [(6, 8), (3, 32)])
def test_encoder_shapes(builder, input_mode, max_length, feature_dim):
    model = builder(20, max_length, feature_dim, input_mode=input_mode, units=5)
    ids = np.random.default_rng(1).integers(0, 20, size=(4, max_length))
    assert np.asarray(model(ids)).shape == (4, feature_dim)
    states = builder(20, max_length, input_mode=input_mode, units=5, return_sequences=True)
    assert np.asarray(states(ids)).shape == (4, max_length, 5)


@pytest.mark.parametrize("input_mode", ["one_hot", "embedding"])
def test_padding_is_masked(input_mode):
    """Trailing padding must not change the features: the recurrent layer skips masked steps."""
    model = text.build_lstm_encoder(12, 6, 8, input_mode=input_mode, units=4)
    short = np.array([[3, 5, 0, 0, 0, 0]])
    long = np.array([[3, 5, 0, 0, 0, 0], [3, 5, 7, 0, 0, 0]])
    a = np.asarray(model(short))[0]
    b = np.asarray(model(long))
    np.testing.assert_allclose(a, b[0], atol=1e-6)
    assert not np.allclose(b[0], b[1])
    empty = np.asarray(model(np.zeros((1, 6), dtype=np.int64)))
    assert np.isfinite(empty).all()


def test_encoder_save_load_round_trip(tmp_path):
    model = text.build_rnn_encoder(10, 5, 6, input_mode="one_hot", units=3)
    ids = np.random.default_rng(2).integers(0, 10, size=(3, 5))
    path = tmp_path / "rnn.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(np.asarray(loaded(ids)), np.asarray(model(ids)), atol=1e-6)


def test_encoder_rejects_bad_options():
    with pytest.raises(ValueError, match="input_mode"):
        text.build_lstm_encoder(10, input_mode="bag")
    with pytest.raises(ValueError, match="num_vocab"):
        text.build_rnn_encoder(0)


def test_pure_python_tokenizer_and_vocabulary_match_keras():
    from mmcourse.data import load_mmdigits

    hints = list(load_mmdigits("train").text) + ["Seven!", "it's (maybe) 3.5?", "", "a  b\tc"]
    vectorizer = text.make_vectorizer(hints, max_length=6)
    vocabulary = [str(word) for word in vectorizer.get_vocabulary()]
    assert text.build_vocabulary(hints) == vocabulary
    probes = hints[:40] + ["eleven plus four", "Seven, seven; SEVEN", "x y z w v u t s"]
    expected = text.vectorize(vectorizer, probes)
    ours = np.stack([text.encode(hint, vocabulary, 6) for hint in probes])
    np.testing.assert_array_equal(ours, expected)
    assert text.tokenize("Seven!") == ["seven"]
