"""Shared pytest set-up: a non-interactive Matplotlib backend and quiet TensorFlow, and the exercise
harness the grading tests share.

The harness builds submissions from the generated exercise (``grade_id`` -> answer source), execs
a solution's function, runs the "check accepts the solution, rejects the stub and each wrong
answer" loop, and grades each assignment ONCE per test session: every module that grades an
assignment registers its submissions (:func:`register_submissions`) when it is imported, and the
first test that needs the assignment grades all of them, with the solution and the untouched
exercise, in one real ``grade()`` run. The result is shared by every module and, under
pytest-xdist, by every worker (a file lock and a pickle in the session's common temporary folder),
so no worker grades the same assignment twice.
"""

from __future__ import annotations

import csv
import fcntl
import math
import os
import pickle
import re
from collections.abc import Callable
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

import mmcourse  # noqa: E402,F401  (installs the TensorFlow log filter before any test imports TF)

REPO_ROOT = Path(__file__).resolve().parent.parent

# Seconds a cell may run in a shared grade run unless a module asks for less (05's loop test).
GRADE_TIMEOUT = 300


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository's root folder (tests run from a clone, never from an installed copy)."""
    return REPO_ROOT


# --- submissions built from the generated exercise -----------------------------------------------
def assert_lesson_uses_tuned_setting(lesson: str, variable: str, script: str) -> None:
    """The lesson assigns ``variable`` exactly once, to the JSON block that ends the output of
    ``scripts/<script>.py`` (``scripts/<script>.out.md``): the setting its validation grid chose."""
    import ast
    import json

    recorded = (REPO_ROOT / "scripts" / f"{script}.out.md").read_text(encoding="utf-8")
    chosen = json.loads(re.findall(r"```json\n(.*?)\n```", recorded, re.S)[-1])
    cells = json.loads((REPO_ROOT / "notebooks" / lesson).read_text(encoding="utf-8"))["cells"]
    sources = ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
               for c in cells if c["cell_type"] == "code"]
    assignments = [node for source in sources for node in ast.parse(source).body
                   if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == variable]
    assert len(assignments) == 1, f"the lesson should set {variable} exactly once"
    assert ast.literal_eval(assignments[0].value) == chosen


def answer_cells(path) -> dict[str, str]:
    """``grade_id`` -> source of each answer cell of a solution notebook, without the markers."""
    import nbformat

    notebook = nbformat.read(str(path), as_version=4)
    return {cell.metadata["nbgrader"]["grade_id"]: re.sub(r"\s*### (BEGIN|END) SOLUTION", "", cell.source)
            for cell in notebook.cells
            if cell.metadata.get("nbgrader", {}).get("solution") and cell.cell_type == "code"}


def exercise_path(assignment: str) -> Path:
    """The generated exercise ``exercises/NN_topic.ipynb`` of ``assignment``."""
    from mmcourse.grading.grade import find_source

    return REPO_ROOT / "exercises" / find_source(assignment).name


def exercise_cell(assignment: str, grade_id: str) -> str:
    """The source of one cell of the generated exercise (an answer cell: the learner's stub)."""
    import nbformat

    notebook = nbformat.read(str(exercise_path(assignment)), as_version=4)
    return next(c.source for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def with_answers(assignment: str, changes: dict[str, str], *, correct: bool = True):
    """The generated exercise with the solution's answers (or none) and ``changes`` put in."""
    import nbformat

    from mmcourse.grading.grade import find_source

    notebook = nbformat.read(str(exercise_path(assignment)), as_version=4)
    answers = answer_cells(find_source(assignment)) if correct else {}
    answers.update(changes)
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id].strip()
    return notebook


def function_from(source: str, name: str):
    """Exec ``source`` (a solution's or a test's answer) and return its function ``name``."""
    import numpy as np

    namespace = {"np": np, "math": math}
    exec(source, namespace)  # noqa: S102 - the course's own solution / test answers
    return namespace[name]


def assert_check_accepts_solution_rejects_stub_and_wrong(assignment: str, answer_id: str, check_id: str,
                                                         name: str, wrong: str) -> None:
    """``check(check_id, f)`` passes the solution's ``f`` (3 calls, fresh random inputs each) and
    fails the untouched stub and the plausible wrong answer ``wrong``."""
    from mmcourse.checks import check
    from mmcourse.grading.grade import find_source

    solution = answer_cells(find_source(assignment))[answer_id]
    stub = exercise_cell(assignment, answer_id)
    for _ in range(3):  # fresh random inputs on every call
        assert check(check_id, function_from(solution, name)) is True
    assert check(check_id, function_from(stub, name)) is False
    assert check(check_id, function_from(wrong, name)) is False


