"""Insert or update the "Colab only" install cell in every lesson and solution notebook.

    python scripts/colab_cell.py            # write the cell (idempotent: a second run changes nothing)
    python scripts/colab_cell.py --check    # exit 1 and name the notebooks whose cell is missing/stale
    python scripts/colab_cell.py --repository-url https://github.com/ORG/REPO --branch main

The cell goes second, right after the title cell (tests/test_notebook_conventions.py keeps the
title first). In Google Colab it pip-installs the course package from the repository, so the
lesson runs unchanged after it; anywhere else (a laptop, JupyterHub, Binder, nbval in CI) it does
nothing and prints nothing. Exercises get it through `python -m mmcourse assign` (the cell carries
no nbgrader metadata, so nbgrader copies it as it is); run that after this script, and re-execute
the lessons (`make execute`): the new cell has no execution count until then.

The repository URL defaults to `[project.urls] Repository` in pyproject.toml, the one place to
set it; the website's launch buttons read the same value (scripts/build_book.py).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("notebooks", "solutions")
TAG = "colab-install"
# MyST-NB's "remove-cell": the website leaves the cell out (its launch buttons do that job).
TAGS = [TAG, "remove-cell"]
PLACEHOLDER_URL = "https://github.com/OWNER/mmcourse"
TEMPLATE = '''\
# Colab only: install the course package from its repository; anywhere else this cell does nothing.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                    "mmcourse @ git+{url}.git@{branch}"], check=True)'''


def repository_url(root: Path = ROOT) -> str:
    """``[project.urls] Repository`` of pyproject.toml (the placeholder when it is not set)."""
    match = re.search(r'^\[project\.urls\][^\[]*?^Repository\s*=\s*"([^"]+)"',
                      (root / "pyproject.toml").read_text(), re.MULTILINE | re.DOTALL)
    return match.group(1).rstrip("/") if match else PLACEHOLDER_URL


def cell_source(url: str, branch: str = "main") -> str:
    """The source of the install cell for this repository URL and branch."""
    if not re.fullmatch(r"https://[\w.-]+(/[\w.-]+)+", url):
        raise ValueError(f"url must be an https repository URL like https://github.com/ORG/REPO; "
                         f"received: url={url!r}")
    if not re.fullmatch(r"[\w./-]+", branch):
        raise ValueError(f"branch must be a git branch or tag name; received: branch={branch!r}")
    return TEMPLATE.format(url=url.removesuffix(".git"), branch=branch)


def _find(notebook) -> int | None:
    for index, cell in enumerate(notebook.cells):
        if TAG in cell.get("metadata", {}).get("tags", []):
            return index
    return None


def apply(notebook, source: str) -> bool:
    """Put the install cell second in ``notebook`` (in place); True when something changed."""
    if is_current(notebook, source):
        return False
    index = _find(notebook)
    if index is not None:
        cell = notebook.cells.pop(index)
        if cell.source != source:  # the code changed: the old count and outputs are stale
            cell.source, cell.outputs, cell.execution_count = source, [], None
        cell.metadata["tags"] = list(TAGS)
    else:
        cell = nbformat.v4.new_code_cell(source, metadata={"tags": list(TAGS)})
        if notebook.get("nbformat_minor", 0) >= 5:  # cell ids exist from nbformat 4.5 on
            cell["id"] = TAG  # a fixed id: the same notebook always gets the same bytes
        else:
            cell.pop("id", None)
    notebook.cells.insert(1, cell)
    return True


def is_current(notebook, source: str) -> bool:
    """True when the install cell is second, with this source and its tags."""
    index = _find(notebook)
    return (index == 1 and notebook.cells[1].source == source
            and notebook.cells[1].metadata.get("tags") == TAGS)


def notebooks(root: Path = ROOT) -> list[Path]:
    return [path for folder in FOLDERS for path in sorted((root / folder).glob("*.ipynb"))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repository-url", default=None,
                        help="https URL of the repository (default: pyproject's Repository URL)")
    parser.add_argument("--branch", default="main")
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 if a notebook's cell is missing or stale")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    url = args.repository_url or repository_url(args.root)
    try:
        source = cell_source(url, args.branch)
    except ValueError as error:
        parser.error(str(error))
    stale = []
    for path in notebooks(args.root):
        notebook = nbformat.read(path, as_version=4)
        if args.check:
            if not is_current(notebook, source):
                stale.append(path.relative_to(args.root).as_posix())
        elif apply(notebook, source):
            nbformat.write(notebook, path)
            print(f"colab_cell: updated {path.relative_to(args.root)}")
    if url == PLACEHOLDER_URL:
        print(f"colab_cell: the repository URL is the placeholder {PLACEHOLDER_URL}; set "
              "[project.urls] Repository in pyproject.toml", file=sys.stderr)
    if stale:
        print("colab_cell: missing or stale Colab cell (run python scripts/colab_cell.py): "
              + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
