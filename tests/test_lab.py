"""`make lab` really starts JupyterLab and serves the welcome notebook (a real HTTP request)."""

import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

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
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, server.stdout.read().decode(errors="replace")[-3000:]
            try:
                status, _ = _get(f"{base}/api/status?token={token}")
                if status == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "JupyterLab did not answer within 120 s"
            time.sleep(1)

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
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
