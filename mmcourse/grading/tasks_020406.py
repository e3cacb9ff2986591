"""The grader's own checks for exercises 02, 04 and 06 (registered into ``tasks.TASKS``).

Same design as :mod:`mmcourse.grading.tasks` and ``tasks_0809``: each
:class:`~mmcourse.grading.tasks.Task` names the graded test cell, the answer cell and the learner's
function; ``make_cases(rng)`` draws the inputs from the grading run's seed and computes the
expected result **here, in the grader's process**, with the course's references
(:mod:`mmcourse.features.image`, :mod:`mmcourse.features.audio`, librosa,
:mod:`mmcourse.fusion.late`, the ``reference_*`` functions of ``mmcourse.checks.lesson02/04/06``).
``forbidden`` names the course's own implementation of each task.

Cost per submission: 02's CNN task returns a ``.keras`` model that the grader loads safely and
trains for 15 epochs on the clean training images (a few seconds of TensorFlow in the grader);
06's layer task imports TensorFlow in the calling sandbox (the given ``layer_report`` helper
measures the learner's layer and returns plain data; the expected values are NumPy here). All
other tasks are NumPy only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mmcourse.grading.sandboxed.plain import Rejected
from mmcourse.grading.tasks import (
    TASKS,
    Case,
    Task,
    _load_keras_safely,
    close,
    equal_array,
    equal_int,
)

__all__ = ["TASKS_020406"]


# --- exercise 02 --------------------------------------------------------------------------------
def _conv_cases(rng):
    from mmcourse.checks.lesson02 import reference_conv_output_size as reference

    cases = [Case((8, 3, 1, "valid"), 6, equal_int), Case((8, 3, 1, "same"), 8, equal_int),
             Case((8, 3, 1, "valid"), 4, equal_int, {"dilation": 2}), Case((224, 3), 222, equal_int)]
    for _ in range(12):
        n = int(rng.integers(2, 100))
        dilation = int(rng.integers(1, 4))
        kernel = int(rng.integers(1, (n - 1) // dilation + 2))
        stride = int(rng.integers(1, 6))
        padding = str(rng.choice(["valid", "same"]))
        cases.append(Case((n, kernel, stride, padding, dilation),
                          reference(n, kernel, stride, padding, dilation), equal_int))
    return cases


def _linear_cases(rng):
    from mmcourse.checks.lesson02 import reference_linear_features as reference

    images = np.arange(8.0).reshape(1, 2, 2, 2)
    weights = np.zeros((2, 8))
    weights[0, 1] = weights[1, 6] = 1.0
    cases = [Case((images, weights, np.array([0.5, -1.0])), np.array([[4.5, 2.0]]), close())]
    for batch, shape, dim in [(7, (3, 8, 8), 10), (4, (2, 5, 3), 4), (1, (1, 1, 1), 1), (3, (4, 2, 6), 5)]:
        images = rng.random((batch, *shape))
        weights = rng.normal(size=(dim, int(np.prod(shape))))
        bias = rng.normal(size=dim)
        cases.append(Case((images, weights, bias), reference(images, weights, bias), close()))
    return cases


def _count_cases(rng):
    from mmcourse.features.image import cnn_parameter_count

    cases = [Case(((8, 8, 1), (16, 32), 3, 32), 8928, equal_int)]
    for _ in range(10):
        side = int(rng.choice([8, 10, 16, 28, 32]))
        shape = (side, int(rng.choice([8, 16, 28])), int(rng.integers(1, 4)))
        filters = tuple(int(f) for f in rng.choice([2, 4, 8, 16], size=int(rng.integers(1, 3))))
        kernel = int(rng.choice([1, 3, 5]))
        dim = int(rng.integers(1, 64))
        cases.append(Case((shape, filters, kernel, dim),
                          cnn_parameter_count(shape, filters, kernel, 2, "same", dim), equal_int))
    return cases


def _compare_budget_cnn(received, expected) -> str | None:
    """Load the learner's model safely, check the budget, train it here, test accuracy >= 0.85."""
    import keras

    from mmcourse.checks.lesson02 import PARAMETER_BUDGET, _check_budget_model
    from mmcourse.data import load_mmdigits
    from mmcourse.env import set_seed

    if isinstance(received, Rejected):
        return f"returned {received.what}"
    if not isinstance(received, Path):
        return "did not return a keras.Model"
    try:
        model = _load_keras_safely(received)
    except Exception as error:  # noqa: BLE001 - any unloadable model is a failed task
        return f"the returned model could not be saved and loaded back safely: {type(error).__name__}"
    if model.count_params() > PARAMETER_BUDGET:
        return f"{model.count_params():,} parameters (budget {PARAMETER_BUDGET:,})"
    problem = _check_budget_model(model, None)
    if problem:
        return problem
    set_seed(expected["seed"])
    train = load_mmdigits("train", image_noise=0, image_occlusion=0)
    test = load_mmdigits("test", image_noise=0, image_occlusion=0)
    model.compile(optimizer=keras.optimizers.Adam(), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(train.image, train.label, epochs=15, batch_size=32, verbose=0)
    accuracy = float(model.evaluate(test.image, test.label, verbose=0)[1])
    if accuracy < expected["target"]:
        return f"trained by the grader, the model reaches {accuracy:.3f} clean test accuracy (target 0.85)"
    return None


def _budget_cases(rng):
    return [Case((), {"seed": int(rng.integers(1 << 30)), "target": 0.85}, _compare_budget_cnn)]


# --- exercise 04 --------------------------------------------------------------------------------
def _frame_cases(rng):
    from mmcourse.checks.lesson04 import reference_frames

    clip = np.arange(1.0, 5.0)
    cases = [Case((clip, 4, 2), np.array([[0, 0, 1, 2], [1, 2, 3, 4], [3, 4, 0, 0]], float), equal_array),
             Case((clip, 4, 2, "reflect"), np.array([[3, 2, 1, 2], [1, 2, 3, 4], [3, 4, 3, 2]], float),
                  equal_array)]
    for mode in ("constant", "reflect", "reflect", "constant", "reflect"):
        n_fft = int(rng.choice([32, 100, 256, 512]))
        hop = int(rng.integers(1, n_fft + 1))
        clip = rng.normal(size=int(rng.integers(n_fft, 5000)))
        cases.append(Case((clip, n_fft, hop, mode), reference_frames(clip, n_fft, hop, mode), close()))
    return cases


def _mel_cases(rng):
    import librosa

    cases = []
    for sr, n_fft, n_mels in [(8000, 256, 40), (16000, 512, 64), (22050, 1024, 80),
                              (int(rng.choice([8000, 16000])), int(rng.choice([128, 256, 512])),
                               int(rng.integers(10, 41)))]:
        cases.append(Case((sr, n_fft, n_mels), librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels),
                          close(rtol=1e-4, atol=1e-6)))
    return cases


