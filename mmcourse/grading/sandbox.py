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

**Resource limits** (:class:`Limits`, defaults below, each overridable by an environment
variable): every program in the sandbox starts through ``sandboxed/limits.py``, which sets hard
``RLIMIT_DATA`` (memory per process), ``RLIMIT_NPROC`` (processes + threads, counted per
sandbox: each has its own user namespace), ``RLIMIT_FSIZE`` (bytes per file) and ``RLIMIT_CPU``
inside the sandbox; ``/tmp`` is a tmpfs of a fixed size (``bwrap --size``). The :class:`Watchdog`
(one thread in the grader for all sandboxes) counts each sandbox's processes and threads and the
bytes in its writable folder ten times a second and kills a sandbox over its limit — the backstop
where the kernel does not apply ``RLIMIT_NPROC`` (a grader run as root) and for the one writable
host folder, which no rlimit bounds as a whole. No cgroups: they need root or a systemd
delegation most graders do not have, and rlimits plus the watchdog work for any user.

Inside, the process is uid 65534 with no capabilities, but the user namespace maps it to the
grader's own uid outside: what protects the grader is what is *mounted* (and that it is
read-only), not file permissions. Hence the short list of binds.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import threading
from dataclasses import dataclass
from pathlib import Path

RUNNER_DIR = Path(__file__).resolve().parent / "sandboxed"
SANDBOX_RUNNER_DIR = "/opt/mmcourse-grader"
SANDBOX_WORK = "/work/submission"
NOBODY = "65534"


class SandboxUnavailable(RuntimeError):
    """No working bubblewrap sandbox on this machine."""


# --- resource limits --------------------------------------------------------------------------
_MB = 2**20


def _default_tasks() -> int:
    # TensorFlow starts about two threads per CPU core (intra- and inter-op pools) plus ~20.
    return max(256, 3 * (os.cpu_count() or 1) + 64)


@dataclass(frozen=True)
class Limits:
    """What one sandbox may use. Defaults are generous for exercise 07's Keras training (a
    TensorFlow process here: ~0.6 GB of data segment, 0.7 GB resident, 10-40 threads)."""

    memory_mb: int = 4096  # RLIMIT_DATA per process
    tasks: int = 256  # processes + threads per sandbox (RLIMIT_NPROC and the watchdog)
    file_mb: int = 128  # RLIMIT_FSIZE: one file (a saved .keras model is a few MB)
    tmp_mb: int = 512  # size of the sandbox's private /tmp (a tmpfs: it is memory)
    disk_mb: int = 512  # all files in the submission's writable folder (the watchdog)
    cpu_seconds: int = 900  # RLIMIT_CPU per process

    def __post_init__(self):
        from mmcourse import _validate

        for name in ("memory_mb", "tasks", "file_mb", "tmp_mb", "disk_mb", "cpu_seconds"):
            object.__setattr__(self, name, _validate.positive_int(getattr(self, name), f"Limits: {name}"))


ENVIRONMENT = {  # Limits field -> the environment variable that overrides its default
    "memory_mb": "MMCOURSE_GRADE_MEMORY_MB", "tasks": "MMCOURSE_GRADE_TASKS",
    "file_mb": "MMCOURSE_GRADE_FILE_MB", "tmp_mb": "MMCOURSE_GRADE_TMP_MB",
    "disk_mb": "MMCOURSE_GRADE_DISK_MB", "cpu_seconds": "MMCOURSE_GRADE_CPU_SECONDS",
}


def current_limits() -> Limits:
    """The limits in force: :class:`Limits`' defaults, each overridden by its environment variable."""
    values = {"tasks": _default_tasks()}
    for name, variable in ENVIRONMENT.items():
        text = os.environ.get(variable)
        if text is None or not text.strip():
            continue
        try:
            values[name] = int(text)
        except ValueError:
            raise ValueError(f"{variable} must be a positive int. Received: {variable}={text!r}") from None
        if values[name] < 1:
            raise ValueError(f"{variable} must be a positive int. Received: {variable}={text!r}")
    return Limits(**values)


