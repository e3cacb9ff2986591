"""The learner's environment: versions, CPU/GPU, and seeding for reproducible runs.

``report()`` tells what the course runs on; ``set_seed(seed)`` makes a notebook print the same
numbers every time it runs on the same machine.
"""

from __future__ import annotations

import logging
import os
import platform
import random
import sys
from importlib import metadata

import numpy as np

from mmcourse import _validate as check

__all__ = ["EnvironmentReport", "KerasRetracingFilter", "report", "set_seed", "quiet_tensorflow",
           "one_blas_thread"]

NO_GPU = "none — running on CPU"


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


class KerasRetracingFilter(logging.Filter):
    """Drop TensorFlow's retracing warning when it is about Keras's *own* step functions.

    Every Keras model gets its own ``make_predict_function`` / ``make_train_function`` closure,
    and TensorFlow counts their traces together, so a lesson that trains six small models is told
    "5 out of the last 5 calls ... triggered tf.function retracing" although nothing retraced
    twice. Those lines are dropped; every other warning — including retracing of the learner's
    own ``tf.function`` that lesson 13 teaches — still shows, and the logger's level is untouched.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not ("triggered tf.function retracing" in message
                    and "Trainer.make_" in message and "_function.<locals>" in message)


def quiet_tensorflow():
    """Import TensorFlow with its start-up noise filtered out (see :mod:`mmcourse._quiet`).

    Changes no log level: TensorFlow's errors and Python warnings (e.g. about retracing of your
    own functions) still show; only the false retracing alarm about Keras's per-model step
    functions is filtered (:class:`KerasRetracingFilter`).
    """
    from mmcourse import _quiet

    _quiet.install()
    import tensorflow as tf

    logger = logging.getLogger("tensorflow")
    if not any(isinstance(item, KerasRetracingFilter) for item in logger.filters):
        logger.addFilter(KerasRetracingFilter())
    return tf


class EnvironmentReport(dict):
    """A ``dict`` of environment facts that pretty-prints itself as an aligned table."""

    def __str__(self) -> str:
        width = max(len(key) for key in self)
        return "\n".join(f"{key:<{width}} : {value}" for key, value in self.items())

    def _repr_pretty_(self, printer, cycle):  # IPython display
        printer.text(str(self))


def report(print_report: bool = True) -> EnvironmentReport:
    """Collect (and by default print) what the course is running on.

    Returns an :class:`EnvironmentReport` (a ``dict``) with the keys ``python``, ``platform``,
    ``tensorflow``, ``keras``, ``keras_backend``, ``librosa``, ``numpy``, ``cpu_count`` and
    ``gpus``. ``gpus`` lists the GPUs TensorFlow sees, or says ``"none — running on CPU"``.
    """
    print_report = check.boolean(print_report, "print_report")
    tf = quiet_tensorflow()
    import keras

    gpus = [device.name for device in tf.config.list_physical_devices("GPU")]
    info = EnvironmentReport(
        python=sys.version.split()[0],
        platform=platform.platform(terse=True),
        tensorflow=tf.__version__,
        keras=keras.__version__,
        keras_backend=keras.backend.backend(),
        librosa=_version("librosa"),
        numpy=np.__version__,
        cpu_count=os.cpu_count(),
        gpus=", ".join(gpus) if gpus else NO_GPU,
    )
    if print_report:
        print(info)
    return info


def set_seed(seed: int = 0, *, tensorflow: bool = True) -> int:
    """Seed Python and NumPy, and (by default) Keras/TensorFlow with op determinism turned on.

    Call it at the top of a notebook and again before each training run you want to repeat.
    ``tensorflow=False`` seeds Python and NumPy only and never imports TensorFlow — for
    NumPy-only notebooks such as exercise 05, which then start (and grade) in a fraction of the
    time. Returns the seed. Raises ``TypeError`` for a non-integer and ``ValueError`` for a
    negative one.
    """
    seed = check.seed(seed)
    tensorflow = check.boolean(tensorflow, "tensorflow")
    random.seed(seed)
    np.random.seed(seed)
    if not tensorflow:
        return seed
    tf = quiet_tensorflow()
    import keras

    keras.utils.set_random_seed(seed)  # seeds Python, NumPy and the TensorFlow backend
    try:
        tf.config.experimental.enable_op_determinism()
    except (AttributeError, RuntimeError):  # pragma: no cover - older TF or already-running ops
        pass
    return seed


def one_blas_thread():
    """A context in which NumPy's BLAS and scikit-learn's OpenMP use one thread.

    For small arrays (a few thousand rows): two threads on a shared 2-core machine spend more
    time waiting for each other than computing (measured: k-means and a logistic regression ran
    10-20x slower while other processes were busy). The limit is lifted on exit, so no global
    state changes; the results are the same up to float round-off. TensorFlow's own threads are
    not affected.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        from contextlib import nullcontext

        return nullcontext()
    return threadpool_limits(limits=1)