def hidden_test_lines(notebook) -> set[str]:
    """The lines (longer than 12 characters) between BEGIN/END HIDDEN TESTS in ``notebook``."""
    lines, inside = set(), False
    for cell in notebook.cells:
        for line in cell.source.splitlines():
            if "BEGIN HIDDEN TESTS" in line:
                inside = True
            elif "END HIDDEN TESTS" in line:
                inside = False
            elif inside and len(line.strip()) > 12:
                lines.add(line.strip())
    return lines


def needs_sandbox():
    """A skip mark for tests that grade with the real bubblewrap sandbox, with the reason."""
    from mmcourse.grading import sandbox

    why_not = sandbox.available()
    return pytest.mark.skipif(why_not is not None, reason=f"no sandbox: {why_not}")


# --- one shared grade() run per assignment ---------------------------------------------------------
# assignment -> [(builder, timeout)]; builder(folder) writes student folders, returns their expectations
_SUBMISSIONS: dict[str, list[tuple[Callable[[Path], dict], float]]] = {}


def register_submissions(assignment: str, builder: Callable[[Path], dict], *,
                         timeout: float = GRADE_TIMEOUT) -> None:
    """Add ``builder``'s submissions to the one grade run of ``assignment``.

    builder(folder) writes ``folder/<student>/NN_topic.ipynb`` for each of its students (names
    unique within the assignment) and returns ``{student: expectation}`` for its own tests. The run
    always also grades "solution" (the solution notebook as committed) and "untouched" (the
    generated exercise as released), byte-for-byte copies. ``timeout`` (seconds per cell): the run
    uses the smallest one registered."""
    _SUBMISSIONS.setdefault(assignment, []).append((builder, timeout))


def write_submissions(folder: Path, assignment: str, submissions: dict) -> dict:
    """Write ``{student: (notebook, expectation)}``; return ``{student: expectation}``."""
    import nbformat

    from mmcourse.grading.grade import find_source

    name = find_source(assignment).name
    for student, (notebook, _) in submissions.items():
        (folder / student).mkdir(parents=True)
        nbformat.write(notebook, str(folder / student / name))
    return {student: expectation for student, (_, expectation) in submissions.items()}


def standard_submissions(assignment: str, wrong: dict[str, str], test_of: dict[str, str],
                         calls_reference: tuple[str, str]) -> dict:
    """The submissions of exercises 08-14's grader tests, each with the test cells that must score 0:
    the solution's answers typed into the exercise; one plausible wrong answer per task; an answer
    that calls the course's own reference."""
    submissions = {"solution_answers": (with_answers(assignment, {}), set())}
    for answer_id, source in wrong.items():
        submissions[f"wrong_{answer_id.removesuffix('_answer')}"] = (
            with_answers(assignment, {answer_id: source}), {test_of[answer_id]})
    answer_id, source = calls_reference
    submissions["calls_reference"] = (with_answers(assignment, {answer_id: source}), {test_of[answer_id]})
    return submissions


