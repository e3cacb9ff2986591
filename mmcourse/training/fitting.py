"""Fitting: feed a model exactly the inputs it declares, train it with early stopping, predict.

Data arguments (``train``, ``val``, ``data``) are :class:`mmcourse.data.MMDigits` splits (or
:class:`Features` computed once by frozen encoders); the helpers feed a model exactly the inputs
it declares (see :func:`mmcourse.models.model_modalities`), with the ``present`` columns in the
model's order. ``fit`` also accepts ready ``tf.data.Dataset`` objects of ``(inputs, label)``
batches. Part of :mod:`mmcourse.training` (``training.fit`` …), which re-exports every name.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import numpy as np

from mmcourse import _validate as check
from mmcourse.env import quiet_tensorflow, set_seed

__all__ = [
    "Features",
    "encode",
    "model_inputs",
    "make_dataset",
    "EpochLogger",
    "fit",
    "predict_proba",
]


_MODALITIES = ("image", "audio", "text")


def _modalities_of(model) -> tuple[str, ...]:
    from mmcourse.models import model_modalities

    return model_modalities(model)


def _check_data(data, name: str = "data"):
    if isinstance(data, Features):
        _check_not_empty(data, name)
        return data
    required = ("image", "audio", "text", "present", "label")
    if not all(hasattr(data, attribute) for attribute in required):
        hint = (" (a split name: load it first with mmcourse.data.load_mmdigits"
                f"({data!r}))" if isinstance(data, str) else "")
        raise TypeError(
            f"{name} must be an MMDigits split (from mmcourse.data.load_mmdigits) with "
            f"{', '.join(required)}{hint}. Received: {name}={check.describe(data)}"
        )
    lengths = {f"{name}.{attribute}": getattr(data, attribute) for attribute in required}
    check.same_length(lengths, "the same number of samples (one row per sample)")
    _check_not_empty(data, name)
    return data


def _check_not_empty(data, name: str) -> None:
    if len(data.label) == 0:
        raise check.value_error(name, "a split with at least one sample", data,
                                f"an empty split ({type(data).__name__} with 0 samples)")


def _check_finite_inputs(data, name: str, modalities) -> None:
    """NaN/inf in an input would only surface as NaN losses (or deep inside a traced graph)."""
    for modality in modalities:
        values = np.asarray(getattr(data, modality))
        if values.dtype.kind == "f" and not np.all(np.isfinite(values)):
            bad = int(values.size - np.count_nonzero(np.isfinite(values)))
            raise check.value_error(f"{name}.{modality}", "finite values", values,
                                    f"{check.describe(values)} with {bad} NaN or infinite "
                                    "value(s)")


def _check_labels_fit(model, data, name: str) -> None:
    """Labels must index the model's output classes (else a graph error or an IndexError)."""
    num_classes = getattr(model.outputs[0], "shape", (None, None))[-1] if getattr(
        model, "outputs", None) else None
    check.labels(data.label, f"{name}.label", num_classes=num_classes)


class Features:
    """Features of one split computed once by (frozen) encoders: a stand-in for an MMDigits split.

    features: ``{modality: float32 (N, d)}``; present: bool ``(N, 3)`` (image, audio, text);
    label: int64 ``(N,)``. ``fit``, ``evaluate``, ``compare`` and ``modality_importance`` accept
    it wherever they accept a split (for models from ``mmcourse.models.build_fusion_head``).
    """

    def __init__(self, features: Mapping[str, np.ndarray], present, label):
        self.features = {name: np.asarray(value, dtype=np.float32)
                         for name, value in features.items()}
        self.present = np.asarray(present)
        self.label = np.asarray(label)
        for name, value in self.features.items():
            if len(value) != len(self.label):
                raise ValueError(f"features[{name!r}] has {len(value)} rows; the labels "
                                 f"{len(self.label)}")

    def __getattr__(self, name):
        features = self.__dict__.get("features", {})
        if name in features:
            return features[name]
        raise AttributeError(f"Features has no {name!r}; it holds {sorted(features)}")

    def __len__(self) -> int:
        return len(self.label)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{name}: {value.shape}" for name, value in self.features.items())
        return f"Features(N={len(self)}, {shapes})"


