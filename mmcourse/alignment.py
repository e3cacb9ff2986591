"""Cross-modal and self-supervised learning: contrastive alignment, retrieval, few-label probes.

* :func:`load_views` — an MM-Digits split as two feature views per sample, the image's 64
  pixels and a summary of its clip's MFCC (:func:`mfcc_summary`), plus the hidden labels.
* :func:`info_nce` — the symmetric InfoNCE (CLIP) loss in ``keras.ops``, and
  :func:`info_nce_numpy`, its NumPy reference. Row ``i`` of ``a`` and row ``i`` of ``b`` are a
  positive pair (the **same sample** seen two ways); every other row of the batch is a negative.
* :class:`SymmetricInfoNCE` — the same loss as a Keras ``Loss`` for ``model.compile``: the model's
  output is the two embeddings side by side, ``(batch, 2 * dim)``; the target is ignored.
* :func:`build_tower`, :func:`train_two_tower` — a small two-tower (image, audio) contrastive
  trainer on feature vectors (cross-modal); :func:`train_two_views` — the intra-modal objective
  (SimCLR): two random augmentations of the same image through one shared tower.
* :func:`recall_at_k` (vectorised) and :func:`recall_at_k_reference` (a loop) for retrieval.
* :func:`class_prototypes`, :func:`prototype_predict` — zero-shot classification by the nearest
  prototype; :func:`few_label_indices`, :func:`linear_probe`, :func:`co_train` — semi-supervised
  learning; :func:`cluster_scores` (k-means, NMI, purity) — unsupervised evaluation.

No function here reads a digit label unless its signature asks for one (``labels``); the
contrastive trainers take feature arrays only.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from mmcourse import _validate as check
from mmcourse.env import one_blas_thread

__all__ = [
    "mfcc_summary",
    "load_views",
    "l2_normalize",
    "cosine_similarity",
    "info_nce_numpy",
    "info_nce",
    "SymmetricInfoNCE",
    "recall_at_k",
    "recall_at_k_reference",
    "random_recall_at_k",
    "build_tower",
    "train_two_tower",
    "train_two_views",
    "embed",
    "class_prototypes",
    "prototype_predict",
    "few_label_indices",
    "linear_probe",
    "co_train",
    "purity",
    "cluster_scores",
]


# ----------------------------------------------------------------------------- validation
def _embeddings(value, name: str) -> np.ndarray:
    array = check.array(value, name, ndim=2)
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise check.value_error(name, "a non-empty float array of shape (N, dim)", array)
    if not np.all(np.isfinite(array)):
        raise check.value_error(name, "finite values", array,
                                f"{check.describe(array)} with NaN or infinite values")
    return np.asarray(array, dtype=np.float64)


def _pair(a, b, names=("a", "b")) -> tuple[np.ndarray, np.ndarray]:
    a = _embeddings(a, names[0])
    b = _embeddings(b, names[1])
    if a.shape != b.shape:
        raise ValueError(f"{names[0]} and {names[1]} must have the same shape (row i of one is "
                         f"paired with row i of the other). Received: {names[0]}.shape="
                         f"{a.shape}, {names[1]}.shape={b.shape}")
    return a, b


def _temperature(value) -> float:
    return check.number(value, "temperature", minimum=0.0, exclusive_minimum=True)


# ----------------------------------------------------------------------------- views
def mfcc_summary(mfcc) -> np.ndarray:
    """MFCC ``(N, n_mfcc, frames)`` → float32 ``(N, 2 * n_mfcc + n_mfcc * ceil(frames / 10))``:
    the mean and the standard deviation of each coefficient over time, then every 10th frame
    (a coarse time course: 13 × 11 values for 1 s clips)."""
    mfcc = check.array(mfcc, "mfcc", ndim=3, kind="float", finite=True)
    return np.concatenate([mfcc.mean(axis=2), mfcc.std(axis=2),
                           mfcc[:, :, ::10].reshape(len(mfcc), -1)], axis=1).astype(np.float32)


def load_views(split: str, seed: int = 0, **corruption) -> tuple[dict, np.ndarray]:
    """``load_mmdigits(split, seed, **corruption)`` as ``({"image": (N, 64), "audio": (N, 169)},
    labels (N,))``: row i of both views is the same sample. A new ``seed`` draws new image noise,
    occlusion and audio noise for the **same** samples (same order, same labels) — a free,
    realistic augmentation. The labels are returned apart so a label-free method never sees them.
    """
    from mmcourse.data import load_mmdigits
    from mmcourse.features.audio import mfcc

    data = load_mmdigits(split, seed, **corruption)
    with one_blas_thread():  # librosa, clip by clip: small matrix products
        coefficients = mfcc(data.audio)
    views = {"image": data.image.reshape(len(data), -1).astype(np.float32),
             "audio": mfcc_summary(coefficients)}
    return views, np.asarray(data.label)


# ----------------------------------------------------------------------------- the loss
def l2_normalize(x, axis: int = -1) -> np.ndarray:
    """Rows scaled to unit length (a zero row stays zero). x: float ``(N, dim)``."""
    x = np.asarray(x, dtype=np.float64)
    norm = np.linalg.norm(x, axis=axis, keepdims=True)
    return x / np.maximum(norm, 1e-12)


def cosine_similarity(a, b) -> np.ndarray:
    """Cosine similarities ``(N_a, N_b)`` between the rows of a ``(N_a, d)`` and b ``(N_b, d)``."""
    a = _embeddings(a, "a")
    b = _embeddings(b, "b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"a and b must have the same embedding size. Received: a.shape="
                         f"{a.shape}, b.shape={b.shape}")
    return l2_normalize(a) @ l2_normalize(b).T


def _log_softmax_numpy(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def info_nce_numpy(a, b, temperature: float = 0.1) -> float:
    """Symmetric InfoNCE (CLIP) in NumPy: the reference for :func:`info_nce`.

    a, b: float ``(N, dim)``, row i of a paired with row i of b. Both are L2-normalised, the
    logits are ``a @ b.T / temperature`` ``(N, N)``, and the loss is the mean of the cross-entropy
    of each row (a → b, target i) and of each column (b → a, target i):
    ``0.5 * (CE(logits, arange) + CE(logits.T, arange))``.
    """
    a, b = _pair(a, b)
    temperature = _temperature(temperature)
    logits = l2_normalize(a) @ l2_normalize(b).T / temperature
    diagonal = np.arange(len(a))
    a_to_b = -_log_softmax_numpy(logits)[diagonal, diagonal].mean()
    b_to_a = -_log_softmax_numpy(logits.T)[diagonal, diagonal].mean()
    return float(0.5 * (a_to_b + b_to_a))


def _keras():
    from mmcourse.env import quiet_tensorflow

    quiet_tensorflow()
    import keras

    return keras


def info_nce(a, b, temperature: float = 0.1):
    """Symmetric InfoNCE (CLIP) in ``keras.ops``: a scalar tensor, differentiable.

    a, b: float ``(batch, dim)`` tensors, row i of a paired with row i of b. Same formula as
    :func:`info_nce_numpy` (which checks it).
    """
    keras = _keras()
    ops = keras.ops
    if isinstance(temperature, (int, float, np.floating, np.integer)):
        temperature = _temperature(temperature)
    a = ops.convert_to_tensor(a, dtype="float32")
    b = ops.convert_to_tensor(b, dtype="float32")
    if len(a.shape) != 2 or tuple(a.shape) != tuple(b.shape):
        raise ValueError(f"a and b must be 2-D with the same shape (batch, dim). Received: "
                         f"a.shape={tuple(a.shape)}, b.shape={tuple(b.shape)}")
    a = a / ops.maximum(ops.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / ops.maximum(ops.norm(b, axis=1, keepdims=True), 1e-12)
    logits = ops.matmul(a, ops.transpose(b)) / temperature
    targets = ops.arange(ops.shape(a)[0])
    a_to_b = keras.losses.sparse_categorical_crossentropy(targets, logits, from_logits=True)
    b_to_a = keras.losses.sparse_categorical_crossentropy(targets, ops.transpose(logits),
                                                          from_logits=True)
    return 0.5 * (ops.mean(a_to_b) + ops.mean(b_to_a))


def _make_loss_class():
    keras = _keras()

    @keras.saving.register_keras_serializable(package="mmcourse")
    class SymmetricInfoNCE(keras.losses.Loss):
        """Symmetric InfoNCE on ``y_pred = concat([a, b], axis=1)`` ``(batch, 2 * dim)``.

        ``y_true`` is ignored (the targets are the diagonal: row i of a ↔ row i of b), so a
        contrastive model trains with ``model.fit(x, np.zeros(N))``. temperature: > 0.
        """

        def __init__(self, temperature: float = 0.1, name: str = "symmetric_info_nce",
                     **kwargs):
            kwargs.pop("reduction", None)
            super().__init__(name=name, reduction="none", **kwargs)
            self.temperature = _temperature(temperature)

        def call(self, y_true, y_pred):
            half = y_pred.shape[-1] // 2
            return info_nce(y_pred[:, :half], y_pred[:, half:], self.temperature)

        def get_config(self):
            return {"temperature": self.temperature, "name": self.name}

    return SymmetricInfoNCE


_LOSS_CLASS = None


def SymmetricInfoNCE(temperature: float = 0.1, **kwargs):  # noqa: N802 - a class factory
    """The symmetric InfoNCE loss as a ``keras.losses.Loss`` (see :func:`info_nce`)."""
    global _LOSS_CLASS
    if _LOSS_CLASS is None:
        _LOSS_CLASS = _make_loss_class()
    return _LOSS_CLASS(temperature, **kwargs)


# ----------------------------------------------------------------------------- retrieval
def _k(k, gallery_size: int) -> int:
    k = check.positive_int(k, "k")
    if k > gallery_size:
        raise check.value_error("k", f"at most the gallery size ({gallery_size})", k)
    return k


def recall_at_k(similarity, k: int) -> float:
    """Fraction of queries whose paired item (same index) is among the k most similar.

    similarity: float ``(N, N)``, query i (row) ↔ gallery item i (column) is the pair. The rank of
    the pair is the number of gallery items **strictly** more similar than it (ties count in the
    query's favour); a hit is rank < k. Random similarities give ``k / N`` on average.
    """
    similarity = _embeddings(similarity, "similarity")
    if similarity.shape[0] != similarity.shape[1]:
        raise check.value_error("similarity", "a square (N, N) matrix (query i pairs with item i)",
                                similarity)
    k = _k(k, similarity.shape[1])
    paired = np.diagonal(similarity)[:, None]
    ranks = (similarity > paired).sum(axis=1)
    return float(np.mean(ranks < k))


def recall_at_k_reference(similarity, k: int) -> float:
    """:func:`recall_at_k` written as a loop over queries (the reference)."""
    similarity = np.asarray(similarity, dtype=np.float64)
    hits = 0
    for query, row in enumerate(similarity):
        better = [item for item in range(len(row)) if row[item] > row[query]]
        hits += len(better) < k
    return hits / len(similarity)


def random_recall_at_k(num_items: int, k: int) -> float:
    """Expected recall@k of a random ranking of ``num_items`` gallery items: ``k / num_items``."""
    num_items = check.positive_int(num_items, "num_items")
    return _k(k, num_items) / num_items


# ----------------------------------------------------------------------------- trainers
def build_tower(input_dim: int, embedding_dim: int = 64, hidden_units: int = 256, *,
                name: str = "tower"):
    """A small encoder ``Dense(hidden, relu) → Dense(embedding_dim)``: ``(batch, input_dim)`` →
    ``(batch, embedding_dim)`` (not normalised: the loss normalises)."""
    keras = _keras()
    input_dim = check.positive_int(input_dim, "input_dim")
    embedding_dim = check.positive_int(embedding_dim, "embedding_dim")
    hidden_units = check.positive_int(hidden_units, "hidden_units")
    inputs = keras.Input((input_dim,), name=f"{name}_input")
    hidden = keras.layers.Dense(hidden_units, activation="relu", name=f"{name}_hidden")(inputs)
    outputs = keras.layers.Dense(embedding_dim, name=f"{name}_embedding")(hidden)
    return keras.Model(inputs, outputs, name=name)


def _views(views, name: str) -> dict[str, np.ndarray]:
    if not isinstance(views, Mapping) or len(views) != 2:
        raise check.type_error(name, "a dict of two feature arrays {view name: (N, d)}", views) \
            if not isinstance(views, Mapping) else \
            check.value_error(name, "a dict of exactly two feature arrays", views,
                              f"{len(views)} arrays ({list(views)})")
    arrays = {key: _embeddings(value, f"{name}[{key!r}]").astype(np.float32)
              for key, value in views.items()}
    check.same_length({f"{name}[{key!r}]": value for key, value in arrays.items()},
                      "the same number of rows (row i of each is the same sample)")
    return arrays


# Compiled contrastive models, reused across calls (as mmcourse.multitask_keras reuses its
# trainers): tracing Keras's train and test steps costs more than training these small towers.
# A cached model serves every call with the same architecture and options; each call copies its
# freshly initialised weights in and restarts Adam, so it trains exactly like a new model.
_COMPILED: dict = {}
_MAX_COMPILED = 8


def _compiled_copy(key, build, model, *, temperature, learning_rate, steps):
    keras = _keras()
    trainer = _COMPILED.get(key)
    if trainer is None:
        if len(_COMPILED) >= _MAX_COMPILED:
            _COMPILED.pop(next(iter(_COMPILED)))
        trainer = build()[1]  # a private copy of the same architecture; its weights are replaced
        # one call of the compiled step runs a whole epoch's batches (the same batches in the
        # same order as one call per batch, with less Python between them)
        trainer.compile(optimizer=keras.optimizers.Adam(learning_rate),
                        loss=SymmetricInfoNCE(temperature), steps_per_execution=steps)
        _COMPILED[key] = trainer
    trainer.set_weights(model.get_weights())
    for variable in trainer.optimizer.variables:  # Adam's step count and moments restart
        if not variable.name.endswith("learning_rate"):
            variable.assign(np.zeros(variable.shape, variable.dtype))
    return trainer


def _fit_contrastive(key, build, train_inputs, val_inputs, *, temperature, epochs, batch_size,
                     learning_rate, patience, seed):
    """``build()`` → ``(parts, model)``, called under ``set_seed(seed)``; trains ``model``'s
    weights (through a cached compiled copy) and returns ``(parts, history)``."""
    keras = _keras()
    from mmcourse.env import quiet_tensorflow, set_seed

    set_seed(seed)
    parts, model = build()
    num_rows = len(next(iter(train_inputs.values())))
    trainer = _compiled_copy(key, build, model, temperature=temperature,
                             learning_rate=learning_rate, steps=num_rows // batch_size)
    set_seed(seed)
    callbacks = []
    validation = None
    if val_inputs is not None:
        validation = (val_inputs, np.zeros(len(next(iter(val_inputs.values()))), np.float32))
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience,
                                                       restore_best_weights=True))
    # the last partial batch is dropped: InfoNCE on a batch of 3 would be a different task
    rng = np.random.default_rng(seed)
    order = rng.permutation(num_rows)
    tf = quiet_tensorflow()
    dataset = tf.data.Dataset.from_tensor_slices(
        ({key: value[order] for key, value in train_inputs.items()},
         np.zeros(num_rows, np.float32)))
    dataset = dataset.shuffle(num_rows, seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size, drop_remainder=True)
    # validation in batches of the training size, so its loss is the same task (chance ≈ log B)
    history = trainer.fit(dataset, validation_data=validation, epochs=epochs, verbose=0,
                          callbacks=callbacks, shuffle=False, validation_batch_size=batch_size)
    model.set_weights(trainer.get_weights())  # the trained weights go to the caller's towers
    return parts, history


def _check_training_options(temperature, epochs, batch_size, learning_rate, patience, seed,
                            num_rows):
    temperature = _temperature(temperature)
    epochs = check.positive_int(epochs, "epochs")
    batch_size = check.integer(batch_size, "batch_size", minimum=2)
    if batch_size > num_rows:
        raise check.value_error("batch_size", f"at most the number of training rows ({num_rows})",
                                batch_size)
    learning_rate = check.number(learning_rate, "learning_rate", minimum=0.0,
                                 exclusive_minimum=True)
    patience = check.integer(patience, "patience", minimum=0)
    seed = check.seed(seed)
    return temperature, epochs, batch_size, learning_rate, patience, seed


def train_two_tower(train_views, val_views=None, *, embedding_dim: int = 64,
                    hidden_units: int = 256, temperature: float = 0.1, epochs: int = 40,
                    batch_size: int = 128, learning_rate: float = 3e-3, patience: int = 5,
                    seed: int = 0):
    """Align two views with the symmetric InfoNCE loss; no label is read.

    train_views / val_views: ``{name: float (N, d_name)}`` with exactly two entries, row i of
    each the same sample (e.g. ``{"image": pixels, "audio": mfcc}``). Early stopping on the
    validation InfoNCE loss (label-free). Returns ``(towers, history)``: ``towers`` is
    ``{name: encoder model}`` mapping ``(batch, d_name)`` → ``(batch, embedding_dim)``.
    """
    keras = _keras()
    train_views = _views(train_views, "train_views")
    val_views = None if val_views is None else _views(val_views, "val_views")
    num_rows = len(next(iter(train_views.values())))
    temperature, epochs, batch_size, learning_rate, patience, seed = _check_training_options(
        temperature, epochs, batch_size, learning_rate, patience, seed, num_rows)
    if val_views is not None and {k: v.shape[1] for k, v in val_views.items()} != {
            k: v.shape[1] for k, v in train_views.items()}:
        raise ValueError("val_views must have the same names and feature sizes as train_views. "
                         f"Received: train {[(k, v.shape[1]) for k, v in train_views.items()]}, "
                         f"val {[(k, v.shape[1]) for k, v in val_views.items()]}")
    def build():
        towers = {key: build_tower(value.shape[1], embedding_dim, hidden_units,
                                   name=f"{key}_tower") for key, value in train_views.items()}
        inputs = {key: keras.Input((value.shape[1],), name=key)
                  for key, value in train_views.items()}
        outputs = keras.layers.Concatenate(name="both_embeddings")(
            [towers[key](inputs[key]) for key in train_views])
        return towers, keras.Model(inputs, outputs, name="two_tower")

    key = ("two_tower", tuple((name, value.shape[1]) for name, value in train_views.items()),
           embedding_dim, hidden_units, temperature, learning_rate, batch_size, num_rows)
    towers, history = _fit_contrastive(key, build, train_views, val_views,
                                       temperature=temperature, epochs=epochs,
                                       batch_size=batch_size, learning_rate=learning_rate,
                                       patience=patience, seed=seed)
    return towers, history


def train_two_views(train_first, train_second, val_first=None, val_second=None, *,
                    embedding_dim: int = 64, hidden_units: int = 256, temperature: float = 0.1,
                    epochs: int = 40, batch_size: int = 128, learning_rate: float = 3e-3,
                    patience: int = 5, seed: int = 0):
    """Intra-modal self-supervision (SimCLR): two augmentations of the same sample, one tower.

    train_first, train_second: float ``(N, d)``, row i of each a **different random
    augmentation of the same sample** (e.g. two independent noise and occlusion draws of the
    same image). One shared tower embeds both; the symmetric InfoNCE loss pulls the two views of
    each sample together and pushes the other samples of the batch away. No label is read.
    Returns ``(tower, history)``.
    """
    keras = _keras()
    train = _views({"first": train_first, "second": train_second}, "train views")
    if train["first"].shape[1] != train["second"].shape[1]:
        raise ValueError("train_first and train_second must have the same number of columns "
                         f"(one tower embeds both). Received: {train['first'].shape[1]} and "
                         f"{train['second'].shape[1]}")
    val = None
    if (val_first is None) != (val_second is None):
        raise ValueError("give both val_first and val_second, or neither. Received: "
                         f"val_first={check.describe(val_first)}, "
                         f"val_second={check.describe(val_second)}")
    if val_first is not None:
        val = _views({"first": val_first, "second": val_second}, "val views")
        if val["first"].shape[1] != train["first"].shape[1]:
            raise ValueError("val views must have as many columns as the train views. "
                             f"Received: {val['first'].shape[1]} and {train['first'].shape[1]}")
    num_rows = len(train["first"])
    temperature, epochs, batch_size, learning_rate, patience, seed = _check_training_options(
        temperature, epochs, batch_size, learning_rate, patience, seed, num_rows)
    dim = train["first"].shape[1]

    def build():
        tower = build_tower(dim, embedding_dim, hidden_units, name="view_tower")
        inputs = {key: keras.Input((dim,), name=key) for key in ("first", "second")}
        outputs = keras.layers.Concatenate(name="both_views")(
            [tower(inputs["first"]), tower(inputs["second"])])
        return tower, keras.Model(inputs, outputs, name="two_views")

    key = ("two_views", dim, embedding_dim, hidden_units, temperature, learning_rate,
           batch_size, num_rows)
    tower, history = _fit_contrastive(key, build, train, val, temperature=temperature,
                                      epochs=epochs, batch_size=batch_size,
                                      learning_rate=learning_rate, patience=patience, seed=seed)
    return tower, history


def embed(tower, features, batch_size: int = 512) -> np.ndarray:
    """L2-normalised embeddings float64 ``(N, embedding_dim)`` of ``features`` by ``tower``."""
    if not hasattr(tower, "predict"):
        raise check.type_error("tower", "a Keras encoder model", tower)
    features = _embeddings(features, "features").astype(np.float32)
    batch_size = check.positive_int(batch_size, "batch_size")
    ops = _keras().ops
    # a direct call per chunk: tower.predict would trace a new function for every tower
    chunks = [ops.convert_to_numpy(tower(features[start:start + batch_size], training=False))
              for start in range(0, len(features), batch_size)]
    return l2_normalize(np.concatenate(chunks))


# ----------------------------------------------------------------------------- using the space
def class_prototypes(embeddings, labels, num_classes: int = 10) -> np.ndarray:
    """One unit-length prototype per class: the normalised mean of its normalised embeddings.

    embeddings: float ``(N, d)``; labels: int ``(N,)`` in ``[0, num_classes)``, every class at
    least once. Returns ``(num_classes, d)``.
    """
    embeddings = l2_normalize(_embeddings(embeddings, "embeddings"))
    labels = check.labels(labels, "labels", num_classes=num_classes)
    check.same_length({"embeddings": embeddings, "labels": labels})
    missing = sorted(set(range(num_classes)) - set(labels.tolist()))
    if missing:
        raise check.value_error("labels", f"every class 0-{num_classes - 1} at least once",
                                labels, f"no sample of class(es) {missing}")
    means = np.stack([embeddings[labels == c].mean(axis=0) for c in range(num_classes)])
    return l2_normalize(means)


def prototype_predict(embeddings, prototypes) -> np.ndarray:
    """Index of the most cosine-similar prototype for each row: int64 ``(N,)``."""
    return np.argmax(cosine_similarity(embeddings, prototypes), axis=1).astype(np.int64)


def few_label_indices(labels, fraction: float, seed: int = 0) -> np.ndarray:
    """Indices of a stratified labelled subset: ``round(fraction * n_c)`` (at least 1) per class.

    labels: int ``(N,)``; fraction in (0, 1]. Seeded; sorted int64 indices.
    """
    labels = check.labels(labels, "labels")
    fraction = check.number(fraction, "fraction", minimum=0.0, maximum=1.0,
                            exclusive_minimum=True)
    rng = np.random.default_rng(check.seed(seed))
    chosen = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        count = max(1, int(round(fraction * len(members))))
        chosen.append(rng.choice(members, size=count, replace=False))
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def _standardizer(train: np.ndarray):
    mean = train.mean(axis=0)
    scale = train.std(axis=0) + 1e-6
    return lambda x: (x - mean) / scale


def linear_probe(train_features, train_labels, *, regularization: float = 1.0,
                 standardize: bool = True):
    """A multinomial logistic regression (scikit-learn) on fixed features.

    train_features: float ``(N, d)``; train_labels: int ``(N,)``. ``regularization`` is the
    inverse strength ``C``. Standardised with the training rows' statistics. Returns a function
    ``features (M, d) → probabilities (M, num_seen_classes)`` with ``.classes_`` and ``.predict``.
    """
    from sklearn.linear_model import LogisticRegression

    train_features = _embeddings(train_features, "train_features")
    train_labels = check.labels(train_labels, "train_labels")
    check.same_length({"train_features": train_features, "train_labels": train_labels})
    regularization = check.number(regularization, "regularization", minimum=0.0,
                                  exclusive_minimum=True)
    transform = _standardizer(train_features) if standardize else (lambda x: x)
    model = LogisticRegression(C=regularization, max_iter=2000)
    with one_blas_thread():
        model.fit(transform(train_features), train_labels)

    def probabilities(features):
        features = transform(_embeddings(features, "features"))
        with one_blas_thread():
            return model.predict_proba(features)

    probabilities.classes_ = model.classes_
    probabilities.predict = lambda features: model.classes_[
        np.argmax(probabilities(features), axis=1)]
    return probabilities


def co_train(views, labelled, labels, *, rounds: int = 3, per_round: float = 0.2,
             regularization: float = 1.0):
    """Cross-modal pseudo-labelling (co-training, Blum & Mitchell 1998) with linear probes.

    views: ``{name: float (N, d)}`` with two entries, row i of each the same sample; labelled:
    int indices ``(L,)`` of the rows whose label is known; labels: int ``(L,)`` those labels.
    Each round, the probe of each view labels the unlabelled rows it is **most** confident about
    (``per_round`` of the still-unlabelled rows) and those pseudo-labels join the training set of
    the **other** view. Returns ``{name: probe}`` of the final round (see :func:`linear_probe`).
    """
    views = _views(views, "views")
    names = list(views)
    num_rows = len(views[names[0]])
    labelled = check.array(labelled, "labelled", ndim=1, kind="int").astype(np.int64)
    labels = check.labels(labels, "labels")
    check.same_length({"labelled": labelled, "labels": labels})
    if labelled.size and (labelled.min() < 0 or labelled.max() >= num_rows):
        raise check.value_error("labelled", f"row indices in [0, {num_rows})", labelled)
    rounds = check.integer(rounds, "rounds", minimum=0)
    per_round = check.number(per_round, "per_round", minimum=0.0, maximum=1.0,
                             exclusive_minimum=True)
    known = {name: dict(zip(labelled.tolist(), labels.tolist(), strict=True)) for name in names}
    probes = {}
    for _ in range(rounds + 1):
        probes = {}
        for name in names:
            rows = np.fromiter(known[name], dtype=np.int64)
            probes[name] = linear_probe(views[name][rows],
                                        np.array([known[name][r] for r in rows]),
                                        regularization=regularization)
        if _ == rounds:
            break
        for source, target in ((names[0], names[1]), (names[1], names[0])):
            unlabelled = np.setdiff1d(np.arange(num_rows), np.fromiter(known[target], np.int64))
            if unlabelled.size == 0:
                continue
            probabilities = probes[source](views[source][unlabelled])
            confidence = probabilities.max(axis=1)
            count = max(1, int(per_round * unlabelled.size))
            best = np.argsort(-confidence, kind="stable")[:count]
            guessed = probes[source].classes_[np.argmax(probabilities[best], axis=1)]
            known[target].update(zip(unlabelled[best].tolist(), guessed.tolist(), strict=True))
    return probes


def purity(labels, clusters) -> float:
    """Cluster purity: each cluster votes for its most common label; the fraction it gets right."""
    labels = check.labels(labels, "labels")
    clusters = check.labels(clusters, "clusters")
    check.same_length({"labels": labels, "clusters": clusters})
    total = 0
    for cluster in np.unique(clusters):
        total += np.bincount(labels[clusters == cluster]).max()
    return float(total / len(labels))


def cluster_scores(embeddings, labels, *, num_clusters: int = 10, seed: int = 0,
                   normalize: bool = True) -> dict:
    """k-means (scikit-learn, ``n_init=10``) on embeddings; NMI and purity against ``labels``.

    embeddings: float ``(N, d)`` (rows L2-normalised first when ``normalize``); labels: the
    hidden digits ``(N,)``, used only to score. Returns ``{"nmi", "purity", "clusters"}``.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import normalized_mutual_info_score

    embeddings = _embeddings(embeddings, "embeddings")
    labels = check.labels(labels, "labels")
    check.same_length({"embeddings": embeddings, "labels": labels})
    num_clusters = check.integer(num_clusters, "num_clusters", minimum=2)
    if normalize:
        embeddings = l2_normalize(embeddings)
    with one_blas_thread():
        clusters = KMeans(num_clusters, n_init=10, random_state=check.seed(seed)).fit_predict(
            embeddings)
    return {"nmi": float(normalized_mutual_info_score(labels, clusters)),
            "purity": purity(labels, clusters), "clusters": clusters}

