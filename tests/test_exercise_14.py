"""Exercise 14 grades as intended, through the real sandboxed grader and through ``check()``.

ONE ``grade()`` run (bubblewrap sandboxes, Jupyter kernels, the learner's functions called out of
kernel on fresh inputs) grades several submissions built from the generated exercise: the
solution's answers (and the solution notebook as it is) score full marks, the untouched exercise
scores 0, one plausible wrong answer per task loses exactly that task's points (with a reason),
and an answer that calls the course's own reference scores 0 for its task. The ``check()`` tests
(pure NumPy, no sandbox) show that each check accepts the solution and rejects the untouched stub
and the same wrong answers. Without a working bubblewrap the grading test is skipped.
"""

from __future__ import annotations

import math
import re

import nbformat
import numpy as np
import pytest

from mmcourse.checks import check, registered_checks
from mmcourse.grading import sandbox
from mmcourse.grading.assign import REPO_ROOT
from mmcourse.grading.grade import find_source, grade

_NO_SANDBOX = sandbox.available()
needs_sandbox = pytest.mark.skipif(_NO_SANDBOX is not None, reason=f"no sandbox: {_NO_SANDBOX}")

WRONG = {
    # a plain mean over the clients: FedAvg only when every client has as many examples
    "fedavg_answer": """
def fedavg_layers(client_weights, client_sizes):
    return {name: np.mean([np.asarray(c[name], dtype=float) for c in client_weights], axis=0)
            for name in client_weights[0]}
""",
    # clips every layer by its own norm instead of the example's norm over all layers
    "gradient_answer": """
def private_gradient(per_example, clip_norm, noise_multiplier, noise, expected_batch_size):
    result = {}
    for name, gradients in per_example.items():
        gradients = np.asarray(gradients, dtype=float)
        flat = gradients.reshape(len(gradients), -1)
        factors = np.minimum(1.0, clip_norm / np.maximum(np.linalg.norm(flat, axis=1), 1e-12))
        scaled = (flat * factors[:, None]).sum(axis=0).reshape(gradients.shape[1:])
        result[name] = (scaled + noise_multiplier * clip_norm * np.asarray(noise[name])) / expected_batch_size
    return result
""",
    # chooses the threshold on all the losses and reports the advantage on the same losses
    "advantage_answer": """
def calibrated_advantage(member_losses, nonmember_losses):
    members, nonmembers = np.asarray(member_losses, float), np.asarray(nonmember_losses, float)
    candidates = np.unique(np.concatenate([members, nonmembers]))
    return float(max(np.mean(members <= t) - np.mean(nonmembers <= t) for t in candidates))
""",
}
CALLS_REFERENCE = ("fedavg_answer", """
from mmcourse.privacy import fedavg

def fedavg_layers(client_weights, client_sizes):
    names = list(client_weights[0])
    averaged = fedavg([[c[n] for n in names] for c in client_weights], np.asarray(client_sizes))
    return {n: np.asarray(a, dtype=float) for n, a in zip(names, averaged)}
""")
TEST_OF = {"fedavg_answer": "test_fedavg_layers", "gradient_answer": "test_private_gradient",
           "advantage_answer": "test_calibrated_advantage"}
FUNCTION_OF = {"fedavg_answer": ("14.fedavg_layers", "fedavg_layers"),
               "gradient_answer": ("14.private_gradient", "private_gradient"),
               "advantage_answer": ("14.calibrated_advantage", "calibrated_advantage")}


def _answer_cells(path) -> dict[str, str]:
    notebook = nbformat.read(str(path), as_version=4)
    return {cell.metadata["nbgrader"]["grade_id"]: re.sub(r"\s*### (BEGIN|END) SOLUTION", "", cell.source)
            for cell in notebook.cells
            if cell.metadata.get("nbgrader", {}).get("solution") and cell.cell_type == "code"}


def _exercise_path():
    return REPO_ROOT / "exercises" / find_source("14").name


def _with(changes: dict[str, str], *, correct: bool = True):
    notebook = nbformat.read(str(_exercise_path()), as_version=4)
    answers = _answer_cells(find_source("14")) if correct else {}
    answers.update(changes)
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id].strip()
    return notebook


def _function(source: str, name: str):
    namespace = {"np": np, "math": math}
    exec(source, namespace)  # noqa: S102 - the course's own solution / test answers
    return namespace[name]


def test_lesson_14_registers_its_checks():
    assert registered_checks("14") == ["14.calibrated_advantage", "14.fedavg_layers",
                                       "14.private_gradient"]


@pytest.mark.parametrize("answer_id", sorted(FUNCTION_OF))
def test_check_accepts_the_solution_and_rejects_stub_and_wrong_answer(answer_id):
    check_id, name = FUNCTION_OF[answer_id]
    solution = _answer_cells(find_source("14"))[answer_id]
    exercise = nbformat.read(str(_exercise_path()), as_version=4)
    stub = next(c.source for c in exercise.cells
                if c.metadata.get("nbgrader", {}).get("grade_id") == answer_id)
    for _ in range(3):  # fresh random inputs on every call
        assert check(check_id, _function(solution, name)) is True
    assert check(check_id, _function(stub, name)) is False
    assert check(check_id, _function(WRONG[answer_id], name)) is False


def test_copying_the_lesson_fedavg_does_not_pass():
    lesson_cell = """
def fedavg_layers(client_weights, client_sizes):
    fractions = np.asarray(client_sizes, dtype=float) / np.sum(client_sizes)
    return [sum(f * weights[layer] for f, weights in zip(fractions, client_weights))
            for layer in range(len(client_weights[0]))]
"""
    assert check("14.fedavg_layers", _function(lesson_cell, "fedavg_layers")) is False


@needs_sandbox
@pytest.mark.slow
def test_grader_scores_solution_untouched_and_each_wrong_answer(tmp_path):
    folder = tmp_path / "submissions_14"
    submissions = {"solution": (_with({}), set()),
                   "untouched": (_with({}, correct=False), set(TEST_OF.values()))}
    for answer_id, source in WRONG.items():
        submissions[f"wrong_{answer_id[:-7]}"] = (_with({answer_id: source}), {TEST_OF[answer_id]})
    submissions["solution_as_is"] = (nbformat.read(str(find_source("14")), as_version=4), set())
    answer_id, source = CALLS_REFERENCE
    submissions["calls_reference"] = (_with({answer_id: source}), {TEST_OF[answer_id]})
    for student, (notebook, _) in submissions.items():
        (folder / student).mkdir(parents=True)
        nbformat.write(notebook, str(folder / student / find_source("14").name))
    results = {r.student: r for r in grade(folder, "14", tmp_path / "grades.csv", timeout=20, workers=2)}
    assert set(results) == set(submissions)
    assert results["solution"].max_total == 8
    for student, (_, zero) in submissions.items():
        result = results[student]
        for task, points in result.max_scores.items():
            assert result.scores[task] == (0.0 if task in zero else points), (student, result.scores, result.reason)
        if zero:
            assert result.reason or all(result.failures.get(task) for task in zero), student
        if student.startswith("wrong_"):  # the wrong answer ran and was judged, not a crash
            (task,) = zero
            print(student, "->", result.failures.get(task))
            assert result.failures.get(task), (student, result.failures)
            assert not any(word in result.failures[task] for word in ("NameError", "Traceback")), result.failures
    assert results["untouched"].total == 0
    assert results["solution"].reason == "" and results["solution_as_is"].reason == ""
    assert "reference" in results["calls_reference"].reason
