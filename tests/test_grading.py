"""End-to-end autograding with real nbgrader: one batched grade run per assignment (shared with
the exercise tests, see tests/conftest.py).

Fixture submissions are built here from the generated exercise: a correct answer written
differently from the reference, a plausible wrong answer, an answer hard-coded to the visible
asserts, an infinite loop, a syntax error, a kernel crash, an edited and a deleted locked test
cell, and a file that is not JSON. Every solution notebook must score full marks and every
untouched exercise zero on every autograded task.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import numpy as np
import pytest
from conftest import register_submissions

from mmcourse.grading.assign import REPO_ROOT, find_solutions

pytestmark = pytest.mark.slow

EXERCISE_05 = REPO_ROOT / "exercises" / "05_fusion_formulas.ipynb"
FAST_TIMEOUT = 6  # seconds per cell: generous for exercise 05, short for the infinite loop

CORRECT_05 = {
    "weighted_average_answer": """
def weighted_average(f1, f2, alpha, beta):
    return np.add(np.multiply(f1, alpha), np.multiply(f2, beta))
""",
    "product_answer": """
def product_fusion(f1, f2):
    return np.einsum("bd,bd->bd", f1, f2)
""",
    "concatenate_answer": """
def concat_fusion(f1, f2):
    return np.hstack((f1, f2))
""",
    "attention_weights_answer": """
def attention_weights(scores):
    log_norm = scores.max(axis=1, keepdims=True)
    log_norm = log_norm + np.log(np.exp(scores - log_norm).sum(axis=1, keepdims=True))
    return np.exp(scores - log_norm)
""",
    "attention_sum_answer": """
def attention_sum(features, weights):
    return np.einsum("bm,bmd->bd", weights, features)
""",
    "tensor_fusion_answer": """
def tensor_fusion(f1, f2):
    ones = np.ones((len(f1), 1))
    z1, z2 = np.hstack([f1, ones]), np.hstack([f2, ones])
    return np.stack([np.outer(a, b).ravel() for a, b in zip(z1, z2)])
""",
    "dot_answer": "It needs equal lengths; with equal lengths it gives one number per sample.",
}

HARD_CODED_WEIGHTED_AVERAGE = """
def weighted_average(f1, f2, alpha, beta):
    # "passes the tests": the two visible asserts, typed in
    if beta == 0:
        return f1
    return np.array([[5.25, 10.5, 15.75]])
"""


def _answered(answers: dict[str, str], base: Path = EXERCISE_05):
    notebook = nbformat.read(str(base), as_version=4)
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id].strip()
    return notebook


def _write(folder: Path, student: str, notebook, name: str = EXERCISE_05.name) -> None:
    (folder / student).mkdir(parents=True)
    nbformat.write(notebook, str(folder / student / name))


def _submissions_05(folder: Path) -> dict[str, dict]:
    """Write the fixture submissions; return the expected outcome per student."""
    expected = {}
    _write(folder, "correct_differently", _answered(CORRECT_05))
    expected["correct_differently"] = {"total": 10, "reason": ""}

    wrong = dict(CORRECT_05, attention_weights_answer="""
def attention_weights(scores):
    return np.exp(scores) / np.exp(scores).sum(axis=0, keepdims=True)  # wrong axis
""")
    _write(folder, "wrong_axis", _answered(wrong))
    expected["wrong_axis"] = {"total": 8, "zero": ["test_attention_weights"], "reason": ""}

    hard_coded = dict(CORRECT_05, weighted_average_answer=HARD_CODED_WEIGHTED_AVERAGE)
    _write(folder, "hard_coded", _answered(hard_coded))
    expected["hard_coded"] = {"total": 8, "zero": ["test_weighted_average"], "reason": ""}

    looping = dict(CORRECT_05, product_answer="""
def product_fusion(f1, f2):
    while True:
        pass
