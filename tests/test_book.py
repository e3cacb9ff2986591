"""The course website (`make book` = scripts/build_book.py) and the lessons' Colab install cell.

The site is built once here, for real (Sphinx + MyST-NB, ~20 s), by the same script as `make book`
but into pytest's temporary folder (not _build/html: parallel test workers, or a `make book` run
at the same time, never share a build folder), then read as files and in a real headless browser (chromium driven by Playwright; skipped with the reason where
either is missing). Only loopback traffic: the site is served from 127.0.0.1 and every request to
another host is refused and reported. Screenshots go to _build/screenshots/.
"""

import contextlib
import functools
import html
import http.server
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import nbformat
import pytest

from mmcourse import syllabus

REPO_ROOT = Path(__file__).resolve().parent.parent
REPOSITORY_URL = "https://github.com/example-org/mmcourse-example"  # any https GitHub URL
BRANCH = "main"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(REPO_ROOT / "scripts"))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(REPO_ROOT / "scripts"))
    return module


build_book = _load("build_book")
colab_cell = _load("colab_cell")


def _lessons_on_disk(folder: str) -> list[Path]:
    return sorted((REPO_ROOT / folder).glob("*.ipynb"))


def _build(out: Path, *extra: str) -> tuple[subprocess.CompletedProcess, float]:
    start = time.monotonic()
    result = subprocess.run(
        [sys.executable, "scripts/build_book.py", "--out", str(out), "--repository-url",
         REPOSITORY_URL, "--branch", BRANCH, *extra],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
    )
    return result, time.monotonic() - start


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The whole site, built by the same script as `make book`, into a folder of this run's own."""
    out = tmp_path_factory.mktemp("book") / "html"
    result, seconds = _build(out)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    print(f"\nbuild_book: {result.stdout.strip()} (test measured {seconds:.0f} s)")
    return out


def _page(site: Path, relative: str) -> str:
    return (site / relative).read_text(encoding="utf-8")


def _plain(text: str) -> str:
    """HTML text as typed: entities decoded, Sphinx's typographic apostrophes made plain."""
    return html.unescape(text).replace("\u2019", "'")


# ---------------------------------------------------------------- the built site, read as files


@pytest.mark.slow
def test_every_notebook_guide_and_reference_became_a_page(site):
    for folder in build_book.NOTEBOOK_FOLDERS:
        notebooks = _lessons_on_disk(folder)
        assert notebooks, f"no notebooks in {folder}/"
        for path in notebooks:
            assert (site / folder / f"{path.stem}.html").is_file(), f"{folder}/{path.name}"
    for page in ("index.html", "search.html", "searchindex.js", "api.html", "genindex.html",
                 "docs/teaching.html", "docs/data_card.html"):
        assert (site / page).is_file(), page
    assert build_book.check_links(site) == []


@pytest.mark.slow
def test_landing_page_is_the_syllabus_with_its_sections(site):
    index = _page(site, "index.html")
    for lesson in syllabus.LESSONS:
        assert lesson.title in _plain(index), lesson.title
        if (REPO_ROOT / "notebooks" / lesson.filename).exists():
            assert f'href="notebooks/{lesson.stem}.html"' in index, lesson.stem
        else:
            assert "in preparation" in index
    for caption in ("Lessons", "Exercises", "Solutions", "For instructors", "Reference"):
        assert f'<p aria-level="2" class="caption" role="heading"><span class="caption-text">' \
               f"{caption}</span>" in index, caption


@pytest.mark.slow
def test_lesson_pages_show_the_committed_outputs_without_executing(site):
    """Each figure a lesson stores is on its page, audio players too."""
    for path in _lessons_on_disk("notebooks"):
        notebook = nbformat.read(path, as_version=4)
        outputs = [output for cell in notebook.cells if cell.cell_type == "code"
                   for output in cell.get("outputs", [])]
        figures = sum("image/png" in output.get("data", {}) for output in outputs)
        audio = sum("<audio" in output.get("data", {}).get("text/html", "") for output in outputs)
        page = _page(site, f"notebooks/{path.stem}.html")
        shown = len(re.findall(r'<img[^>]+src="\.\./_images/', page))
        assert shown >= figures, f"{path.name}: {figures} stored figures, {shown} on the page"
        assert page.count("<audio") >= audio, path.name
        assert "# Colab only" not in page, f"{path.name}: the Colab cell is shown on the site"


