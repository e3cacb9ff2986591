"""One bubblewrap sandbox per grading step: no network, own PID namespace, uid 65534.

:func:`command` wraps a command so that it runs in a fresh ``bwrap`` sandbox that sees only

* the operating system (``/usr`` and the few files of ``/etc`` programs need to start — not
  ``/etc/shadow`` and the like) and the Python installation and virtual environment the grader
  runs on, **read-only**;
* the ``mmcourse`` package, read-only, with ``mmcourse/grading/`` (the hidden checks) replaced by
  an empty folder — the rest of the repository (``solutions/``, tests, other worktrees) is not
  there at all;
* the runner (``sandboxed/``) at ``/opt/mmcourse-grader``, read-only;
* a private ``/tmp`` (tmpfs) and, for the notebook run only, one writable folder holding the
  rebuilt notebook of **one** submission — never the temporary course, the gradebook, the CSV or
  another submission.

``--unshare-all`` gives it no network (only a loopback), its own PID, IPC, UTS and cgroup
namespaces; ``--die-with-parent`` and the PID namespace mean every process it started dies
when it ends (a detached process cannot outlive the sandbox); ``--new-session`` stops it from
injecting keystrokes into the grader's terminal. :func:`available` checks that bwrap exists and
works here (it needs unprivileged user namespaces, or root).

Inside, the process is uid 65534 with no capabilities, but the user namespace maps it to the
grader's own uid outside: what protects the grader is what is *mounted* (and that it is
read-only), not file permissions. Hence the short list of binds.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

RUNNER_DIR = Path(__file__).resolve().parent / "sandboxed"
SANDBOX_RUNNER_DIR = "/opt/mmcourse-grader"
SANDBOX_WORK = "/work/submission"
NOBODY = "65534"


class SandboxUnavailable(RuntimeError):
    """No working bubblewrap sandbox on this machine."""


def _package_dir() -> Path:
    import mmcourse

    return Path(mmcourse.__file__).resolve().parent


def _python_roots() -> list[Path]:
    """Folders the interpreter needs: the venv, the base installation, the stdlib, site-packages."""
    candidates = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix),
                  Path(sys.executable).resolve().parent.parent}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        candidates.add(Path(sysconfig.get_paths()[key]))
    roots: list[Path] = []
    for path in sorted({candidate.resolve() for candidate in candidates} | candidates, key=len_key):
        if path.exists() and not any(path == root or root in path.parents for root in roots):
            roots.append(path)
    return roots


def len_key(path: Path) -> tuple[int, str]:
    return (len(path.parts), str(path))


# From /etc only what programs need to start — never /etc as a whole (shadow, ssh keys, …).
_ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "fonts", "ssl", "localtime",
        "passwd", "group", "nsswitch.conf", "hosts", "mime.types", "matplotlibrc")


def _system_binds() -> list[str]:
    arguments = []
    for top in ("/usr", "/lib", "/lib64", "/bin", "/sbin"):
        path = Path(top)
        if path.is_symlink():
            arguments += ["--symlink", os.readlink(path), top]
        elif path.exists():
            arguments += ["--ro-bind", top, top]
    for name in _ETC:
        if (Path("/etc") / name).exists():
            arguments += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    return arguments


def command(argv: list[str], *, workdir: Path | None = None) -> list[str]:
    """``argv`` wrapped in a bwrap sandbox; ``workdir`` (if any) is the only writable host folder."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable("bubblewrap (bwrap) is not installed")
    package = _package_dir()
    # The private /dev, /proc and /tmp come first: a later bind may sit inside /tmp (a repository
    # or venv cloned under /tmp), and a tmpfs mounted after it would hide it.
    arguments = [bwrap, "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", *_system_binds()]
    for root in _python_roots():
        if package.is_relative_to(root):
            continue  # never expose a folder that contains the repository (solutions/)
        arguments += ["--ro-bind", str(root), str(root)]
    arguments += [
        "--ro-bind", str(package), str(package),
        "--tmpfs", str(package / "grading"),
        "--ro-bind", str(RUNNER_DIR), SANDBOX_RUNNER_DIR,
        "--unshare-all", "--die-with-parent", "--new-session",
        "--uid", NOBODY, "--gid", NOBODY,
        "--clearenv",
        "--setenv", "PATH", f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "--setenv", "HOME", "/tmp",
        "--setenv", "PYTHONPATH", str(package.parent),
        "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
        "--setenv", "JUPYTER_RUNTIME_DIR", "/tmp/jupyter-runtime",
        "--setenv", "IPYTHONDIR", "/tmp/ipython",
        "--setenv", "MPLCONFIGDIR", "/tmp/matplotlib",
        "--setenv", "MPLBACKEND", "Agg",
        "--setenv", "KERAS_BACKEND", "tensorflow",
        "--setenv", "TF_CPP_MIN_LOG_LEVEL", "3",
        "--setenv", "OMP_NUM_THREADS", "1",
    ]
    if workdir is not None:
        arguments += ["--bind", str(workdir), SANDBOX_WORK, "--chdir", SANDBOX_WORK]
    else:
        arguments += ["--chdir", "/tmp"]
    return [*arguments, "--", *argv]


def unsandboxed_command(argv: list[str], *, workdir: Path | None = None) -> list[str]:
    """The same step without a sandbox (``--unsafe``): still a separate, fresh process."""
    return list(argv)


@functools.lru_cache(maxsize=1)
def available() -> str | None:
    """``None`` if a bwrap sandbox works here, else why not (one sentence)."""
    if not sys.platform.startswith("linux"):
        return f"the grading sandbox needs Linux with bubblewrap; this is {sys.platform}"
    try:
        probe = command([sys.executable, "-c", "import os; print(os.getuid())"])
        done = subprocess.run(probe, capture_output=True, text=True, timeout=60, check=False)
    except SandboxUnavailable as error:
        return str(error)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bubblewrap failed to start: {error}"
    if done.returncode != 0 or done.stdout.strip() != NOBODY:
        detail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return f"bubblewrap does not work here (unprivileged user namespaces off?): {detail[:200]}"
    return None