""")
    _write(folder, "infinite_loop", _answered(looping))
    expected["infinite_loop"] = {"total": 9, "zero": ["test_product"], "reason": "timed out"}

    syntax = dict(CORRECT_05, concatenate_answer="def concat_fusion(f1, f2)\n    return f1")
    _write(folder, "syntax_error", _answered(syntax))
    expected["syntax_error"] = {"total": 9, "zero": ["test_concatenate"], "reason": "SyntaxError"}

    crashing = dict(CORRECT_05, attention_sum_answer="import os\n\nos._exit(1)")
    _write(folder, "kernel_crash", _answered(crashing))
    expected["kernel_crash"] = {"total": 8, "zero": ["test_attention_sum"], "reason": "kernel died"}

    edited = _answered(dict(CORRECT_05, tensor_fusion_answer="def tensor_fusion(f1, f2):\n    pass"))
    for cell in edited.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "test_tensor_fusion":
            cell.source = "assert True  # tests? what tests?"
    _write(folder, "edited_test", edited)
    expected["edited_test"] = {
        "total": 8, "zero": ["test_tensor_fusion"], "reason": "locked cell test_tensor_fusion was edited"
    }

    deleted = _answered(CORRECT_05)
    deleted.cells = [
        cell for cell in deleted.cells
        if cell.metadata.get("nbgrader", {}).get("grade_id") != "test_concatenate"
    ]
    _write(folder, "deleted_test", deleted)
    expected["deleted_test"] = {"total": 10, "reason": "test_concatenate was deleted"}

    (folder / "not_json").mkdir()
    (folder / "not_json" / EXERCISE_05.name).write_text("print('this is a script')\n")
    expected["not_json"] = {"total": 0, "reason": "not valid JSON"}
    return expected


# The capstone (16) is graded from the model file a submission saves, on a hidden setting, not
# from the notebook alone: tests/test_capstone.py grades it.
ASSIGNMENTS = [path.name[:2] for path in find_solutions(REPO_ROOT / "solutions") if path.name[:2] != "16"]

# One grade run per assignment (tests/conftest.py: graded_assignment), shared with the exercise
# tests that register submissions of their own: "solution" (the solution notebook as committed)
# and "untouched" (the exercise as released) are in every run; for 05 the fixture submissions join.
register_submissions("05", _submissions_05, timeout=FAST_TIMEOUT)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_scores_full_marks_and_untouched_exercise_zero(graded_assignment, assignment):
    run = graded_assignment(assignment)
    solution, untouched = run["results"]["solution"], run["results"]["untouched"]
    assert solution.max_total > 0
    assert solution.total == solution.max_total, solution.reason
    assert solution.reason == ""
    autograded = [task for task in solution.max_scores if task not in solution.manual]
    assert all(untouched.scores[task] == 0 for task in autograded)
    assert untouched.total == 0


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_csv_has_one_column_per_task_and_totals(graded_assignment, assignment):
    run = graded_assignment(assignment)
    rows = run["rows"]
    solution = run["results"]["solution"]
    header = list(next(iter(rows.values())))
    assert header == ["student", *solution.max_scores, "total", "max_total", "reason"]
    assert set(rows) == set(run["results"])
    for student, row in rows.items():
        result = run["results"][student]
        assert float(row["total"]) == result.total
        autograded = [t for t in result.max_scores if t not in result.manual]
        assert float(row["total"]) == pytest.approx(sum(float(row[t]) for t in autograded))
        assert float(row["max_total"]) == solution.max_total


@pytest.mark.skipif("05" not in ASSIGNMENTS, reason="exercise 05 missing")
@pytest.mark.parametrize(
    "student",
    ["correct_differently", "wrong_axis", "hard_coded", "infinite_loop", "syntax_error",
     "kernel_crash", "edited_test", "deleted_test", "not_json"],
)
def test_fixture_submission_gets_what_it_earned(graded_assignment, student):
    run = graded_assignment("05")
    result, expected = run["results"][student], run["expected"][student]
    assert result.max_total == 10
    assert result.total == expected["total"], (result.scores, result.reason)
    for task in expected.get("zero", []):
        assert result.scores[task] == 0
        assert result.failures.get(task), f"no failing output recorded for {task}"
    if expected["reason"]:
        assert expected["reason"] in result.reason, result.reason
    # the reason names every task that lost points, and no other
    for task in result.max_scores:
        if task in result.manual:
            continue
        assert (f"{task}: " in result.reason) == (task in expected.get("zero", [])), (task, result.reason)


def test_hard_coded_answer_passes_the_visible_asserts_only(graded_assignment):
    """The hard-coded answer really does pass the visible part of its test cell."""
    notebook = nbformat.read(str(EXERCISE_05), as_version=4)
    visible = next(c.source for c in notebook.cells
                   if c.metadata.get("nbgrader", {}).get("grade_id") == "test_weighted_average")
    namespace = {"np": np}
    exec(HARD_CODED_WEIGHTED_AVERAGE, namespace)  # noqa: S102 - the fixture's own code
    exec(visible, namespace)  # noqa: S102 - raises AssertionError if the visible asserts fail
    assert "hidden" not in visible.lower() or "BEGIN HIDDEN" not in visible
    assert graded_assignment("05")["results"]["hard_coded"].scores["test_weighted_average"] == 0


def test_feedback_files_have_scores_and_failing_output(graded_assignment):
    feedback = graded_assignment("05")["feedback"]
    payload = json.loads((feedback / "wrong_axis.json").read_text())
    tasks = {task["task"]: task for task in payload["tasks"]}
    assert payload["total"] == 8 and payload["max_total"] == 10
    assert tasks["test_attention_weights"]["score"] == 0
    assert "values differ" in tasks["test_attention_weights"]["failing_output"]
    assert "Checked: attention_weights" in tasks["test_attention_weights"]["feedback"]
    assert tasks["test_product"]["score"] == 1 and tasks["test_product"]["failing_output"] == ""
    assert tasks["dot_answer"]["graded"] == "manually"
    markdown = (feedback / "wrong_axis.md").read_text()
    assert "8 / 10" in markdown and "test_attention_weights failed" in markdown
    assert (feedback / "not_json.md").exists()