def _db_cases(rng):
    from mmcourse.checks.lesson04 import reference_power_to_db

    cases = [Case((np.array([1.0, 0.1, 0.0]), 1.0, 1e-10, 80.0), np.array([0.0, -10.0, -80.0]), close()),
             Case((np.array([4.0, 0.4, 0.0]), "max", 1e-10, 80.0), np.array([0.0, -10.0, -80.0]), close())]
    for top_db, ref in [(80.0, 1.0), (50.0, "max"), (20.0, float(10.0 ** rng.uniform(-6, 1))), (60.0, "max")]:
        power = 10.0 ** rng.uniform(-12, 2, size=(int(rng.integers(1, 40)), int(rng.integers(1, 30))))
        power[rng.random(power.shape) < 0.2] = 0.0
        cases.append(Case((power, ref, 1e-10, top_db), reference_power_to_db(power, ref, 1e-10, top_db),
                          close()))
    return cases


def _mfcc_cases(rng):
    import librosa

    from mmcourse.checks.lesson04 import random_clip
    from mmcourse.data import load_mmdigits

    clips = [random_clip(rng, int(rng.integers(600, 8000))) for _ in range(3)]
    test = load_mmdigits("test").audio
    clips += [test[int(index)] for index in rng.choice(len(test), size=2, replace=False)]
    cases = []
    for number, clip in enumerate(clips):
        sr, n_mfcc, n_fft, hop, n_mels = [(8000, 13, 256, 80, 40), (8000, 20, 512, 128, 60)][number % 2]
        expected = librosa.feature.mfcc(y=clip, sr=sr, n_mfcc=n_mfcc, n_fft=n_fft, hop_length=hop,
                                        n_mels=n_mels)
        cases.append(Case((clip, sr, n_mfcc, n_fft, hop, n_mels), expected, close(rtol=1e-4, atol=1e-2)))
    return cases


