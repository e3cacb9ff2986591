"""Course runtime: execute every notebook in ``notebooks/`` and ``solutions/``; wall time and
peak memory per notebook, and the total.

Run: ``python -m benchmarks.course_runtime`` (``--only PATTERN`` to run matching notebooks only,
e.g. ``--only '07_*'`` or ``--only notebooks/13``; ``--quick`` runs just the first notebook).
Results: ``benchmarks/results/course_runtime.{json,md}`` (a run with ``--only`` or ``--quick``
writes ``course_runtime_partial.{json,md}`` instead, so the full table is not overwritten).

How: the repository (without ``.git`` and ``.venv``) is copied to a temporary folder once, so
nothing in the checkout changes; each notebook then runs in its own Python subprocess that
executes it with ``nbclient`` in a fresh ``python3`` kernel, working directory = the notebook's
folder in the copy, cell timeout 600 s. Notebooks run one after another, never in parallel.

The run starts with an empty cache of lesson 07's unimodal models (``MMCOURSE_MODELS`` set to a
scratch folder): the first notebook that needs them trains them and the later ones load them,
as on a learner's fresh machine going through the course in order.

* **wall time**: from starting the kernel to the end of the last cell (``nbclient``'s
  ``execute()``), measured in that subprocess;
* **peak RSS**: the kernel's process tree — after every cell the runner reads ``VmHWM`` (the
  peak resident set size) from ``/proc/<pid>/status`` of the kernel and each of its live
  descendants and sums them; the largest sum is kept. As a cross-check the runner also reports
  ``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` after the kernel exited (the largest single
  child process's peak). The table's peak RSS is the larger of the two.
* **× lesson 00**: wall time over lesson 00's in the same run (the budgets of issues 16 and 17,
  for notebooks 10, 11, 12 and 14: each lesson ≤ 5×, each solution ≤ 3×). Lesson 00 runs first and once more at the end; the
  faster of the two is the reference, so a cold first start cannot flatter the ratios.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import _common

FOLDERS = ("notebooks", "solutions")
LESSON_LIMIT_S = 90.0
TOTAL_LIMIT_S = 15 * 60.0
RSS_LIMIT_MB = 3 * 1024.0
CELL_TIMEOUT_S = 600
# Run-time budgets of issues 16-18, as ratios to lesson 00 (kernel start + imports) in the same run:
# timings on shared machines vary 2-3x between runs, their ratios much less.
REFERENCE = "notebooks/00_welcome.ipynb"
LESSON_RATIO = 5.0
SOLUTION_RATIO = 3.0
BUDGETED = ("10_", "11_", "12_", "14_")  # the notebooks of issues 16 and 17


def find_notebooks(root: Path, only: str | None = None) -> list[str]:
    """Notebook paths relative to ``root`` (``notebooks/…`` then ``solutions/…``), sorted."""
    paths = []
    for folder in FOLDERS:
        for path in sorted((root / folder).glob("*.ipynb")):
            relative = path.relative_to(root).as_posix()
            if only is None or _matches(relative, only):
                paths.append(relative)
    return paths


def _matches(relative: str, pattern: str) -> bool:
    name = relative.rsplit("/", 1)[-1]
    return (fnmatch.fnmatch(relative, pattern) or fnmatch.fnmatch(name, pattern)
            or pattern in relative)


def _status_kb(pid: int, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        queue.extend(children.get(current, []))
    return found


def tree_peak_rss_kb(pid: int) -> int:
    """Sum of ``VmHWM`` over ``pid`` and its live descendants, in KiB."""
    return sum(_status_kb(process, "VmHWM") for process in _descendants(pid))


def execute_one(path: Path) -> dict:
    """Execute one notebook (in place, in a scratch copy) in a fresh kernel; measure it."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    peak = {"kb": 0}

    def sample(**_):
        try:
            pid = client.km.provisioner.process.pid
        except AttributeError:
            return
        peak["kb"] = max(peak["kb"], tree_peak_rss_kb(pid))

    client = NotebookClient(notebook, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}},
                            on_cell_executed=sample)
    error = None
    start = time.perf_counter()
    try:
        client.execute()
    except Exception as exception:  # a failing notebook is a result, not a crash
        error = f"{type(exception).__name__}: {str(exception).strip().splitlines()[-1][:200]}"
    wall = time.perf_counter() - start
    children_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"wall_s": wall, "tree_peak_rss_mb": peak["kb"] / 1024,
            "children_maxrss_mb": children_kb / 1024,
            "peak_rss_mb": max(peak["kb"], children_kb) / 1024, "error": error}


def _copy_repository(destination: Path) -> Path:
    ignore = shutil.ignore_patterns(".git", ".venv", "__pycache__", ".ipynb_checkpoints",
                                    ".pytest_cache", ".ruff_cache", "*.egg-info")
    target = destination / "repo"
    shutil.copytree(_common.REPO_ROOT, target, ignore=ignore, symlinks=True)
    return target


