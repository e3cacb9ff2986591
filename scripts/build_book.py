"""Build the course website into _build/html (what `make book` runs).

    python scripts/build_book.py                    # lessons, exercises, solutions, guides, API
    python scripts/build_book.py --no-solutions     # for instructors who publish exercises only
    python scripts/build_book.py --repository-url https://github.com/ORG/REPO --branch main

Sphinx + MyST-NB + sphinx-book-theme, all pure Python from the `dev` extra, so the site builds
offline from the project's own install. The notebooks are NOT executed: the site shows their
committed outputs. Steps:

1. stage the sources into _build/src with the repository's layout (notebooks/, exercises/,
   solutions/, docs/) so relative links and launch-button paths are the repository's own, and
   generate the landing page (the syllabus, from mmcourse.syllabus) and the API reference page;
2. run Sphinx with -W --keep-going: any warning (a link to a missing page or notebook, a broken
   docstring, a notebook outside the table of contents) fails the build;
3. copy MathJax into the site when the OS package libjs-mathjax is installed (formulas then
   render offline), otherwise the pages load it from a CDN;
4. check every internal href/src (and #fragment) of the built HTML, and that every staged
   notebook became a page.

Exit status 0 only when all of that passed; the errors are printed one per line.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

from colab_cell import repository_url  # noqa: E402  (scripts/ is this script's folder)

from mmcourse import syllabus  # noqa: E402  (the repository's copy, not an installed one)

NOTEBOOK_FOLDERS = ("notebooks", "exercises", "solutions")
MATHJAX_DIR = Path(os.environ.get("MMCOURSE_MATHJAX_DIR", "/usr/share/javascript/mathjax"))
# The part of MathJax 2 that TeX input + CommonHTML output needs (~3 MB of the 54 MB package).
MATHJAX_PARTS = ("MathJax.js", "config/TeX-AMS_CHTML.js", "extensions", "jax/input/TeX",
                 "jax/element", "jax/output/CommonHTML", "fonts/HTML-CSS/TeX/woff")
# Modules of the API reference: every public module, documented where its objects are defined.
API_MODULES = (
    "mmcourse", "mmcourse.env", "mmcourse.syllabus",
    "mmcourse.data", "mmcourse.data.mmdigits", "mmcourse.data.hints", "mmcourse.data.corruption",
    "mmcourse.data.speech", "mmcourse.data.video", "mmcourse.data.external",
    "mmcourse.features", "mmcourse.features.image", "mmcourse.features.text",
    "mmcourse.features.audio", "mmcourse.features.video",
    "mmcourse.fusion", "mmcourse.fusion.reference", "mmcourse.fusion.layers",
    "mmcourse.fusion.late", "mmcourse.fusion.late_layer", "mmcourse.fusion.dropout",
    "mmcourse.models", "mmcourse.training", "mmcourse.interpret", "mmcourse.robustness",
    "mmcourse.multitask", "mmcourse.multitask_keras", "mmcourse.alignment", "mmcourse.temporal",
    "mmcourse.privacy", "mmcourse.plotting", "mmcourse.checks",
    "mmcourse.grading", "mmcourse.grading.assign", "mmcourse.grading.grade",
    "mmcourse.grading.execute",
)
# Its functions assign/grade share their names with the modules below: indexed there, not here.
NOT_INDEXED = {"mmcourse.grading"}
SOLUTION_LINK = re.compile(r"\[([^\]]+)\]\((?:\.\./)?solutions/[^)]+\)")


class BuildError(Exception):
    """The site could not be built, or the built site is broken (the message says where)."""


def _strip_solution_links(text: str) -> str:
    """'[solution](../solutions/05_x.ipynb)' -> 'solution' (for a build without solutions)."""
    return SOLUTION_LINK.sub(r"\1", text)


def _copy(source: Path, target: Path, with_solutions: bool) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if with_solutions:
        shutil.copy2(source, target)  # same mtime: Sphinx rebuilds only what changed
    else:
        target.write_text(_strip_solution_links(source.read_text(encoding="utf-8")),
                          encoding="utf-8")


def _landing_page(source: Path, with_solutions: bool) -> str:
    table = syllabus.markdown_table(source)
    if not with_solutions:  # drop the last column ("solution")
        table = "\n".join(row.rsplit("|", 2)[0] + "|" for row in table.splitlines())
    sections = [("Lessons", "notebooks"), ("Exercises", "exercises")]
    if with_solutions:
        sections.append(("Solutions", "solutions"))
    toctrees = []
    for caption, folder in sections:
        entries = "\n".join(f"{folder}/{path.stem}"
                            for path in sorted((source / folder).glob("*.ipynb")))
        toctrees.append(f"```{{toctree}}\n:caption: {caption}\n:hidden:\n\n{entries}\n```")
    toctrees.append("```{toctree}\n:caption: For instructors\n:hidden:\n\n"
                    "docs/teaching\ndocs/data_card\n```")
    toctrees.append("```{toctree}\n:caption: Reference\n:hidden:\n\napi\n```")
    exercises = ("Each exercise is an nbgrader notebook with instant checks"
                 + (", and its worked solution is in *Solutions*." if with_solutions else "."))
    return "\n".join([
        "# mmcourse — multimodal learning, hands-on",
        "",
        "A Jupyter course on **multimodal learning**: how images, text, audio and video become",
        "feature vectors, how those vectors are **fused**, and how a classifier is trained,",
        "evaluated and stressed on the result — in TensorFlow/Keras 3, offline, on a laptop CPU.",
        "Every lesson page shows the notebook as committed (executed); the buttons at the top of a",
        "lesson open it in Colab or on Binder, or download the `.ipynb`.",
        "",
        "## Syllabus",
        "",
        f"{exercises} *Article part* maps each lesson onto the six parts of the article the course",
        "grew out of. Instructors: see the [teaching guide](docs/teaching.md) and the",
        "[data card](docs/data_card.md); the helpers the lessons import are in the",
        "[API reference](api.md).",
        "",
        table,
        "",
        *toctrees,
        "",
    ])


def _api_page() -> str:
    parts = ["# API reference", "",
             "The helper package `mmcourse`, from its docstrings. Importing `mmcourse` is cheap;",
             "TensorFlow is imported only by the submodules that build Keras layers and models.",
             ""]
    for module in API_MODULES:
        option = ["   :no-index:"] if module in NOT_INDEXED else []
        parts += [f"## `{module}`", "", "```{eval-rst}", f".. automodule:: {module}", *option,
                  "```", ""]
    return "\n".join(parts)


def stage(source: Path, with_solutions: bool, root: Path = ROOT) -> list[Path]:
    """Copy the site's sources from ``root`` into ``source``; return the staged notebooks."""
    if source.exists():
        shutil.rmtree(source)
    staged = []
    for folder in NOTEBOOK_FOLDERS:
        if folder == "solutions" and not with_solutions:
            continue
        for path in sorted((root / folder).glob("*.ipynb")):
            _copy(path, source / folder / path.name, with_solutions)
            staged.append(source / folder / path.name)
    for name in ("teaching.md", "data_card.md"):
        if not (root / "docs" / name).exists():
            raise BuildError(f"docs/{name} is missing")
        _copy(root / "docs" / name, source / "docs" / name, with_solutions)
    # An exercise without its solution (or the reverse) is a missing notebook.
    exercises = {p.name for p in (root / "exercises").glob("*.ipynb")}
    solutions = {p.name for p in (root / "solutions").glob("*.ipynb")}
    unpaired = sorted(exercises ^ solutions)
    if unpaired:
        raise BuildError(f"exercise/solution pair incomplete for: {unpaired}")
    (source / "index.md").write_text(_landing_page(source, with_solutions), encoding="utf-8")
    (source / "api.md").write_text(_api_page(), encoding="utf-8")
    return staged