def limited(argv: list[str], limits: Limits) -> list[str]:
    """``argv`` started through ``sandboxed/limits.py`` (inside the sandbox), which sets the rlimits."""
    return [sys.executable, "-I", "-S", f"{SANDBOX_RUNNER_DIR}/limits.py",
            str(limits.memory_mb * _MB), str(limits.tasks), str(limits.file_mb * _MB),
            str(limits.cpu_seconds), "--", *argv]


class Watch:
    """One watched sandbox: ``tripped`` says why the watchdog killed it (``None``: it did not)."""

    def __init__(self, pid: int, limits: Limits, workdir: Path | None):
        self.pid, self.limits, self.workdir = pid, limits, workdir
        self.tripped: str | None = None
        self.over_disk = False  # the folder holds more than its limit (the owner may empty it)


class Watchdog:
    """One thread for every sandbox in flight: kill a sandbox over its task or disk limit."""

    interval = 0.1

    def __init__(self):
        self._watches: set[Watch] = set()
        self._lock = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, pid: int, limits: Limits, workdir: Path | None = None) -> Watch:
        watch = Watch(pid, limits, workdir)
        with self._lock:
            self._watches.add(watch)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="mmcourse-sandbox-watchdog",
                                                daemon=True)
                self._thread.start()
            self._lock.notify()
        return watch

    def unwatch(self, watch: Watch) -> None:
        with self._lock:
            self._watches.discard(watch)

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._watches:
                    self._lock.wait()
                watches = list(self._watches)
            try:
                self.check(watches)
            except Exception:  # noqa: BLE001 - the watchdog must never stop watching
                pass
            threading.Event().wait(self.interval)

    def check(self, watches: list[Watch]) -> None:
        children: dict[int, list[int]] = {}
        threads: dict[int, int] = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as handle:
                    fields = handle.read().rpartition(b")")[2].split()
            except OSError:
                continue
            pid = int(entry.name)
            children.setdefault(int(fields[1]), []).append(pid)  # fields[1] is the parent pid
            threads[pid] = int(fields[17])  # num_threads
        for watch in watches:
            if watch.tripped:
                continue
            tasks, stack = 0, list(children.get(watch.pid, []))
            while stack:
                pid = stack.pop()
                tasks += threads.get(pid, 1)
                stack.extend(children.get(pid, []))
            if tasks > watch.limits.tasks:
                self._kill(watch, f"it ran more than {watch.limits.tasks} processes and threads at once "
                                  f"(the sandbox's limit)")
            elif watch.workdir is not None:
                used = _folder_bytes(watch.workdir, watch.limits.disk_mb * _MB)
                if used > watch.limits.disk_mb * _MB:
                    watch.over_disk = True
                    self._kill(watch, f"it wrote more than {watch.limits.disk_mb} MB into its folder "
                                      f"(the sandbox's limit)")

    @staticmethod
    def _kill(watch: Watch, why: str) -> None:
        watch.tripped = why
        try:  # bwrap itself: --die-with-parent and the PID namespace take every process with it
            os.kill(watch.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _folder_bytes(folder: Path, limit: int, max_entries: int = 20_000) -> int:
    """Bytes of the regular files under ``folder`` (symlinks not followed); more than ``limit``
    as soon as it is exceeded, or when the folder holds more than ``max_entries`` entries."""
    total, seen, stack = 0, 0, [str(folder)]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            seen += 1
            if seen > max_entries:
                return limit + 1
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_blocks * 512
            except OSError:
                continue
            if total > limit:
                return total
    return total


WATCHDOG = Watchdog()


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


def command(argv: list[str], *, workdir: Path | None = None, limits: Limits | None = None) -> list[str]:
    """``argv`` wrapped in a bwrap sandbox; ``workdir`` (if any) is the only writable host folder.

    limits: the resource limits (default: :func:`current_limits`, i.e. the environment's or the defaults).
    """
    limits = current_limits() if limits is None else limits
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable("bubblewrap (bwrap) is not installed")
    package = _package_dir()
    # The private /dev, /proc and /tmp come first: a later bind may sit inside /tmp (a repository
    # or venv cloned under /tmp), and a tmpfs mounted after it would hide it.
    arguments = [bwrap, "--dev", "/dev", "--proc", "/proc", "--size", str(limits.tmp_mb * _MB),
                 "--tmpfs", "/tmp", *_system_binds()]
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
    return [*arguments, "--", *limited(argv, limits)]


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
