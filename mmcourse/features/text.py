"""Text features: a vocabulary, one-hot or embedded tokens, and SimpleRNN / LSTM encoders.

Pipeline and shapes:

1. :func:`make_vectorizer` — a ``keras.layers.TextVectorization`` adapted on the *training*
   hints. Strings ``(batch,)`` → token ids int64 ``(batch, max_length)``. Index 0 is padding
   (``""``), index 1 the out-of-vocabulary token ``"[UNK]"``: unknown words map to 1, short hints
   are padded with 0 and an empty string becomes all zeros.
2. Either the article's one-hot input, :class:`TokenOneHot`: ids ``(batch, max_length)`` →
   float32 ``(batch, max_length, num_vocab)`` (padding rows all zero), or a learned
   ``keras.layers.Embedding(num_vocab, embedding_dim, mask_zero=True)`` →
   ``(batch, max_length, embedding_dim)``. Both pass a mask (``ids != 0``) downstream so the
   recurrent layer skips padding.
3. :func:`build_rnn_encoder` / :func:`build_lstm_encoder` — ids ``(batch, max_length)`` →
   features float32 ``(batch, feature_dim)``.
"""

from __future__ import annotations

import numpy as np

from mmcourse import _validate as check

__all__ = [
    "PADDING_INDEX",
    "OOV_INDEX",
    "make_vectorizer",
    "vectorize",
    "tokenize",
    "build_vocabulary",
    "encode_text",
    "one_hot_tokens",
    "TokenOneHot",
    "build_rnn_encoder",
    "build_lstm_encoder",
]

PADDING_INDEX = 0
OOV_INDEX = 1
PADDING_TOKEN = ""
OOV_TOKEN = "[UNK]"
_PUNCTUATION = str.maketrans("", "", '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\'')

try:  # the layer class is defined only when Keras is importable (always, in this course)
    import keras
except ImportError:  # pragma: no cover
    keras = None


def _as_text_array(texts, name: str = "texts") -> np.ndarray:
    if isinstance(texts, str):
        raise TypeError(f"{name} must be a sequence of strings, not a single str. Received: "
                        f"{name}={texts!r} (a single str; wrap it in a list)")
    if texts is None or isinstance(texts, (bytes, dict)):
        raise check.type_error(name, "a sequence of strings", texts)
    array = np.asarray(texts, dtype=object)
    if array.ndim != 1:
        raise check.value_error(name, "1-D (one string per sample)", array)
    for item in array:
        if not isinstance(item, (str, bytes)):
            raise TypeError(f"{name} must contain strings. Received: {name} containing "
                            f"{check.describe(item)}")
    return array.astype(str)


def make_vectorizer(train_texts, max_length: int = 8, max_tokens: int | None = None,
                    standardize: str = "lower_and_strip_punctuation"):
    """A ``TextVectorization`` layer adapted on ``train_texts`` (adapt on training data only).

    train_texts: sequence of str, shape ``(N,)``. Returns the layer: strings ``(batch,)`` →
    int64 ids ``(batch, max_length)``; ``layer.get_vocabulary()[0] == ""`` (padding) and
    ``[1] == "[UNK]"`` (out of vocabulary). Longer hints are truncated to ``max_length``.
    """
    import keras

    texts = _as_text_array(train_texts, "train_texts")
    if len(texts) == 0:
        raise check.value_error("train_texts", "at least one training hint (the vocabulary is "
                                "adapted on them)", texts, "an empty sequence")
    max_length = check.positive_int(max_length, "max_length")
    if max_tokens is not None:
        max_tokens = check.integer(max_tokens, "max_tokens", minimum=3,
                                   expected="None or an int >= 3 (padding, [UNK], one word)")
    if not callable(standardize):
        standardize = check.one_of(standardize, "standardize",
                                   ("lower_and_strip_punctuation", "lower", "strip_punctuation",
                                    None))
    vectorizer = keras.layers.TextVectorization(
        max_tokens=max_tokens,
        standardize=standardize,
        split="whitespace",
        output_mode="int",
        output_sequence_length=int(max_length),
        name="vectorizer",
    )
    vectorizer.adapt(texts)
    return vectorizer


