"""The Keras half of :mod:`mmcourse.multitask`: a multi-head model, its losses, its training.

* :class:`MaskedSparseCrossentropy` — cross-entropy averaged over the known labels of a batch
  (``-1`` = unknown), so a task can be trained from a few labels while the others use all;
* :class:`UncertaintyWeighting` — the learned task weighting of Kendall, Gal & Cipolla (2018)
  as a layer: per-task losses ``(num_tasks,)`` → ``sum_i exp(-s_i) L_i + s_i / 2``;
* :func:`build_multitask_model` — features ``{modality: (batch, d)}`` → concatenation (early
  fusion) → a shared trunk of ``Dense(relu)`` layers → one softmax head per task;
* :func:`fit_multitask` — trains such a model on a fixed-weight or uncertainty-weighted sum of
  the task losses, early-stopping on one task's validation loss (the digit, by default).

NumPy references of both losses: :func:`mmcourse.multitask.masked_crossentropy`,
:func:`~mmcourse.multitask.weighted_loss`, :func:`~mmcourse.multitask.uncertainty_weighted_loss`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence

import numpy as np

from mmcourse import _validate as check
from mmcourse.env import quiet_tensorflow, set_seed
from mmcourse.multitask import UNKNOWN

quiet_tensorflow()
import keras  # noqa: E402
from keras import ops  # noqa: E402

__all__ = ["MaskedSparseCrossentropy", "UncertaintyWeighting", "build_multitask_model",
           "fit_multitask", "predict_tasks"]


@keras.saving.register_keras_serializable(package="mmcourse")
class MaskedSparseCrossentropy(keras.losses.Loss):
    """labels int ``(batch,)`` (``-1`` = unknown), probabilities ``(batch, classes)`` → scalar:
    the mean of ``-log p[label]`` over the known labels (0 when the batch has none).

    Probabilities are clipped to ``[epsilon, 1]`` before the log (as Keras's own losses do).
    """

    def __init__(self, epsilon: float = 1e-7, name: str = "masked_sparse_crossentropy",
                 **kwargs):
        super().__init__(name=name, **kwargs)
        self.epsilon = check.number(epsilon, "MaskedSparseCrossentropy: epsilon", minimum=0.0,
                                    exclusive_minimum=True)

    def call(self, y_true, y_pred):
        labels = ops.reshape(ops.cast(y_true, "int32"), (-1,))
        known = ops.cast(labels >= 0, y_pred.dtype)
        safe = ops.where(labels >= 0, labels, ops.zeros_like(labels))
        picked = ops.take_along_axis(y_pred, ops.expand_dims(safe, 1), axis=1)[:, 0]
        negative_log = -ops.log(ops.clip(picked, self.epsilon, 1.0))
        return ops.sum(negative_log * known) / ops.maximum(ops.sum(known), 1.0)

    def __call__(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise ValueError("MaskedSparseCrossentropy takes no sample_weight: mark an unknown "
                             "label with -1 instead. Received: sample_weight=" +
                             check.describe(sample_weight))
        return self.call(ops.convert_to_tensor(y_true), ops.convert_to_tensor(y_pred))

    def get_config(self):
        return {"name": self.name, "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="mmcourse")
class UncertaintyWeighting(keras.layers.Layer):
    """Per-task losses float ``(num_tasks,)`` (or a list of scalars) → the scalar
    ``sum_i exp(-s_i) L_i + s_i / 2`` (Kendall, Gal & Cipolla 2018, classification form).

    Args:
        num_tasks: number of tasks (>= 1).
        initial_log_variance: starting value of every ``s_i = log sigma_i^2`` (0: weight 1).

    The trainable weight ``log_variances`` ``(num_tasks,)`` is learned with the network;
    :meth:`task_weights` returns the current weights ``exp(-s_i)``.
    """

    def __init__(self, num_tasks: int, initial_log_variance: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.num_tasks = check.positive_int(num_tasks, "UncertaintyWeighting: num_tasks")
        self.initial_log_variance = check.number(
            initial_log_variance, "UncertaintyWeighting: initial_log_variance")

    def build(self, input_shape):
        if isinstance(input_shape, (list, tuple)) and input_shape and isinstance(
                input_shape[0], (list, tuple)):
            count = len(input_shape)  # a list of scalar losses
        else:
            shape = tuple(input_shape)
            count = shape[-1] if shape else None
        if count is not None and count != self.num_tasks:
            raise ValueError(f"UncertaintyWeighting expects {self.num_tasks} task losses. "
                             f"Received: input_shape={input_shape}")
        self.log_variances = self.add_weight(
            shape=(self.num_tasks,), name="log_variances",
            initializer=keras.initializers.Constant(self.initial_log_variance))

    def call(self, losses):
        if isinstance(losses, (list, tuple)):
            losses = ops.stack([ops.reshape(loss, ()) for loss in losses])
        losses = ops.cast(losses, self.log_variances.dtype)
        return ops.sum(ops.exp(-self.log_variances) * losses + 0.5 * self.log_variances)

    def compute_output_shape(self, input_shape):
        return ()

    def task_weights(self) -> np.ndarray:
        """The current weights ``exp(-s_i)``, float64 ``(num_tasks,)``."""
        return np.exp(-np.asarray(self.log_variances.numpy(), dtype=np.float64))

    def get_config(self):
        config = super().get_config()
        config.update(num_tasks=self.num_tasks, initial_log_variance=self.initial_log_variance)
        return config


def _check_tasks(tasks) -> dict:
    if not isinstance(tasks, Mapping) or not tasks:
        raise check.type_error("tasks", "a non-empty dict {task name: number of classes}", tasks)
    result = {}
    for task, classes in tasks.items():
        if not isinstance(task, str) or not task.isidentifier():
            raise check.value_error("tasks", "task names that are identifiers, e.g. 'digit'",
                                    task)
        result[task] = check.integer(classes, f"tasks[{task!r}]", minimum=2)
    return result


def build_multitask_model(feature_dims: Mapping[str, int], tasks: Mapping[str, int], *,
                          trunk_units: Sequence[int] = (64,), dropout: float = 0.0,
                          name: str | None = None):
    """Features ``{modality: float32 (batch, d)}`` → concatenate (layer ``fusion``) → shared
    ``Dense(units, relu)`` layers ``trunk_1``, ``trunk_2`` … → one ``Dense(classes, softmax)``
    head per task, named after the task. Output: ``{task: (batch, classes)}``.

    ``tasks={"digit": 10}`` is the single-task model with the same trunk.
    """
    if not isinstance(feature_dims, Mapping) or not feature_dims:
        raise check.type_error("feature_dims", "a non-empty dict {modality: feature size}",
                               feature_dims)
    dims = {m: check.positive_int(d, f"feature_dims[{m!r}]") for m, d in feature_dims.items()}
    tasks = _check_tasks(tasks)
    units = [check.positive_int(u, "trunk_units") for u in
             check.sequence(trunk_units, "trunk_units", expected="a sequence of positive ints",
                            allow_empty=True)]
    dropout = check.number(dropout, "dropout", minimum=0.0, maximum=0.95)
    inputs = {m: keras.Input((d,), name=m) for m, d in dims.items()}
    features = list(inputs.values())
    x = keras.layers.Concatenate(name="fusion")(features) if len(features) > 1 else features[0]
    for index, size in enumerate(units, start=1):
        x = keras.layers.Dense(size, activation="relu", name=f"trunk_{index}")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"trunk_dropout_{index}")(x)
    outputs = {task: keras.layers.Dense(classes, activation="softmax", name=task)(x)
               for task, classes in tasks.items()}
    return keras.Model(inputs, outputs, name=name or "multitask")


class _Trainer(keras.Model):
    """Wraps a multi-task network; its loss is the weighted (or uncertainty-weighted) sum."""

    def __init__(self, network, weights, uncertainty: bool):
        super().__init__(name=f"{network.name}_trainer")
        self.network = network
        self.task_names = tuple(weights)
        self.fixed_weights = np.asarray([weights[t] for t in self.task_names], "float32")
        # a variable, not a constant of the traced step: a cached trainer serves every weighting
        self.weight_vector = keras.Variable(self.fixed_weights, trainable=False,
                                            name="loss_weights")
        self.task_loss = MaskedSparseCrossentropy()
        self.weighting = UncertaintyWeighting(len(self.task_names), name="uncertainty") \
            if uncertainty else None
        self.trackers = [keras.metrics.Mean(name=f"{task}_loss") for task in self.task_names]
        if self.weighting is not None:  # its variable exists before the first traced step
            self.weighting.build((len(self.task_names),))
        self.built = True  # the network is built already; nothing else to build

    def call(self, inputs, training=False):
        return self.network(inputs, training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        losses = [self.task_loss(y[task], y_pred[task]) for task in self.task_names]
        for tracker, loss in zip(self.trackers, losses, strict=True):
            tracker.update_state(loss)
        stacked = ops.stack(losses)
        if self.weighting is not None:
            return self.weighting(stacked)
        return ops.sum(stacked * self.weight_vector)

    @property
    def metrics(self):
        return [*super().metrics, *self.trackers]


# Compiled trainers, reused across calls: tracing Keras's train and test steps costs about a
# second per fit, more than training these small heads. A trainer serves every model with the
# same architecture (config), tasks and learning rate; each fit sets its loss weights and starts it
# from the caller's model weights and a fresh optimizer, so it trains exactly like a new one.
_TRAINERS: dict = {}
_MAX_TRAINERS = 16


def _reusable_trainer(model, weights: dict, uncertainty: bool, learning_rate: float,
                      steps: int):
    key = (json.dumps(model.get_config(), sort_keys=True, default=repr),
           tuple(weights), uncertainty, float(learning_rate), steps)
    trainer = _TRAINERS.get(key)
    if trainer is None:
        if len(_TRAINERS) >= _MAX_TRAINERS:
            _TRAINERS.pop(next(iter(_TRAINERS)))
        trainer = _Trainer(keras.models.clone_model(model), weights, uncertainty)
        # one call of the compiled step runs a whole Keras epoch's batches (the same batches, in the
        # same order, as one call per batch; less Python between them)
        trainer.compile(optimizer=keras.optimizers.Adam(learning_rate), steps_per_execution=steps)
        _TRAINERS[key] = trainer
    trainer.network.set_weights(model.get_weights())
    trainer.fixed_weights = np.asarray([weights[t] for t in trainer.task_names], "float32")
    trainer.weight_vector.assign(trainer.fixed_weights)
    if trainer.weighting is not None:  # the learned log-variances restart at their initial value
        trainer.weighting.log_variances.assign(np.full(
            len(trainer.task_names), trainer.weighting.initial_log_variance, "float32"))
    for variable in trainer.optimizer.variables:  # Adam's step count and moments restart
        if not variable.name.endswith("learning_rate"):
            variable.assign(np.zeros(variable.shape, variable.dtype))
    trainer.optimizer.learning_rate = float(learning_rate)
    return trainer


def _as_arrays(inputs, name: str) -> dict:
    if not isinstance(inputs, Mapping) or not inputs:
        raise check.type_error(name, "a non-empty dict {name: array}", inputs)
    return {key: np.asarray(value) for key, value in inputs.items()}


def fit_multitask(model, train_inputs: Mapping, train_labels: Mapping, val_inputs: Mapping,
                  val_labels: Mapping, *, loss_weights: Mapping | str | None = None,
                  epochs: int = 60, batch_size: int = 128, learning_rate: float = 3e-3,
                  patience: int = 8, monitor: str = "digit", seed: int = 0,
                  check_every: int = 1):
    """Train ``model`` (from :func:`build_multitask_model`) on the sum of its task losses.

    inputs: ``{modality: float32 (N, d)}``; labels: ``{task: int (N,)}`` for every head of the
    model (``-1`` = unknown: such a sample does not count for that task).
    ``loss_weights``: ``{task: weight >= 0}`` (missing tasks: 1; ``None``: all 1), or
    ``"uncertainty"`` for learned :class:`UncertaintyWeighting`. Adam(``learning_rate``);
    early stopping on the validation loss of task ``monitor`` (``patience`` epochs), keeping
    the best weights. Seeded: ``set_seed(seed)`` and the batches are shuffled with ``seed``.
    ``check_every``: passes over the training data between two validation checks (``epochs``
    and ``patience`` count passes and are rounded up to multiples of it); checking less often
    saves Keras's per-epoch overhead, which dominates the run time of these small heads.

    Returns the Keras ``History`` with ``best_epoch`` (1-based), ``train_seconds`` and
    ``task_weights`` (the final weights per task; learned ones for ``"uncertainty"``).
    """
    if not isinstance(model, keras.Model):
        raise check.type_error("model", "a Keras model from build_multitask_model", model)
    output_names = list(model.output.keys()) if isinstance(model.output, dict) else None
    if output_names is None:
        raise check.value_error("model", "a model with a dict of named task outputs (from "
                                "build_multitask_model)", model)
    train_inputs, val_inputs = _as_arrays(train_inputs, "train_inputs"), _as_arrays(
        val_inputs, "val_inputs")
    train_labels, val_labels = _as_arrays(train_labels, "train_labels"), _as_arrays(
        val_labels, "val_labels")
    for name, labels in (("train_labels", train_labels), ("val_labels", val_labels)):
        missing = [task for task in output_names if task not in labels]
        if missing:
            raise check.value_error(name, f"labels for every head of the model {output_names}",
                                    sorted(labels), f"labels for {sorted(labels)} (missing "
                                    f"{missing})")
    uncertainty = isinstance(loss_weights, str)
    if uncertainty and loss_weights != "uncertainty":
        raise check.value_error("loss_weights", "a dict {task: weight}, None or 'uncertainty'",
                                loss_weights)
    weights = dict.fromkeys(output_names, 1.0)
    if isinstance(loss_weights, Mapping):
        unknown = [task for task in loss_weights if task not in weights]
        if unknown:
            raise check.value_error("loss_weights", f"weights for the model's tasks "
                                    f"{output_names}", dict(loss_weights),
                                    f"{dict(loss_weights)!r} (unknown {unknown})")
        weights.update({task: check.number(value, f"loss_weights[{task!r}]", minimum=0.0)
                        for task, value in loss_weights.items()})
    elif loss_weights is not None and not uncertainty:
        raise check.type_error("loss_weights", "a dict {task: weight}, None or 'uncertainty'",
                               loss_weights)
    monitor = check.one_of(monitor, "monitor", tuple(output_names))
    epochs = check.positive_int(epochs, "epochs")
    batch_size = check.positive_int(batch_size, "batch_size")
    learning_rate = check.number(learning_rate, "learning_rate", minimum=0.0,
                                 exclusive_minimum=True)
    patience = check.integer(patience, "patience", minimum=0)
    seed = check.seed(seed)
    check_every = check.positive_int(check_every, "check_every")
    check.same_length({**{f"train_inputs[{k!r}]": v for k, v in train_inputs.items()},
                       **{f"train_labels[{k!r}]": v for k, v in train_labels.items()}})
    tf = quiet_tensorflow()
    set_seed(seed)
    size = len(next(iter(train_labels.values())))
    labels = {task: train_labels[task].astype(np.int32) for task in output_names}
    train_dataset = tf.data.Dataset.from_tensor_slices((train_inputs, labels)).cache().shuffle(
        size, seed=seed, reshuffle_each_iteration=True).batch(batch_size).repeat(check_every)  # one Keras epoch = check_every passes
    val_dataset = tf.data.Dataset.from_tensor_slices(
        (val_inputs, {task: val_labels[task].astype(np.int32) for task in output_names})
    ).batch(1024)
    trainer = _reusable_trainer(model, weights, uncertainty, learning_rate,
                                steps=-(-size // batch_size) * check_every)
    stopper = keras.callbacks.EarlyStopping(monitor=f"val_{monitor}_loss",
                                            patience=-(-patience // check_every), mode="min",
                                            restore_best_weights=True)
    started = time.perf_counter()
    history = trainer.fit(train_dataset, validation_data=val_dataset,
                          epochs=-(-epochs // check_every),
                          callbacks=[stopper], verbose=0, shuffle=False)
    model.set_weights(trainer.network.get_weights())  # the trained weights go to ``model``
    history.train_seconds = time.perf_counter() - started
    history.best_epoch = (int(np.argmin(history.history[f"val_{monitor}_loss"])) + 1) * check_every
    history.task_weights = dict(zip(trainer.task_names, (
        trainer.weighting.task_weights() if uncertainty else trainer.fixed_weights.astype(float)
    ), strict=True))
    return history


def predict_tasks(model, inputs: Mapping) -> dict:
    """``{task: float64 probabilities (N, classes)}`` of a model from :func:`build_multitask_model`."""
    if not isinstance(model, keras.Model):
        raise check.type_error("model", "a Keras model from build_multitask_model", model)
    arrays = _as_arrays(inputs, "inputs")
    size = len(next(iter(arrays.values())))
    # a direct call per chunk of 1024: model.predict would trace a new function for every model
    chunks = [model({m: v[start:start + 1024] for m, v in arrays.items()}, training=False)
              for start in range(0, max(size, 1), 1024)]
    return {task: np.concatenate([np.asarray(ops.convert_to_numpy(chunk[task]), np.float64)
                                  for chunk in chunks]) for task in chunks[0]}


_ = UNKNOWN  # the label value MaskedSparseCrossentropy skips (any negative label)