def _shared_folder(tmp_path_factory) -> Path:
    """The session's temporary folder every xdist worker can see (each worker's is inside it)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def _grade_assignment(assignment: str, root: Path) -> dict:
    from mmcourse.grading.assign import find_solutions
    from mmcourse.grading.grade import grade
    from mmcourse.grading.tasks import TASKS

    folder = root / "submissions"
    solution = next(p for p in find_solutions(REPO_ROOT / "solutions") if p.name[:2] == assignment)
    for student, source in (("solution", solution), ("untouched", REPO_ROOT / "exercises" / solution.name)):
        (folder / student).mkdir(parents=True)
        (folder / student / solution.name).write_bytes(source.read_bytes())
    expected, timeouts = {}, [GRADE_TIMEOUT]
    for builder, timeout in _SUBMISSIONS.get(assignment, []):
        mine = builder(folder)
        assert not set(mine) & (set(expected) | {"solution", "untouched"}), sorted(mine)
        expected.update(mine)
        timeouts.append(timeout)
    out, feedback = root / "grades.csv", root / "feedback"
    # Every exercise has grader checks now; one without them would be graded by nbgrader's
    # in-kernel grader, which needs unsafe=True.
    results = grade(folder, assignment, out, timeout=min(timeouts), feedback_dir=feedback, workers=2,
                    unsafe=assignment not in TASKS)
    broken = {r.student: r.grader_error for r in results if r.grader_error}
    assert not broken, f"the grader itself failed on {broken}"
    rows = {row["student"]: row for row in csv.DictReader(out.open(encoding="utf-8"))}
    print(f"\n--- grades for {assignment} ---\n{out.read_text()}")
    return {"results": {r.student: r for r in results}, "rows": rows, "expected": expected,
            "feedback": feedback, "students": {"solution", "untouched", *expected}}


@pytest.fixture(scope="session")
def graded_assignment(tmp_path_factory) -> Callable[[str], dict]:
    """graded_assignment("10") -> the shared grade run of assignment 10: ``results`` (student ->
    StudentResult), ``rows`` (the CSV), ``expected`` (student -> what its builder expects),
    ``feedback`` (the feedback folder) and ``students`` (every submission of the run)."""
    shared = _shared_folder(tmp_path_factory)
    cache: dict[str, dict] = {}

    def get(assignment: str) -> dict:
        if assignment not in cache:
            root = shared / f"graded{assignment}"
            with open(shared / f"graded{assignment}.lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)  # another worker may be grading it right now
                done = shared / f"graded{assignment}.pickle"
                failed = shared / f"graded{assignment}.failed"
                if done.exists():
                    cache[assignment] = pickle.loads(done.read_bytes())
                elif failed.exists():  # the first test that needed it shows the whole error
                    pytest.fail(f"grading assignment {assignment} failed earlier in this session: "
                                f"{failed.read_text(encoding='utf-8')}", pytrace=False)
                else:
                    root.mkdir()
                    try:
                        run = _grade_assignment(assignment, root)
                    except BaseException as error:
                        failed.write_text(f"{type(error).__name__}: {error}"[:2000], encoding="utf-8")
                        raise
                    cache[assignment] = run
                    done.write_bytes(pickle.dumps(run))
        return cache[assignment]

    return get


def assert_graded_as_expected(run: dict, zero_of: dict[str, set], full_marks: float) -> None:
    """The grader-test assertions of exercises 08-14: every submission of the run was graded; each
    of ``zero_of``'s students scores 0 on exactly its listed test cells, with a reason or a failing
    output; a wrong answer ran and was judged (a failing output that is no NameError/traceback);
    the solution scores ``full_marks``, the untouched exercise 0, the answer that calls the course's
    reference is told so."""
    results = run["results"]
    assert set(results) == run["students"]
    assert results["solution"].max_total == full_marks
    for student, zero in zero_of.items():
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
    assert results["solution"].reason == "" and results["solution_answers"].reason == ""
    assert "reference" in results["calls_reference"].reason


def exercise_tests(assignment: str, *, wrong: dict[str, str], test_of: dict[str, str],
                   function_of: dict[str, tuple[str, str]], calls_reference: tuple[str, str],
                   full_marks: float):
    """The two standard tests of an exercise with one answer cell per task (10, 11, 12, 14), and
    its submissions registered for the shared grade run. Assign them to module-level names:

    ``test_check_...``: for each task, ``check()`` accepts the solution and rejects the untouched
    stub and the plausible wrong answer ``wrong[answer_id]`` (pure NumPy, no sandbox).
    ``test_grader_...``: the real sandboxed ``grade()`` run: the solution (as committed, and its
    answers typed into the exercise) scores ``full_marks``, the untouched exercise 0, each wrong
    answer loses exactly its task's points (``test_of[answer_id]``) with a reason, and the answer
    that calls the course's own reference scores 0 for its task. Skipped without bubblewrap.
    """
    def build(folder):
        return write_submissions(folder, assignment,
                                 standard_submissions(assignment, wrong, test_of, calls_reference))

    register_submissions(assignment, build)

    @pytest.mark.parametrize("answer_id", sorted(function_of))
    def test_check_accepts_the_solution_and_rejects_stub_and_wrong_answer(answer_id):
        check_id, name = function_of[answer_id]
        assert_check_accepts_solution_rejects_stub_and_wrong(assignment, answer_id, check_id, name,
                                                             wrong[answer_id])

    @needs_sandbox()
    @pytest.mark.slow
    def test_grader_scores_solution_untouched_and_each_wrong_answer(graded_assignment):
        run = graded_assignment(assignment)
        zero_of = {"solution": set(), "untouched": set(test_of.values()), **run["expected"]}
        assert_graded_as_expected(run, zero_of, full_marks=full_marks)

    return (test_check_accepts_the_solution_and_rejects_stub_and_wrong_answer,
            test_grader_scores_solution_untouched_and_each_wrong_answer)
