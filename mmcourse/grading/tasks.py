"""The grader's own checks, per exercise: which function each graded cell tests, on which inputs.

Each :class:`Task` names the graded test cell (its ``grade_id`` is the CSV column), the answer
cell, the learner's function, a sentence saying what is checked (shown in feedback), and
``make_cases(rng)``: the inputs — the visible test's inputs and fresh random ones, drawn from the
seed of the grading run — with the expected result computed **here, in the grader's process**,
by the course's reference, and the comparison to apply. The learner's process only ever receives
the inputs. ``forbidden`` lists the course's reference for that very task (policy: an answer that
imports or calls it scores 0 unless the instructor allows it). ``artefact`` tasks are judged from
a file the notebook saved, loaded safely by :func:`evaluate_keras_artefact`.

These checks mirror the hidden tests of ``solutions/NN_*.ipynb`` (which nbgrader users keep
running in nbgrader); ``tests/test_grading_adversarial.py`` checks that every solution scores full
marks with them and every untouched exercise zero. This module is hidden inside the sandbox.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mmcourse.grading.sandboxed.plain import Rejected, SeededGenerator

__all__ = ["Case", "Task", "SeededGenerator", "TASKS", "tasks_for"]

Compare = Callable[[Any, Any], "str | None"]


@dataclass
class Case:
    args: tuple
    expected: Any
    compare: Compare
    kwargs: dict = field(default_factory=dict)


@dataclass
class Task:
    test_id: str
    answer_id: str
    function: str | None
    checked: str
    make_cases: Callable[[np.random.Generator], list[Case]] | None = None
    forbidden: tuple[str, ...] = ()
    returns: str = "plain"  # or "keras_model": the result crosses as a .keras file
    artefact: str | None = None
    evaluate: Callable[[Path], str | None] | None = None
    call_timeout: float | None = None  # seconds per call; default: the grading run's timeout


# --- comparisons (grader side: the learner's code never touched these) -----------------------
def _numeric(received, what: str = "an array") -> tuple[np.ndarray | None, str | None]:
    if isinstance(received, Rejected):
        return None, f"returned {received.what}, not plain data: return {what} (a plain NumPy array or list)"
    try:
        array = np.asarray(received)
    except (TypeError, ValueError):
        return None, f"returned something that is not {what}"
    if array.dtype.kind not in "biuf":
        return None, f"returned values of dtype {array.dtype}, expected numbers"
    return array, None


def close(rtol: float = 1e-5, atol: float = 1e-8) -> Compare:
    def compare(received, expected) -> str | None:
        array, problem = _numeric(received)
        if problem:
            return problem
        expected = np.asarray(expected)
        if array.shape != expected.shape:
            return f"expected an array of shape {expected.shape}, received shape {array.shape}"
        if not np.all(np.isfinite(array)):
            return "the result contains nan or inf"
        if not np.allclose(array, expected, rtol=rtol, atol=atol):
            return f"values differ from the reference (largest difference {np.max(np.abs(array - expected)):.3g})"
        return None

    return compare


def equal_array(received, expected) -> str | None:
    array, problem = _numeric(received)
    if problem:
        return problem
    expected = np.asarray(expected)
    if array.shape != expected.shape:
        return f"expected an array of shape {expected.shape}, received shape {array.shape}"
    if not np.array_equal(array, expected):
        return f"{int(np.sum(array != expected))} of {expected.size} entries differ from the reference"
    return None


def _not_plain(received) -> str | None:
    if isinstance(received, Rejected):
        return f"returned {received.what}, not plain data (return a plain int, float, list or NumPy array)"
    return None


def equal_int(received, expected) -> str | None:
    if _not_plain(received):
        return _not_plain(received)
    if type(received) not in (int, float, np.int64, np.int32, np.float64, np.uint64, np.int16):
        return f"expected an int, received {getattr(received, 'what', type(received).__name__)}"
    if received != expected:
        return "a wrong number (the formula misses a case)"
    return None


def close_scalar(received, expected) -> str | None:
    if _not_plain(received):
        return _not_plain(received)
    if type(received) not in (int, float, np.float64, np.float32):
        return f"expected a float, received {getattr(received, 'what', type(received).__name__)}"
    if not math.isfinite(float(received)) or not np.isclose(float(received), expected):
        return "a wrong value"
    return None


def equal_strings(received, expected) -> str | None:
    if _not_plain(received):
        return _not_plain(received)
    if type(received) not in (list, tuple):
        return f"expected a list of str, received {getattr(received, 'what', type(received).__name__)}"
    if not all(type(item) is str for item in received):
        return "expected a list of str; some items are not str"
    if list(received) != list(expected):
        return f"expected {len(expected)} words in a different order or form ({len(received)} received)"
    return None


# --- exercise 01 --------------------------------------------------------------------------------
def _snr(clean, noisy):
    from mmcourse.data import measured_snr_db

    return measured_snr_db(clean, noisy)


def _class_balance_cases(rng):
    cases = [Case((np.array([0, 1, 1, 3]),), np.array([0.25, 0.5, 0.0, 0.25]), close(), {"num_classes": 4}),
             Case((np.array([2, 2, 2]),), np.eye(10)[2], close())]
    for size, classes in [(500, 10), (3, 10), (40, 2)]:
        labels = rng.integers(0, classes, size=size)
        cases.append(Case((labels,), np.bincount(labels, minlength=classes) / size, close(),
                          {"num_classes": classes}))
    return cases


def _measured_snr_cases(rng):
    clean = np.array([[1.0, -1.0, 1.0, -1.0], [2.0, 0.0, -2.0, 0.0]])
    noisy = clean + np.array([[0.1, -0.1, 0.1, -0.1], [1.0, 1.0, -1.0, -1.0]])
    cases = [Case((clean, noisy), _snr(clean, noisy), close(atol=1e-6))]
    for num, samples in [(6, 300), (1, 50)]:
        clean = rng.normal(size=(num, samples))
        noisy = clean + rng.normal(size=(num, samples)) * rng.uniform(0.1, 3, size=(num, 1))
        cases.append(Case((clean, noisy), _snr(clean, noisy), close(atol=1e-6)))
    return cases


def _compare_noise(received, expected) -> str | None:
    clean, snr_db = expected
    array, problem = _numeric(received)
    if problem:
        return problem
    if array.shape != clean.shape:
        return f"expected an array of shape {clean.shape} (same as clean), received {array.shape}"
    if not np.all(np.isfinite(array)):
        return "the result contains nan or inf"
    noise = array.astype(np.float64) - clean
    if np.any(np.mean(noise**2, axis=-1) == 0):
        return "some clip came back unchanged: no noise was added"
    if np.max(np.abs(_snr(clean, array) - snr_db)) > 0.3:
        return "a clip's measured SNR is more than 0.3 dB from the target: scale the noise per clip"
    if abs(float(np.mean(noise))) > 0.05:
        return "the added noise is not centred on zero"
    return None


def _add_noise_cases(rng):
    visible = np.stack([np.sin(np.linspace(0, 20, 4000)), 0.1 * np.sin(np.linspace(0, 50, 4000))])
    cases = [Case((visible, 5.0, SeededGenerator(0)), (visible, 5.0), _compare_noise)]
    for snr_db in (-12.0, 0.0, float(rng.uniform(10, 25))):
        clean = rng.normal(size=(5, 8000)) * rng.uniform(0.01, 1.0, size=(5, 1))
        cases.append(Case((clean, snr_db, SeededGenerator(int(rng.integers(1 << 31)))),
                          (clean, snr_db), _compare_noise))
    return cases


# --- exercise 03 --------------------------------------------------------------------------------
def _tokenize_cases(rng):
    from mmcourse.features import text

    hints = ["Seven!", "an  odd\tnumber.", "", "It's (maybe) 3.5?", "TWO plus two", "  trailing   ",
             "a-b c_d e/f", "x\ny"]
    words = ["Seven", "odd", "NUMBER", "plus", "three", "above", "x"]
    for _ in range(4):
        picked = rng.choice(words, size=int(rng.integers(1, 6)))
        hints.append(" ".join(f"{word}{rng.choice(['', '!', ',', '.', '?'])}" for word in picked))
    return [Case((hint,), text.tokenize(hint), equal_strings) for hint in hints]


def _vocabulary_cases(rng):
    from mmcourse.data import load_mmdigits
    from mmcourse.features import text

    hints = list(load_mmdigits("train").text)
    sample = [str(hint) for hint in rng.choice(hints, size=60)]
    return [Case((["b a", "c d", "a", "d"],), ["", "[UNK]", "d", "a", "c", "b"], equal_strings),
            Case((sample,), text.build_vocabulary(sample), equal_strings),
            Case(([],), ["", "[UNK]"], equal_strings)]


def _encode_cases(rng):
    from mmcourse.data import load_mmdigits
    from mmcourse.features import text

    vocabulary = ["", "[UNK]", "number", "odd", "an"]
    cases = [Case(("an odd number", vocabulary, 5), np.array([4, 3, 2, 0, 0]), equal_array),
             Case(("an even number", vocabulary, 2), np.array([4, 1]), equal_array)]
    train_vocabulary = text.build_vocabulary(load_mmdigits("train").text)
    hints = [str(hint) for hint in rng.choice(load_mmdigits("test").text, size=6)]
    for hint in [*hints, "", "eleven", "Seven, seven; SEVEN!", "a b c d e f g h i"]:
        length = int(rng.choice([1, 4, 8]))
        cases.append(Case((hint, train_vocabulary, length),
                          text.encode(hint, train_vocabulary, length), equal_array))
    return cases


def _one_hot_cases(rng):
    from mmcourse.features import text

    cases = [Case((np.array([2, 1, 0]), 3), np.array([[0, 0, 1], [0, 1, 0], [0, 0, 0]]), equal_array)]
    for _ in range(6):
        num = int(rng.integers(2, 50))
        ids = rng.integers(0, num, size=int(rng.integers(1, 12)))
        cases.append(Case((ids, num), text.one_hot_tokens(ids, num), equal_array))
    return cases


# --- exercise 05 --------------------------------------------------------------------------------
def _reference():
    from mmcourse.fusion import reference

    return reference


def _weighted_average_cases(rng):
    f1, f2 = np.array([[1.0, 2.0, 3.0]]), np.array([[10.0, 20.0, 30.0]])
    cases = [Case((f1, f2, 0.25, 0.5), np.array([[5.25, 10.5, 15.75]]), close()),
             Case((f1, f2, 1.0, 0.0), f1, close())]
    for shape in [(4, 3), (1, 7), (6, 1)]:
        a, b = rng.normal(size=shape), rng.normal(size=shape)
        alpha, beta = (float(value) for value in rng.uniform(-1, 2, size=2))
        cases.append(Case((a, b, alpha, beta), _reference().weighted_average([a, b], [alpha, beta]), close()))
    return cases


def _product_cases(rng):
    f1, f2 = np.array([[1.0, 2.0], [3.0, -1.0]]), np.array([[4.0, 0.5], [2.0, 2.0]])
    cases = [Case((f1, f2), np.array([[4.0, 1.0], [6.0, -2.0]]), close())]
    for shape in [(5, 3), (1, 9), (3, 1)]:
        a, b = rng.normal(size=shape), rng.normal(size=shape)
        cases.append(Case((a, b), _reference().product([a, b]), close()))
    return cases


def _concatenate_cases(rng):
    cases = [Case((np.array([[1.0], [2.0]]), np.array([[3.0, 4.0], [5.0, 6.0]])),
                  np.array([[1.0, 3.0, 4.0], [2.0, 5.0, 6.0]]), close())]
    for batch, d1, d2 in [(4, 3, 5), (1, 2, 2), (6, 7, 1)]:
        a, b = rng.normal(size=(batch, d1)), rng.normal(size=(batch, d2))
        cases.append(Case((a, b), _reference().concatenate([a, b]), close()))
    return cases


def _attention_weights_cases(rng):
    cases = [Case((np.array([[0.0, np.log(3.0)]]),), np.array([[0.25, 0.75]]), close()),
             Case((np.zeros((2, 4)),), np.full((2, 4), 0.25), close())]
    for scores in [rng.normal(size=(5, 3)), rng.normal(scale=5, size=(1, 2)),
                   rng.uniform(900, 1000, size=(3, 4)), -rng.uniform(900, 1000, size=(2, 3))]:
        cases.append(Case((scores,), _reference().attention_weights(scores), close()))
    return cases


def _attention_sum_cases(rng):
    features = np.array([[[1.0, 0.0], [0.0, 1.0]], [[2.0, 2.0], [4.0, 0.0]]])
    weights = np.array([[0.5, 0.5], [0.25, 0.75]])
    cases = [Case((features, weights), np.array([[0.5, 0.5], [3.5, 0.5]]), close())]
    for batch, m, d in [(4, 2, 3), (1, 3, 5), (6, 4, 1)]:
        features = rng.normal(size=(batch, m, d))
        weights = _reference().softmax(rng.normal(size=(batch, m)))
        expected = _reference().attention_sum(list(np.moveaxis(features, 1, 0)), weights)
        cases.append(Case((features, weights), expected, close()))
    return cases


def _tensor_fusion_cases(rng):
    cases = [Case((np.array([[2.0]]), np.array([[3.0, 5.0]])),
                  np.array([[6.0, 10.0, 2.0, 3.0, 5.0, 1.0]]), close())]
    for batch, d1, d2 in [(4, 3, 2), (1, 5, 4), (3, 1, 1)]:
        a, b = rng.normal(size=(batch, d1)), rng.normal(size=(batch, d2))
        cases.append(Case((a, b), _reference().tensor_fusion([a, b]), close()))
    return cases


# --- exercise 07 --------------------------------------------------------------------------------
def _confusion_matrix_cases(rng):
    from sklearn.metrics import confusion_matrix

    cases = [Case((np.array([0, 0, 1, 2]), np.array([0, 1, 1, 2]), 3),
                  np.array([[1, 1, 0], [0, 1, 0], [0, 0, 1]]), equal_array)]
    for count, classes in [(100, 10), (5, 4), (1, 2)]:
        labels, predictions = rng.integers(0, classes, size=count), rng.integers(0, classes, size=count)
        cases.append(Case((labels, predictions, classes),
                          confusion_matrix(labels, predictions, labels=range(classes)), equal_array))
    return cases


def _macro_f1_cases(rng):
    from sklearn.metrics import f1_score

    cases = [Case((np.array([[2, 0], [0, 2]]),), 1.0, close_scalar),
             Case((np.array([[1, 1], [0, 2]]),), (2 / 3 + 0.8) / 2, close_scalar)]
    for count, classes in [(200, 10), (30, 3)]:
        labels = rng.integers(0, classes, size=count)
        predictions = np.where(rng.random(count) < 0.6, labels, rng.integers(0, classes, size=count))
        matrix = np.zeros((classes, classes), dtype=np.int64)
        np.add.at(matrix, (labels, predictions), 1)
        cases.append(Case((matrix,), float(f1_score(labels, predictions, average="macro")), close_scalar))
    return cases


def _load_keras_safely(path: Path):
    """A learner's ``.keras`` file, loaded with ``safe_mode=True`` (no lambdas, no arbitrary code)."""
    import keras

    import mmcourse.features.audio  # noqa: F401 - registers the course's own layers (MFCC, ...)
    import mmcourse.features.image  # noqa: F401
    import mmcourse.features.text  # noqa: F401
    import mmcourse.fusion.layers  # noqa: F401
    import mmcourse.models  # noqa: F401

    return keras.saving.load_model(str(path), safe_mode=True, compile=False)


