"""Sandbox A without a per-submission nbclient import: the grader drives a *sandboxed kernel*.

The grader's own process runs nbclient (trusted code); only the kernel — the process that runs
the learner's code — is started inside bubblewrap, talking to the grader over ZeroMQ **IPC
sockets** in a folder bound into the sandbox (the sandbox has no network, not even the grader's
loopback). Restarting the kernel (after a timeout or a crash) kills that sandbox, with every
process in it, and starts a fresh one; the submission's working folder is kept. The sandbox's
resource limits are :func:`mmcourse.grading.sandbox.current_limits`; the watchdog watches each
kernel sandbox, and a kernel it stopped is reported with the limit it broke.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import run_sync

from mmcourse.grading import sandbox


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel runs in a fresh bwrap sandbox (or a plain process if unsafe)."""

    workdir: Path | None = None
    ipc_dir: Path | None = None
    sandboxed: bool = True

    def format_kernel_cmd(self, extra_arguments=None):
        argv = super().format_kernel_cmd(extra_arguments)
        if not self.sandboxed:
            return argv
        wrapped = sandbox.command(argv, workdir=self.workdir)
        split = wrapped.index("--")
        return [*wrapped[:split], "--bind", str(self.ipc_dir), str(self.ipc_dir), *wrapped[split:]]


def execute(notebook, workdir: Path, ipc_dir: Path, timeout: float, sandboxed: bool):
    """Run ``notebook`` cell by cell in a sandboxed kernel; timeouts/crashes restart it."""
    notebook = copy.deepcopy(notebook)

    def make_manager(**kwargs):
        manager = SandboxedKernelManager(transport="ipc", ip=str(ipc_dir / "kernel"),
                                         connection_file=str(ipc_dir / "connection.json"), **kwargs)
        manager.workdir, manager.ipc_dir, manager.sandboxed = workdir, ipc_dir, sandboxed
        return manager

    client = NotebookClient(
        notebook, timeout=timeout, kernel_name="python3", allow_errors=True,
        interrupt_on_timeout=False, raise_on_iopub_timeout=False, startup_timeout=120,
        resources={"metadata": {"path": str(workdir)}},
        extra_arguments=["--HistoryManager.hist_file=:memory:", "--IPKernelApp.log_level=40"],
    )
    client.km = make_manager(kernel_name="python3")
    failed: set[int] = set()
    limits = sandbox.current_limits()
    watches: list = []

    def watch() -> None:
        for old in watches:
            sandbox.WATCHDOG.unwatch(old)
        watches.clear()
        pid = getattr(client.km.provisioner, "pid", None)
        if sandboxed and pid is not None:
            watches.append(sandbox.WATCHDOG.watch(pid, limits, workdir))

    def stopped() -> str | None:
        return next((item.tripped for item in watches if item.tripped), None)

    def empty_folder_if_over_disk() -> None:
        # What a submission wrote beyond its disk limit is deleted; else every restarted kernel
        # would find the folder over the limit and be stopped at once.
        if any(item.over_disk for item in watches):
            for entry in workdir.iterdir():
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)

    def restart() -> None:
        # A fresh client too: the timed-out cell's output poller still reads the old channels,
        # and would swallow the next cells' messages (each would then wait the iopub timeout).
        run_sync(client.km.restart_kernel)(now=True)
        client.kc.stop_channels()
        client.kc = client.km.client()
        client.kc.start_channels()
        run_sync(client.kc.wait_for_ready)(timeout=120)
        watch()

    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "stdin": subprocess.DEVNULL}
    with client.setup_kernel(cwd=str(workdir), **quiet):
        watch()
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type != "code":
                continue
            try:
                client.execute_cell(cell, index)
            except (CellTimeoutError, DeadKernelError) as error:
                failed.add(index)
                timed_out = isinstance(error, CellTimeoutError) and not stopped()
                died = f"the sandbox was stopped: {stopped()}" if stopped() else "the kernel died"
                cell.outputs.append(nbformat.v4.new_output(
                    "error", ename="CellTimeoutError" if timed_out else "KernelDied",
                    evalue=f"timed out after {timeout:g} s" if timed_out else died,
                    traceback=[]))
                empty_folder_if_over_disk()
                restart()
                for earlier in range(index):
                    replay = notebook.cells[earlier]
                    if replay.cell_type == "code" and earlier not in failed:
                        try:
                            client.execute_cell(nbformat.from_dict(dict(replay, outputs=[])), earlier)
                        except (CellTimeoutError, DeadKernelError):
                            failed.add(earlier)
                            empty_folder_if_over_disk()
                            restart()
        for old in watches:
            sandbox.WATCHDOG.unwatch(old)
    return notebook


if __name__ == "__main__":  # a manual smoke test: python -m mmcourse.grading.kernel NOTEBOOK
    import tempfile
    import time

    with tempfile.TemporaryDirectory() as folder:
        work, ipc = Path(folder) / "work", Path(folder) / "ipc"
        work.mkdir()
        ipc.mkdir()
        for path in (Path(folder), work, ipc):
            path.chmod(0o777)
        started = time.perf_counter()
        done = execute(nbformat.read(sys.argv[1], as_version=4), work, ipc, 30, True)
        print(f"{time.perf_counter() - started:.1f} s",
              [o.get("ename") for c in done.cells for o in c.get("outputs", []) if o.get("output_type") == "error"])