def copy_mathjax(html: Path) -> bool:
    """Copy MathJax 2 into ``html/_static/mathjax``; False when the OS package is absent."""
    if not (MATHJAX_DIR / "MathJax.js").is_file():
        return False
    target = html / "_static" / "mathjax"
    if target.exists():
        shutil.rmtree(target)
    for part in MATHJAX_PARTS:
        origin = MATHJAX_DIR / part
        if origin.is_dir():
            shutil.copytree(origin, target / part)
        else:
            (target / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, target / part)
    return True


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if value is None:
                continue
            if name in ("id", "name"):
                self.ids.add(value)
            elif name in ("href", "src") and not (tag == "a" and name == "src"):
                self.links.append(value)


def check_links(html: Path) -> list[str]:
    """Every internal href/src of every page resolves to a file (and its #fragment to an id)."""
    pages: dict[Path, _Links] = {}
    for page in html.rglob("*.html"):
        if page.relative_to(html).parts[0] == "_static":  # theme templates, not pages
            continue
        parser = _Links()
        parser.feed(page.read_text(encoding="utf-8", errors="replace"))
        pages[page.resolve()] = parser
    problems = []
    for page, parser in sorted(pages.items()):
        for link in parser.links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith(("#", "mailto:", "data:")):
                if link.startswith("#") and len(link) > 1 and unquote(link[1:]) not in parser.ids:
                    problems.append(f"{page.relative_to(html)}: no id for {link}")
                continue
            target = (page.parent / unquote(parts.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                problems.append(f"{page.relative_to(html)}: broken link {link}")
            elif parts.fragment and target in pages and unquote(parts.fragment) not in pages[
                    target].ids:
                problems.append(f"{page.relative_to(html)}: no id for {link}")
    return problems


def sphinx_command(source: Path, out: Path, doctrees: Path, *, quiet: bool = True) -> list[str]:
    """The sphinx-build command line: any warning fails the build (-W), all are reported."""
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-c", str(ROOT / "book"),
               "-d", str(doctrees), "-W", "--keep-going", "-j", "auto"]
    return [*command, *(["-q"] if quiet else []), str(source), str(out)]


def build(*, out: Path, with_solutions: bool, repository_url: str, branch: str,
          quiet: bool = True) -> dict:
    """Stage, build and check the site; return a summary (raises ``BuildError`` on failure)."""
    start = time.monotonic()
    build_root = out.parent
    source = build_root / "src"
    staged = stage(source, with_solutions)
    has_mathjax = (MATHJAX_DIR / "MathJax.js").is_file()
    environment = dict(os.environ, MMCOURSE_REPOSITORY_URL=repository_url,
                       MMCOURSE_BRANCH=branch, MMCOURSE_MATHJAX="local" if has_mathjax else "cdn",
                       PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT),
                                                               os.environ.get("PYTHONPATH")])))
    doctrees = build_root / (".doctrees" if with_solutions else ".doctrees-no-solutions")
    result = subprocess.run(sphinx_command(source, out, doctrees, quiet=quiet), env=environment,
                            cwd=ROOT)
    if result.returncode != 0:
        raise BuildError(f"sphinx-build failed (exit {result.returncode}); see its warnings above")
    if has_mathjax:
        copy_mathjax(out)
    problems = check_links(out)
    expected = [out / "index.html", out / "search.html", out / "api.html",
                out / "docs" / "teaching.html", out / "docs" / "data_card.html"]
    expected += [out / path.relative_to(source).with_suffix(".html") for path in staged]
    problems += [f"page missing: {path.relative_to(out)}" for path in expected if not path.exists()]
    if not with_solutions and (out / "solutions").exists():
        problems.append("solutions/ was built although --no-solutions was given")
    if problems:
        raise BuildError("the built site is broken:\n  " + "\n  ".join(problems))
    return {"seconds": time.monotonic() - start, "pages": len(list(out.rglob("*.html"))),
            "notebooks": len(staged), "mathjax": "local" if has_mathjax else "cdn"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "html",
                        help="output folder (default: _build/html)")
    parser.add_argument("--no-solutions", action="store_true",
                        help="leave solutions/ out of the site (exercises only)")
    parser.add_argument("--repository-url",
                        default=os.environ.get("MMCOURSE_REPOSITORY_URL") or repository_url(),
                        help="https URL of the repository the launch buttons open "
                             "(default: $MMCOURSE_REPOSITORY_URL, else pyproject's Repository)")
    parser.add_argument("--branch", default=os.environ.get("MMCOURSE_BRANCH") or "main")
    parser.add_argument("--verbose", action="store_true", help="show Sphinx's progress")
    args = parser.parse_args(argv)
    if not args.repository_url.startswith("https://"):
        parser.error(f"--repository-url must be an https URL; got {args.repository_url!r}")
    try:
        summary = build(out=args.out.resolve(), with_solutions=not args.no_solutions,
                        repository_url=args.repository_url.rstrip("/"), branch=args.branch,
                        quiet=not args.verbose)
    except BuildError as error:
        print(f"build_book: {error}", file=sys.stderr)
        return 1
    print(f"build_book: {summary['pages']} pages ({summary['notebooks']} notebooks) in "
          f"{args.out} in {summary['seconds']:.0f} s; MathJax {summary['mathjax']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
