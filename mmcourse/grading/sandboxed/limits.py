"""Set a grading sandbox's resource limits, then become the sandboxed program (runs INSIDE bwrap).

``python -I -S limits.py DATA_BYTES TASKS FILE_BYTES CPU_SECONDS -- PROGRAM ARGS...``

The limits are set here, *inside* the sandbox's own user namespace, and as hard limits (the
sandbox has no capability to raise them again):

* ``RLIMIT_DATA``: bytes of private writable memory per process (NumPy and TensorFlow buffers,
  ``malloc``). Not ``RLIMIT_AS``: TensorFlow reserves gigabytes of address space it never uses
  (thread stacks, ``malloc`` arenas grow with the CPU count), which ``RLIMIT_DATA`` ignores.
* ``RLIMIT_NPROC``: processes and threads. Since Linux 5.14 the kernel counts them per user
  namespace, and every sandbox has its own, so one submission's processes never count against
  another's (nor the grader's). The kernel does not apply this limit to uid 0 outside the
  namespace (a grader run as root): ``sandbox.Watchdog`` enforces it there.
* ``RLIMIT_FSIZE``: bytes per file written (Python ignores ``SIGXFSZ``, so a write beyond it
  raises ``OSError(EFBIG)``).
* ``RLIMIT_CPU``: CPU seconds per process (then ``SIGKILL`` from the kernel).

Standard library only, started with ``-I -S``: it costs a few milliseconds.
"""

import os
import resource
import sys


def main(argv: list[str]) -> int:
    data, tasks, file_size, cpu = (int(value) for value in argv[:4])
    if argv[4] != "--" or len(argv) < 6:
        print(f"usage: limits.py DATA TASKS FILE CPU -- PROGRAM...; received {argv!r}", file=sys.stderr)
        return 2
    for limit, value in ((resource.RLIMIT_DATA, data), (resource.RLIMIT_NPROC, tasks),
                         (resource.RLIMIT_FSIZE, file_size), (resource.RLIMIT_CPU, cpu)):
        if value > 0:
            resource.setrlimit(limit, (value, value))
    os.execvp(argv[5], argv[5:])
    return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
