"""Side by side: the copies of a small model that one experiment trains under several seeds,
trained in one Keras step instead of one ``fit`` per seed.

A lesson that reports a mean ± std over seeds trains the same small network once per seed. For
the course's small heads most of that time is TensorFlow's fixed cost per training step, not
arithmetic. :class:`SideBySide` holds the copies (each built under its own seed by the caller)
and trains them together: copy ``k`` sees its own batches (its own seeded shuffle), its own loss,
its own early stopping; the step minimises the sum of the copies' losses. No parameter is shared,
so the gradient of copy ``k``'s parameters is exactly the gradient of copy ``k``'s loss, and Adam
works per parameter: each copy follows the same steps as when it is trained alone, and keeps the
weights of its own best validation epoch. ``tests/test_side_by_side.py`` checks that the weights
and the histories equal those of one ``fit`` per seed.

* :class:`ClassifierCopy` — one copy of a softmax classifier with Keras's sparse cross-entropy
  (what ``mmcourse.training.fit`` compiles), its loss and accuracy tracked under a prefix;
* :class:`SideBySide` — the copies as one ``keras.Model``; any copy is a ``keras.Model`` whose
  ``compute_loss(x, y, y_pred)`` returns its scalar loss and whose ``metrics`` it updates there
  (``mmcourse.multitask_keras``'s trainer is one);
* :class:`PerCopyEarlyStopping` — Keras's ``EarlyStopping(restore_best_weights=True)``, once per
  copy: a copy whose patience ran out keeps its best weights; training ends when all have stopped;
* :func:`zip_copies` / :func:`repeat_for_copies` — the datasets of the copies as one dataset.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mmcourse import _validate as check
from mmcourse.env import quiet_tensorflow

quiet_tensorflow()
import keras  # noqa: E402
from keras import ops  # noqa: E402

__all__ = ["ClassifierCopy", "SideBySide", "PerCopyEarlyStopping", "zip_copies",
           "repeat_for_copies", "copy_prefix"]


def copy_prefix(index: int) -> str:
    """The prefix of copy ``index``'s metric names: ``"copy0_"``, ``"copy1_"`` …"""
    return f"copy{check.integer(index, 'index', minimum=0)}_"