def vectorize(vectorizer, texts) -> np.ndarray:
    """Apply ``vectorizer`` to strings ``(N,)`` and return NumPy int64 ids ``(N, max_length)``."""
    if not callable(vectorizer):
        raise check.type_error("vectorizer", "a TextVectorization layer (from make_vectorizer)",
                               vectorizer)
    texts = _as_text_array(texts)
    return np.asarray(vectorizer(texts)).astype(np.int64)


def tokenize(text: str) -> list[str]:
    """Pure-Python reference for ``TextVectorization``'s default tokenising (tested equal):
    lower-case, delete ASCII punctuation, split on whitespace. ``"Seven!"`` → ``["seven"]``."""
    if not isinstance(text, str):
        raise check.type_error("text", "a str", text)
    return text.lower().translate(_PUNCTUATION).split()


def build_vocabulary(texts) -> list[str]:
    """Pure-Python reference for ``TextVectorization.adapt`` (tested equal on MM-Digits hints):
    ``["", "[UNK]"]`` then every word, most frequent first, ties in reverse alphabetical order."""
    counts: dict[str, int] = {}
    for text in _as_text_array(texts):
        for word in tokenize(str(text)):
            counts[word] = counts.get(word, 0) + 1
    words = sorted(counts, key=lambda word: (counts[word], word), reverse=True)
    return [PADDING_TOKEN, OOV_TOKEN, *words]


def encode_text(text: str, vocabulary, max_length: int) -> np.ndarray:
    """Token ids int64 ``(max_length,)`` of one text: unknown words → 1, padded with 0 at the
    end, truncated to ``max_length`` — what a ``TextVectorization`` layer returns for one hint.

    (Called ``encode`` before; that name still works. Not to be confused with
    :func:`mmcourse.training.encode`, which runs encoders over a whole split.)
    """
    words = tokenize(text)
    if isinstance(vocabulary, (str, bytes)) or not isinstance(vocabulary, (list, tuple)) and \
            not isinstance(vocabulary, np.ndarray):
        raise check.type_error("vocabulary", "a list of words (from build_vocabulary or "
                               "layer.get_vocabulary())", vocabulary)
    max_length = check.positive_int(max_length, "max_length")
    index = {word: position for position, word in enumerate(vocabulary)}
    ids = [index.get(word, OOV_INDEX) for word in words][:max_length]
    return np.array(ids + [PADDING_INDEX] * (max_length - len(ids)), dtype=np.int64)


encode = encode_text  # the name used before (kept so older notebooks keep working)


def one_hot_tokens(token_ids, num_vocab: int) -> np.ndarray:
    """NumPy reference for the article's one-hot input.

    token_ids: ints, shape ``(..., max_length)`` → float32 ``(..., max_length, num_vocab)``.
    Padding (id 0) becomes an all-zero row, so it carries no information.
    """
    ids = check.array(token_ids, "token_ids", kind="int", what="integer token ids")
    num_vocab = check.integer(num_vocab, "num_vocab", minimum=2)
    if ids.size and (ids.min() < 0 or ids.max() >= num_vocab):
        raise check.value_error("token_ids", f"token ids in [0, {num_vocab})", ids,
                                f"ids in [{ids.min()}, {ids.max()}]")
    out = np.eye(num_vocab, dtype=np.float32)[ids]
    out[ids == PADDING_INDEX] = 0.0
    return out