@pytest.mark.slow
def test_every_lesson_has_colab_binder_and_download_buttons(site):
    for folder in build_book.NOTEBOOK_FOLDERS:
        for path in _lessons_on_disk(folder):
            page = _page(site, f"{folder}/{path.stem}.html")
            relative = f"{folder}/{path.name}"
            colab = (f"https://colab.research.google.com/github/example-org/mmcourse-example/"
                     f"blob/{BRANCH}/{relative}")
            binder = (f"https://mybinder.org/v2/gh/example-org/mmcourse-example/{BRANCH}"
                      f"?urlpath=lab/tree/{relative}")
            assert colab in page and binder in page, relative
            # The download button serves the committed notebook itself, byte for byte.
            assert f'href="../_sources/{relative}"' in page, relative
            assert (site / "_sources" / relative).read_bytes() == path.read_bytes(), relative


@pytest.mark.slow
def test_site_works_offline_formulas_included(site):
    """No page asks a CDN for anything: MathJax is copied in (when the OS package is there)."""
    if not (build_book.MATHJAX_DIR / "MathJax.js").is_file():
        pytest.skip(f"no MathJax at {build_book.MATHJAX_DIR} (apt-get install libjs-mathjax, as "
                    "scripts/install_os_packages.sh does): the site loads it from a CDN")
    assert (site / "_static" / "mathjax" / "MathJax.js").is_file()
    for page in site.rglob("*.html"):
        if page.relative_to(site).parts[0] == "_static":
            continue
        text = page.read_text(encoding="utf-8")
        external = re.findall(r'<(?:script|link|img|audio|source)[^>]+(?:src|href)="(https?://[^"]+)',
                              text)
        assert not external, f"{page.relative_to(site)} loads {external[:3]}"


@pytest.mark.slow
def test_no_solutions_switch_leaves_solutions_out(tmp_path):
    out = tmp_path / "html"
    result, _ = _build(out, "--no-solutions")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    assert not (out / "solutions").exists()
    assert not list((out / "_sources").glob("solutions/*"))
    assert (out / "exercises").is_dir() and (out / "notebooks").is_dir()
    for page in out.rglob("*.html"):
        links = re.findall(r'(?:href|src)="([^"]*solutions/[^"]*)"', page.read_text(encoding="utf-8"))
        assert not links, f"{page.relative_to(out)} links to {links[:3]}"


# ------------------------------------------------------- the build fails on broken links/notebooks


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_link_check_finds_broken_links_and_fragments(tmp_path):
    _write(tmp_path / "a.html", '<a href="b.html#there">ok</a> <img src="_images/x.png">'
           '<a href="https://example.org/">outside</a> <a href="#top">top</a><p id="top"></p>')
    _write(tmp_path / "b.html", '<h1 id="there">b</h1>')
    _write(tmp_path / "_images" / "x.png", "png")
    assert build_book.check_links(tmp_path) == []
    _write(tmp_path / "c.html", '<a href="missing.html">x</a> <a href="b.html#nowhere">y</a>'
           '<script src="_static/gone.js"></script> <a href="#nothing">z</a>')
    assert sorted(build_book.check_links(tmp_path)) == [
        "c.html: broken link _static/gone.js", "c.html: broken link missing.html",
        "c.html: no id for #nothing", "c.html: no id for b.html#nowhere"]


