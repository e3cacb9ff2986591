"""Exercise 11 grades as intended, through the real sandboxed grader and through ``check()``.

ONE ``grade()`` run (bubblewrap sandboxes, Jupyter kernels, the learner's functions called out of
kernel on fresh inputs) grades several submissions built from the generated exercise: the
solution's answers (and the solution notebook as it is) score full marks, the untouched exercise
scores 0, one plausible wrong answer per task loses exactly that task's points (with a reason),
and an answer that calls the course's own implementation scores 0 for its task. The ``check()``
tests (pure NumPy, no sandbox) show that each check accepts the solution and rejects the
untouched stub and the same wrong answers. Without a working bubblewrap the grading test is
skipped with the reason.
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
ASSIGNMENT = "11"

# --- plausible wrong answers, one per task -----------------------------------------------------
WRONG = {
    # the weight ignored: the lesson's symmetric loss copied as it is
    "info_nce_answer": """
def directional_info_nce(a, b, temperature, weight):
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    logits = a @ b.T / temperature

    def diagonal_cross_entropy(scores):
        shifted = scores - scores.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        return -np.mean(np.diagonal(log_p))

    return float(0.5 * (diagonal_cross_entropy(logits) + diagonal_cross_entropy(logits.T)))
""",
    # the lesson's instance recall@k (the paired column), not "any item of the query's label"
    "recall_answer": """
def digit_recall_at_k(similarity, query_labels, gallery_labels, k):
    similarity = np.asarray(similarity, dtype=float)
    paired = similarity[np.arange(len(similarity)), np.arange(len(similarity)) % similarity.shape[1]]
    return float(np.mean((similarity > paired[:, None]).sum(axis=1) < k))
""",
    # Euclidean neighbours: the rows are not normalised
    "probe_answer": """
def knn_probe(labelled, labelled_labels, queries, k):
    labelled, queries = np.asarray(labelled, dtype=float), np.asarray(queries, dtype=float)
    distances = ((queries[:, None, :] - labelled[None, :, :]) ** 2).sum(-1)
    nearest = np.argsort(distances, axis=1, kind="stable")[:, :k]
    labels = np.asarray(labelled_labels)
    return np.array([np.argmax(np.bincount(labels[row], minlength=labels.max() + 1))
                     for row in nearest], dtype=np.int64)
""",
}
CALLS_REFERENCE = ("probe_answer", """
from mmcourse.checks.lesson11 import reference_knn_probe

def knn_probe(labelled, labelled_labels, queries, k):
    return reference_knn_probe(labelled, labelled_labels, queries, k)
""")
TEST_OF = {"info_nce_answer": "test_directional_info_nce", "recall_answer": "test_digit_recall_at_k",
           "probe_answer": "test_knn_probe"}
FUNCTION_OF = {"info_nce_answer": ("11.directional_info_nce", "directional_info_nce"),
               "recall_answer": ("11.digit_recall_at_k", "digit_recall_at_k"),
               "probe_answer": ("11.knn_probe", "knn_probe")}


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
def test_lesson_11_registers_its_checks():
    assert registered_checks("11") == ["11.digit_recall_at_k", "11.directional_info_nce", "11.knn_probe"]


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


def test_the_symmetric_special_case_is_the_lessons_loss():
    from mmcourse.alignment import info_nce_numpy
    from mmcourse.checks import lesson11

    rng = np.random.default_rng(0)
    a, b = lesson11.random_pairs(rng, 12, 5)
    assert math.isclose(lesson11.reference_directional_info_nce(a, b, 0.3, 0.5), info_nce_numpy(a, b, 0.3),
                        rel_tol=1e-12)


# --- the real grader ----------------------------------------------------------------------------
@needs_sandbox
@pytest.mark.slow
def test_grader_scores_solution_untouched_and_each_wrong_answer(tmp_path):
    folder = tmp_path / "submissions_11"
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
    assert results["solution"].max_total == 7
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