def encode(encoders: Mapping, data, batch_size: int = 256) -> Features:
    """Run each encoder once on its modality of an MMDigits split → :class:`Features`.

    encoders: ``{modality: encoder model}`` (e.g. ``models.get_encoder(trained_model, "image")``).
    (Not to be confused with :func:`mmcourse.features.text.encode_text`, which turns one hint
    into token ids.)
    """
    if not isinstance(encoders, Mapping) or not encoders:
        raise check.type_error("encoders", "a non-empty dict {modality: encoder model}",
                               encoders) if not isinstance(encoders, Mapping) else \
            check.value_error("encoders", "a non-empty dict {modality: encoder model}", encoders)
    _check_data(data)
    batch_size = check.positive_int(batch_size, "batch_size")
    _check_finite_inputs(data, "data", [name for name in encoders if name in _MODALITIES])
    features = {}
    for name, encoder in encoders.items():
        if name not in _MODALITIES:
            raise check.value_error("encoders", f"a dict keyed by modality ({', '.join(_MODALITIES)})",
                                    name, f"a key {name!r} (unknown modality)")
        if not hasattr(encoder, "predict"):
            raise check.type_error(f"encoders[{name!r}]", "a Keras encoder model", encoder)
        dataset = _arrays_dataset({name: np.asarray(getattr(data, name))}, batch_size)
        features[name] = np.asarray(encoder.predict(dataset.map(lambda x, n=name: x[n]),
                                                    verbose=0))
    return Features(features, data.present, data.label)


def model_inputs(data, modalities: Sequence[str]) -> dict[str, np.ndarray]:
    """The input dict a model reads: one array per modality plus ``present`` (N, len(modalities)).

    ``present`` columns follow ``modalities`` (pass ``model_modalities(model)``). ``data``: an
    MMDigits split or :class:`Features`.
    """
    _check_data(data)
    inputs = {name: np.asarray(getattr(data, name)) for name in modalities}
    columns = [_MODALITIES.index(name) for name in modalities]
    inputs["present"] = np.asarray(data.present)[:, columns].astype(np.float32)
    return inputs