def _mini_sources(tmp_path: Path, link: str) -> Path:
    """A two-notebook site: 00_a links to ``link``, 01_b is a title only."""
    source = tmp_path / "src"
    (source / "notebooks").mkdir(parents=True)
    metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3",
                               "language": "python"}, "language_info": {"name": "python"}}
    for name, text in (("00_a", f"# A lesson\n\nSee [the next lesson]({link})."), ("01_b", "# B")):
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(text)],
                                            metadata=metadata)
        nbformat.write(notebook, source / "notebooks" / f"{name}.ipynb")
    _write(source / "index.md", "# Site\n\n```{toctree}\nnotebooks/00_a\nnotebooks/01_b\n```\n")
    return source


@pytest.mark.parametrize("link, fails", [("01_b.ipynb", False), ("02_missing.ipynb", True),
                                         ("../docs/missing.md", True)])
def test_sphinx_run_fails_on_a_link_to_a_missing_notebook_or_page(tmp_path, link, fails):
    """The same sphinx-build command as make book, on a two-notebook site."""
    source = _mini_sources(tmp_path, link)
    command = build_book.sphinx_command(source, tmp_path / "html", tmp_path / "doctrees")
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=REPO_ROOT,
                            env=dict(os.environ, MMCOURSE_REPOSITORY_URL=REPOSITORY_URL))
    assert (result.returncode != 0) == fails, result.stderr[-3000:]
    if fails:
        assert link.rsplit("/", 1)[-1].split(".")[0] in result.stderr


def test_sphinx_run_shows_stored_outputs_and_never_executes_a_cell(tmp_path):
    source = _mini_sources(tmp_path, "01_b.ipynb")
    marker = tmp_path / "EXECUTED"
    cell = nbformat.v4.new_code_cell(f"open({str(marker)!r}, 'w').write('ran')\n"
                                     "print('executed-' + 'output')",
                                     execution_count=1)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="stored output 41\n")]
    notebook = nbformat.read(source / "notebooks" / "01_b.ipynb", as_version=4)
    notebook.cells.append(cell)
    nbformat.write(notebook, source / "notebooks" / "01_b.ipynb")
    command = build_book.sphinx_command(source, tmp_path / "html", tmp_path / "doctrees")
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    assert not marker.exists(), "the build executed a notebook cell"
    page = (tmp_path / "html" / "notebooks" / "01_b.html").read_text(encoding="utf-8")
    assert "stored output 41" in page and "executed-output" not in page


def test_stage_refuses_an_exercise_without_its_solution(tmp_path):
    root = tmp_path / "repo"
    for name in ("teaching.md", "data_card.md"):
        _write(root / "docs" / name, f"# {name}\n")
    for folder in ("notebooks", "exercises", "solutions"):
        (root / folder).mkdir(parents=True)
    nbformat.write(nbformat.v4.new_notebook(), root / "exercises" / "05_fusion_formulas.ipynb")
    with pytest.raises(build_book.BuildError, match=r"05_fusion_formulas\.ipynb"):
        build_book.stage(tmp_path / "src", True, root=root)
    with pytest.raises(build_book.BuildError, match=r"docs/teaching\.md is missing"):
        (root / "docs" / "teaching.md").unlink()
        build_book.stage(tmp_path / "src", True, root=root)


def test_build_book_rejects_a_repository_url_that_is_not_https(capsys):
    with pytest.raises(SystemExit):
        build_book.main(["--repository-url", "git@github.com:org/repo.git"])
    assert "--repository-url must be an https URL; got 'git@github.com:org/repo.git'" in (
        capsys.readouterr().err)


# --------------------------------------------------------------------------- the Colab cell


def test_every_lesson_and_solution_has_the_current_colab_cell():
    """Fails until `python scripts/colab_cell.py` (then `make assign`) has been run."""
    assert colab_cell.main(["--check"]) == 0
    source = colab_cell.cell_source(colab_cell.repository_url())
    for path in _lessons_on_disk("exercises"):  # generated from solutions/ by nbgrader
        cells = nbformat.read(path, as_version=4).cells
        assert cells[1].source == source, f"{path.name}: run python -m mmcourse assign"