# --- exercise 06 --------------------------------------------------------------------------------
def _late():
    from mmcourse.fusion import late

    return late


def _hint_cases(rng):
    mask = np.zeros((2, 10), dtype=bool)
    mask[0, [1, 3, 5, 7, 9]] = True
    expected = np.vstack([np.where(mask[0], 0.2, 0.0), np.full(10, 0.1)])
    cases = [Case((mask,), expected, close())]
    for batch in (50, 1, 13):
        mask = rng.random((batch, 10)) < rng.uniform(0.1, 0.7)
        mask[rng.random(batch) < 0.2] = False  # missing hints: every digit allowed
        allowed = np.where(mask.any(axis=1, keepdims=True), mask, True)
        cases.append(Case((mask,), allowed / allowed.sum(axis=1, keepdims=True), close()))
    return cases


def _average_cases(rng):
    first, second = np.array([[0.6, 0.4], [0.1, 0.9]]), np.array([[0.2, 0.8], [0.5, 0.5]])
    cases = [Case(([first, second],), np.array([[0.4, 0.6], [0.3, 0.7]]), close())]
    for count, batch, classes in [(3, 7, 10), (1, 2, 3), (4, 1, 5)]:
        probabilities = [rng.dirichlet(np.ones(classes), size=batch) for _ in range(count)]
        cases.append(Case((probabilities,), _late().average_probabilities(probabilities), close()))
    return cases


def _product_cases(rng):
    late = _late()
    lean = np.array([[0.6, 0.4]])
    cases = [Case(([lean, lean],), np.array([[0.36 / 0.52, 0.16 / 0.52]]), close())]
    for count, batch, classes in [(2, 9, 10), (3, 4, 5), (1, 3, 4)]:
        probabilities = [rng.dirichlet(np.full(classes, 0.5), size=batch) for _ in range(count)]
        cases.append(Case((probabilities,), late.product_of_experts(probabilities), close(atol=1e-8)))
    zeros = [np.array([[0.0, 0.0, 0.5, 0.5]]), np.array([[0.3, 0.7, 0.0, 0.0]])]
    cases.append(Case((zeros,), late.product_of_experts(zeros), close()))
    floor = float(rng.choice([1e-3, 1e-2]))
    cases.append(Case((zeros,), late.product_of_experts(zeros, floor=floor), close(), {"floor": floor}))
    many = [np.full((2, 5), 1e-6) for _ in range(150)]
    for p in many:
        p[:, rng.integers(0, 5)] = 1.0 - 4e-6
    cases.append(Case((many,), late.product_of_experts(many), close()))
    return cases


def _compare_choice(received, expected) -> str | None:
    from mmcourse.checks.lesson06 import _compare_choice as compare

    if isinstance(received, Rejected):
        return f"returned {received.what}, not plain data (return a tuple of a str and a float)"
    if isinstance(received, (tuple, list)) and len(received) == 2:
        name, accuracy = received
        if type(name) is not str:
            return "the first item should be the chosen name (a str)"
        if type(accuracy) not in (int, float, np.float64, np.float32):
            return "the second item should be the test accuracy (a float)"
    return compare(received, expected)