def make_dataset(data, model, batch_size: int = 32, shuffle: bool = False, seed: int = 0):
    """``data.to_tf_dataset`` with the model's modalities, in the model's order.

    For :class:`Features`, the same ``(inputs, label)`` batches built from the feature arrays.
    """
    _check_data(data)
    if not isinstance(data, Features):
        return data.to_tf_dataset(batch_size=batch_size, modalities=_modalities_of(model),
                                  shuffle=shuffle, seed=seed)
    tf = quiet_tensorflow()
    inputs = model_inputs(data, _modalities_of(model))
    dataset = tf.data.Dataset.from_tensor_slices((inputs, data.label.astype(np.int64))).cache()
    if shuffle:
        dataset = dataset.shuffle(len(data), seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(int(batch_size)).prefetch(tf.data.AUTOTUNE)


def _arrays_dataset(inputs: Mapping[str, np.ndarray], batch_size: int = 256):
    tf = quiet_tensorflow()
    return tf.data.Dataset.from_tensor_slices(dict(inputs)).batch(batch_size)


def _keras():
    quiet_tensorflow()
    import keras

    return keras


def _make_epoch_logger():
    keras = _keras()

    class _EpochLogger(keras.callbacks.Callback):
        """One short line per epoch (``every``-th epoch, plus the first and last)."""

        def __init__(self, every: int = 1, total_epochs: int | None = None):
            super().__init__()
            self.every = max(1, int(every))
            self.total_epochs = total_epochs
            self._started = 0.0

        def on_epoch_begin(self, epoch, logs=None):
            self._started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            number = epoch + 1
            last = self.total_epochs is not None and number == self.total_epochs
            if number != 1 and number % self.every and not last:
                return
            logs = logs or {}
            parts = [f"epoch {number:3d}" + (f"/{self.total_epochs}" if self.total_epochs else "")]
            for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
                if key in logs:
                    parts.append(f"{key} {float(logs[key]):.3f}")
            parts.append(f"({time.perf_counter() - self._started:.1f} s)")
            print("  ".join(parts), flush=True)

    return _EpochLogger


def EpochLogger(every: int = 1, total_epochs: int | None = None):  # noqa: N802 - a class factory
    """A Keras callback printing one compact line per epoch (readable in an executed notebook)."""
    return _make_epoch_logger()(every=every, total_epochs=total_epochs)


def _build_training_state(model, dataset):
    """Create the optimizer's and the metrics' variables before the first training step.

    A ``tf.function`` that creates variables on its first call is traced twice. Keras builds
    this state ahead (``_symbolic_build``, from shapes only: nothing is computed) when a
    distribution strategy is set, and otherwise inside the first traced step; doing what
    Keras does here saves that second trace, about 1 s per short fit on a laptop CPU, and the
    course trains dozens of small models. ``_symbolic_build`` is private: where a Keras version
    lacks it or calls it differently, Keras builds the state itself as before (only slower;
    ``tests/test_training.py`` counts the traces and says so).
    """
    symbolic_build = getattr(model, "_symbolic_build", None)
    if symbolic_build is None or model.optimizer.built:
        return
    with model.distribute_strategy.scope():
        try:
            symbolic_build(data_batch=dataset.element_spec)
        except Exception:  # noqa: BLE001 - any failure of a private call: Keras builds lazily
            pass


def fit(model, train, val, *, epochs: int = 30, batch_size: int = 32,
        learning_rate: float | None = None, patience: int = 5, seed: int = 0, verbose="epoch",
        log_every: int = 1, callbacks: Sequence = ()):
    """Train ``model`` on ``train`` with early stopping on ``val`` loss; restore the best weights.

    train/val: MMDigits splits (or ``tf.data.Dataset`` of ``(inputs, label)`` batches).
    Compiles the model (Adam(``learning_rate``, default 3e-3), sparse categorical cross-entropy,
    accuracy) unless it is compiled already; for a compiled model an explicit ``learning_rate``
    is set on its optimizer (``None`` keeps the optimizer's own rate). Seeded: ``set_seed(seed)``
    before training, and the training batches are shuffled with ``seed``. Bad inputs (a split
    name instead of a split, an empty or ragged split, NaN inputs, labels outside the model's
    classes) are a ``TypeError``/``ValueError`` before any training starts. ``verbose``: ``"epoch"`` (one line per ``log_every``
    epochs), ``0`` (silent) or a Keras verbosity (``2``: one line per epoch).

    Returns the Keras ``History``; ``history.train_seconds`` is the wall time and
    ``history.best_epoch`` the (1-based) epoch whose weights were kept.
    """
    keras = _keras()
    if not isinstance(model, keras.Model):
        raise check.type_error("model", "a Keras model (e.g. from mmcourse.models)", model)
    epochs = check.positive_int(epochs, "epochs")
    batch_size = check.positive_int(batch_size, "batch_size")
    if learning_rate is not None:
        learning_rate = check.number(learning_rate, "learning_rate", minimum=0.0,
                                     exclusive_minimum=True)
    patience = check.integer(patience, "patience", minimum=0)
    seed = check.seed(seed)
    log_every = check.positive_int(log_every, "log_every")
    if verbose != "epoch" and (isinstance(verbose, bool) or verbose not in (0, 1, 2)):
        raise check.value_error("verbose", "'epoch', 0, 1 or 2", verbose)
    if isinstance(callbacks, (str, bytes)) or not isinstance(callbacks, Sequence):
        raise check.type_error("callbacks", "a list of Keras callbacks", callbacks)
    tf = quiet_tensorflow()
    for name, data in (("train", train), ("val", val)):
        if (data is None and name == "val") or isinstance(data, tf.data.Dataset):
            continue
        _check_data(data, name)
        _check_finite_inputs(data, name, _modalities_of(model))
        _check_labels_fit(model, data, name)
    set_seed(seed)
    if isinstance(train, tf.data.Dataset):
        train_dataset = train
    else:
        train_dataset = make_dataset(train, model, batch_size, shuffle=True, seed=seed)
    if val is None or isinstance(val, tf.data.Dataset):
        val_dataset = val
    else:
        val_dataset = make_dataset(val, model, 256, shuffle=False)
    if not model.compiled:
        model.compile(
            optimizer=keras.optimizers.Adam(3e-3 if learning_rate is None else learning_rate),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
    elif learning_rate is not None:  # a compiled model keeps its optimizer: set the rate on it
        model.optimizer.learning_rate = learning_rate
    _build_training_state(model, train_dataset)
    monitor = "val_loss" if val_dataset is not None else "loss"
    stopper = keras.callbacks.EarlyStopping(monitor=monitor, patience=patience,
                                            restore_best_weights=True)
    all_callbacks = [stopper, *callbacks]
    keras_verbose = 0
    if verbose == "epoch":
        all_callbacks.append(EpochLogger(every=log_every, total_epochs=epochs))
    else:
        keras_verbose = verbose
    started = time.perf_counter()
    history = model.fit(train_dataset, validation_data=val_dataset, epochs=int(epochs),
                        callbacks=all_callbacks, verbose=keras_verbose, shuffle=False)
    history.train_seconds = time.perf_counter() - started
    losses = history.history.get(monitor, [])
    history.best_epoch = int(np.argmin(losses)) + 1 if losses else 0
    if verbose == "epoch":
        print(f"kept the weights of epoch {history.best_epoch} (lowest {monitor}); "
              f"{len(losses)} epochs in {history.train_seconds:.1f} s")
    return history


def predict_proba(model, data, batch_size: int = 256) -> np.ndarray:
    """Class probabilities float64 ``(N, 10)`` of ``model`` on an MMDigits split."""
    inputs = model_inputs(data, _modalities_of(model))
    return _predict_inputs(model, inputs, batch_size)


def _predict_inputs(model, inputs, batch_size: int = 256) -> np.ndarray:
    return np.asarray(model.predict(_arrays_dataset(inputs, batch_size), verbose=0),
                      dtype=np.float64)
