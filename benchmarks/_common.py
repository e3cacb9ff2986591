"""Shared benchmark harness: machine record, medians over repeats, JSON + Markdown results."""

from __future__ import annotations

import argparse
import datetime as _datetime
import gc
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path

import mmcourse  # noqa: F401  (installs the filter for TensorFlow start-up noise)

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_total_gb() -> float | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


def machine_record() -> dict:
    """What the numbers were measured on: CPUs, platform, library versions and the UTC date."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        usable = os.cpu_count()
    try:
        load = [round(value, 2) for value in os.getloadavg()]
    except OSError:  # pragma: no cover
        load = None
    return {
        "cpu_count": os.cpu_count(),
        "usable_cpus": usable,
        "cpu_model": _cpu_model(),
        "memory_total_gb": _memory_total_gb(),
        "load_average_1_5_15min": load,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "tensorflow": _version("tensorflow") or _version("tensorflow-cpu"),
        "keras": _version("keras"),
        "numpy": _version("numpy"),
        "librosa": _version("librosa"),
        "run_date_utc": _datetime.datetime.now(_datetime.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        ),
    }


def time_call(function: Callable[[], object], repeats: int = 5, warmup: int = 1) -> dict:
    """Run ``function`` ``warmup`` times untimed, then ``repeats`` times timed.

    Returns ``{"median_s", "min_s", "max_s", "repeats", "times_s"}`` (seconds, wall clock with
    ``time.perf_counter``). The median is the number to report: it ignores the odd run slowed
    down by another process on a shared machine.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats!r}")
    for _ in range(max(0, warmup)):
        function()
    times = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return {
        "median_s": statistics.median(times),
        "min_s": min(times),
        "max_s": max(times),
        "repeats": repeats,
        "times_s": [round(value, 6) for value in times],
    }


