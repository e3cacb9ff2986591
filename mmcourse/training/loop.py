"""One architecture, several seeds: a lean training loop on arrays held in memory.

:func:`fit_seeds` trains the model ``build()`` returns once per seed — the seed sets its initial
weights (``build()`` is called after ``set_seed(seed)``) and its batch order — with Adam on the
sparse categorical cross-entropy, and early stopping on validation loss with the best epoch's
weights restored: what ``training.fit`` does with ``Model.fit`` and Keras's ``EarlyStopping``
(``patience``, ``restore_best_weights=True``), in a hand-written loop (``tf.GradientTape`` +
``optimizer.apply``, as in keras.io's "Writing a training loop from scratch").

Why a second loop: for the small models of the later lessons, the work around ``Model.fit``
(building a ``tf.data`` pipeline and an epoch iterator per call, callbacks, a separate traced
evaluation and prediction function, a new model per seed) costs nearly as much as the training
itself. Here one traced function runs a whole pass over the data, and it is traced once per
architecture: every seed, and every later call with the same architecture, learning rate and
batch size, reuses it. Part of :mod:`mmcourse.training` (``training.fit_seeds``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from mmcourse import _validate as check
from mmcourse._reuse import restart_adam, reuse
from mmcourse.env import quiet_tensorflow, set_seed

__all__ = ["SeedRun", "fit_seeds"]


@dataclass
class SeedRun:
    """One seed's training by :func:`fit_seeds`.

    * ``model``: the network built under this seed, holding the weights of its best epoch;
    * ``best_epoch``: that epoch (1-based); ``val_loss``: the validation loss after every epoch
      trained (training stopped ``patience`` epochs after the best, or at ``epochs``);
    * ``train_seconds``: the wall time of this seed's training.

    ``predict_proba(inputs)`` gives the model's class probabilities, float64 ``(N, classes)``,
    through the traced forward pass of the training loop (no new trace per seed).
    """

    seed: int
    model: object
    best_epoch: int
    val_loss: list = field(default_factory=list)
    train_seconds: float = 0.0
    _trainer: object = field(default=None, repr=False)

    def predict_proba(self, inputs) -> np.ndarray:
        inputs = _inputs(inputs, "inputs", self._trainer.input_shape)
        return self._trainer.predict(self.model.get_weights(), inputs)


class _Trainer:
    """A working copy of one architecture, its Adam, and two traced functions: one pass over the
    training data in batches (one ``tf.range`` loop), and the forward pass in chunks."""

    def __init__(self, model, learning_rate: float, batch_size: int):
        import keras

        self.tf = quiet_tensorflow()
        self.network = keras.models.clone_model(model)
        self.input_shape = tuple(model.inputs[0].shape[1:])
        self.batch_size = batch_size
        self.loss = keras.losses.SparseCategoricalCrossentropy()
        self.variables = list(self.network.trainable_variables)
        self.optimizer = keras.optimizers.Adam(learning_rate)
        self.optimizer.build(self.variables)
        self.train_pass = self.tf.function(self._train_pass, reduce_retracing=True)
        self.forward = self.tf.function(self._forward, reduce_retracing=True)

    def _train_pass(self, inputs, labels, order):
        tf = self.tf
        steps = (tf.shape(order)[0] + self.batch_size - 1) // self.batch_size
        for step in tf.range(steps):
            chosen = order[step * self.batch_size:(step + 1) * self.batch_size]
            with tf.GradientTape() as tape:
                probabilities = self.network(tf.gather(inputs, chosen), training=True)
                loss = self.loss(tf.gather(labels, chosen), probabilities)
            gradients = tape.gradient(loss, self.variables)
            self.optimizer.apply(gradients, self.variables)
        return steps

    def _forward(self, inputs):
        return self.network(inputs, training=False)

    def probabilities(self, inputs):
        chunks = [self.forward(inputs[start:start + 1024])
                  for start in range(0, max(len(inputs), 1), 1024)]
        return self.tf.concat(chunks, axis=0)

    def predict(self, weights, inputs) -> np.ndarray:
        self.network.set_weights(weights)
        return np.asarray(self.probabilities(self.tf.constant(inputs)), np.float64)

    def val_loss(self, inputs, labels) -> float:
        return float(self.loss(labels, self.probabilities(inputs)))

    def restart(self, weights, learning_rate: float) -> None:
        """The network at ``weights`` and Adam as new (step count and moments zero)."""
        self.network.set_weights(weights)
        restart_adam(self.optimizer, learning_rate)


# Trainers, reused across calls (mmcourse._reuse): one per architecture (config), input shape,
# learning rate and batch size. Each seed restarts it from that seed's initial weights and a fresh
# optimizer, so it trains exactly like a new one.
_TRAINERS: dict = {}


def _trainer_for(model, learning_rate: float, batch_size: int) -> _Trainer:
    key = (json.dumps(model.get_config(), sort_keys=True, default=repr),
           tuple(model.inputs[0].shape[1:]), float(learning_rate), batch_size)
    return reuse(_TRAINERS, key, lambda: _Trainer(model, learning_rate, batch_size))


def _inputs(values, name: str, input_shape) -> np.ndarray:
    result = check.array(values, name, kind="numeric", finite=True, min_length=1,
                         what="an array of model inputs")
    if tuple(result.shape[1:]) != tuple(input_shape):
        raise check.value_error(name, f"an array of shape (N, {', '.join(map(str, input_shape))})"
                                " (the model's input)", result)
    return result.astype(np.float32)


def _split(data, name: str, input_shape, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(data, tuple) or len(data) != 2:
        raise check.type_error(name, "a tuple (inputs, labels) of arrays", data)
    inputs = _inputs(data[0], f"{name}[0]", input_shape)
    labels = check.labels(data[1], f"{name}[1]", num_classes=num_classes)
    check.same_length({f"{name}[0]": inputs, f"{name}[1]": labels})
    return inputs, labels.astype(np.int32)


def _softmax_model(build: Callable):
    import keras

    model = build()
    if not isinstance(model, keras.Model):
        raise check.type_error("build", "a function returning a new Keras model", model)
    if len(model.inputs) != 1 or len(model.outputs) != 1 or len(model.outputs[0].shape) != 2:
        raise check.value_error("build", "a function returning a model with one input and one "
                                "output (batch, classes) of probabilities", model,
                                f"a model with {len(model.inputs)} input(s) and outputs "
                                f"{[tuple(o.shape) for o in model.outputs]}")
    return model


def fit_seeds(build: Callable, train: tuple, val: tuple, *, seeds: Sequence[int],
              epochs: int = 30, batch_size: int = 32, learning_rate: float = 3e-3,
              patience: int = 5) -> list[SeedRun]:
    """Train ``build()``'s architecture once per seed; early stopping on validation loss.

    ``build``: a function returning a new, uncompiled Keras model with one input and a softmax
    output ``(batch, classes)``; it is called after ``set_seed(seed)`` for each seed, which sets
    that seed's initial weights. ``train``, ``val``: tuples ``(inputs (N, *input_shape), integer
    labels (N,))``. Each epoch walks the training samples in the order
    ``np.random.default_rng(seed).permutation`` draws for it, in batches of ``batch_size`` (the
    last one smaller), one Adam step per batch; then the validation loss is computed. Training
    stops after ``patience`` epochs without a lower validation loss (or at ``epochs``) and the
    model keeps the weights of its best epoch — Keras's ``EarlyStopping(patience,
    restore_best_weights=True)``. Returns one :class:`SeedRun` per seed, in the order given.
    Seeded and repeatable: the same call gives the same weights.
    """
    if not callable(build):
        raise check.type_error("build", "a function returning a new Keras model", build)
    seeds = [check.seed(seed, "seeds entry")
             for seed in check.sequence(seeds, "seeds", expected="a non-empty list of seeds")]
    epochs = check.positive_int(epochs, "epochs")
    batch_size = check.positive_int(batch_size, "batch_size")
    learning_rate = check.number(learning_rate, "learning_rate", minimum=0.0,
                                 exclusive_minimum=True)
    patience = check.integer(patience, "patience", minimum=0)
    models = []
    for seed in seeds:  # every seed's initial weights first: building between passes is slow
        set_seed(seed)
        models.append(_softmax_model(build))
    shapes = {tuple(tuple(w.shape) for w in m.weights) for m in models}
    if len(shapes) != 1:
        raise check.value_error("build", "a function returning the same architecture every "
                                "time", build, f"{len(shapes)} different sets of weight shapes")
    input_shape = tuple(models[0].inputs[0].shape[1:])
    num_classes = int(models[0].outputs[0].shape[-1])
    train_x, train_y = _split(train, "train", input_shape, num_classes)
    val_x, val_y = _split(val, "val", input_shape, num_classes)
    trainer = _trainer_for(models[0], learning_rate, batch_size)
    tf = trainer.tf
    train_x, train_y = tf.constant(train_x), tf.constant(train_y)
    val_x, val_y = tf.constant(val_x), tf.constant(val_y)
    runs = []
    for seed, model in zip(seeds, models, strict=True):
        started = time.perf_counter()
        trainer.restart(model.get_weights(), learning_rate)
        rng = np.random.default_rng(seed)
        losses, best_weights, best_epoch = [], None, 0
        for epoch in range(epochs):
            order = rng.permutation(len(train_y)).astype(np.int32)
            trainer.train_pass(train_x, train_y, tf.constant(order))
            losses.append(trainer.val_loss(val_x, val_y))
            if best_weights is None or losses[-1] < losses[best_epoch - 1]:
                best_weights, best_epoch = trainer.network.get_weights(), epoch + 1
            elif epoch + 1 - best_epoch >= patience:
                break
        model.set_weights(best_weights)
        runs.append(SeedRun(seed, model, best_epoch, losses, time.perf_counter() - started,
                            _trainer=trainer))
    return runs
