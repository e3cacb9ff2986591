"""Course conventions every notebook must keep (COURSE_DESIGN.md, "Notebooks" and "Exercises")."""

import json
import re
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))
SOLUTIONS = sorted((REPO_ROOT / "solutions").glob("*.ipynb"))
EXERCISES = sorted((REPO_ROOT / "exercises").glob("*.ipynb"))
MAX_NOTEBOOK_BYTES = 3_000_000  # figures at ~100 dpi keep a lesson well under this


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _code_cells(path: Path) -> list[dict]:
    return [c for c in _cells(path) if c["cell_type"] == "code" and _source(c).strip()]


def _ids(paths):
    return [path.name for path in paths]


def test_there_are_lessons():
    assert LESSONS, "notebooks/ holds no lesson"


@pytest.mark.parametrize("path", LESSONS, ids=_ids(LESSONS))
def test_lesson_is_committed_executed_without_errors(path):
    for cell in _code_cells(path):
        assert cell.get("execution_count"), f"never executed: {_source(cell)[:80]!r}"
        if "NBVAL_RAISES_EXCEPTION" not in _source(cell):
            errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            assert not errors, f"error output in {_source(cell)[:80]!r}"


@pytest.mark.parametrize("path", LESSONS + SOLUTIONS, ids=_ids(LESSONS) + _ids(SOLUTIONS))
def test_lesson_opens_with_a_title_cell_and_ends_with_summary_and_questions(path):
    cells = _cells(path)
    title = _source(cells[0])
    assert cells[0]["cell_type"] == "markdown" and title.lstrip().startswith("# ")
    lowered = title.lower()
    for word in ("prerequisite", "time", "article"):
        assert word in lowered, f"title cell of {path.name} does not mention {word!r}"
    tail = " ".join(_source(c) for c in cells[-3:] if c["cell_type"] == "markdown").lower()
    assert "summary" in tail and "check yourself" in tail, f"{path.name} lacks summary/questions"


@pytest.mark.parametrize("path", LESSONS + SOLUTIONS, ids=_ids(LESSONS) + _ids(SOLUTIONS))
def test_notebook_seeds_and_stays_small(path):
    code = "\n".join(_source(c) for c in _code_cells(path))
    assert "set_seed(" in code, f"{path.name} never calls mmcourse.env.set_seed"
    assert path.stat().st_size < MAX_NOTEBOOK_BYTES, f"{path.name} is {path.stat().st_size} bytes"
    kernel = json.loads(path.read_text())["metadata"].get("kernelspec", {})
    assert kernel.get("name") == "python3"


@pytest.mark.parametrize("path", SOLUTIONS, ids=_ids(SOLUTIONS))
def test_solution_is_an_nbgrader_source_with_graded_and_hidden_tests(path):
    cells = _cells(path)
    meta = [c.get("metadata", {}).get("nbgrader", {}) for c in cells]
    solutions = [c for c, m in zip(cells, meta, strict=True) if m.get("solution")]
    graded = [c for c, m in zip(cells, meta, strict=True) if m.get("grade") and not m.get("solution")]
    assert solutions and graded
    assert all("### BEGIN SOLUTION" in _source(c) for c in solutions if c["cell_type"] == "code")
    assert all(m.get("locked") and m.get("grade_id") and m.get("points", 0) > 0
               for c, m in zip(cells, meta, strict=True)
               if m.get("grade") and not m.get("solution") and c["cell_type"] == "code")
    assert any("### BEGIN HIDDEN TESTS" in _source(c) for c in graded)
    assert (REPO_ROOT / "exercises" / path.name).exists(), "run `python -m mmcourse assign`"


@pytest.mark.parametrize("path", EXERCISES, ids=_ids(EXERCISES))
def test_exercise_has_no_answers_outputs_or_hidden_tests(path):
    text = path.read_text()
    for marker in ("### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS"):
        assert marker not in text
    assert all(not c.get("outputs") for c in _code_cells(path))
    assert all(c.get("execution_count") is None for c in _code_cells(path)), (
        "assign must strip the executed solution's execution counts too")
    assert (REPO_ROOT / "solutions" / path.name).exists()


# --- solutions are worked answers: committed executed; exercises do not print them ---------------
@pytest.mark.parametrize("path", SOLUTIONS, ids=_ids(SOLUTIONS))
def test_solution_is_committed_executed_without_errors(path):
    for cell in _code_cells(path):
        assert cell.get("execution_count"), (
            f"{path.name}: never executed: {_source(cell)[:80]!r} (run nbconvert --execute --inplace)")
        if "NBVAL_RAISES_EXCEPTION" not in _source(cell):
            errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            assert not errors, f"{path.name}: error output in {_source(cell)[:80]!r}"


_SOLUTION_REGION = re.compile(r"### BEGIN SOLUTION(.*?)### END SOLUTION", re.S)
_TRIVIAL = re.compile(r"(return|pass|else:|try:|finally:|\"\"\"|'''|[\w.\[\]]+|return [\w.\[\]]+"
                      r"|import [\w.]+|[\])}]+,?)")
MIN_LEAK_CHARACTERS = 14


def _normalised(text: str, *, code: bool = True) -> str:
    if code and not text.lstrip().startswith(("'", '"')):
        text = text.split("#", 1)[0]  # a trailing comment is not part of the code line
    return re.sub(r"\s+", " ", text.replace("`", " ")).strip()


def solution_code_lines(solution_cells: list[dict]) -> set[str]:
    """The non-trivial lines of the answer code (inside ``### BEGIN/END SOLUTION``), normalised."""
    lines = set()
    for cell in solution_cells:
        if cell["cell_type"] != "code":
            continue
        for region in _SOLUTION_REGION.findall(_source(cell)):
            for line in region.splitlines():
                normal = _normalised(line)
                if len(normal) >= MIN_LEAK_CHARACTERS and not _TRIVIAL.fullmatch(normal):
                    lines.add(normal)
    return lines


def leaked_lines(solution_cells: list[dict], exercise_cells: list[dict]) -> list[str]:
    """Solution code lines that appear in the exercise's Markdown (whitespace and backticks ignored)."""
    code = solution_code_lines(solution_cells)
    markdown = [_normalised(_source(cell), code=False) for cell in exercise_cells
                if cell["cell_type"] == "markdown"]
    return sorted(line for line in code if any(line in text for text in markdown))


@pytest.mark.parametrize("path", SOLUTIONS, ids=_ids(SOLUTIONS))
def test_exercise_markdown_contains_no_line_of_its_solution_code(path):
    exercise = REPO_ROOT / "exercises" / path.name
    assert solution_code_lines(_cells(path)), f"{path.name}: no answer code found to compare"
    assert not leaked_lines(_cells(path), _cells(exercise)), (
        f"exercises/{path.name} states its answer code in Markdown: {leaked_lines(_cells(path), _cells(exercise))}")


def test_leak_scan_catches_a_planted_leak():
    path = next(p for p in SOLUTIONS if p.name.startswith("05_"))
    exercise = _cells(REPO_ROOT / "exercises" / path.name)
    assert not leaked_lines(_cells(path), exercise)
    line = sorted(solution_code_lines(_cells(path)))[0]
    for planted in (f"Hint: just write `{line}`.", f"```python\n{line.replace(' ', '  ')}\n```"):
        leaky = [*exercise, {"cell_type": "markdown", "source": planted, "metadata": {}}]
        assert leaked_lines(_cells(path), leaky) == [line]
    # a trivial line (a bare return of a name) is not a leak
    assert not _TRIVIAL.fullmatch(_normalised(line)) and _TRIVIAL.fullmatch("return result")
