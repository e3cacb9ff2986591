"""Command line: ``python -m mmcourse {assign,grade,report}`` (also installed as ``mmcourse``).

* ``assign [--check]`` — regenerate ``exercises/`` from ``solutions/`` with nbgrader; with
  ``--check`` only compare, and exit 1 naming stale, missing or extra exercise files.
* ``grade SUBMISSIONS_DIR --assignment NN --out grades.csv [--timeout S] [--feedback-dir DIR]
  [--unsafe] [--allow-reference] [--seed N] [--settings FILE]`` — autograde
  ``SUBMISSIONS_DIR/<student>/NN_topic.ipynb``, one bubblewrap sandbox per submission; see
  docs/teaching.md (sections 5 and 7). Assignment 16 (the capstone) is graded from the saved
  model on the hidden setting of ``--settings FILE`` and also writes ``leaderboard.md``/``.csv``
  next to ``--out``.
* ``report`` — print the environment report (versions, CPU/GPU).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path


class CommandError(Exception):
    """A usage error: printed as one line, exit status 2."""


def _assign(arguments) -> int:
    from mmcourse.grading.assign import REPO_ROOT, assign, find_solutions

    solutions = arguments.solutions or REPO_ROOT / "solutions"
    if not solutions.is_dir():
        raise CommandError(f"--solutions must be a folder of NN_topic.ipynb notebooks; received {solutions}")
    if not find_solutions(solutions):
        raise CommandError(f"--solutions must hold NN_topic.ipynb notebooks; received {solutions} with none")
    report = assign(arguments.solutions, arguments.exercises, check=arguments.check)

    def name(path: Path) -> str:
        try:
            return str(path.relative_to(REPO_ROOT))
        except ValueError:
            return str(path)

    if arguments.check:
        for label, paths in (("stale", report.stale), ("missing", report.missing),
                             ("extra (no solution)", report.extra)):
            for path in paths:
                print(f"{label}: {name(path)}")
        if not report.up_to_date:
            print("exercises/ is out of date: run `python -m mmcourse assign` (make assign)")
            return 1
        print(f"exercises/ is up to date ({len(report.unchanged)} notebooks)")
        return 0
    for path in report.written:
        print(f"wrote {name(path)}")
    for path in report.extra:
        print(f"extra (no solution, left alone): {name(path)}")
    print(f"{len(report.written)} written, {len(report.unchanged)} unchanged")
    return 0


def _grade(arguments) -> int:
    from mmcourse.grading.grade import grade
    from mmcourse.grading.sandbox import SandboxUnavailable

    if not math.isfinite(arguments.timeout) or arguments.timeout <= 0:
        raise CommandError(f"--timeout must be a positive number of seconds; received {arguments.timeout}")
    if arguments.workers is not None and arguments.workers < 1:
        raise CommandError(f"--workers must be at least 1; received {arguments.workers}")
    if arguments.unsafe:
        print("WARNING: --unsafe: grading WITHOUT a sandbox; a submission can read the hidden checks "
              "and other students' work. Use it only for submissions you trust.", file=sys.stderr)
    started = time.perf_counter()
    try:
        results = grade(
            arguments.submissions_dir,
            arguments.assignment,
            arguments.out,
            timeout=arguments.timeout,
            feedback_dir=arguments.feedback_dir,
            solutions_dir=arguments.solutions,
            workers=arguments.workers,
            unsafe=arguments.unsafe,
            allow_reference=arguments.allow_reference,
            seed=arguments.seed,
            settings=arguments.settings,
        )
    except (ValueError, TypeError, SandboxUnavailable) as error:
        raise CommandError(str(error)) from None
    elapsed = time.perf_counter() - started
    for result in results:
        note = f"  ({result.reason})" if result.reason else ""
        print(f"{result.student}: {result.total:g} / {result.max_total:g}{note}")
    print(f"graded {len(results)} submissions in {elapsed:.1f} s -> {arguments.out}")
    if arguments.settings is not None or str(arguments.assignment).lstrip("0") == "16":
        print(f"leaderboard -> {arguments.out.parent / 'leaderboard.md'} (and .csv)")
    failed = [result.student for result in results if result.grader_error]
    if failed:
        print(f"ERROR: the grader failed on {len(failed)} submission(s), left ungraded in the CSV: "
              f"{', '.join(failed)}; the other grades are written. Regrade those.", file=sys.stderr)
        return 1
    return 0


def _report(arguments) -> int:
    from mmcourse import env

    print(env.report())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mmcourse", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    assign = commands.add_parser("assign", help="regenerate exercises/ from solutions/ (nbgrader)")
    assign.add_argument("--check", action="store_true", help="only compare; exit 1 if out of date")
    assign.add_argument("--solutions", type=Path, default=None, help="default: solutions/")
    assign.add_argument("--exercises", type=Path, default=None, help="default: exercises/")
    assign.set_defaults(handler=_assign)

    grade = commands.add_parser("grade", help="autograde submissions into a CSV (nbgrader)")
    grade.add_argument("submissions_dir", type=Path, help="SUBMISSIONS_DIR/<student>/NN_topic.ipynb")
    grade.add_argument("--assignment", required=True, help="lesson number, e.g. 05")
    grade.add_argument("--out", type=Path, required=True, help="CSV file to write")
    grade.add_argument("--timeout", type=float, default=30.0, help="seconds per cell (default 30)")
    grade.add_argument("--feedback-dir", type=Path, default=None, help="write <student>.json/.md")
    grade.add_argument("--workers", type=int, default=None, help="parallel graders (default: CPUs)")
    grade.add_argument("--solutions", type=Path, default=None, help="default: solutions/")
    grade.add_argument("--unsafe", action="store_true",
                       help="grade without a sandbox (trusted submissions only; see docs/teaching.md)")
    grade.add_argument("--allow-reference", action="store_true",
                       help="do not zero answers that use the course's own reference for the task")
    grade.add_argument("--seed", type=int, default=None,
                       help="seed of the hidden inputs (default: fresh on every run)")
    grade.add_argument("--settings", type=Path, default=None,
                       help="capstone (assignment 16) settings file: budget, thresholds, hidden "
                            "setting (default: the course's shipped file)")
    grade.set_defaults(handler=_grade)

    report = commands.add_parser("report", help="print the environment report")
    report.set_defaults(handler=_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    try:
        return arguments.handler(arguments)
    except CommandError as error:
        message = " ".join(str(error).split())
        print(f"mmcourse {arguments.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