def _evaluate_model_07(path: Path) -> str | None:
    from mmcourse import models, training
    from mmcourse.data import load_mmdigits

    try:
        model = _load_keras_safely(path)
    except Exception as error:  # noqa: BLE001 - any unloadable file is a failed task
        return f"multimodal_model.keras could not be loaded safely: {type(error).__name__}: {str(error)[:160]}"
    if model.count_params() > 60_000:
        return f"{model.count_params():,} parameters (budget 60,000)"
    try:
        if len(models.model_modalities(model)) < 2:
            return "the model must fuse several modalities"
        accuracy = training.evaluate(model, load_mmdigits("test"))["accuracy"]
    except Exception as error:  # noqa: BLE001
        return f"the saved model could not be evaluated on the test split: {type(error).__name__}"
    if accuracy < 0.85:
        return f"test accuracy {accuracy:.3f} (target 0.85)"
    return None


# --- exercise 15 --------------------------------------------------------------------------------
def _flatten_size_cases(rng):
    from mmcourse.checks.lesson15 import reference_flatten_size

    cases = [Case((8, 8, 1), 288, equal_int), Case((8, 8, 1), 144, equal_int, {"filters": 16}),
             Case((224, 224, 3), 394_272, equal_int)]
    for _ in range(5):
        height, width = (int(value) for value in rng.integers(4, 200, size=2))
        filters = int(rng.choice([8, 32, 64]))
        cases.append(Case((height, width, 3, filters), reference_flatten_size(height, width, 3, filters),
                          equal_int))
    return cases


