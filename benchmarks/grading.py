"""Grading throughput: the sandboxed grader against nbgrader's in-kernel autograder.

Run: ``python -m benchmarks.grading`` (``--quick`` for a smoke run; ``--count 05=300`` to grade
300 copies of exercise 05). Results: ``benchmarks/results/grading.{json,md}``. Part of
``python -m benchmarks`` (``make bench``), last: about 4.5 minutes here (so `make bench` takes ~13 min). Without a working
bubblewrap sandbox only the nbgrader engine runs, and the results say so.

For each exercise (05: NumPy only; 07: trains and saves a Keras model in every submission) the
solution notebook is copied into ``count`` student folders and graded with 2 workers by

1. **sandboxed** — ``grade(...)``: per submission one bubblewrap sandbox runs the notebook, a
   second, fresh one calls the graded functions; results compared in the grader;
2. **nbgrader (in-kernel)** — ``grade(..., unsafe=True)``'s nbgrader path
   (:func:`mmcourse.grading.grade._grade_nbgrader`): nbgrader's autograder, hidden tests in the
   learner's kernel, no sandbox.

Reported: wall time for the whole folder and submissions per minute (one run each: a grading run
of tens of submissions is already an average). Targets (issue 14): the sandbox costs at most
30 % more per submission; 300 submissions of exercise 05 in at most 15 minutes.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from benchmarks import _common

DEFAULT_COUNTS = {"05": 60, "07": 6}
QUICK_COUNTS = {"05": 2, "07": 0}
WORKERS = 2


def _folder(assignment: str, count: int) -> Path:
    from mmcourse.grading.grade import find_source

    source = find_source(assignment)
    folder = Path(tempfile.mkdtemp(prefix=f"mmcourse-bench-grading-{assignment}-"))
    for index in range(count):
        (folder / f"student{index:04d}").mkdir()
        shutil.copy(source, folder / f"student{index:04d}" / source.name)
    return folder


def measure(assignment: str, count: int, engine: str) -> dict:
    from mmcourse.grading.grade import _grade_nbgrader, grade

    folder = _folder(assignment, count)
    try:
        started = time.perf_counter()
        if engine == "sandboxed":
            results = grade(folder, assignment, folder / "grades.csv", workers=WORKERS, timeout=300)
        else:
            results = _grade_nbgrader(folder, assignment, folder / "grades.csv", workers=WORKERS,
                                              timeout=300)
        elapsed = time.perf_counter() - started
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    full = sum(result.total == result.max_total for result in results)
    return {"exercise": assignment, "engine": engine, "submissions": count, "wall_s": round(elapsed, 1),
            "per_minute": round(count / elapsed * 60, 2), "seconds_each": round(elapsed / count, 2),
            "full_marks": full}


def main(argv=None) -> int:
    parser = _common.argument_parser("Grading throughput: sandboxed vs nbgrader in-kernel")
    parser.add_argument("--count", action="append", default=[],
                        help="EXERCISE=N submissions (default 05=60, 07=6)")
    parser.add_argument("--engine", action="append", choices=("sandboxed", "nbgrader"), default=[],
                        help="only this engine (repeatable; default both)")
    args = parser.parse_args(argv)
    out_dir = _common.output_folder(args)
    counts = dict(QUICK_COUNTS if args.quick else DEFAULT_COUNTS)
    for item in args.count:
        exercise, _, number = item.partition("=")
        counts[f"{int(exercise):02d}"] = int(number)
    engines = args.engine or ["nbgrader", "sandboxed"]
    notes = ["Every submission is the solution notebook, so every row must show full marks for all.",
             "Other engineers' jobs shared the 2 cores during the run; see the load average."]
    from mmcourse.grading import sandbox

    why_not = sandbox.available()
    if why_not is not None and "sandboxed" in engines:
        engines = [engine for engine in engines if engine != "sandboxed"]
        notes.append(f"The sandboxed engine was not run: {why_not}.")
    limits = sandbox.current_limits()
    notes.append(f"Sandbox limits in force: {limits.memory_mb} MB data per process, {limits.tasks} "
                 f"processes and threads, {limits.file_mb} MB per file, {limits.tmp_mb} MB /tmp, "
                 f"{limits.disk_mb} MB in the submission folder, {limits.cpu_seconds} s CPU per process "
                 "(mmcourse.grading.sandbox.Limits).")
    machine = _common.machine_record()
    started = time.perf_counter()
    rows = []
    for exercise, count in counts.items():
        for engine in engines:
            if count > 0:
                row = measure(exercise, count, engine)
                print(row, flush=True)
                rows.append(row)
    targets = []
    for exercise in counts:
        by_engine = {row["engine"]: row for row in rows if row["exercise"] == exercise}
        if {"sandboxed", "nbgrader"} <= set(by_engine):
            ratio = by_engine["sandboxed"]["seconds_each"] / by_engine["nbgrader"]["seconds_each"]
            targets.append({"target": f"exercise {exercise}: sandbox costs ≤ 30 % more per submission",
                            "measured": f"{(ratio - 1) * 100:+.0f} %", "met": ratio <= 1.3})
    for row in rows:
        if row["exercise"] == "05" and row["engine"] == "sandboxed":
            minutes = 300 * row["seconds_each"] / 60
            targets.append({"target": "300 submissions of exercise 05 in ≤ 15 min (sandboxed)",
                            "measured": f"{minutes:.1f} min ({'measured' if row['submissions'] >= 300 else 'from ' + str(row['submissions']) + ' submissions'})",
                            "met": minutes <= 15})
    _common.write_results(
        "grading",
        title="Grading throughput (2 workers)",
        machine=machine,
        settings={"workers": WORKERS, "counts": counts, "engines": engines, "cell_timeout_s": 300},
        tables=[{"key": "throughput", "title": "Throughput", "rows": rows,
                 "columns": [("exercise", "exercise"), ("engine", "engine"), ("submissions", "submissions"),
                             ("wall_s", "wall (s)"), ("per_minute", "per minute"),
                             ("seconds_each", "s per submission"), ("full_marks", "full marks")]}],
        targets=targets,
        notes=notes,
        out_dir=out_dir,
        elapsed_s=time.perf_counter() - started,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