class ClassifierCopy(keras.Model):
    """A softmax classifier ``network`` trained on Keras's sparse categorical cross-entropy, with
    its loss (mean over the batch, averaged over batches by sample count, as Keras's ``loss``) and
    accuracy tracked as ``{prefix}loss`` and ``{prefix}accuracy``."""

    def __init__(self, network, prefix: str, **kwargs):
        super().__init__(name=f"{prefix}{network.name}", **kwargs)
        if not isinstance(network, keras.Model):
            raise check.type_error("network", "a Keras model", network)
        self.network = network
        self.loss_function = keras.losses.SparseCategoricalCrossentropy()
        self.loss_tracker = keras.metrics.Mean(name=f"{prefix}loss")
        self.accuracy = keras.metrics.SparseCategoricalAccuracy(name=f"{prefix}accuracy")
        self.built = True

    def call(self, inputs, training=False):
        return self.network(inputs, training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        loss = self.loss_function(y, y_pred)
        self.loss_tracker.update_state(loss, sample_weight=ops.shape(y_pred)[0])
        self.accuracy.update_state(y, y_pred)
        return loss

    @property
    def metrics(self):
        return [self.loss_tracker, self.accuracy]


class SideBySide(keras.Model):
    """``copies`` (``keras.Model`` each, see the module docstring) as one model: inputs and labels
    are tuples with one entry per copy; the loss is the sum of the copies' losses."""

    def __init__(self, copies: Sequence, name: str = "side_by_side", **kwargs):
        super().__init__(name=name, **kwargs)
        copies = check.sequence(copies, "copies", expected="a list of Keras models")
        for index, copy in enumerate(copies):
            if not isinstance(copy, keras.Model):
                raise check.type_error(f"copies[{index}]", "a Keras model", copy)
        self.copies = list(copies)
        names = [metric.name for metric in self._copy_metrics()]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise check.value_error("copies", "copies whose metrics have different names "
                                    "(give each its own prefix, see copy_prefix)", repeated,
                                    f"metric names used twice: {repeated}")
        self.built = True

    def _copy_metrics(self) -> list:
        seen, metrics = set(), []
        for copy in self.copies:
            for metric in copy.metrics:
                if id(metric) not in seen:
                    seen.add(id(metric))
                    metrics.append(metric)
        return metrics

    def call(self, inputs, training=False):
        return tuple(copy(x, training=training) for copy, x in zip(self.copies, inputs, strict=True))

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        losses = [copy.compute_loss(x=xi, y=yi, y_pred=pi, training=training)
                  for copy, xi, yi, pi in zip(self.copies, x, y, y_pred, strict=True)]
        return ops.sum(ops.stack(losses))

    @property
    def metrics(self):
        return [*super().metrics, *self._copy_metrics()]


class PerCopyEarlyStopping(keras.callbacks.Callback):
    """``keras.callbacks.EarlyStopping(monitor, patience, restore_best_weights=True)`` for each copy
    of a :class:`SideBySide`: copy ``k`` watches ``monitors[k]`` (lower is better) and keeps the
    weights of its best epoch; it stops counting when its patience runs out, and training stops
    when every copy has. After training, ``best_epochs[k]`` is copy ``k``'s best epoch (1-based)
    and ``histories[k]`` its ``monitors[k]`` values up to the epoch it stopped."""

    def __init__(self, monitors: Sequence[str], patience: int):
        super().__init__()
        self.monitors = list(check.sequence(monitors, "monitors", expected="a list of metric names"))
        self.patience = check.integer(patience, "patience", minimum=0)

    def on_train_begin(self, logs=None):
        count = len(self.monitors)
        if count != len(self.model.copies):
            raise check.value_error("monitors", f"one metric name per copy ({len(self.model.copies)})",
                                    self.monitors)
        self.best = [None] * count
        self.best_weights = [None] * count
        self.best_epoch = [0] * count
        self.wait = [0] * count
        self.active = [True] * count
        self.histories = [[] for _ in range(count)]

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        for index, (copy, monitor) in enumerate(zip(self.model.copies, self.monitors, strict=True)):
            if not self.active[index]:
                continue
            if monitor not in logs:
                raise ValueError(f"PerCopyEarlyStopping: monitors[{index}]={monitor!r} is not in the "
                                 f"logs; received: {sorted(logs)}")
            current = float(logs[monitor])
            self.histories[index].append(current)
            if self.best_weights[index] is None:
                self.best_weights[index], self.best_epoch[index] = copy.get_weights(), epoch
            self.wait[index] += 1
            if self.best[index] is None or np.less(current, self.best[index]):
                self.best[index], self.best_epoch[index] = current, epoch
                self.best_weights[index] = copy.get_weights()
                self.wait[index] = 0
            elif self.wait[index] >= self.patience and epoch > 0:
                self.active[index] = False
        if not any(self.active):
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        for copy, weights in zip(self.model.copies, self.best_weights, strict=True):
            if weights is not None:
                copy.set_weights(weights)

    @property
    def best_epochs(self) -> list[int]:
        """Each copy's kept epoch, 1-based (as ``history.best_epoch`` of ``mmcourse.training.fit``)."""
        return [epoch + 1 for epoch in self.best_epoch]


def zip_copies(datasets: Sequence):
    """Datasets of ``(inputs, labels)`` batches, one per copy, with the same number of batches →
    one dataset of ``((inputs_0, inputs_1, …), (labels_0, labels_1, …))``."""
    tf = quiet_tensorflow()
    datasets = check.sequence(datasets, "datasets", expected="a list of tf.data.Dataset")
    for index, dataset in enumerate(datasets):
        if not isinstance(dataset, tf.data.Dataset):
            raise check.type_error(f"datasets[{index}]", "a tf.data.Dataset", dataset)
    return tf.data.Dataset.zip(tuple(datasets)).map(
        lambda *pairs: (tuple(pair[0] for pair in pairs), tuple(pair[1] for pair in pairs)))


def repeat_for_copies(dataset, count: int):
    """One dataset of ``(inputs, labels)`` batches (validation: every copy sees the same) →
    ``((inputs,) * count, (labels,) * count)``."""
    tf = quiet_tensorflow()
    if not isinstance(dataset, tf.data.Dataset):
        raise check.type_error("dataset", "a tf.data.Dataset", dataset)
    count = check.positive_int(count, "count")
    return dataset.map(lambda inputs, labels: ((inputs,) * count, (labels,) * count))