def _choose_cases(rng):
    from mmcourse.checks.lesson06 import random_choice_problem, reference_choose

    validation = {"a": np.array([[0.9, 0.1], [0.2, 0.8]]), "b": np.array([[0.4, 0.6], [0.6, 0.4]])}
    test = {"a": np.array([[0.3, 0.7], [0.8, 0.2]]), "b": np.array([[0.9, 0.1], [0.1, 0.9]])}
    labels = np.array([0, 1])
    cases = [Case((validation, labels, test, labels), ("a", 0.0), _compare_choice)]
    for number in range(5):
        problem = random_choice_problem(rng, tie=number in (1, 3))
        cases.append(Case(problem, reference_choose(*problem), _compare_choice))
    return cases


def _softmax(logits):
    shifted = np.exp(logits - np.max(logits))
    return shifted / shifted.sum()


_REPORT_KEYS = {"trainable_after_build", "weights_after_call", "output", "fusion_weights", "gradient",
                "symbolic_shape"}


def _compare_layer_report(received, expected) -> str | None:
    if isinstance(received, Rejected):
        return f"returned {received.what} (layer_report is given: leave it as it is)"
    if type(received) is not dict or set(received) != _REPORT_KEYS:
        return "layer_report did not return its dict (layer_report is given: leave it as it is)"
    count, dim = expected["count"], expected["dim"]
    if received["trainable_after_build"] != [[count]]:
        return (f"after build() for {count} inputs the layer should hold one trainable weight of shape "
                f"({count},); it holds {received['trainable_after_build']}")
    if received["weights_after_call"] != 1:
        return "calling the layer changed its number of weights: create weights in build(), never in call()"
    for key, what in [("fusion_weights", "fusion_weights() (softmax of the logits)"),
                      ("output", "the output (sum_i softmax(logits)_i * f_i)"),
                      ("gradient", "the gradient reaching the logits")]:
        if received[key] is None:
            return "no gradient reaches the logits: compute the output from them with keras.ops"
        problem = close(rtol=1e-3, atol=1e-4)(received[key], expected[key])
        if problem:
            return f"{what}: {problem}"
    if received["symbolic_shape"] != [None, dim]:
        return (f"called on keras.Input tensors the layer gave shape {received['symbolic_shape']}, "
                f"expected [None, {dim}] (keras.ops only in call())")
    return None


def _layer_cases(rng):
    cases = []
    for count, batch, dim in [(2, 4, 3), (3, 5, 7), (2, 1, 4), (3, 4, 1)]:
        features = [rng.normal(size=(batch, dim)).astype(np.float32).astype(np.float64) for _ in range(count)]
        logits = rng.normal(scale=1.5, size=count).astype(np.float32).astype(np.float64)
        targets = rng.normal(size=(batch, dim)).astype(np.float32).astype(np.float64)
        weights = _softmax(logits)
        output = sum(weight * feature for weight, feature in zip(weights, features, strict=True))
        scores = np.array([np.sum(targets * feature) for feature in features])  # dloss / dweight_i
        gradient = weights * (scores - np.dot(weights, scores))  # through the softmax
        expected = {"count": count, "dim": dim, "output": output, "fusion_weights": weights,
                    "gradient": gradient}
        cases.append(Case((features, logits, targets), expected, _compare_layer_report))
    return cases


