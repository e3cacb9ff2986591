"""The instructor guide's authoring recipe (docs/teaching.md, section 6), followed literally.

The guide's `make_solution.py` script is read out of the guide itself and run in a temporary
folder; then the public commands of steps 3 and 4 — `python -m mmcourse assign` and
`python -m mmcourse grade ... --feedback-dir ...` — generate and grade the throw-away exercise
(real nbgrader, real kernels). The only change to the guide's commands: `--solutions` /
`--exercises` point at the temporary folder instead of the repository's.

Also: `assign` reports bad nbgrader metadata with the file and the cell (a missing
`schema_version`, a duplicated `grade_id`), instead of nbgrader's bare `SchemaTooOldError`.
"""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

from mmcourse.grading.assign import generate_exercise

REPO_ROOT = Path(__file__).resolve().parent.parent
GUIDE = REPO_ROOT / "docs" / "teaching.md"


def authoring_script() -> str:
    """The Python block between the guide's authoring-script markers, dedented."""
    text = GUIDE.read_text(encoding="utf-8")
    match = re.search(r"<!-- authoring-script -->\s*```python\n(.*?)```\s*<!-- /authoring-script -->",
                      text, re.DOTALL)
    assert match, "docs/teaching.md lost its authoring script (section 6, step 1)"
    return textwrap.dedent(match.group(1))


def _mmcourse(*arguments, cwd):
    return subprocess.run([sys.executable, "-m", "mmcourse", *arguments], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def _write_solution(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "make_solution.py").write_text(authoring_script(), encoding="utf-8")
    run = subprocess.run([sys.executable, "make_solution.py"], cwd=folder, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    (source,) = (folder / "solutions").glob("99_*.ipynb")
    return source


def test_the_guides_script_writes_metadata_that_assign_accepts(tmp_path):
    source = _write_solution(tmp_path)
    notebook = nbformat.read(source, as_version=4)
    graded = [c.metadata["nbgrader"] for c in notebook.cells if "nbgrader" in c.metadata]
    assert graded and all(meta["schema_version"] == 3 for meta in graded)
    assert "set_seed(" in "".join(c.source for c in notebook.cells if c.cell_type == "code")
    generate_exercise(source)  # no error


@pytest.mark.slow
def test_the_guides_recipe_produces_an_exercise_that_assigns_and_grades(tmp_path):
    source = _write_solution(tmp_path)
    # step 3: generate the exercise with the public command
    generated = _mmcourse("assign", "--solutions", "solutions", "--exercises", "exercises",
                          cwd=tmp_path)
    assert generated.returncode == 0, generated.stdout + generated.stderr
    exercise = tmp_path / "exercises" / source.name
    assert exercise.exists() and "raise NotImplementedError()" in exercise.read_text()
    checked = _mmcourse("assign", "--check", "--solutions", "solutions", "--exercises",
                        "exercises", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout
    # step 4: grade-check this one exercise: the solution and the untouched exercise
    for student, notebook in (("solution", source), ("untouched", exercise)):
        (tmp_path / "try" / student).mkdir(parents=True)
        shutil.copy(notebook, tmp_path / "try" / student / notebook.name)
    # as the guide says: without grader checks (a Task) the sandboxed grader refuses it ...
    refused = _mmcourse("grade", "try", "--assignment", "99", "--out", "try.csv",
                        "--solutions", "solutions", cwd=tmp_path)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "--unsafe" in refused.stdout + refused.stderr
    assert not (tmp_path / "try.csv").exists()
    # ... and the author's own two notebooks grade with --unsafe
    graded = _mmcourse("grade", "try", "--assignment", "99", "--out", "try.csv",
                       "--feedback-dir", "try-feedback", "--solutions", "solutions",
                       "--unsafe", cwd=tmp_path)
    assert graded.returncode == 0, graded.stdout + graded.stderr
    assert re.search(r"^solution: 2 / 2", graded.stdout, re.MULTILINE), graded.stdout
    assert re.search(r"^untouched: 0 / 2", graded.stdout, re.MULTILINE), graded.stdout
    with open(tmp_path / "try.csv", newline="", encoding="utf-8") as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    assert set(rows) == {"solution", "untouched"}
    feedback = sorted(path.name for path in (tmp_path / "try-feedback").iterdir())
    assert any(name.startswith("solution") for name in feedback), feedback
    assert any(name.startswith("untouched") for name in feedback), feedback


def _broken(tmp_path: Path, change) -> Path:
    source = _write_solution(tmp_path)
    notebook = nbformat.read(source, as_version=4)
    change(notebook)
    nbformat.write(notebook, source)
    return source


def test_a_missing_schema_version_names_the_file_and_the_cell(tmp_path):
    def drop_schema(notebook):
        del notebook.cells[3].metadata["nbgrader"]["schema_version"]

    source = _broken(tmp_path, drop_schema)
    with pytest.raises(ValueError) as error:
        generate_exercise(source)
    message = str(error.value)
    assert str(source) in message and "cell 3 (code, grade_id 'product_answer')" in message
    assert "schema_version" in message and '"schema_version": 3' in message
    # the command line says the same (and fails)
    run = _mmcourse("assign", "--solutions", "solutions", "--exercises", "exercises",
                    cwd=tmp_path)
    assert run.returncode != 0 and "cell 3 (code, grade_id 'product_answer')" in run.stderr


def test_a_duplicated_grade_id_and_missing_points_are_reported_with_the_cell(tmp_path):
    def duplicate(notebook):
        notebook.cells[5].metadata["nbgrader"]["grade_id"] = "product_answer"

    with pytest.raises(ValueError, match=r"cell 5 .*'product_answer' is already used by cell 3"):
        generate_exercise(_broken(tmp_path / "a", duplicate))

    def no_points(notebook):
        del notebook.cells[5].metadata["nbgrader"]["points"]

    with pytest.raises(ValueError, match=r"cell 5 \(code, grade_id 'test_product'\).*points"):
        generate_exercise(_broken(tmp_path / "b", no_points))
