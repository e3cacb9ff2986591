"""Exercises 02, 04 and 06 grade as intended through the real sandboxed grader.

For each exercise, ONE ``grade()`` run (bubblewrap sandboxes, Jupyter kernels, the learner's
functions called out of kernel on fresh inputs) grades several submissions built from the
generated exercise: the solution's answers score full marks, the untouched exercise scores 0, two
submissions each carry plausible wrong answers for *some* tasks and lose exactly those tasks'
points (with a reason; the other tasks keep theirs), and an answer that calls the course's own
reference scores 0 for its task (put into one of the wrong submissions, on a task that is right
there, to keep the run short: four submissions per exercise). The wrong answers include the lesson's own cell copied into the
variant task (02 tasks 1-2, 04 tasks 1 and 3): copying the lesson does not pass. The ``check()``
side of the same answers is tested in ``tests/test_features_exercise_checks.py`` and
``tests/test_fusion_checks06.py``. Without a working bubblewrap the tests are skipped with the
reason.
"""

from __future__ import annotations

import pytest
from conftest import (
    answer_cells,
    needs_sandbox,
    register_submissions,
    with_answers,
    write_submissions,
)

from mmcourse.grading.grade import find_source


def _layer_without_softmax() -> str:
    solution = answer_cells(find_source("06"))["layer_answer"]
    assert "return keras.ops.softmax(self.logits)" in solution
    return solution.replace("return keras.ops.softmax(self.logits)", "return self.logits")


# answer cell -> (wrong source, test cell that must lose its points); grouped per submission
WRONG = {
    "02": [{
        # lesson 02's cell copied: the dilation is ignored
        "conv_output_size_answer": ('''
def conv_output_size(n, kernel_size, stride=1, padding="valid", dilation=1):
    if padding == "same":
        return -(-n // stride)
    return (n - kernel_size) // stride + 1
''', "test_conv_output_size"),
        # the filters' biases forgotten
        "count_parameters_answer": ('''
def count_cnn_parameters(input_shape, filters, kernel_size, feature_dim):
    height, width, channels = input_shape
    total = 0
    for num_filters in filters:
        total += kernel_size * kernel_size * channels * num_filters
        channels, height, width = num_filters, height // 2, width // 2
    return total + (height * width * channels + 1) * feature_dim
''', "test_count_parameters"),
    }, {
        # lesson 02's cell copied: channels-first images flattened as they come
        "linear_features_answer": ('''
def linear_features(images, weights, bias):
    return images.reshape(len(images), -1) @ weights.T + bias
''', "test_linear_features"),
        # no pooling before Flatten: 10,410 parameters
        "budget_cnn_answer": ('''
import keras


def build_budget_cnn():
    return keras.Sequential([keras.Input(shape=(8, 8, 1)),
                             keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
                             keras.layers.MaxPooling2D(1), keras.layers.Flatten(),
                             keras.layers.Dense(10, activation="softmax")])
''', "test_budget_cnn"),
    }],
    "04": [{
        # lesson 04's cell copied: always zero padding
        "frame_signal_answer": ('''
def frame_signal(clip, n_fft=256, hop_length=80, pad_mode="constant"):
    padded = np.pad(clip, n_fft // 2, mode="constant")
    starts = hop_length * np.arange(1 + (len(padded) - n_fft) // hop_length)
    return padded[starts[:, None] + np.arange(n_fft)[None, :]]
''', "test_frame_signal"),
        # the periodic Hann window replaced by NumPy's symmetric one
        "mfcc_answer": ('''
def mfcc_from_scratch(clip, sr=8000, n_mfcc=13, n_fft=256, hop_length=80, n_mels=40):
    frames = frame_signal(np.asarray(clip, dtype=np.float64), n_fft, hop_length)
    power = np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=-1)).T ** 2
    log_mel = power_to_db(mel_filterbank(sr, n_fft, n_mels) @ power, 1.0, 1e-10, 80.0)
    return scipy.fft.dct(log_mel, type=2, norm="ortho", axis=0)[:n_mfcc]
''', "test_mfcc"),
    }, {
        # lesson 04's cell copied: the reference level is ignored
        "power_to_db_answer": ('''
def power_to_db(power, ref=1.0, amin=1e-10, top_db=80.0):
    db = 10.0 * np.log10(np.maximum(amin, power))
    return np.maximum(db, db.max() - top_db)
''', "test_power_to_db"),
        # the sample rate argument ignored (8 kHz hard-coded)
        "mel_filterbank_answer": ('''
def mel_filterbank(sr=8000, n_fft=256, n_mels=40):
    bins = np.fft.rfftfreq(n_fft, 1.0 / 8000)
    points = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(8000 / 2), n_mels + 2))
    left, centre, right = points[:-2, None], points[1:-1, None], points[2:, None]
    rising = (bins - left) / (centre - left)
    falling = (right - bins) / (right - centre)
    return np.maximum(0.0, np.minimum(rising, falling)) * 2.0 / (right - left)
''', "test_mel_filterbank"),
    }],
    "06": [{
        # a missing hint (no allowed digit) gives 0/0 = nan
        "hint_answer": ('''
def hint_probabilities(candidates):
    allowed = np.asarray(candidates, dtype=float)
    return allowed / allowed.sum(axis=1, keepdims=True)
''', "test_hint"),
        # the rule is chosen on the test split
        "choose_answer": ('''
def choose_on_validation(validation, validation_labels, test, test_labels):
    scores = {name: float(np.mean(np.argmax(p, axis=1) == test_labels)) for name, p in test.items()}
    chosen = max(scores, key=scores.get)
    return chosen, scores[chosen]
''', "test_choose_on_validation"),
        # the softmax forgotten: the raw logits used as weights
        "layer_answer": (_layer_without_softmax(), "test_learned_fusion"),
    }, {
        # divides by 2 whatever the number of experts
        "average_answer": ('''
def average_fusion(probabilities):
    return sum(probabilities) / 2
''', "test_average"),
        # a plain product: underflows with many experts
        "product_answer": ('''
def product_of_experts(probabilities, floor=1e-6):
    product = np.prod([np.maximum(p, floor) for p in probabilities], axis=0)
    return product / product.sum(axis=-1, keepdims=True)
''', "test_product"),
    }],
}
CALLS_REFERENCE = {
    "02": ("conv_output_size_answer", '''
from mmcourse.features.image import conv_output_shape


def conv_output_size(n, kernel_size, stride=1, padding="valid", dilation=1):
    return conv_output_shape(n, dilation * (kernel_size - 1) + 1, stride, padding)
''', "test_conv_output_size"),
    "04": ("power_to_db_answer", '''
def power_to_db(power, ref=1.0, amin=1e-10, top_db=80.0):
    return librosa.power_to_db(power, ref=np.max if ref == "max" else ref, amin=amin, top_db=top_db)
''', "test_power_to_db"),
    "06": ("average_answer", '''
from mmcourse.fusion import late


def average_fusion(probabilities):
    return late.average_probabilities(probabilities)
''', "test_average"),
}
REFERENCE_IN = {"02": 2, "04": 1, "06": 1}  # the wrong submission whose other cell calls the reference
POINTS = {"02": 8, "04": 7, "06": 10}