_RUN_CELL = """
import json, subprocess, sys, time
calls = []
subprocess.run = lambda *args, **kwargs: calls.append([args, kwargs])
if {colab}:
    sys.modules["google.colab"] = type(sys)("google.colab")  # what a Colab kernel has imported
start = time.perf_counter()
exec(compile(sys.stdin.read(), "colab-cell", "exec"), {{}})
print(json.dumps({{"calls": calls, "seconds": time.perf_counter() - start,
                  "python": sys.executable}}))
"""


def _run_cell(source: str, colab: bool) -> dict:
    # A fresh interpreter: the cell sees only what a kernel would. subprocess.run is replaced by a
    # recorder because the real call is a pip install from GitHub, which needs the internet.
    result = subprocess.run([sys.executable, "-c", _RUN_CELL.format(colab=colab)], input=source,
                            capture_output=True, text=True, timeout=60, check=True)
    return json.loads(result.stdout)


def test_colab_cell_does_nothing_outside_colab():
    run = _run_cell(colab_cell.cell_source(REPOSITORY_URL), colab=False)
    assert run["calls"] == []
    assert run["seconds"] < 0.5


def test_colab_cell_installs_the_course_from_the_repository_in_colab():
    run = _run_cell(colab_cell.cell_source(REPOSITORY_URL, "v1.0"), colab=True)
    assert run["calls"] == [[[[run["python"], "-m", "pip", "install", "--quiet",
                               f"mmcourse @ git+{REPOSITORY_URL}.git@v1.0"]], {"check": True}]]


def test_colab_cell_tool_is_idempotent_and_updates_the_url(tmp_path):
    for folder in colab_cell.FOLDERS:
        title = nbformat.v4.new_markdown_cell("# 01 · A lesson\n\nPrerequisites, time, article.")
        code = nbformat.v4.new_code_cell("x = 1", execution_count=1)
        nbformat.write(nbformat.v4.new_notebook(cells=[title, code]),
                       _write(tmp_path / folder / "01_a.ipynb", ""))
    _write(tmp_path / "pyproject.toml", '[project.urls]\nRepository = "https://github.com/a/b"\n')
    paths = colab_cell.notebooks(tmp_path)
    assert len(paths) == 2
    assert colab_cell.main(["--root", str(tmp_path), "--check"]) == 1
    assert colab_cell.main(["--root", str(tmp_path)]) == 0
    first = [path.read_bytes() for path in paths]
    assert colab_cell.main(["--root", str(tmp_path)]) == 0
    assert [path.read_bytes() for path in paths] == first, "a second run changed a notebook"
    assert colab_cell.main(["--root", str(tmp_path), "--check"]) == 0
    for path in paths:
        cells = nbformat.read(path, as_version=4).cells
        assert [cell.cell_type for cell in cells] == ["markdown", "code", "code"]
        assert cells[0].source.startswith("# 01") and cells[2].source == "x = 1"
        assert "git+https://github.com/a/b.git@main" in cells[1].source
    # Another URL: the same cell is rewritten in place (not a second cell), its old run cleared.
    notebook = nbformat.read(paths[0], as_version=4)
    notebook.cells[1].execution_count = 7
    nbformat.write(notebook, paths[0])
    assert colab_cell.main(["--root", str(tmp_path), "--repository-url",
                            "https://gitlab.com/c/d"]) == 0
    cells = nbformat.read(paths[0], as_version=4).cells
    assert len(cells) == 3 and "git+https://gitlab.com/c/d.git@main" in cells[1].source
    assert cells[1].execution_count is None


