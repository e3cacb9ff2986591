"""`make lab` really starts JupyterLab and serves the welcome notebook (a real HTTP request), and
the same JupyterLab in a headless chromium shows lesson 00 with its outputs."""

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _wait_until_up(server: subprocess.Popen, base: str, token: str) -> None:
    deadline = time.monotonic() + 120
    while True:
        assert server.poll() is None, server.stdout.read().decode(errors="replace")[-3000:]
        try:
            status, _ = _get(f"{base}/api/status?token={token}")
            if status == 200:
                return
        except OSError:
            pass
        assert time.monotonic() < deadline, "JupyterLab did not answer within 120 s"
        time.sleep(1)


def _stop(server: subprocess.Popen) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


@pytest.mark.slow
def test_make_lab_serves_the_welcome_notebook(repo_root, tmp_path):
    port, token = _free_port(), secrets.token_hex(16)
    lab_args = (f"--no-browser --ip=127.0.0.1 --port={port} --ServerApp.port_retries=0 "
                f"--IdentityProvider.token={token}")
    environment = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))
    server = subprocess.Popen(
        ["make", "--no-print-directory", "lab", f"LAB_ARGS={lab_args}"],
        cwd=repo_root, env=environment, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(server, base, token)

        # Without the token the API refuses; with it, the welcome notebook is served.
        status, _ = _get(f"{base}/api/contents/notebooks/00_welcome.ipynb")
        assert status == 403
        status, body = _get(f"{base}/api/contents/notebooks/00_welcome.ipynb?token={token}")
        assert status == 200
        model = json.loads(body)
        assert model["name"] == "00_welcome.ipynb"
        assert model["type"] == "notebook"
        assert any("Welcome" in "".join(cell["source"]) for cell in model["content"]["cells"])
        # The JupyterLab front end itself answers for that notebook's URL.
        status, page = _get(f"{base}/lab/tree/notebooks/00_welcome.ipynb?token={token}")
        assert status == 200
        assert b"JupyterLab" in page
    finally:
        _stop(server)


@pytest.mark.slow
def test_make_lab_shows_lesson_00_with_its_outputs_in_a_browser(repo_root, tmp_path):
    """`make lab`'s own command line (its recipe, without re-running the install: ``-o`` marks the
    install stamp as done, VENV is the interpreter running the tests) opened in headless chromium."""
    playwright_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (it is in the dev extra)")
    chromium = next((shutil.which(name) for name in (os.environ.get("MMCOURSE_CHROMIUM"),
                                                       "chromium", "chromium-browser")
                     if name and shutil.which(name)), None)
    if chromium is None:
        pytest.skip("no chromium on PATH: scripts/install_os_packages.sh installs it")
    port, token = _free_port(), secrets.token_hex(16)
    lab_args = (f"--no-browser --ip=127.0.0.1 --port={port} --ServerApp.port_retries=0 "
                f"--IdentityProvider.token={token}")
    stamp = tmp_path / "installed"  # never made: -o tells make it is up to date
    environment = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))
    server = subprocess.Popen(
        ["make", "--no-print-directory", "-o", str(stamp), "lab", f"STAMP={stamp}",
         f"VENV={Path(sys.executable).parent.parent}", f"LAB_ARGS={lab_args}"],
        cwd=repo_root, env=environment, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    screenshots = repo_root / "_build" / "screenshots"
    screenshots.mkdir(parents=True, exist_ok=True)
    refused = []

    def loopback_only(request_route):
        if urlsplit(request_route.request.url).hostname in ("127.0.0.1", "localhost"):
            request_route.continue_()
        else:
            refused.append(request_route.request.url)
            request_route.abort()

    try:
        _wait_until_up(server, base, token)
        with playwright_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, headless=True)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.route("**/*", loopback_only)
            page.goto(f"{base}/lab/tree/notebooks/00_welcome.ipynb?token={token}")
            notebook = page.locator(".jp-NotebookPanel .jp-Notebook")
            notebook.wait_for(timeout=90_000)
            page.locator(".jp-NotebookPanel .jp-OutputArea-output").first.wait_for(
                timeout=60_000)
            title = page.locator(".jp-NotebookPanel .jp-MarkdownOutput h1").first
            assert "Welcome" in title.inner_text(timeout=30_000)
            shown = " ".join(page.locator(".jp-NotebookPanel .jp-OutputArea-output")
                             .all_inner_texts())
            page.screenshot(path=str(screenshots / "jupyterlab_lesson00.png"))
            browser.close()
        # The committed output of the first code cell that printed something is on screen
        # (JupyterLab renders the cells in view and a few more, so not necessarily all of them).
        cells = json.loads((repo_root / "notebooks" / "00_welcome.ipynb").read_text())["cells"]
        first = next("".join(output["text"]) for cell in cells if cell["cell_type"] == "code"
                     for output in cell.get("outputs", []) if output["output_type"] == "stream")
        first_line = " ".join(first.splitlines()[0].split())
        assert first_line in " ".join(shown.split()), (first_line, shown[:500])
    finally:
        _stop(server)
    assert refused == [], f"JupyterLab asked other hosts for {refused[:5]}"
