"""Exercise 10 grades as intended, through the real sandboxed grader and through ``check()``.

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

# --- plausible wrong answers, one per task -----------------------------------------------------
WRONG = {
    # the lesson's classification form for every task: the regression factor 1/2 forgotten
    "uncertainty_answer": """
def uncertainty_loss(losses, log_variances, regression):
    losses, s = np.asarray(losses, dtype=float), np.asarray(log_variances, dtype=float)
    return float(np.sum(np.exp(-s) * losses + 0.5 * s))
""",
    # counts the weights only, no biases
    "trunk_answer": """
def widest_trunk(feature_dims, task_classes, budget):
    return budget // (sum(feature_dims.values()) + sum(task_classes.values()))
""",
    # population standard deviation (ddof=0)
    "verdict_answer": """
def compare_runs(single, multi):
    single, multi = np.asarray(single, dtype=float), np.asarray(multi, dtype=float)
    difference = float(multi.mean() - single.mean())
    noise = float(2 * np.hypot(single.std(), multi.std()))
    verdict = ("multi-task better" if difference > noise else
               "single-task better" if difference < -noise else "tie")
    return {"difference": difference, "noise": noise, "verdict": verdict}
""",
}
CALLS_REFERENCE = ("trunk_answer", """
from mmcourse import multitask

def widest_trunk(feature_dims, task_classes, budget):
    return multitask.widest_trunk(feature_dims, task_classes, budget)
""")
TEST_OF = {"uncertainty_answer": "test_uncertainty_loss", "trunk_answer": "test_widest_trunk",
           "verdict_answer": "test_compare_runs"}
FUNCTION_OF = {"uncertainty_answer": ("10.uncertainty_loss", "uncertainty_loss"),
               "trunk_answer": ("10.widest_trunk", "widest_trunk"),
               "verdict_answer": ("10.compare_runs", "compare_runs")}


def _answer_cells(path) -> dict[str, str]:
    notebook = nbformat.read(str(path), as_version=4)
    return {cell.metadata["nbgrader"]["grade_id"]: re.sub(r"\s*### (BEGIN|END) SOLUTION", "", cell.source)
            for cell in notebook.cells
            if cell.metadata.get("nbgrader", {}).get("solution") and cell.cell_type == "code"}


def _exercise_path():
    return REPO_ROOT / "exercises" / find_source("10").name


def _with(changes: dict[str, str], *, correct: bool = True):
    notebook = nbformat.read(str(_exercise_path()), as_version=4)
    answers = _answer_cells(find_source("10")) if correct else {}
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


# --- check() ------------------------------------------------------------------------------------
def test_lesson_10_registers_its_checks():
    assert registered_checks("10") == ["10.compare_runs", "10.uncertainty_loss", "10.widest_trunk"]


@pytest.mark.parametrize("answer_id", sorted(FUNCTION_OF))
def test_check_accepts_the_solution_and_rejects_stub_and_wrong_answer(answer_id):
    check_id, name = FUNCTION_OF[answer_id]
    solution = _answer_cells(find_source("10"))[answer_id]
    exercise = nbformat.read(str(_exercise_path()), as_version=4)
    stub = next(c.source for c in exercise.cells if c.metadata.get("nbgrader", {}).get("grade_id") == answer_id)
    for _ in range(3):  # fresh random inputs on every call
        assert check(check_id, _function(solution, name)) is True
    assert check(check_id, _function(stub, name)) is False
    assert check(check_id, _function(WRONG[answer_id], name)) is False


# --- the real grader ----------------------------------------------------------------------------
@needs_sandbox
@pytest.mark.slow
def test_grader_scores_solution_untouched_and_each_wrong_answer(tmp_path):
    folder = tmp_path / "submissions_10"
    submissions = {"solution": (_with({}), set()),
                   "untouched": (_with({}, correct=False), set(TEST_OF.values()))}
    for answer_id, source in WRONG.items():
        submissions[f"wrong_{answer_id[:-7]}"] = (_with({answer_id: source}), {TEST_OF[answer_id]})
    submissions["solution_as_is"] = (nbformat.read(str(find_source("10")), as_version=4), set())
    answer_id, source = CALLS_REFERENCE
    submissions["calls_reference"] = (_with({answer_id: source}), {TEST_OF[answer_id]})
    for student, (notebook, _) in submissions.items():
        (folder / student).mkdir(parents=True)
        nbformat.write(notebook, str(folder / student / find_source("10").name))
    results = {r.student: r for r in grade(folder, "10", tmp_path / "grades.csv", timeout=20, workers=2)}
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