@pytest.mark.parametrize("url, branch, message", [
    ("git@github.com:a/b.git", "main", "url must be an https repository URL"),
    ("https://github.com/a/b", "main; rm -rf ~", "branch must be a git branch or tag name"),
])
def test_colab_cell_rejects_bad_urls_and_branches(url, branch, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        colab_cell.cell_source(url, branch)


def test_binder_installs_the_course_after_the_repository_is_copied(repo_root):
    """repo2docker reads binder/ (the root environment.yml's `-e .` would run before the copy)."""
    post_build = (repo_root / "binder" / "postBuild").read_text()
    assert os.access(repo_root / "binder" / "postBuild", os.X_OK)
    assert "pip install --no-cache-dir -e ." in post_build
    version = (repo_root / "binder" / "runtime.txt").read_text().strip()
    assert re.fullmatch(r"python-3\.(1[0-9])", version), version


# ------------------------------------------------------------------------- in a real browser


def _chromium() -> str | None:
    for candidate in (os.environ.get("MMCOURSE_CHROMIUM"), "chromium", "chromium-browser",
                      "google-chrome"):
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    return None


@pytest.fixture(scope="module")
def browser():
    playwright_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (it is in the dev extra)")
    executable = _chromium()
    if executable is None:
        pytest.skip("no chromium on PATH: scripts/install_os_packages.sh installs it "
                    "(or set MMCOURSE_CHROMIUM)")
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True)
        yield launched
        launched.close()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def _serve(folder: Path):
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def loopback_only(page) -> list[str]:
    """Refuse every request to a host other than 127.0.0.1; return the refused URLs."""
    refused = []

    def route(request_route):
        if urlsplit(request_route.request.url).hostname in ("127.0.0.1", "localhost"):
            request_route.continue_()
        else:
            refused.append(request_route.request.url)
            request_route.abort()

    page.route("**/*", route)
    return refused


SCREENSHOTS = REPO_ROOT / "_build" / "screenshots"


@pytest.mark.slow
def test_site_in_a_browser(site, browser):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    refused = loopback_only(page)
    with _serve(site) as base:
        # Landing page: the syllabus lists every lesson, in order.
        page.goto(f"{base}/index.html")
        table = _plain(page.locator("article table").first.inner_text())
        positions = [table.find(lesson.title) for lesson in syllabus.LESSONS]
        assert -1 not in positions and positions == sorted(positions), positions
        page.screenshot(path=str(SCREENSHOTS / "index.png"))

        # Lesson 01: its figures are decoded images, its audio players have a sound to play.
        page.goto(f"{base}/notebooks/01_modalities_and_data.html")
        page.wait_for_load_state("load")
        sizes = page.eval_on_selector_all("article img",
                                          "images => images.map(i => i.naturalWidth)")
        assert len(sizes) >= 3 and all(width > 0 for width in sizes), sizes
        players = page.locator("article audio")
        assert players.count() >= 1
        page.wait_for_function(
            "() => [...document.querySelectorAll('article audio')].every(a => a.duration > 0)",
            timeout=15_000)
        players.first.scroll_into_view_if_needed()
        page.screenshot(path=str(SCREENSHOTS / "lesson01_audio.png"))
        # prev/next navigation: "next" leads to lesson 02.
        page.locator("a.right-next").click()
        page.wait_for_url("**/notebooks/02_image_features.html")

        # Lesson 05: the formulas are typeset by MathJax (served from the site itself).
        page.goto(f"{base}/notebooks/05_fusion_formulas.html")
        page.wait_for_function("() => document.querySelectorAll('.MathJax_CHTML').length > 5",
                               timeout=30_000)
        launch = [page.locator(f'a[href^="{prefix}"]').count()
                  for prefix in ("https://colab.research.google.com/", "https://mybinder.org/",
                                 "../_sources/notebooks/05_fusion_formulas.ipynb")]
        assert all(launch), launch
        page.screenshot(path=str(SCREENSHOTS / "lesson05_formulas.png"))
        download = page.request.get(f"{base}/_sources/notebooks/05_fusion_formulas.ipynb")
        assert download.ok and json.loads(download.body())["cells"]

        # The search box finds MFCC, lesson 04 among the results.
        page.goto(f"{base}/index.html")
        page.keyboard.press("Control+k")
        page.keyboard.type("MFCC")
        page.keyboard.press("Enter")
        page.wait_for_url("**/search.html?q=MFCC*")
        results = page.locator("#search-results")
        results.locator("a[href*='04_audio_features']").first.wait_for(timeout=30_000)
        page.screenshot(path=str(SCREENSHOTS / "search_mfcc.png"))
    page.close()
    assert refused == [], f"the site asked other hosts for {refused[:5]}"
