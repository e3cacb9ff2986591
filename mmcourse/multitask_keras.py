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
from mmcourse._reuse import restart_adam, reuse
from mmcourse.env import quiet_tensorflow, set_seed
from mmcourse.multitask import UNKNOWN

quiet_tensorflow()
import keras  # noqa: E402
from keras import ops  # noqa: E402

__all__ = ["MaskedSparseCrossentropy", "MultitaskHistory", "UncertaintyWeighting",
           "build_multitask_model", "fit_multitask", "fit_multitask_seeds", "predict_tasks"]


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


class _Trainer:
    """A multi-task network's training: its loss (the weighted or uncertainty-weighted sum of
    the task losses), Adam, and two compiled TensorFlow functions — one runs whole passes over
    the training data, one computes the validation losses.

    A hand-written loop (``tf.GradientTape`` + ``optimizer.apply``, as in keras.io's "Writing a
    training loop from scratch") instead of ``Model.fit``: for these small heads Keras's
    per-step and per-epoch bookkeeping cost several times the training itself.
    """

    def __init__(self, model, task_names, uncertainty: bool, learning_rate: float,
                 batch_size: int):
        self.tf = quiet_tensorflow()
        self.network = keras.models.clone_model(model)
        self.task_names = tuple(task_names)
        self.batch_size = batch_size
        self.task_loss = MaskedSparseCrossentropy()
        self.weighting = UncertaintyWeighting(len(self.task_names), name="uncertainty") \
            if uncertainty else None
        self.variables = list(self.network.trainable_variables)
        if self.weighting is not None:
            self.weighting.build((len(self.task_names),))
            self.variables.append(self.weighting.log_variances)
        self.optimizer = keras.optimizers.Adam(learning_rate)
        self.optimizer.build(self.variables)
        self.train_passes = self.tf.function(self._train_passes, reduce_retracing=True)
        self.val_losses = self.tf.function(self._task_losses, reduce_retracing=True)

    def _task_losses(self, inputs, labels):
        probabilities = self.network(inputs, training=False)
        return ops.stack([self.task_loss(labels[t], probabilities[t]) for t in self.task_names])

    def _train_passes(self, inputs, labels, orders, loss_weights):
        # orders: int32 (passes, N), one permutation of the training samples per pass; each pass
        # walks it in batches of batch_size (the last one smaller)
        tf = self.tf
        size = tf.shape(orders)[1]
        steps = (size + self.batch_size - 1) // self.batch_size
        for index in tf.range(tf.shape(orders)[0] * steps):  # one loop: pass index // steps
            self._step(inputs, labels, orders[index // steps], index % steps, loss_weights)
        return size

    def _step(self, inputs, labels, order, step, loss_weights):
        tf = self.tf
        chosen = order[step * self.batch_size:(step + 1) * self.batch_size]
        batch = {m: tf.gather(values, chosen) for m, values in inputs.items()}
        with tf.GradientTape() as tape:
            probabilities = self.network(batch, training=True)
            losses = ops.stack([self.task_loss(tf.gather(labels[t], chosen), probabilities[t])
                                for t in self.task_names])
            total = self.weighting(losses) if self.weighting is not None \
                else ops.sum(losses * loss_weights)
        gradients = tape.gradient(total, self.variables)
        self.optimizer.apply(gradients, self.variables)

    def restart(self, model, learning_rate: float):
        """Start from ``model``'s weights, a fresh Adam and the initial log-variances."""
        self.network.set_weights(model.get_weights())
        if self.weighting is not None:
            self.weighting.log_variances.assign(np.full(
                len(self.task_names), self.weighting.initial_log_variance, "float32"))
        restart_adam(self.optimizer, learning_rate)

    def state(self) -> list:
        return [np.array(v) for v in (self.network.get_weights() + (
            [self.weighting.log_variances.numpy()] if self.weighting is not None else []))]

    def set_state(self, state: list) -> None:
        if self.weighting is not None:
            self.weighting.log_variances.assign(state[-1])
            state = state[:-1]
        self.network.set_weights(state)


# Trainers, reused across calls: tracing the two functions costs about a second, more than
# training these small heads. A trainer serves every model with the same architecture (config),
# tasks, weighting kind, learning rate and batch size; each fit starts it from the caller's model
# weights and a fresh optimizer, so it trains exactly like a new one.
_TRAINERS: dict = {}  # mmcourse._reuse: at most 16, the oldest dropped first


def _reusable_trainer(model, task_names, uncertainty: bool, learning_rate: float,
                      batch_size: int) -> _Trainer:
    key = (json.dumps(model.get_config(), sort_keys=True, default=repr),
           tuple(task_names), uncertainty, float(learning_rate), batch_size)
    trainer = reuse(_TRAINERS, key, lambda: _Trainer(model, task_names, uncertainty,
                                                     learning_rate, batch_size))
    trainer.restart(model, learning_rate)
    return trainer


class MultitaskHistory:
    """What :func:`fit_multitask` returns.

    * ``history``: ``{"val_<task>_loss": [one value per validation check]}`` for every task;
    * ``best_epoch``: the pass (1-based, a multiple of ``check_every``) whose weights were kept;
    * ``train_seconds``: wall time of the training loop;
    * ``task_weights``: ``{task: weight}`` at the end (the learned ``exp(-s)`` for
      ``"uncertainty"``, else the fixed weights).
    """

    def __init__(self, history: dict, best_epoch: int, train_seconds: float,
                 task_weights: dict):
        self.history, self.best_epoch = history, best_epoch
        self.train_seconds, self.task_weights = train_seconds, task_weights

    def __repr__(self):
        return (f"MultitaskHistory(best_epoch={self.best_epoch}, checks="
                f"{len(next(iter(self.history.values()), []))}, task_weights={self.task_weights})")


def _as_arrays(inputs, name: str) -> dict:
    if not isinstance(inputs, Mapping) or not inputs:
        raise check.type_error(name, "a non-empty dict {name: array}", inputs)
    return {key: np.asarray(value) for key, value in inputs.items()}


def _loss_weights(loss_weights, output_names) -> tuple[dict, bool]:
    """``({task: weight}, uncertainty?)`` from fit_multitask's ``loss_weights`` (validated)."""
    output_names = list(output_names)
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
    return weights, uncertainty


def _check_options(epochs, batch_size, learning_rate, patience, check_every) -> tuple:
    return (check.positive_int(epochs, "epochs"), check.positive_int(batch_size, "batch_size"),
            check.number(learning_rate, "learning_rate", minimum=0.0, exclusive_minimum=True),
            check.integer(patience, "patience", minimum=0),
            check.positive_int(check_every, "check_every"))


def _train_until_stopped(run_check, snapshot, num_seeds: int, tasks, monitor: str, checks: int,
                         wait: int):
    """The early-stopping loop of both fits. ``run_check()`` trains up to the next check and
    returns the validation losses ``(num_seeds, num_tasks)``; ``snapshot(s)`` copies seed s's
    weights. Each seed stops after ``wait`` checks without a new minimum of its ``monitor``
    loss (as Keras's EarlyStopping, min_delta=0); training ends when every seed has stopped.
    Returns per seed: the history, the index of the best check, its snapshot (None if no loss
    was ever finite)."""
    history = [{f"val_{t}_loss": [] for t in tasks} for _ in range(num_seeds)]
    best = np.full(num_seeds, np.inf)
    best_check, since_best = np.zeros(num_seeds, int), np.zeros(num_seeds, int)
    best_state = [None] * num_seeds
    running = np.ones(num_seeds, bool)
    for index in range(checks):
        losses = np.asarray(run_check(), dtype=np.float64).reshape(num_seeds, len(tasks))
        for s in np.flatnonzero(running):
            for task, value in zip(tasks, losses[s], strict=True):
                history[s][f"val_{task}_loss"].append(float(value))
            current = losses[s, tasks.index(monitor)]
            if current < best[s]:
                best[s], best_check[s], best_state[s], since_best[s] = (
                    current, index, snapshot(s), 0)
            else:
                since_best[s] += 1
                if since_best[s] >= wait:
                    running[s] = False
        if not running.any():
            break
    return history, best_check, best_state


def fit_multitask(model, train_inputs: Mapping, train_labels: Mapping, val_inputs: Mapping,
                  val_labels: Mapping, *, loss_weights: Mapping | str | None = None,
                  epochs: int = 60, batch_size: int = 128, learning_rate: float = 3e-3,
                  patience: int = 8, monitor: str = "digit", seed: int = 0,
                  check_every: int = 1) -> MultitaskHistory:
    """Train ``model`` (from :func:`build_multitask_model`) on the sum of its task losses.

    inputs: ``{modality: float32 (N, d)}``; labels: ``{task: int (N,)}`` for every head of the
    model (``-1`` = unknown: such a sample does not count for that task).
    ``loss_weights``: ``{task: weight >= 0}`` (missing tasks: 1; ``None``: all 1), or
    ``"uncertainty"`` for learned :class:`UncertaintyWeighting`. Adam(``learning_rate``) on
    batches of ``batch_size``, in a fresh random order every pass (drawn from ``seed``).
    Early stopping on the validation loss of task ``monitor``: checked every ``check_every``
    passes over the training data; training stops after ``patience`` passes without a new
    minimum and the weights of the best check are kept (also when it did not stop early).
    ``epochs`` and ``patience`` count passes and are rounded up to multiples of
    ``check_every``. Seeded: ``set_seed(seed)`` first, so dropout and the order are reproducible.

    Returns a :class:`MultitaskHistory` (``history``, ``best_epoch``, ``train_seconds``,
    ``task_weights``).
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
    weights, uncertainty = _loss_weights(loss_weights, output_names)
    monitor = check.one_of(monitor, "monitor", tuple(output_names))
    epochs, batch_size, learning_rate, patience, check_every = _check_options(
        epochs, batch_size, learning_rate, patience, check_every)
    seed = check.seed(seed)
    check.same_length({**{f"train_inputs[{k!r}]": v for k, v in train_inputs.items()},
                       **{f"train_labels[{k!r}]": v for k, v in train_labels.items()}})
    check.same_length({**{f"val_inputs[{k!r}]": v for k, v in val_inputs.items()},
                       **{f"val_labels[{k!r}]": v for k, v in val_labels.items()}})
    tf = quiet_tensorflow()
    set_seed(seed)
    size = len(next(iter(train_labels.values())))
    tasks = tuple(output_names)

    def tensors(inputs, labels):
        return ({m: tf.constant(v, tf.float32) for m, v in inputs.items()},
                {t: tf.constant(labels[t].astype(np.int32)) for t in tasks})

    train_x, train_y = tensors(train_inputs, train_labels)
    val_x, val_y = tensors(val_inputs, val_labels)
    trainer = _reusable_trainer(model, tasks, uncertainty, learning_rate, batch_size)
    fixed = tf.constant([weights[t] for t in tasks], tf.float32)
    order = np.random.default_rng(seed)

    def run_check():
        orders = np.stack([order.permutation(size) for _ in range(check_every)]).astype(np.int32)
        trainer.train_passes(train_x, train_y, tf.constant(orders), fixed)
        return trainer.val_losses(val_x, val_y)

    started = time.perf_counter()
    (history,), (best_check,), (best_state,) = _train_until_stopped(
        run_check, lambda _: trainer.state(), 1, tasks, monitor, -(-epochs // check_every),
        -(-patience // check_every))
    if best_state is not None:  # NaN losses never set one: keep the last weights then
        trainer.set_state(best_state)
    final_weights = (trainer.weighting.task_weights() if uncertainty  # those of the kept check
                     else np.asarray([weights[t] for t in tasks], float))
    model.set_weights(trainer.network.get_weights())  # the trained weights go to ``model``
    return MultitaskHistory(
        history, best_epoch=(best_check + 1) * check_every,
        train_seconds=time.perf_counter() - started,
        task_weights=dict(zip(tasks, (float(w) for w in final_weights), strict=True)))


class _StackedTrainer:
    """Several seeds' copies of one :func:`build_multitask_model` network trained side by side.

    Every weight gets a leading seed axis (a kernel ``(D, H)`` becomes ``(S, D, H)``) and each
    layer is one ``einsum`` over all seeds, so a training step runs the same number of
    TensorFlow operations for ``S`` seeds as for one; that number, not the arithmetic, is what
    these small heads' steps cost. The seeds share nothing but the operations: each has its own
    weights, batches (its own order), labels, loss and Adam moments (Adam is elementwise), and
    the summed loss gives each seed exactly its own gradient.
    """

    def __init__(self, model, num_seeds: int, task_names, uncertainty: bool,
                 learning_rate: float, batch_size: int):
        self.tf = quiet_tensorflow()
        self.order, self.trunk, _ = _stack_plan(model)
        self.task_names = tuple(task_names)
        self.batch_size = batch_size
        self.num_seeds = num_seeds
        self.uncertainty = uncertainty
        self.dense = []  # [(kernel (S, D, H), bias (S, 1, H))], trunk layers then one per head
        for name in (*self.trunk, *self.task_names):
            kernel, bias = model.get_layer(name).get_weights()
            self.dense.append((
                keras.Variable(np.zeros((num_seeds, *kernel.shape), "float32"), name=f"{name}_kernel"),
                keras.Variable(np.zeros((num_seeds, 1, bias.shape[0]), "float32"), name=f"{name}_bias")))
        self.variables = [v for pair in self.dense for v in pair]
        if uncertainty:
            self.log_variances = keras.Variable(
                np.zeros((num_seeds, len(self.task_names)), "float32"), name="log_variances")
            self.variables.append(self.log_variances)
        self.optimizer = keras.optimizers.Adam(learning_rate)
        self.optimizer.build(self.variables)
        self.train_passes = self.tf.function(self._train_passes, reduce_retracing=True)
        self.val_losses = self.tf.function(self._val_losses, reduce_retracing=True)

    def _forward(self, features):
        """features (S, B, D) → {task: probabilities (S, B, classes)}."""
        tf = self.tf
        x = features
        for kernel, bias in self.dense[:len(self.trunk)]:
            x = tf.nn.relu(tf.einsum("sbi,sij->sbj", x, kernel) + bias)
        return {task: tf.nn.softmax(tf.einsum("sbi,sij->sbj", x, kernel) + bias)
                for task, (kernel, bias) in zip(self.task_names, self.dense[len(self.trunk):],
                                                strict=True)}

    def _task_losses(self, probabilities, labels):
        """(S, T): per seed and task, the mean -log p[label] over the known labels."""
        tf = self.tf
        losses = []
        for task in self.task_names:
            target = labels[task]  # (S, B), -1 = unknown
            known = tf.cast(target >= 0, tf.float32)
            picked = tf.gather(probabilities[task], tf.maximum(target, 0), batch_dims=2)
            negative_log = -tf.math.log(tf.clip_by_value(picked, 1e-7, 1.0))
            losses.append(tf.reduce_sum(negative_log * known, axis=1)
                          / tf.maximum(tf.reduce_sum(known, axis=1), 1.0))
        return tf.stack(losses, axis=1)

    def _gather(self, inputs, labels, chosen):
        # chosen: int32 (S, B), each seed's samples; inputs {m: (N, d)}, labels {t: (S, N)}
        tf = self.tf
        features = tf.concat([tf.gather(inputs[m], chosen) for m in self.order], axis=-1)
        return features, {t: tf.gather(labels[t], chosen, batch_dims=1) for t in self.task_names}

    def _train_passes(self, inputs, labels, orders, loss_weights):
        # orders: int32 (S, passes, N), one permutation per seed and pass
        tf = self.tf
        size = tf.shape(orders)[2]
        steps = (size + self.batch_size - 1) // self.batch_size
        for index in tf.range(tf.shape(orders)[1] * steps):
            row, step = index // steps, index % steps
            chosen = orders[:, row, step * self.batch_size:(step + 1) * self.batch_size]
            features, batch_labels = self._gather(inputs, labels, chosen)
            with tf.GradientTape() as tape:
                losses = self._task_losses(self._forward(features), batch_labels)  # (S, T)
                if self.uncertainty:
                    total = tf.reduce_sum(tf.exp(-self.log_variances) * losses
                                          + 0.5 * self.log_variances)
                else:
                    total = tf.reduce_sum(losses * loss_weights)
            gradients = tape.gradient(total, self.variables)
            self.optimizer.apply(gradients, self.variables)
        return size

    def _val_losses(self, inputs, labels):
        tf = self.tf
        size = tf.shape(next(iter(labels.values())))[1]
        chosen = tf.tile(tf.range(size)[None], [self.num_seeds, 1])
        features, batch_labels = self._gather(inputs, labels, chosen)
        return self._task_losses(self._forward(features), batch_labels)

    def restart(self, models, learning_rate: float):
        for index, (kernel, bias) in enumerate(self.dense):
            name = (*self.trunk, *self.task_names)[index]
            weights = [m.get_layer(name).get_weights() for m in models]
            kernel.assign(np.stack([w[0] for w in weights]))
            bias.assign(np.stack([w[1][None] for w in weights]))
        if self.uncertainty:
            self.log_variances.assign(np.zeros(self.log_variances.shape, "float32"))
        restart_adam(self.optimizer, learning_rate)

    def state(self, seed_index: int) -> list:
        return [np.array(v.numpy()[seed_index]) for v in self.variables]

    def weights_of(self, state) -> dict:
        """A seed's state → ``{dense layer name: (kernel, bias)}`` of its network."""
        return {name: (state[2 * i], state[2 * i + 1][0])
                for i, name in enumerate((*self.trunk, *self.task_names))}

    def task_weights(self, state) -> np.ndarray:
        if self.uncertainty:
            return np.exp(-np.asarray(state[-1], np.float64))
        return None


def _stack_plan(model):
    """(modality order, trunk layer names, head names) of a network from
    :func:`build_multitask_model`; ``ValueError`` for any other network."""
    expected = "a model from build_multitask_model without dropout"
    names = [layer.name for layer in model.layers]
    if any(isinstance(layer, keras.layers.Dropout) for layer in model.layers):
        raise check.value_error("models", expected, model, f"a model with dropout ({names})")
    if "fusion" in names:
        order = [tensor.name for tensor in model.get_layer("fusion").input]
    else:
        order = [model.inputs[0].name]
    trunk = sorted((n for n in names if n.startswith("trunk_")), key=lambda n: int(n[6:]))
    heads = list(model.output.keys())
    known = set(order) | set(trunk) | set(heads) | {"fusion"}
    if set(names) - known or not all(isinstance(model.get_layer(n), keras.layers.Dense)
                                     for n in (*trunk, *heads)):
        raise check.value_error("models", expected, model, f"a model with layers {names}")
    return order, trunk, heads


_STACKED: dict = {}


def fit_multitask_seeds(models: Sequence, train_inputs: Mapping, train_labels, val_inputs: Mapping,
                        val_labels, *, seeds: Sequence[int],
                        loss_weights: Mapping | str | None = None, epochs: int = 60,
                        batch_size: int = 128, learning_rate: float = 3e-3, patience: int = 8,
                        monitor: str = "digit", check_every: int = 1) -> list:
    """:func:`fit_multitask` for several seeds at once, side by side in one network.

    ``models``: one network per seed from :func:`build_multitask_model` (same architecture,
    each built after ``set_seed(seed)``: that is its initialisation); ``seeds``: the seeds, one
    per model (each seed's batch order is drawn from it, as in :func:`fit_multitask`).
    ``train_labels`` / ``val_labels``: one ``{task: int (N,)}`` for all seeds, or a list of them,
    one per seed (e.g. each seed's own few labels). Early stopping is per seed: each keeps the
    weights of its own best check and its history ends where it would have stopped alone.
    The trained weights go to each model; returns one :class:`MultitaskHistory` per seed.

    The result matches one :func:`fit_multitask` call per seed up to float rounding (``einsum``
    over a seed axis instead of one matrix product per seed).
    """
    if isinstance(models, keras.Model) or not isinstance(models, Sequence) or not models:
        raise check.type_error("models", "a non-empty list of models (one per seed)", models)
    seeds = [check.seed(seed) for seed in check.sequence(seeds, "seeds", expected="a list of seeds")]
    if len(seeds) != len(models):
        raise check.value_error("seeds", f"one seed per model ({len(models)})", seeds)
    if not all(isinstance(m, keras.Model) for m in models):
        raise check.type_error("models", "Keras models from build_multitask_model", models)
    for m in models:
        _stack_plan(m)  # ValueError for a network the stacked trainer cannot copy
    configs = {json.dumps(m.get_config(), sort_keys=True, default=repr) for m in models}
    if len(configs) != 1:
        raise check.value_error("models", "models of the same architecture", models,
                                f"{len(configs)} different architectures")
    tasks = tuple(models[0].output.keys())

    def per_seed(labels, name):
        if isinstance(labels, Mapping):
            labels = [labels] * len(models)
        if not isinstance(labels, Sequence) or len(labels) != len(models):
            raise check.type_error(name, f"a dict {{task: labels}} or a list of {len(models)}",
                                   labels)
        out = [_as_arrays(item, name) for item in labels]
        for item in out:
            missing = [task for task in tasks if task not in item]
            if missing:
                raise check.value_error(name, f"labels for every head of the model {list(tasks)}",
                                        sorted(item), f"labels for {sorted(item)} (missing "
                                        f"{missing})")
        return out

    train_labels, val_labels = per_seed(train_labels, "train_labels"), per_seed(val_labels, "val_labels")
    train_inputs, val_inputs = _as_arrays(train_inputs, "train_inputs"), _as_arrays(
        val_inputs, "val_inputs")
    weights, uncertainty = _loss_weights(loss_weights, tasks)
    monitor = check.one_of(monitor, "monitor", tasks)
    epochs, batch_size, learning_rate, patience, check_every = _check_options(
        epochs, batch_size, learning_rate, patience, check_every)
    for inputs, labels, name in ((train_inputs, train_labels[0], "train"),
                                 (val_inputs, val_labels[0], "val")):
        check.same_length({**{f"{name}_inputs[{k!r}]": v for k, v in inputs.items()},
                           **{f"{name}_labels[{k!r}]": v for k, v in labels.items()}})
    tf = quiet_tensorflow()
    key = (configs.pop(), len(models), tasks, uncertainty, float(learning_rate), batch_size)
    trainer = reuse(_STACKED, key, lambda: _StackedTrainer(
        models[0], len(models), tasks, uncertainty, learning_rate, batch_size))
    trainer.restart(models, learning_rate)

    def stacked(inputs, labels):
        return ({m: tf.constant(v, tf.float32) for m, v in inputs.items()},
                {t: tf.constant(np.stack([item[t] for item in labels]).astype(np.int32))
                 for t in tasks})

    train_x, train_y = stacked(train_inputs, train_labels)
    val_x, val_y = stacked(val_inputs, val_labels)
    fixed = tf.constant([weights[t] for t in tasks], tf.float32)
    size = len(next(iter(train_labels[0].values())))
    orders = [np.random.default_rng(seed) for seed in seeds]

    def run_check():
        order = np.stack([np.stack([rng.permutation(size) for _ in range(check_every)])
                          for rng in orders]).astype(np.int32)
        trainer.train_passes(train_x, train_y, tf.constant(order), fixed)
        return trainer.val_losses(val_x, val_y)  # (S, T)

    started = time.perf_counter()
    history, best_check, best_state = _train_until_stopped(
        run_check, trainer.state, len(models), tasks, monitor, -(-epochs // check_every),
        -(-patience // check_every))
    seconds = time.perf_counter() - started
    results = []
    for s, model in enumerate(models):
        state = best_state[s] if best_state[s] is not None else trainer.state(s)
        layers = trainer.weights_of(state)
        for name, (kernel, bias) in layers.items():
            model.get_layer(name).set_weights([kernel, bias])
        learned = trainer.task_weights(state)
        final = learned if learned is not None else np.asarray([weights[t] for t in tasks], float)
        results.append(MultitaskHistory(
            history[s], best_epoch=(int(best_check[s]) + 1) * check_every, train_seconds=seconds,
            task_weights=dict(zip(tasks, (float(w) for w in final), strict=True))))
    return results


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