def _submissions(assignment):
    """The solution's answers, and the wrong groups (one of them also calling the reference)."""
    def build(folder):
        submissions = {"solution_answers": (with_answers(assignment, {}), set())}
        for number, group in enumerate(WRONG[assignment], start=1):
            changes = {cell: source for cell, (source, _) in group.items()}
            zero = {task for _, task in group.values()}
            if number == REFERENCE_IN[assignment]:  # also calls the course's reference in another task's cell
                answer_id, source, task = CALLS_REFERENCE[assignment]
                changes, zero = {**changes, answer_id: source}, zero | {task}
            submissions[f"wrong_{number}"] = (with_answers(assignment, changes), zero)
        return write_submissions(folder, assignment, submissions)
    return build


for _assignment in WRONG:
    register_submissions(_assignment, _submissions(_assignment))


@needs_sandbox()
@pytest.mark.slow
@pytest.mark.parametrize("assignment", ["02", "04", "06"])
def test_grader_scores_solution_untouched_and_each_wrong_answer(assignment, graded_assignment):
    run = graded_assignment(assignment)
    results = run["results"]
    all_tasks = {task for group in WRONG[assignment] for _, task in group.values()}
    _, _, task = CALLS_REFERENCE[assignment]
    assert set(results) == run["students"]
    assert results["solution"].max_total == POINTS[assignment]
    assert set(results["solution"].max_scores) == all_tasks
    zero_of = {"solution": set(), "untouched": all_tasks, **run["expected"]}
    for student, zero in zero_of.items():
        result = results[student]
        for test_id, points in result.max_scores.items():
            assert result.scores[test_id] == (0.0 if test_id in zero else points), (student, result.scores,
                                                                                    result.reason)
        for test_id in zero:  # judged with a reason, not a crash
            assert result.failures.get(test_id), (student, test_id, result.reason)
        if student.startswith("wrong_"):
            for test_id in zero - {task}:
                print(student, test_id, "->", result.failures[test_id].splitlines()[-1])
                assert not any(word in result.failures[test_id] for word in ("NameError", "Traceback"))
    assert results["solution"].reason == "", results["solution"].reason
    assert results["solution_answers"].reason == "", results["solution_answers"].reason
    assert results["untouched"].total == 0
    reference_result = results[f"wrong_{REFERENCE_IN[assignment]}"]
    assert "course's own reference" in reference_result.failures[task], reference_result.failures


@pytest.mark.slow
def test_exercise_07_task_3_has_its_own_check(capsys):
    """``check("07.model", load)`` judges the saved model on validation: a non-model, an untrained
    fused model and a single-modality model fail with a reason."""
    from mmcourse import models
    from mmcourse.checks import check, registered_checks
    from mmcourse.data import load_mmdigits

    assert "07.model" in registered_checks("07")
    assert check("07.model", lambda: None) is False
    assert "keras.Model" in capsys.readouterr().out
    untrained = models.build_multimodal_classifier(("image", "audio"), fusion="concat", feature_dim=8)
    assert check("07.model", lambda: untrained) is False
    assert "validation accuracy" in capsys.readouterr().out
    single = models.build_unimodal_classifier("image", feature_dim=8)
    assert check("07.model", lambda: single) is False
    assert "two modalities" in capsys.readouterr().out
    assert len(load_mmdigits("val").label) > 0
