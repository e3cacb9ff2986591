"""Packaging: environment.yml and pyproject.toml list the same packages; the wheel ships the data."""

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from 3.11")

# conda-only entries that pyproject.toml cannot list
CONDA_ONLY = {"python", "pip"}
# entries environment.yml installs with pip from PyPI (not verified to be on conda-forge)
PIP_ONLY = {"dp-accounting"}


def _name(requirement: str) -> str:
    """'scikit-learn>=1.3  # comment' -> 'scikit-learn' (PEP 503 normalised, extras dropped)."""
    requirement = requirement.split("#", 1)[0].strip()
    name = re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def _pyproject(repo_root: Path) -> dict:
    return tomllib.loads((repo_root / "pyproject.toml").read_text())


def _conda_dependencies(repo_root: Path) -> tuple[set[str], list[str]]:
    """Parse the conda and pip entries under ``dependencies:`` (a flat, simple file by design)."""
    conda, pip, section, in_pip = set(), [], None, False
    for line in (repo_root / "environment.yml").read_text().splitlines():
        code = line.split("#", 1)[0].rstrip()
        if not code.strip():
            continue
        if not code.startswith(" "):  # a top-level key: name, channels, dependencies
            section = code.rstrip(":") if code.endswith(":") else None
            continue
        if section != "dependencies":
            continue
        entry = code.strip().removeprefix("- ").strip()
        if entry == "pip:":
            in_pip = True
            continue
        if in_pip and len(code) - len(code.lstrip()) > 2:
            pip.append(entry)
        else:
            conda.add(_name(entry))
    return conda, pip


def test_environment_yml_and_pyproject_list_the_same_packages(repo_root):
    project = _pyproject(repo_root)["project"]
    pyproject = {_name(r) for r in project["dependencies"]}
    pyproject |= {_name(r) for r in project["optional-dependencies"]["dev"]}
    conda, pip = _conda_dependencies(repo_root)
    pip_names = {_name(entry) for entry in pip if entry != "-e ."}
    listed = (conda - CONDA_ONLY) | pip_names
    assert listed == pyproject, (
        f"only in environment.yml: {sorted(listed - pyproject)}; "
        f"only in pyproject.toml: {sorted(pyproject - listed)}"
    )
    assert pip_names == PIP_ONLY and not conda & PIP_ONLY, (
        f"environment.yml should pip-install only {sorted(PIP_ONLY)} and the course: {pip}")
    assert pip[-1] == "-e .", "environment.yml should pip-install the course itself, last"


def test_every_environment_entry_says_which_lessons_need_it(repo_root):
    lines = (repo_root / "environment.yml").read_text().splitlines()
    start = lines.index("dependencies:")
    entries = [line for line in lines[start + 1:] if re.match(r"^\s+- ", line) and "pip:" not in line]
    assert len(entries) > 10
    for line in entries:
        assert "#" in line, f"environment.yml entry without a comment: {line.strip()}"


def test_project_metadata(repo_root):
    project = _pyproject(repo_root)["project"]
    assert project["name"] == "mmcourse"
    assert project["requires-python"] == ">=3.10"
    tensorflow = [r for r in project["dependencies"] if _name(r) == "tensorflow"]
    assert tensorflow == ["tensorflow>=2.16"]
    assert {"pytest", "nbval", "ruff"} <= {_name(r) for r in project["optional-dependencies"]["dev"]}
    assert [_name(r) for r in project["optional-dependencies"]["gpu"]] == ["tensorflow"]
    assert "and-cuda" in project["optional-dependencies"]["gpu"][0]


@pytest.mark.slow
def test_wheel_contains_the_package_and_its_data_files(repo_root, tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(tmp_path), str(repo_root)],
        check=True, capture_output=True, timeout=300,
    )
    (wheel,) = tmp_path.glob("mmcourse-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    package_files = {
        path.relative_to(repo_root).as_posix()
        for path in (repo_root / "mmcourse").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert any(name.startswith("mmcourse/data/assets/") for name in package_files), (
        "the embedded dataset is missing from mmcourse/data/assets/"
    )
    missing = sorted(package_files - names)
    assert not missing, f"files missing from the wheel: {missing}"
    assert not any(name.startswith(("tests/", "notebooks/", "solutions/")) for name in names)
