"""``python -m mmcourse assign``: exercises/ is exactly what nbgrader generates from solutions/."""

from __future__ import annotations

import shutil
import subprocess
import sys

import nbformat
import pytest

from mmcourse.__main__ import main
from mmcourse.grading.assign import REPO_ROOT, assign, find_solutions, generate_exercise

SOLUTIONS = find_solutions(REPO_ROOT / "solutions")


def test_there_is_at_least_one_solution():
    assert SOLUTIONS, "solutions/ holds no NN_topic.ipynb"


def test_committed_exercises_equal_what_assign_generates():
    report = assign(check=True)
    assert report.up_to_date, f"stale={report.stale} missing={report.missing} extra={report.extra}"
    assert len(report.unchanged) == len(SOLUTIONS)


@pytest.mark.parametrize("source", SOLUTIONS, ids=[path.name for path in SOLUTIONS])
def test_generation_is_byte_stable_and_strips_answers(source):
    first, second = generate_exercise(source), generate_exercise(source)
    assert first == second
    notebook = nbformat.reads(first, as_version=4)
    text = first
    assert "### BEGIN SOLUTION" not in text and "### BEGIN HIDDEN TESTS" not in text
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")
    graded = [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert graded and all(c.metadata["nbgrader"].get("checksum") for c in graded)
    stubs = [c for c in notebook.cells
             if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"]
    assert stubs and all("raise NotImplementedError()" in c.source for c in stubs)


def _run(capsys, *arguments) -> tuple[int, str]:
    code = main(["assign", *arguments])
    return code, capsys.readouterr().out


def test_check_names_stale_missing_and_extra_files(tmp_path, capsys):
    solutions, exercises = tmp_path / "solutions", tmp_path / "exercises"
    solutions.mkdir()
    source = SOLUTIONS[0]
    shutil.copy(source, solutions / source.name)
    shutil.copy(source, solutions / "99_extra_lesson.ipynb")  # picked up by the glob
    folders = ["--solutions", str(solutions), "--exercises", str(exercises)]

    code, out = _run(capsys, *folders, "--check")
    assert code == 1
    assert f"missing: {exercises / source.name}" in out and "99_extra_lesson.ipynb" in out

    code, out = _run(capsys, *folders)
    assert code == 0 and "2 written" in out
    code, out = _run(capsys, *folders, "--check")
    assert code == 0 and "up to date" in out

    target = exercises / source.name
    target.write_text(target.read_text().replace("YOUR CODE HERE", "MY CODE HERE", 1))
    (exercises / "42_orphan.ipynb").write_text("{}")
    code, out = _run(capsys, *folders, "--check")
    assert code == 1
    assert f"stale: {target}" in out
    assert f"extra (no solution): {exercises / '42_orphan.ipynb'}" in out

    code, out = _run(capsys, *folders)
    assert code == 0 and "1 written, 1 unchanged" in out
    assert assign(solutions, exercises, check=True).stale == []


def test_check_exits_non_zero_from_the_command_line(tmp_path):
    """The real `python -m mmcourse assign --check` exit status (what `make test` relies on)."""
    (tmp_path / "solutions").mkdir()
    shutil.copy(SOLUTIONS[0], tmp_path / "solutions" / SOLUTIONS[0].name)
    result = subprocess.run(
        [sys.executable, "-m", "mmcourse", "assign", "--check", "--solutions",
         str(tmp_path / "solutions"), "--exercises", str(tmp_path / "exercises")],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 1 and "missing:" in result.stdout, result.stderr


def test_report_subcommand_prints_the_environment(capsys):
    assert main(["report"]) == 0
    assert "numpy" in capsys.readouterr().out.lower()