_IMAGE = "mmcourse.features.image."
_AUDIO = "mmcourse.features.audio."
_LATE = "mmcourse.fusion.late."
_REF = "mmcourse.fusion.reference."
TASKS_020406: dict[str, list[Task]] = {
    "02": [
        Task("test_conv_output_size", "conv_output_size_answer", "conv_output_size",
             "conv_output_size on the visible sizes and on random sizes, kernels, strides, both "
             "paddings and dilations 1 to 3, against the course's dilated-window formula",
             _conv_cases, (_IMAGE + "conv_output_shape", "mmcourse.checks.lesson02.reference_conv_output_size")),
        Task("test_linear_features", "linear_features_answer", "linear_features",
             "linear_features on the visible image and on random channels-first batches with 1 to 4 "
             "channels, against W x + b on the channels-last flattening",
             _linear_cases, ("mmcourse.checks.lesson02.reference_linear_features",)),
        Task("test_count_parameters", "count_parameters_answer", "count_cnn_parameters",
             "count_cnn_parameters on lesson 02's encoder and on random input shapes, filters, "
             "kernels and feature sizes, against the course's parameter count",
             _count_cases, (_IMAGE + "cnn_parameter_count", _IMAGE + "build_cnn_encoder")),
        Task("test_budget_cnn", "budget_cnn_answer", "build_budget_cnn",
             "build_budget_cnn's model, saved and loaded back safely by the grader: (8, 8, 1) -> 10 "
             "probabilities, a Conv2D and a pooling layer, at most 3,000 parameters, then trained "
             "by the grader (Adam, 15 epochs, batch 32) to at least 0.85 clean test accuracy",
             _budget_cases, (_IMAGE + "build_cnn_encoder", "mmcourse.models.build_encoder",
                             "mmcourse.models.build_unimodal_classifier"),
             returns="keras_model", call_timeout=60.0),
    ],
    "04": [
        Task("test_frame_signal", "frame_signal_answer", "frame_signal",
             "frame_signal on the visible clip and on random clips, frame sizes and hops, with zero "
             "and reflect padding", _frame_cases,
             (_AUDIO + "frame_signal", "mmcourse.checks.lesson04.reference_frames")),
        Task("test_mel_filterbank", "mel_filterbank_answer", "mel_filterbank",
             "mel_filterbank for four sample rates / FFT sizes / numbers of mels, against "
             "librosa.filters.mel", _mel_cases, (_AUDIO + "mel_filterbank", "librosa.filters.mel")),
        Task("test_power_to_db", "power_to_db_answer", "power_to_db",
             "power_to_db on the visible powers and on random powers with zeros, numeric and 'max' "
             "references and several floors, against librosa.power_to_db", _db_cases,
             (_AUDIO + "power_to_db", "librosa.power_to_db", "librosa.core.power_to_db",
              "mmcourse.checks.lesson04.reference_power_to_db")),
        Task("test_mfcc", "mfcc_answer", "mfcc_from_scratch",
             "mfcc_from_scratch on random signals and MM-Digits test clips with two settings, "
             "against librosa.feature.mfcc (to 0.01)", _mfcc_cases,
             (_AUDIO + "mfcc", "librosa.feature.mfcc", "librosa.feature.melspectrogram",
              "librosa.filters.mel", "librosa.power_to_db")),
    ],
    "06": [
        Task("test_hint", "hint_answer", "hint_probabilities",
             "hint_probabilities on the visible masks and on random candidate masks with missing "
             "hints (rows with no allowed digit)", _hint_cases, ("mmcourse.checks.lesson06._uniform_over",)),
        Task("test_average", "average_answer", "average_fusion",
             "average_fusion on the visible experts and on random lists of 1 to 4 experts",
             _average_cases, (_LATE + "average_probabilities",)),
        Task("test_product", "product_answer", "product_of_experts",
             "product_of_experts on the visible experts, random experts, zeros covering every "
             "class (with and without a floor argument) and 150 tiny experts (log space)",
             _product_cases, (_LATE + "product_of_experts",)),
        Task("test_choose_on_validation", "choose_answer", "choose_on_validation",
             "choose_on_validation on the visible rules and on random rules where the rule best on "
             "test is not the one best on validation, some with ties on validation",
             _choose_cases, ("mmcourse.checks.lesson06.reference_choose",)),
        Task("test_learned_fusion", "layer_answer", "layer_report",
             "your LearnedWeightedAverage, measured by the given layer_report on random inputs and "
             "logits: one weight of shape (M,) made in build(), the softmax-weighted output, "
             "fusion_weights(), the gradient reaching the logits, a symbolic call",
             _layer_cases, ("mmcourse.fusion.layers.WeightedAverage", _REF + "weighted_average",
                            _REF + "softmax"), call_timeout=60.0),
    ],
}

TASKS.update(TASKS_020406)