def _compare_article_model(received, expected) -> str | None:
    if isinstance(received, Rejected):
        return f"returned {received.what}"
    if not isinstance(received, Path):
        return "did not return a keras.Model"
    try:
        model = _load_keras_safely(received)
    except Exception as error:  # noqa: BLE001
        return f"the returned model could not be saved and loaded back safely: {type(error).__name__}"
    shapes = [tuple(tensor.shape) for tensor in model.inputs]
    if shapes != expected["inputs"]:
        return f"the model's inputs have shapes {shapes}, expected {expected['inputs']}"
    if any(type(layer).__name__ == "Dot" for layer in model.layers):
        return "the model still fuses with Dot"
    if model.count_params() != expected["params"]:
        return f"{model.count_params():,} parameters, expected {expected['params']:,} (the article's layers)"
    rng = np.random.default_rng(1502)
    image = rng.random((4, *shapes[0][1:])).astype("float32")
    text = np.eye(shapes[1][-1], dtype="float32")[rng.integers(0, shapes[1][-1], size=(4, shapes[1][1]))]
    probabilities = np.asarray(model.predict([image, text], verbose=0))
    if probabilities.shape != (4, 10) or not np.allclose(probabilities.sum(1), 1, atol=1e-5):
        return "the outputs are not 10 probabilities per sample"
    return None


