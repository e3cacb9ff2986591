"""The README, the syllabus and the files on disk agree; CI runs exactly the README's command."""

import re
from pathlib import Path

from mmcourse import syllabus


def _readme(repo_root: Path) -> str:
    return (repo_root / "README.md").read_text()


def test_readme_syllabus_table_matches_the_course(repo_root):
    expected = syllabus.markdown_table(repo_root)
    assert expected in _readme(repo_root), (
        "README's syllabus table is stale: run `python scripts/update_readme.py`"
    )


def test_every_relative_link_in_the_readme_exists(repo_root):
    links = re.findall(r"\]\(([^)#]+)\)", _readme(repo_root))
    local = [link for link in links if "://" not in link]
    assert local, "expected links to lessons and docs"
    missing = [link for link in local if not (repo_root / link).exists()]
    assert not missing, f"README links to missing files: {missing}"


def test_every_lesson_notebook_is_in_the_syllabus(repo_root):
    known = {item.filename for item in syllabus.LESSONS}
    for folder in ("notebooks", "exercises", "solutions"):
        for path in (repo_root / folder).glob("*.ipynb"):
            assert path.name in known, f"{folder}/{path.name} is not in mmcourse.syllabus.LESSONS"


def test_syllabus_numbers_and_stems_are_consistent():
    numbers = [item.number for item in syllabus.LESSONS]
    assert numbers == list(range(len(numbers)))
    for item in syllabus.LESSONS:
        assert item.stem.startswith(f"{item.number:02d}_")
        assert item.article_parts and set(item.article_parts) <= set(syllabus.ARTICLE_PARTS)
    assert syllabus.lesson(5).stem == "05_fusion_formulas"


def test_unknown_lesson_number_is_a_clear_error():
    import pytest

    with pytest.raises(ValueError, match="lesson number must be one of 0..16, got 17"):
        syllabus.lesson(17)


def test_readme_gives_the_two_commands_and_ci_runs_the_test_command(repo_root):
    readme = _readme(repo_root)
    for command in ("make lab", "make test", "conda env create -f environment.yml",
                    'pip install -e ".[dev]"'):
        assert command in readme
    ci_script = (repo_root / ".ci" / "run").read_text()
    commands = [line.strip() for line in ci_script.splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
    assert commands[-1] == "make test"
    makefile = (repo_root / "Makefile").read_text()
    assert re.search(r"^test: .*\bunit\b.*\bnotebooks\b", makefile, re.MULTILINE)
    assert "--nbval-lax" in makefile and "--nbval-cell-timeout" in makefile