def run(quick: bool = False, out_dir=None, only: str | None = None,
        root: Path | None = None) -> dict:
    """Execute the notebooks and write the results; return the payload."""
    start = time.perf_counter()
    machine = _common.machine_record()
    root = Path(root) if root is not None else _common.REPO_ROOT
    relative_paths = find_notebooks(root, only)
    if quick:
        relative_paths = relative_paths[:1]
    if not relative_paths:
        raise SystemExit(f"no notebook matches {only!r} in {', '.join(FOLDERS)}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="mmcourse-runtime-") as scratch:
        copy = _copy_repository(Path(scratch)) if root == _common.REPO_ROOT else _copy_tree(
            root, Path(scratch))
        # an empty model cache for the run: the first lesson that needs lesson 07's unimodal
        # models (mmcourse.pretrained) trains them, later ones load them, as for a learner
        # going through the course in order on a fresh machine
        models_cache = Path(scratch) / "models-cache"
        def measure(relative):
            print(f"executing {relative} …", file=sys.stderr, flush=True)
            completed = subprocess.run(
                [sys.executable, "-m", "benchmarks.course_runtime", "--execute-one",
                 str(copy / relative)],
                capture_output=True, text=True, cwd=_common.REPO_ROOT,
                env={**os.environ, "MMCOURSE_MODELS": str(models_cache),
                     "PYTHONPATH": os.pathsep.join(
                         filter(None, [str(_common.REPO_ROOT), os.environ.get("PYTHONPATH")]))},
            )
            try:
                return json.loads(completed.stdout.strip().splitlines()[-1])
            except (json.JSONDecodeError, IndexError):
                return {"wall_s": None, "peak_rss_mb": None,
                        "error": f"runner failed: {completed.stderr.strip()[-300:]}"}

        for relative in relative_paths:
            row = {"notebook": relative, **measure(relative)}
            row["status"] = "error: " + row["error"] if row.get("error") else "ok"
            is_lesson = relative.startswith("notebooks/")
            wall = row.get("wall_s")
            peak = row.get("peak_rss_mb")
            misses = []
            if wall is not None and wall > LESSON_LIMIT_S:
                misses.append(f"> {LESSON_LIMIT_S:.0f} s")
            if peak is not None and peak > RSS_LIMIT_MB:
                misses.append(f"> {RSS_LIMIT_MB / 1024:.0f} GB")
            row["kind"] = "lesson" if is_lesson else "solution"
            row["within_targets"] = not misses and not row.get("error")
            row["misses"] = ", ".join(misses) or None
            rows.append(row)
            print(f"  {wall if wall is None else round(wall, 1)} s, "
                  f"{peak if peak is None else round(peak)} MB, {row['status']}",
                  file=sys.stderr, flush=True)
            _write(rows, len(relative_paths), machine, quick, only, out_dir, start)
        if REFERENCE in relative_paths and len(relative_paths) > 1:
            # lesson 00 once more, last: the first notebook of a run also pays for cold disk
            # caches, so the ratios use the faster of its two runs (the stricter reference)
            repeat = measure(REFERENCE).get("wall_s")
            return _write(rows, len(relative_paths), machine, quick, only, out_dir, start,
                          reference_repeat_s=repeat)
    return _write(rows, len(relative_paths), machine, quick, only, out_dir, start)


def _reference_runs(rows, repeat_s=None) -> list:
    """Lesson 00's wall times in this run: its row, then the repeat after the last notebook."""
    times = [row["wall_s"] for row in rows if row["notebook"] == REFERENCE and row["wall_s"]]
    return times + ([repeat_s] if repeat_s else [])


def _reference_s(rows, repeat_s=None):
    """The faster of lesson 00's runs (None if it was not run)."""
    times = _reference_runs(rows, repeat_s)
    return min(times) if times else None


def _write(rows, planned, machine, quick, only, out_dir, start, reference_repeat_s=None):
    """Write the results so far (called after every notebook, so a cut-short run leaves data)."""
    reference = _reference_s(rows, reference_repeat_s)
    for row in rows:
        row["x_lesson_00"] = (round(row["wall_s"] / reference, 2)
                              if reference and row["wall_s"] else None)
    budget = {"lesson": LESSON_RATIO, "solution": SOLUTION_RATIO}
    over_ratio = {kind: [f"{row['notebook']} ({row['x_lesson_00']:.2f}×)" for row in rows
                         if row["kind"] == kind and row["x_lesson_00"] is not None
                         and row["notebook"].rsplit("/", 1)[-1].startswith(BUDGETED)
                         and row["x_lesson_00"] > limit]
                  for kind, limit in budget.items()}
    total = sum(row["wall_s"] or 0.0 for row in rows)
    lessons_total = sum(row["wall_s"] or 0.0 for row in rows if row["kind"] == "lesson")
    max_peak = max((row["peak_rss_mb"] or 0.0) for row in rows)
    full = not quick and only is None
    finished = len(rows) == planned
    slow = [row["notebook"] for row in rows if (row["wall_s"] or 0) > LESSON_LIMIT_S]
    heavy = [row["notebook"] for row in rows if (row["peak_rss_mb"] or 0) > RSS_LIMIT_MB]
    failed = [row["notebook"] for row in rows if row.get("error")]
    targets = [
        {"target": f"each notebook ≤ {LESSON_LIMIT_S:.0f} s",
         "measured": ("all within" if not slow else "over: " + ", ".join(slow))
         + f" (slowest {max(row['wall_s'] or 0 for row in rows):.1f} s)",
         "met": not slow},
        {"target": f"whole course ≤ {TOTAL_LIMIT_S / 60:.0f} min",
         "measured": f"{total / 60:.1f} min for {len(rows)} notebooks "
                     f"(lessons alone {lessons_total / 60:.1f} min)",
         "met": total <= TOTAL_LIMIT_S if full and finished else None},
        {"target": "peak RSS ≤ 3 GB per notebook",
         "measured": ("all within" if not heavy else "over: " + ", ".join(heavy))
         + f" (largest {max_peak:,.0f} MB)",
         "met": not heavy},
        *({"target": f"{kind}s {', '.join(b[:2] for b in BUDGETED)} ≤ {limit:g}× lesson 00 "
                     "(issues 16, 17)",
           "measured": ("no reference: lesson 00 not run" if reference is None else
                        ("all within" if not over_ratio[kind] else
                         "over: " + ", ".join(over_ratio[kind]))
                        + f" (lesson 00: {reference:.1f} s)"),
           "met": None if reference is None else not over_ratio[kind]}
          for kind, limit in budget.items()),
        {"target": "every notebook runs without error",
         "measured": "all ran" if not failed else "failed: " + ", ".join(failed),
         "met": not failed},
    ]
    columns = [("notebook", "notebook"), ("wall_s", "wall s"), ("x_lesson_00", "× lesson 00"),
               ("peak_rss_mb", "peak RSS MB"),
               ("tree_peak_rss_mb", "kernel tree VmHWM MB"),
               ("children_maxrss_mb", "ru_maxrss MB"), ("within_targets", "within targets"),
               ("misses", "misses"), ("status", "status")]
    summary_rows = rows + [{"notebook": "**total**", "wall_s": total, "peak_rss_mb": max_peak}]
    notes = [
        "Executed one after another from a temporary copy of the repository, each in a fresh "
        f"python3 kernel started by nbclient (cell timeout {CELL_TIMEOUT_S} s); wall time "
        "includes kernel start-up.",
        "The run starts with an empty cache of lesson 07's unimodal models "
        "(`mmcourse.pretrained`): the first notebook that needs them (lesson 08 in a full run) "
        "trains them, later ones load them. A run with --only that skips lesson 08 trains them "
        "in the first matching notebook that needs them.",
        "× lesson 00 = wall time / lesson 00's wall time in the same run; lesson 00 runs "
        "first and once more after the last notebook (not in the table or the total), and the "
        "faster of the two is the reference"
        + (f" (here {', '.join(f'{t:.1f} s' for t in _reference_runs(rows, reference_repeat_s))})"
           if reference else "") + ".",
        "Peak RSS = max(sum of VmHWM over the kernel's process tree sampled after every cell, "
        "getrusage(RUSAGE_CHILDREN).ru_maxrss of the runner after the kernel exited).",
        "The machine is shared: other processes running at the same time slow notebooks down; "
        "the load average at start is in the machine line.",
    ]
    if not finished:
        notes.insert(0, f"IN PROGRESS / CUT SHORT: {len(rows)} of {planned} notebooks measured.")
    settings = {"notebooks": len(rows), "planned": planned, "only": only, "quick": quick,
                "lesson_limit_s": LESSON_LIMIT_S, "total_limit_s": TOTAL_LIMIT_S,
                "rss_limit_mb": RSS_LIMIT_MB, "lesson_ratio": LESSON_RATIO,
                "solution_ratio": SOLUTION_RATIO, "reference_s": reference,
                "reference_repeat_s": reference_repeat_s}
    name = "course_runtime" if full else "course_runtime_partial"
    return _common.write_results(
        name, title="Course runtime", machine=machine, settings=settings,
        tables=[{"key": "notebooks", "title": "Per notebook", "columns": columns,
                 "rows": summary_rows}],
        targets=targets, notes=notes, out_dir=out_dir, elapsed_s=time.perf_counter() - start,
    )


def _copy_tree(root: Path, destination: Path) -> Path:
    target = destination / "repo"
    for folder in FOLDERS:
        if (root / folder).is_dir():
            shutil.copytree(root / folder, target / folder)
    return target


def main(argv=None) -> None:
    parser = _common.argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--only", default=None,
                        help="run only notebooks whose path or name matches (glob or substring)")
    parser.add_argument("--root", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--execute-one", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    _common.output_folder(args)
    if args.execute_one:
        print(json.dumps(execute_one(Path(args.execute_one))))
        return
    payload = run(quick=args.quick, out_dir=args.out, only=args.only,
                  root=None if args.root is None else Path(args.root))
    _common.print_markdown(payload["benchmark"], args.out)


if __name__ == "__main__":
    main()