def _article_model_cases(rng):
    from mmcourse.checks.lesson15 import reference_article_model

    cases = []
    for args in [(8, 37, (8, 8, 1)), (5, int(rng.integers(10, 30)), (12, 10, 3))]:
        reference = reference_article_model(*args)
        expected = {"inputs": [tuple(tensor.shape) for tensor in reference.inputs],
                    "params": reference.count_params()}
        cases.append(Case(args, expected, _compare_article_model))
    return cases


_REF = "mmcourse.fusion.reference."
_TEXT = "mmcourse.features.text."
TASKS: dict[str, list[Task]] = {
    "01": [
        Task("test_class_balance", "class_balance_answer", "class_balance",
             "class_balance on the visible labels and on random labels (500, 3 and 40 of them) "
             "against np.bincount(labels, minlength=num_classes) / len(labels)",
             _class_balance_cases, ("mmcourse.checks.lesson01._class_balance_reference",)),
        Task("test_measured_snr", "measured_snr_answer", "measured_snr_db",
             "measured_snr_db on the visible clips and on random clean/noisy clips of different "
             "loudness, against the course's SNR formula", _measured_snr_cases,
             ("mmcourse.data.measured_snr_db", "mmcourse.data.corruption.measured_snr_db")),
        Task("test_add_noise", "add_noise_answer", "add_white_noise",
             "add_white_noise at several target SNRs (−12 to 25 dB) on clips of different loudness: "
             "shape, per-clip SNR measured by the grader within 0.3 dB, zero-mean noise",
             _add_noise_cases, ("mmcourse.data.add_noise_at_snr", "mmcourse.data.corruption.add_noise_at_snr")),
    ],
    "03": [
        Task("test_tokenize", "tokenize_answer", "tokenize",
             "tokenize on the visible hints and on messy hints (punctuation, case, whitespace)",
             _tokenize_cases, (_TEXT + "tokenize",)),
        Task("test_build_vocabulary", "build_vocabulary_answer", "build_vocabulary",
             "build_vocabulary on the visible texts, on MM-Digits training hints and on no texts",
             _vocabulary_cases, (_TEXT + "build_vocabulary",)),
        Task("test_encode", "encode_answer", "encode",
             "encode on MM-Digits test hints and edge cases with several max_length values",
             _encode_cases, (_TEXT + "encode",)),
        Task("test_one_hot", "one_hot_answer", "one_hot_encode",
             "one_hot_encode on random ids and vocabulary sizes (padding rows all zero)",
             _one_hot_cases, (_TEXT + "one_hot_tokens",)),
    ],
    "05": [
        Task("test_weighted_average", "weighted_average_answer", "weighted_average",
             "weighted_average on the visible inputs and on random batches of three shapes with "
             "random alpha, beta", _weighted_average_cases, (_REF + "weighted_average",)),
        Task("test_product", "product_answer", "product_fusion",
             "product_fusion on the visible inputs and on random batches of three shapes",
             _product_cases, (_REF + "product",)),
        Task("test_concatenate", "concatenate_answer", "concat_fusion",
             "concat_fusion on the visible inputs and on random batches with d1 ≠ d2",
             _concatenate_cases, (_REF + "concatenate",)),
        Task("test_attention_weights", "attention_weights_answer", "attention_weights",
             "attention_weights on the visible scores, random scores and scores near ±1000 "
             "(finite, rows sum to 1)", _attention_weights_cases,
             (_REF + "attention_weights", _REF + "softmax")),
        Task("test_attention_sum", "attention_sum_answer", "attention_sum",
             "attention_sum on the visible inputs and on random features and weights",
             _attention_sum_cases, (_REF + "attention_sum",)),
        Task("test_tensor_fusion", "tensor_fusion_answer", "tensor_fusion",
             "tensor_fusion on the visible inputs and on random batches (shape and values)",
             _tensor_fusion_cases, (_REF + "tensor_fusion",)),
    ],
    "07": [
        Task("test_confusion_matrix", "confusion_matrix_answer", "confusion_matrix",
             "confusion_matrix on the visible labels and random labels/predictions",
             _confusion_matrix_cases, ("sklearn.metrics.confusion_matrix",)),
        Task("test_macro_f1", "macro_f1_answer", "macro_f1",
             "macro_f1 on the visible matrices and random ones, against scikit-learn's macro F1",
             _macro_f1_cases, ("sklearn.metrics.f1_score",)),
        Task("test_model", "model_answer", None,
             "the saved multimodal_model.keras, loaded safely by the grader: at most 60,000 "
             "parameters, at least two modalities, test accuracy at least 0.85",
             artefact="multimodal_model.keras", evaluate=_evaluate_model_07),
    ],
    "15": [
        Task("test_flatten_size", "flatten_size_answer", "flatten_size",
             "flatten_size on the visible sizes, the article's 224×224×3 and random image sizes",
             _flatten_size_cases, ("mmcourse.checks.lesson15.reference_flatten_size",
                                   "mmcourse.features.image.conv_output_shape")),
        Task("test_article_model", "article_model_answer", "build_article_model",
             "build_article_model for two input sizes: input shapes, the article's parameter count, "
             "no Dot layer, 10 probabilities per sample", _article_model_cases,
             ("mmcourse.checks.lesson15.reference_article_model",), returns="keras_model",
             call_timeout=60.0),
    ],
}


def tasks_for(assignment_code: str) -> list[Task] | None:
    """The grader's checks for exercise ``NN``, or ``None`` if it has none (yet)."""
    return TASKS.get(assignment_code)



def _load_task_modules() -> None:
    """Import every ``mmcourse/grading/tasks_*.py``: each adds its exercises to :data:`TASKS`.

    A lesson's grader checks live in their own module (``tasks_0809.py``, ``tasks_10.py`` …) that
    ends with ``TASKS.update({...})``; adding a file is all it takes to register them.
    """
    import importlib
    import pkgutil
    from pathlib import Path

    for info in sorted(pkgutil.iter_modules([str(Path(__file__).parent)]), key=lambda i: i.name):
        if info.name.startswith("tasks_"):
            importlib.import_module(f"{__package__}.{info.name}")


_load_task_modules()
