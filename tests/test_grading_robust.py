"""The grader's own failures: thread-unsafe parsing is serialised, and a crash of the grader on one
submission loses no other grade (the CSV is written, that row is marked, the command exits 1)."""

from __future__ import annotations

import threading
from types import SimpleNamespace

from mmcourse.__main__ import main
from mmcourse.grading import secure
from mmcourse.grading.grade import StudentResult


def test_the_reference_scan_parses_one_thread_at_a_time():
    """CPython 3.11's ast.parse is not thread-safe (python/cpython#106905): the scan waits for the
    grader's lock, which TensorFlow work in the grader's process also holds."""
    found = []
    scan = threading.Thread(target=lambda: found.append(secure.uses_reference(
        [("answer", "from mmcourse.fusion import reference\nreference.product(a, b)")],
        ("mmcourse.fusion.reference.product",), "answer")))
    with secure._TF_LOCK:
        scan.start()
        scan.join(timeout=0.5)
        assert scan.is_alive() and not found  # it is waiting for the lock, not parsing
    scan.join(timeout=10)
    assert found == ["mmcourse.fusion.reference.product"]


def _prepared():
    return SimpleNamespace(points={"t1": 2.0, "t2": 3.0}, manual=[], grade_ids=["t1", "t2"])


def test_a_grader_crash_on_one_submission_keeps_the_other_grades(monkeypatch, tmp_path):
    def fake_grade_one(student, notebook, prepared, *args):
        if student == "bob":
            raise SystemError("AST constructor recursion depth mismatch (before=24, after=20)")
        result = StudentResult(student, max_scores=dict(prepared.points))
        result.scores = {"t1": 2.0, "t2": 3.0}
        return result

    monkeypatch.setattr(secure, "grade_one", fake_grade_one)
    results = secure.grade_all({"alice": None, "bob": None, "carol": None}, _prepared(), timeout=1,
                               sandboxed=False, allow_reference=False, workers=2, work_root=tmp_path)
    assert results["alice"].total == results["carol"].total == 5.0
    assert not results["alice"].grader_error
    bob = results["bob"]
    assert bob.grader_error.startswith("SystemError: AST constructor")
    assert bob.scores == {"t1": None, "t2": None}  # not graded, which is not the same as 0
    assert "GRADER ERROR" in bob.reason and "regrade" in bob.reason


def test_the_grade_command_exits_1_and_names_the_ungraded_submission(monkeypatch, capsys, tmp_path):
    import mmcourse.grading.grade as grade_module

    graded = StudentResult("alice", scores={"t1": 2.0}, max_scores={"t1": 2.0})
    broken = StudentResult("bob", scores={"t1": None}, max_scores={"t1": 2.0},
                           grader_error="SystemError: boom", reasons=["GRADER ERROR, not graded: boom"])
    monkeypatch.setattr(grade_module, "grade", lambda *args, **kwargs: [graded, broken])
    assert main(["grade", str(tmp_path), "--assignment", "05", "--out", str(tmp_path / "g.csv")]) == 1
    out, err = capsys.readouterr()
    assert "alice: 2 / 2" in out
    assert "grader failed on 1 submission" in err and "bob" in err and "alice" not in err


def test_a_clean_run_still_exits_0(monkeypatch, capsys, tmp_path):
    import mmcourse.grading.grade as grade_module

    monkeypatch.setattr(grade_module, "grade", lambda *args, **kwargs: [
        StudentResult("alice", scores={"t1": 2.0}, max_scores={"t1": 2.0})])
    assert main(["grade", str(tmp_path), "--assignment", "05", "--out", str(tmp_path / "g.csv")]) == 0
    assert "ERROR" not in capsys.readouterr().err
