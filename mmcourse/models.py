"""Model builders: unimodal baselines and the multimodal classifier of the article, done right.

Every model built here takes a **dict of named inputs** matching the keys of
``load_mmdigits(...).to_tf_dataset(modalities=model_modalities(model))``:

* ``"image"``: float32 ``(batch, 8, 8, 1)`` → the CNN of :func:`mmcourse.features.image.build_cnn_encoder`;
* ``"text"``: string ``(batch,)`` → ``TextVectorization`` (adapted on the *training* hints) →
  the LSTM of :func:`mmcourse.features.text.build_lstm_encoder`;
* ``"audio"``: float32 ``(batch, 8000)`` → the :class:`~mmcourse.features.audio.MFCC` layer →
  per-coefficient ``BatchNormalization`` → the MFCC CNN of
  :func:`mmcourse.features.audio.build_mfcc_encoder`;
* ``"present"``: float32 ``(batch, num_modalities)``, 1 where a modality is present, in the
  order of ``model_modalities(model)`` — wired into the fusion layer (or, for a unimodal model,
  multiplied into its features so a missing input gives zero features).

Each encoder gives ``(batch, feature_dim)`` features; a fusion layer from
:mod:`mmcourse.fusion.layers` merges them, and the head ``Dense(128, relu) → Dense(10, softmax)``
classifies. The last layer, named ``"classifier"``, is the article's
``y = softmax(W_fused f_fused + b_fused)``: its kernel is ``W_fused`` (stored transposed,
``(128, 10)``) and its bias ``b_fused``.

``fusion="late"`` gives decision-level fusion instead: every modality gets its own head and
softmax, and :class:`LateFusion` combines the probabilities (product of experts by default).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

from mmcourse import _validate as check

__all__ = [
    "MODALITIES",
    "FUSION_NAMES",
    "NUM_CLASSES",
    "HIDDEN_UNITS",
    "text_vectorizer_for",
    "build_encoder",
    "build_fusion_layer",
    "build_unimodal_classifier",
    "build_multimodal_classifier",
    "build_fusion_head",
    "get_encoder",
    "attach_encoders",
    "model_modalities",
]

MODALITIES = ("image", "audio", "text")
FUSION_NAMES = (
    "concat",
    "weighted_average",
    "product",
    "attention",
    "tensor",
    "low_rank",
    "gated",
    "bilinear",
    "late",
)
NUM_CLASSES = 10
HIDDEN_UNITS = 128
IMAGE_SHAPE = (8, 8, 1)
AUDIO_SAMPLES = 8000

from mmcourse.env import quiet_tensorflow  # noqa: E402

quiet_tensorflow()  # TensorFlow's start-up log noise off before Keras imports it
import keras  # noqa: E402

from mmcourse.fusion.late_layer import LATE_FUSION_RULES, LateFusion  # noqa: E402


# ----------------------------------------------------------------------------- validation
def _check_modalities(modalities, name: str = "modalities") -> tuple[str, ...]:
    expected = (f"a non-empty sequence of names from {MODALITIES} (image, audio, text), each at "
                "most once")
    if isinstance(modalities, str):
        modalities = (modalities,)
    if isinstance(modalities, Mapping) or not isinstance(modalities, Sequence):
        raise check.type_error(name, expected, modalities)
    modalities = tuple(modalities)
    if not modalities or any(not isinstance(item, str) or item not in MODALITIES
                             for item in modalities):
        unknown = [item for item in modalities if item not in MODALITIES]
        raise check.value_error(
            name, expected, modalities,
            f"{modalities!r}" + (f" (unknown modality {unknown[0]!r})" if unknown else ""))
    if len(set(modalities)) != len(modalities):
        raise check.value_error(name, expected + " (no repeats)", modalities)
    return modalities


def _check_modality(modality, name: str = "modality") -> str:
    return check.one_of(modality, name, MODALITIES)


def _canonical_order(modalities: tuple[str, ...], name: str = "modalities") -> tuple[str, ...]:
    """The modalities in the order of ``MODALITIES``; a different order given gets a warning."""
    ordered = tuple(item for item in MODALITIES if item in modalities)
    if ordered != modalities:
        warnings.warn(
            f"{name}={modalities!r} is used in the order {ordered!r}: a model's inputs and its "
            f"'present' columns always follow mmcourse.models.MODALITIES = {MODALITIES}. Pass "
            f"{name}={ordered!r} to silence this warning.",
            UserWarning,
            stacklevel=3,
        )
    return ordered


def _check_positive(value, name: str) -> int:
    return check.positive_int(value, name)


def _check_dropout(dropout) -> float:
    dropout = check.number(dropout, "dropout", minimum=0.0, maximum=1.0,
                           expected="a rate in [0, 1)")
    if dropout >= 1.0:
        raise check.value_error("dropout", "a rate in [0, 1)", dropout)
    return dropout


def _check_name(name) -> str | None:
    if name is not None and not isinstance(name, str):
        raise check.type_error("name", "None or a str", name)
    return name


# ----------------------------------------------------------------------------- text vocabulary
def text_vectorizer_for(text_vocabulary, max_length: int = 8):
    """A fresh ``TextVectorization`` layer (strings ``(batch,)`` → int ids ``(batch, max_length)``).

    ``text_vocabulary`` is either the training hints (a sequence of str — the vocabulary is
    adapted on them) or an existing adapted ``TextVectorization`` layer (its vocabulary is
    copied into a new layer, so several models never share one layer object).
    """
    from mmcourse.features import text as text_features

    max_length = check.positive_int(max_length, "max_length")
    if isinstance(text_vocabulary, keras.layers.TextVectorization):
        vocabulary = text_vocabulary.get_vocabulary()
        if len(vocabulary) <= 2:
            raise ValueError(
                "text_vocabulary must be an adapted TextVectorization layer or the training "
                "hints; call .adapt(train_texts) or pass the training hints instead. Received: "
                "text_vocabulary=a TextVectorization layer with no vocabulary yet"
            )
        config = text_vocabulary.get_config()
        return keras.layers.TextVectorization(
            standardize=config.get("standardize", "lower_and_strip_punctuation"),
            split=config.get("split", "whitespace"),
            output_mode="int",
            output_sequence_length=config.get("output_sequence_length") or max_length,
            vocabulary=vocabulary[2:],  # without "" and "[UNK]", which the layer adds back
            name="vectorizer",
        )
    if text_vocabulary is None:
        raise ValueError(
            "text_vocabulary must be given for the text path (a vocabulary): pass "
            "text_vocabulary=train.text (the training hints) or an adapted TextVectorization "
            "layer. Received: text_vocabulary=None"
        )
    if isinstance(text_vocabulary, (str, bytes)):
        raise check.type_error("text_vocabulary", "the training hints (a sequence of str) or an "
                               "adapted TextVectorization layer", text_vocabulary)
    return text_features.make_vectorizer(text_vocabulary, max_length=max_length)


# ----------------------------------------------------------------------------- encoders
def build_encoder(modality: str, feature_dim: int = 32, text_vocabulary=None, *,
                  max_length: int = 8, name: str | None = None):
    """One modality's encoder as a ``keras.Model``: raw input → features ``(batch, feature_dim)``.

    * image ``(batch, 8, 8, 1)`` → Conv2D(16)/MaxPool → Conv2D(32)/MaxPool → Flatten → Dense;
    * text ``(batch,)`` strings → TextVectorization → Embedding(16) → LSTM(32) → Dense;
    * audio ``(batch, 8000)`` → MFCC (13 × 101) → BatchNorm per coefficient → Conv1D(16, 32) → Dense.

    The input is named after the modality, as in ``to_tf_dataset``.
    """
    from mmcourse.features import audio as audio_features
    from mmcourse.features import image as image_features
    from mmcourse.features import text as text_features

    modality = _check_modality(modality)
    feature_dim = _check_positive(feature_dim, "feature_dim")
    name = _check_name(name) or f"{modality}_encoder"
    if modality == "image":
        return image_features.build_cnn_encoder(
            feature_dim, input_shape=IMAGE_SHAPE, filters=(16, 32), name=name
        )
    if modality == "text":
        vectorizer = text_vectorizer_for(text_vocabulary, max_length=max_length)
        num_vocab = int(vectorizer.vocabulary_size())
        sequence_length = int(vectorizer.get_config()["output_sequence_length"])
        lstm = text_features.build_lstm_encoder(
            num_vocab, max_length=sequence_length, feature_dim=feature_dim,
            embedding_dim=16, units=32, name="lstm_encoder",
        )
        inputs = keras.Input(shape=(), dtype="string", name="text")
        outputs = lstm(vectorizer(inputs))
        return keras.Model(inputs, outputs, name=name)
    inputs = keras.Input(shape=(AUDIO_SAMPLES,), name="audio")
    mfcc_layer = audio_features.MFCC(name="mfcc")
    coefficients = mfcc_layer(inputs)  # (batch, n_mfcc, frames)
    coefficients = keras.layers.BatchNormalization(axis=1, name="mfcc_normalization")(coefficients)
    mfcc_encoder = audio_features.build_mfcc_encoder(
        feature_dim, n_mfcc=mfcc_layer.n_mfcc, num_frames=int(coefficients.shape[-1]),
        filters=(16, 32), name="mfcc_encoder",
    )
    return keras.Model(inputs, mfcc_encoder(coefficients), name=name)


# ----------------------------------------------------------------------------- fusion
def build_fusion_layer(fusion, num_modalities: int, feature_dim: int = 32, *, rank: int = 4):
    """A fusion layer from :mod:`mmcourse.fusion.layers`, chosen by name (see ``FUSION_NAMES``).

    ``concat`` → ``Concatenate()`` (output ``num_modalities·feature_dim``);
    ``weighted_average`` / ``product`` / ``attention`` / ``gated`` → each modality projected to
    ``feature_dim`` first (``f_i W_i + b_i``), so features from unrelated encoders are put in one
    space before they are added or multiplied; ``WeightedAverage`` learns softmax weights α_i;
    ``tensor`` → ``TensorFusion()`` (no options: the model builders project every modality to
    ``tensor_dim`` features in front of it, output ``(tensor_dim + 1) ** num_modalities``);
    ``low_rank`` → ``LowRankFusion(units=feature_dim, rank=rank)``; ``bilinear`` →
    ``Bilinear(feature_dim)`` (exactly two modalities). ``late`` is not a layer: see
    :func:`build_multimodal_classifier`.
    """
    from mmcourse.fusion import layers

    names = tuple(name for name in FUSION_NAMES if name != "late")
    if not isinstance(fusion, str):
        raise check.type_error("fusion", "one of " + ", ".join(names), fusion)
    if fusion not in names:
        raise check.value_error(
            "fusion", "one of " + ", ".join(FUSION_NAMES) + " ('late' only in the model "
            "builders), or a fusion layer instance there", fusion)
    num_modalities = check.integer(num_modalities, "num_modalities", minimum=2)
    feature_dim = check.positive_int(feature_dim, "feature_dim")
    rank = check.positive_int(rank, "rank")
    if fusion == "bilinear" and num_modalities != 2:
        raise check.value_error("num_modalities", "exactly two modalities for bilinear fusion "
                                "(it scores exactly two)", num_modalities)
    if fusion == "concat":
        return layers.Concatenate(name="fusion")
    if fusion == "weighted_average":
        return layers.WeightedAverage(units=feature_dim, name="fusion")
    if fusion == "product":
        return layers.Product(units=feature_dim, name="fusion")
    if fusion == "attention":
        return layers.AttentionFusion(units=feature_dim, name="fusion")
    if fusion == "tensor":
        return layers.TensorFusion(name="fusion")
    if fusion == "low_rank":
        return layers.LowRankFusion(units=feature_dim, rank=rank, name="fusion")
    if fusion == "gated":
        return layers.GatedFusion(units=feature_dim, name="fusion")
    return layers.Bilinear(units=feature_dim, name="fusion")


# ----------------------------------------------------------------------------- classifiers
def _raw_input(modality: str):
    if modality == "image":
        return keras.Input(shape=IMAGE_SHAPE, name="image")
    if modality == "audio":
        return keras.Input(shape=(AUDIO_SAMPLES,), name="audio")
    return keras.Input(shape=(), dtype="string", name="text")


def _inputs_and_features(modalities, feature_dim, text_vocabulary, max_length, encoders=None):
    inputs, features = {}, []
    if encoders is not None and not isinstance(encoders, Mapping):
        raise check.type_error("encoders", "None or a dict {modality: encoder model}", encoders)
    encoders = dict(encoders or {})
    unknown = set(encoders) - set(modalities)
    if unknown:
        raise check.value_error("encoders", f"a dict whose keys are among the model's "
                                f"modalities {modalities}", sorted(encoders),
                                f"encoders for {sorted(unknown)}")
    for modality, encoder in encoders.items():
        if not isinstance(encoder, keras.Model) and not callable(encoder):
            raise check.type_error(f"encoders[{modality!r}]", "a Keras encoder model", encoder)
    for modality in modalities:
        encoder = encoders.get(modality)
        if encoder is None:
            encoder = build_encoder(modality, feature_dim, text_vocabulary,
                                    max_length=max_length)
        inputs[modality] = _raw_input(modality)
        features.append(encoder(inputs[modality]))
    inputs["present"] = keras.Input(shape=(len(modalities),), name="present")
    return inputs, features


def _head(fused, dropout: float, prefix: str = ""):
    dropout = _check_dropout(dropout)
    x = fused
    if dropout:
        x = keras.layers.Dropout(dropout, name=f"{prefix}dropout")(x)
    x = keras.layers.Dense(HIDDEN_UNITS, activation="relu", name=f"{prefix}hidden")(x)
    return keras.layers.Dense(NUM_CLASSES, activation="softmax", name=f"{prefix}classifier")(x)


def build_unimodal_classifier(modality: str, feature_dim: int = 32, text_vocabulary=None, *,
                              max_length: int = 8, dropout: float = 0.0, name: str | None = None):
    """One modality alone: encoder → ``Dense(128, relu)`` → ``Dense(10, softmax)``.

    Inputs ``{modality, "present"}`` (``present``: ``(batch, 1)``; a missing input gives zero
    features); output probabilities ``(batch, 10)``. ``text_vocabulary`` (training hints or an
    adapted ``TextVectorization``) is required for ``"text"``.
    """
    modality = _check_modality(modality)
    feature_dim = _check_positive(feature_dim, "feature_dim")
    _check_dropout(dropout)
    name = _check_name(name)
    inputs, (features,) = _inputs_and_features((modality,), feature_dim, text_vocabulary,
                                               max_length)
    masked = keras.layers.Multiply(name="apply_presence")([features, inputs["present"]])
    outputs = _head(masked, dropout)
    return keras.Model(inputs, outputs, name=name or f"{modality}_only")


def _resolve_fusion(fusion, modalities, feature_dim, tensor_dim, rank, late_rule):
    is_layer = isinstance(fusion, keras.layers.Layer)
    tensor_dim = _check_positive(tensor_dim, "tensor_dim")
    rank = _check_positive(rank, "rank")
    if not is_layer and not isinstance(fusion, str):
        raise check.type_error("fusion", "one of " + ", ".join(FUSION_NAMES)
                               + " or a fusion layer instance", fusion)
    if not is_layer and fusion not in FUSION_NAMES:
        raise check.value_error("fusion", "one of " + ", ".join(FUSION_NAMES)
                                + " (or a fusion layer instance)", fusion)
    if fusion == "late":
        late_rule = check.one_of(late_rule, "late_rule", LATE_FUSION_RULES)
        return None, f"late_{late_rule}"
    if len(modalities) < 2:
        raise check.value_error(
            "modalities", "at least two modalities for fusion (use build_unimodal_classifier "
            "for one)", modalities)
    if is_layer:
        return fusion, fusion.name
    layer = build_fusion_layer(fusion, len(modalities), feature_dim, rank=rank)
    return layer, fusion


def _fuse_and_classify(modalities, features, present, fusion_layer, fusion, dropout,
                       tensor_dim, late_rule):
    """features: list of (batch, d_i) tensors in the order of ``modalities`` → probabilities."""
    if fusion == "late":
        probabilities = [
            _head(feature, dropout, prefix=f"{modality}_")
            for modality, feature in zip(modalities, features, strict=True)
        ]
        return LateFusion(late_rule, name="fusion")(probabilities, presence=present)
    from mmcourse.fusion.layers import TensorFusion

    if fusion == "tensor" or isinstance(fusion_layer, TensorFusion):  # by name or an instance
        features = [
            keras.layers.Dense(tensor_dim, name=f"{modality}_tensor_projection")(feature)
            for modality, feature in zip(modalities, features, strict=True)
        ]
    fused = fusion_layer(features, presence=present)
    if isinstance(fused, (list, tuple)):  # e.g. AttentionFusion(return_attention=True)
        fused = fused[0]
    return _head(fused, dropout)


def build_multimodal_classifier(modalities: Sequence[str] = MODALITIES,
                                fusion="attention", feature_dim: int = 32, text_vocabulary=None,
                                *, encoders: Mapping | None = None, max_length: int = 8,
                                dropout: float = 0.0, tensor_dim: int = 6, rank: int = 4,
                                late_rule: str = "product", name: str | None = None):
    """Encoders → fusion → ``Dense(128, relu)`` → ``Dense(10, softmax)`` (named ``classifier``).

    modalities: a subset of ``MODALITIES`` = image, audio, text. The model's inputs and its
    ``present`` columns always follow that order (see :func:`model_modalities`); another order
    is used in that order with a ``UserWarning``. fusion: a name from ``FUSION_NAMES`` or a
    fusion layer instance (called as ``layer(features, presence=present)``; a ``TensorFusion``
    instance gets the same ``tensor_dim`` projections in front of it as ``"tensor"``). ``"late"``: each modality gets its own
    ``Dense(128) → Dense(10, softmax)`` head and :class:`LateFusion` (``late_rule``) combines
    them. ``encoders``: optional ``{modality: encoder model}`` to reuse (e.g. trained ones from
    :func:`get_encoder`); the others are built fresh. Output probabilities ``(batch, 10)``.
    """
    modalities = _canonical_order(_check_modalities(modalities))
    feature_dim = _check_positive(feature_dim, "feature_dim")
    max_length = _check_positive(max_length, "max_length")
    _check_dropout(dropout)
    name = _check_name(name)
    fusion_layer, label = _resolve_fusion(fusion, modalities, feature_dim, tensor_dim, rank,
                                          late_rule)
    inputs, features = _inputs_and_features(modalities, feature_dim, text_vocabulary, max_length,
                                            encoders)
    outputs = _fuse_and_classify(modalities, features, inputs["present"], fusion_layer, fusion,
                                 dropout, tensor_dim, late_rule)
    return keras.Model(inputs, outputs, name=name or f"{label}_fusion")


def build_fusion_head(modalities: Sequence[str] = MODALITIES, fusion="attention",
                      feature_dims: int | Mapping[str, int] = 32, *, dropout: float = 0.0,
                      tensor_dim: int = 6, rank: int = 4, late_rule: str = "product",
                      name: str | None = None):
    """Fusion and head only, on *features*: inputs ``{modality: (batch, d), "present": ...}``.

    The same layers as :func:`build_multimodal_classifier` after the encoders. Train it on
    features computed once by frozen encoders (:func:`mmcourse.training.encode`) to compare
    fusion methods in seconds, then :func:`attach_encoders` turns it into a model on raw inputs.
    """
    modalities = _canonical_order(_check_modalities(modalities))
    _check_dropout(dropout)
    name = _check_name(name)
    if isinstance(feature_dims, Mapping):
        missing = [m for m in modalities if m not in feature_dims]
        if missing:
            raise check.value_error("feature_dims", f"an int or a dict with a size for every "
                                    f"modality {modalities}", dict(feature_dims),
                                    f"{dict(feature_dims)!r} (no size for {missing})")
        dims = {m: _check_positive(feature_dims[m], f"feature_dims[{m!r}]") for m in modalities}
    else:
        dims = dict.fromkeys(modalities, _check_positive(feature_dims, "feature_dims"))
    feature_dim = max(dims.values())
    fusion_layer, label = _resolve_fusion(fusion, modalities, feature_dim, tensor_dim, rank,
                                          late_rule)
    inputs = {m: keras.Input(shape=(dims[m],), name=m) for m in modalities}
    inputs["present"] = keras.Input(shape=(len(modalities),), name="present")
    features = [inputs[m] for m in modalities]
    outputs = _fuse_and_classify(modalities, features, inputs["present"], fusion_layer, fusion,
                                 dropout, tensor_dim, late_rule)
    return keras.Model(inputs, outputs, name=name or f"{label}_head")


def get_encoder(model, modality: str):
    """The encoder sub-model of ``modality`` inside a model built here (a ``keras.Model``)."""
    if not isinstance(model, keras.Model):
        raise check.type_error("model", "a Keras model built by mmcourse.models", model)
    modality = _check_modality(modality)
    try:
        return model.get_layer(f"{modality}_encoder")
    except ValueError:
        raise ValueError(
            f"model must hold a {modality} encoder (a layer named '{modality}_encoder'). "
            f"Received: model {model.name!r}, which has no {modality} encoder; its layers are "
            f"{[layer.name for layer in model.layers]}"
        ) from None


def attach_encoders(head, encoders: Mapping, name: str | None = None):
    """Raw inputs → ``encoders[modality]`` → ``head`` (from :func:`build_fusion_head`).

    The result reads the same named inputs as :func:`build_multimodal_classifier` and saves as
    one ``.keras`` file.
    """
    modalities = model_modalities(head)
    if not isinstance(encoders, Mapping):
        raise check.type_error("encoders", "a dict {modality: encoder model}", encoders)
    missing = [m for m in modalities if m not in encoders]
    if missing:
        raise check.value_error("encoders", f"a dict with an encoder for every modality of the "
                                f"head {modalities}", sorted(encoders),
                                f"encoders for {sorted(encoders)} (missing {missing})")
    inputs = {m: _raw_input(m) for m in modalities}
    inputs["present"] = keras.Input(shape=(len(modalities),), name="present")
    head_inputs = {m: encoders[m](inputs[m]) for m in modalities}
    head_inputs["present"] = inputs["present"]
    return keras.Model(inputs, head(head_inputs), name=name or head.name.replace("_head", ""))


def model_modalities(model) -> tuple[str, ...]:
    """The modalities a model built here reads, in the order of its ``present`` columns."""
    if not isinstance(model, keras.Model):
        raise check.type_error("model", "a Keras model built by mmcourse.models", model)
    names = [getattr(tensor, "name", "") for tensor in model.inputs]
    names = [name.split(":")[0] for name in names]
    found = tuple(name for name in MODALITIES if name in names)
    if not found:
        raise ValueError(
            f"model must have inputs named after modalities ({', '.join(MODALITIES)}). "
            f"Received: model with inputs {names}"
        )
    return found
