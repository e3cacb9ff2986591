"""Exercise 12 grades as intended, through the real sandboxed grader and through ``check()``.

ONE ``grade()`` run (bubblewrap sandboxes, Jupyter kernels, the learner's functions called out of
kernel on fresh inputs) grades several submissions built from the generated exercise: the
solution's answers (and the solution notebook as it is) score full marks, the untouched exercise
scores 0, one plausible wrong answer per task loses exactly that task's points (with a reason),
and an answer that calls the course's own implementation scores 0 for its task. The ``check()``
tests (pure NumPy, no sandbox) show that each check accepts the solution and rejects the untouched
stub and the same wrong answers. Without a working bubblewrap the grading test is skipped.
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

ASSIGNMENT = "12"
# --- plausible wrong answers, one per task -----------------------------------------------------
WRONG = {
    # multiply-adds counted over the INPUT positions (ignores strides and padding)
    "conv3d_answer": """
def conv3d_summary(input_shape, filters, kernel_size, strides, padding):
    out = [-(-n // s) if padding == "same" else (n - k) // s + 1
           for n, k, s in zip(input_shape[:3], kernel_size, strides)]
    per_filter = math.prod(kernel_size) * input_shape[-1]
    return {"output_shape": (*out, filters), "parameters": (per_filter + 1) * filters,
            "multiply_adds": math.prod(input_shape[:3]) * filters * per_filter}
""",
    # picks one source frame per target frame (subsampling) instead of averaging
    "align_answer": """
def align_streams(features, source_rate, num_target, target_rate):
    features = np.asarray(features, dtype=float)
    index = np.floor(np.arange(num_target) * source_rate / target_rate + 1e-9).astype(int)
    return features[np.minimum(index, len(features) - 1)]
""",
    # the mean divides by T: padded zeros count as steps
    "pool_answer": """
def masked_temporal_pool(sequence, mask, mode):
    sequence = np.asarray(sequence, dtype=float)
    valid = np.asarray(mask) > 0
    if mode == "mean":
        return np.where(valid[..., None], sequence, 0.0).mean(axis=1)
    pooled = np.where(valid[..., None], sequence, -np.inf).max(axis=1)
    return np.where(valid.any(axis=1)[:, None], pooled, 0.0)
""",
}
CALLS_REFERENCE = ("pool_answer", """
from mmcourse.temporal import temporal_pool

def masked_temporal_pool(sequence, mask, mode):
    return temporal_pool(sequence, mode, mask)
""")
TEST_OF = {"conv3d_answer": "test_conv3d_summary", "align_answer": "test_align_streams",
           "pool_answer": "test_masked_temporal_pool"}
FUNCTION_OF = {"conv3d_answer": ("12.conv3d_summary", "conv3d_summary"),
               "align_answer": ("12.align_streams", "align_streams"),
               "pool_answer": ("12.masked_temporal_pool", "masked_temporal_pool")}


def _answer_cells(path) -> dict[str, str]:
    notebook = nbformat.read(str(path), as_version=4)
    return {cell.metadata["nbgrader"]["grade_id"]: re.sub(r"\s*### (BEGIN|END) SOLUTION", "", cell.source)
            for cell in notebook.cells
            if cell.metadata.get("nbgrader", {}).get("solution") and cell.cell_type == "code"}


def _exercise_path():
    return REPO_ROOT / "exercises" / find_source(ASSIGNMENT).name


def _with(changes: dict[str, str], *, correct: bool = True):
    notebook = nbformat.read(str(_exercise_path()), as_version=4)
    answers = _answer_cells(find_source(ASSIGNMENT)) if correct else {}
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
def test_lesson_12_registers_its_checks():
    assert registered_checks("12") == ["12.align_streams", "12.conv3d_summary", "12.masked_temporal_pool"]


@pytest.mark.parametrize("answer_id", sorted(FUNCTION_OF))
def test_check_accepts_the_solution_and_rejects_stub_and_wrong_answer(answer_id):
    check_id, name = FUNCTION_OF[answer_id]
    solution = _answer_cells(find_source(ASSIGNMENT))[answer_id]
    exercise = nbformat.read(str(_exercise_path()), as_version=4)
    stub = next(c.source for c in exercise.cells if c.metadata.get("nbgrader", {}).get("grade_id") == answer_id)
    for _ in range(3):  # fresh random inputs on every call
        assert check(check_id, _function(solution, name)) is True
    assert check(check_id, _function(stub, name)) is False
    assert check(check_id, _function(WRONG[answer_id], name)) is False


def test_a_lesson_cell_copied_does_not_pass():
    # the lesson pools full-length clips with a plain mean: copying that fails the masked task
    def lesson_pool(sequence, mask, mode):
        return np.asarray(sequence).mean(axis=1)

    assert check("12.masked_temporal_pool", lesson_pool) is False


# --- the real grader ----------------------------------------------------------------------------
@needs_sandbox
@pytest.mark.slow
def test_grader_scores_solution_untouched_and_each_wrong_answer(tmp_path):
    folder = tmp_path / "submissions_12"
    submissions = {"solution": (_with({}), set()),
                   "untouched": (_with({}, correct=False), set(TEST_OF.values()))}
    for answer_id, source in WRONG.items():
        submissions[f"wrong_{answer_id[:-7]}"] = (_with({answer_id: source}), {TEST_OF[answer_id]})
    submissions["solution_as_is"] = (nbformat.read(str(find_source(ASSIGNMENT)), as_version=4), set())
    answer_id, source = CALLS_REFERENCE
    submissions["calls_reference"] = (_with({answer_id: source}), {TEST_OF[answer_id]})
    for student, (notebook, _) in submissions.items():
        (folder / student).mkdir(parents=True)
        nbformat.write(notebook, str(folder / student / find_source(ASSIGNMENT).name))
    results = {r.student: r for r in grade(folder, ASSIGNMENT, tmp_path / "grades.csv", timeout=20, workers=2)}
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
