"""``python -m mmcourse grade/assign`` usage errors: one line on stderr, exit 2, nothing graded."""

from __future__ import annotations

import pytest

from mmcourse.__main__ import main


def _one_line_error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


@pytest.fixture()
def submissions(tmp_path):
    (tmp_path / "subs" / "alice").mkdir(parents=True)
    (tmp_path / "subs" / "alice" / "05_fusion_formulas.ipynb").write_text("{}")
    return tmp_path / "subs"


@pytest.mark.parametrize("value", ["nan", "inf", "0", "-3"])
def test_grade_rejects_a_timeout_that_is_not_a_positive_number(capsys, submissions, tmp_path, value):
    err = _one_line_error(capsys, ["grade", str(submissions), "--assignment", "05",
                                   "--out", str(tmp_path / "g.csv"), "--timeout", value])
    assert "--timeout must be a positive number" in err and value in err
    assert not (tmp_path / "g.csv").exists()


@pytest.mark.parametrize("out", ["/proc/no/such/grades.csv", "FOLDER"])
def test_grade_fails_before_grading_when_out_cannot_be_written(capsys, submissions, tmp_path, out):
    out = str(tmp_path) if out == "FOLDER" else out
    err = _one_line_error(capsys, ["grade", str(submissions), "--assignment", "05", "--out", out])
    assert "out must be" in err


def test_grade_rejects_a_folder_without_student_folders(capsys, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "05_fusion_formulas.ipynb").write_text("{}")  # a file, not a student folder
    err = _one_line_error(capsys, ["grade", str(tmp_path / "empty"), "--assignment", "05",
                                   "--out", str(tmp_path / "g.csv")])
    assert "no student folders" in err


def test_grade_rejects_an_unknown_assignment(capsys, submissions, tmp_path):
    err = _one_line_error(capsys, ["grade", str(submissions), "--assignment", "99",
                                   "--out", str(tmp_path / "g.csv")])
    assert "99_*.ipynb" in err


def test_assign_check_on_a_missing_solutions_folder_is_an_error(capsys, tmp_path):
    err = _one_line_error(capsys, ["assign", "--check", "--solutions", str(tmp_path / "missing")])
    assert "--solutions must be a folder" in err and "up to date" not in err


def test_assign_check_on_an_empty_solutions_folder_is_an_error(capsys, tmp_path):
    err = _one_line_error(capsys, ["assign", "--check", "--solutions", str(tmp_path)])
    assert "with none" in err