def time_calls_interleaved(functions: dict, repeats: int = 5, warmup: int = 1) -> dict:
    """Like :func:`time_call` for several functions, timed in rounds (A, B, C, A, B, C, ...) so a
    change in the machine's load affects all of them alike — the fair way to measure a ratio on
    a shared machine. Returns ``{name: timing}``."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats!r}")
    for function in functions.values():
        for _ in range(max(0, warmup)):
            function()
    times = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            gc.collect()
            start = time.perf_counter()
            function()
            times[name].append(time.perf_counter() - start)
    return {
        name: {"median_s": statistics.median(values), "min_s": min(values),
               "max_s": max(values), "repeats": repeats,
               "times_s": [round(value, 6) for value in values]}
        for name, values in times.items()
    }


def _format_cell(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        if value == 0:
            return "0"
        magnitude = abs(value)
        if magnitude >= 1000:
            return f"{value:,.0f}"
        if magnitude >= 10:
            return f"{value:.1f}"
        if magnitude >= 0.01:
            return f"{value:.3g}"
        return f"{value:.2e}"
    return str(value).replace("|", "\\|")


def markdown_table(rows: Sequence[dict], columns: Sequence[tuple[str, str]]) -> str:
    """A Markdown table: ``columns`` is a list of ``(key, header)``; missing keys print "—"."""
    header = "| " + " | ".join(title for _, title in columns) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    lines = [header, rule]
    for row in rows:
        lines.append("| " + " | ".join(_format_cell(row.get(key)) for key, _ in columns) + " |")
    return "\n".join(lines)


def machine_line(machine: dict) -> str:
    return (
        f"{machine['cpu_count']} CPUs ({machine['cpu_model']}), {machine['platform']}; "
        f"Python {machine['python']}, TensorFlow {machine['tensorflow']}, Keras {machine['keras']}, "
        f"NumPy {machine['numpy']}, librosa {machine['librosa']}; "
        f"load average at start {machine['load_average_1_5_15min']}; run {machine['run_date_utc']}"
    )


def write_results(
    name: str,
    *,
    title: str,
    machine: dict,
    settings: dict,
    tables: Sequence[dict],
    targets: Sequence[dict] = (),
    notes: Sequence[str] = (),
    out_dir: str | Path | None = None,
    elapsed_s: float | None = None,
) -> dict:
    """Write ``<out_dir>/<name>.json`` and ``<name>.md``; return the JSON payload.

    tables: ``[{"title": str, "columns": [(key, header), ...], "rows": [dict, ...]}, ...]``;
    targets: ``[{"target": str, "measured": str, "met": bool | None}, ...]``.
    """
    out_dir = Path(out_dir) if out_dir is not None else RESULTS_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": name,
        "title": title,
        "machine": machine,
        "settings": settings,
        "elapsed_s": None if elapsed_s is None else round(elapsed_s, 2),
        "tables": {
            table["key"]: {
                "title": table["title"],
                "columns": [list(column) for column in table["columns"]],
                "rows": table["rows"],
            }
            for table in tables
        },
        "targets": list(targets),
        "notes": list(notes),
    }
    json_path = out_dir / f"{name}.json"
    json_path.write_text(json.dumps(payload, indent=2, default=_json_default) + "\n",
                         encoding="utf-8")
    lines = [f"# {title}", "", f"Machine: {machine_line(machine)}.", ""]
    if settings:
        lines += ["Settings: " + ", ".join(f"`{k}={v}`" for k, v in settings.items()) + ".", ""]
    for table in tables:
        lines += [f"## {table['title']}", "", markdown_table(table["rows"], table["columns"]), ""]
    if targets:
        lines += ["## Targets", ""]
        lines.append(markdown_table(
            [{**target, "met": {True: "met", False: "MISSED", None: "n/a"}[target["met"]]}
             for target in targets],
            [("target", "target"), ("measured", "measured"), ("met", "result")],
        ))
        lines.append("")
    if notes:
        lines += ["## Notes", ""] + [f"- {note}" for note in notes] + [""]
    if elapsed_s is not None:
        lines += [f"Benchmark wall time: {elapsed_s:.1f} s.", ""]
    (out_dir / f"{name}.md").write_text("\n".join(lines), encoding="utf-8")
    return payload


def _json_default(value):
    try:
        import numpy as np
    except ImportError:  # pragma: no cover
        np = None
    if np is not None and isinstance(value, np.generic):
        return value.item()
    if np is not None and isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def load_results(name: str, results_dir: str | Path | None = None) -> dict:
    """The stored JSON payload of benchmark ``name`` (for lessons and the README)."""
    path = Path(results_dir or RESULTS_DIR) / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8"))


def argument_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes, few repeats: checks the code runs (numbers meaningless; "
                             "written to a temporary folder unless --out is given)")
    parser.add_argument("--out", default=None,
                        help=f"results folder (default {RESULTS_DIR.relative_to(REPO_ROOT)})")
    return parser


def output_folder(args) -> str | None:
    """Where results go: ``--out``, else the committed results folder — except for ``--quick``
    runs, whose meaningless numbers go to a fresh temporary folder so they never overwrite the
    real results."""
    if args.out is None and args.quick:
        import tempfile

        args.out = tempfile.mkdtemp(prefix="mmcourse-bench-quick-")
        print(f"--quick: results go to {args.out}", file=sys.stderr)
    return args.out


def quiet_tensorflow():
    """Import TensorFlow with logs quieted (the course's helper) and return the module."""
    from mmcourse.env import quiet_tensorflow as _quiet

    return _quiet()


def print_markdown(name: str, out_dir: str | Path | None = None) -> None:
    path = Path(out_dir or RESULTS_DIR) / f"{name}.md"
    sys.stdout.write(path.read_text(encoding="utf-8"))


def subset(data, count: int):
    """The first ``count`` samples of an ``MMDigits`` split (for quick runs)."""
    import dataclasses

    import numpy as np

    fields = {field.name: getattr(data, field.name) for field in dataclasses.fields(data)}
    for key, value in fields.items():
        if isinstance(value, np.ndarray) and value.shape[:1] == (len(data),):
            fields[key] = value[:count]
    return type(data)(**fields)


README = Path(__file__).resolve().parent / "README.md"
README_RESULTS_HEADING = "## Latest results"


def readme_results_section(results_dir: str | Path | None = None) -> str:
    """The README's "Latest results" section: ``summary.md`` and each benchmark's ``.md``,
    headings moved two levels down, in the order ``make bench`` runs them."""
    from benchmarks import BENCHMARKS

    results_dir = Path(results_dir) if results_dir else RESULTS_DIR
    parts = [README_RESULTS_HEADING, "",
             "Copied from `benchmarks/results/*.md` by `python -m benchmarks` after a full run "
             "(`python -m benchmarks --readme` redoes only this step); do not edit by hand.", ""]
    for name in ("summary", *BENCHMARKS):
        path = results_dir / f"{name}.md"
        if not path.exists():
            continue
        for line in path.read_text(encoding="utf-8").rstrip("\n").splitlines():
            parts.append("##" + line if line.startswith("#") else line)
        parts.append("")
    return "\n".join(parts)


def update_readme(results_dir: str | Path | None = None) -> None:
    """Rewrite ``benchmarks/README.md`` from its "Latest results" heading to the end."""
    text = README.read_text(encoding="utf-8")
    if README_RESULTS_HEADING not in text:
        raise ValueError(f"{README} has no {README_RESULTS_HEADING!r} section to rewrite")
    head = text[: text.index(README_RESULTS_HEADING)]
    README.write_text(head + readme_results_section(results_dir), encoding="utf-8")