if keras is not None:

    @keras.saving.register_keras_serializable(package="mmcourse")
    class TokenOneHot(keras.layers.Layer):
        """One-hot encode token ids, padding → all-zero row, and pass a padding mask on.

        token_ids: int, shape ``(batch, max_length)`` →
        float32 ``(batch, max_length, num_vocab)``; mask: bool ``(batch, max_length)``.
        """

        def __init__(self, num_vocab: int, **kwargs):
            super().__init__(**kwargs)
            self.num_vocab = check.integer(num_vocab, "num_vocab", minimum=2)
            self.supports_masking = True

        def call(self, token_ids):
            ids = keras.ops.cast(token_ids, "int32")
            one_hot = keras.ops.one_hot(ids, self.num_vocab, dtype=self.compute_dtype)
            not_padding = keras.ops.cast(keras.ops.not_equal(ids, PADDING_INDEX),
                                         self.compute_dtype)
            return one_hot * keras.ops.expand_dims(not_padding, -1)

        def compute_mask(self, token_ids, mask=None):
            return keras.ops.not_equal(token_ids, PADDING_INDEX)

        def compute_output_shape(self, input_shape):
            return (*input_shape, self.num_vocab)

        def get_config(self):
            return {**super().get_config(), "num_vocab": self.num_vocab}


def _build_recurrent_encoder(cell: str, num_vocab, max_length, feature_dim, input_mode,
                             embedding_dim, units, return_sequences, name):
    import keras

    for value, label in ((num_vocab, "num_vocab"), (max_length, "max_length"),
                         (feature_dim, "feature_dim"), (embedding_dim, "embedding_dim"),
                         (units, "units")):
        check.positive_int(value, label)
    input_mode = check.one_of(input_mode, "input_mode", ("one_hot", "embedding"))
    return_sequences = check.boolean(return_sequences, "return_sequences")
    inputs = keras.Input(shape=(int(max_length),), dtype="int32", name="token_ids")
    if input_mode == "one_hot":
        x = TokenOneHot(int(num_vocab), name="one_hot")(inputs)
    elif input_mode == "embedding":
        x = keras.layers.Embedding(int(num_vocab), int(embedding_dim), mask_zero=True,
                                   name="embedding")(inputs)
    recurrent = keras.layers.SimpleRNN if cell == "rnn" else keras.layers.LSTM
    x = recurrent(int(units), return_sequences=return_sequences, name=cell)(x)
    if return_sequences:
        return keras.Model(inputs, x, name=name)
    outputs = keras.layers.Dense(int(feature_dim), activation="relu", name="features")(x)
    return keras.Model(inputs, outputs, name=name)


def build_rnn_encoder(num_vocab: int, max_length: int = 8, feature_dim: int = 32,
                      input_mode: str = "embedding", embedding_dim: int = 16, units: int = 32,
                      return_sequences: bool = False, name: str = "rnn_encoder"):
    """SimpleRNN text encoder: ids int ``(batch, max_length)`` → ``(batch, feature_dim)``.

    ``input_mode="one_hot"`` feeds ``(max_length, num_vocab)`` one-hot rows (the article);
    ``"embedding"`` a learned ``Embedding(mask_zero=True)``. Padding is masked either way.
    ``return_sequences=True`` returns the hidden states ``(batch, max_length, units)`` instead
    (no projection) — for plotting how the state evolves over a hint.
    """
    return _build_recurrent_encoder("rnn", num_vocab, max_length, feature_dim, input_mode,
                                    embedding_dim, units, return_sequences, name)


def build_lstm_encoder(num_vocab: int, max_length: int = 8, feature_dim: int = 32,
                       input_mode: str = "embedding", embedding_dim: int = 16, units: int = 32,
                       return_sequences: bool = False, name: str = "lstm_encoder"):
    """LSTM text encoder: ids int ``(batch, max_length)`` → ``(batch, feature_dim)``.

    Same inputs and options as :func:`build_rnn_encoder`, with an LSTM cell (gates let it keep
    information across the whole hint, e.g. the "odd" in "an odd number above five").
    """
    return _build_recurrent_encoder("lstm", num_vocab, max_length, feature_dim, input_mode,
                                    embedding_dim, units, return_sequences, name)
