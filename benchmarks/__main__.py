"""``python -m benchmarks`` (``make bench``): run the five benchmarks one after another.

Each benchmark runs in its own Python process (so TensorFlow's thread pools, caches and memory
from one do not leak into the next) and writes ``benchmarks/results/<name>.{json,md}``; this
driver then writes ``benchmarks/results/summary.{json,md}`` with each one's wall time and the
total. After a full run into ``benchmarks/results/`` it copies the results into the "Latest
results" section of ``benchmarks/README.md``. Options: ``--quick`` (smoke run: tiny sizes),
``--skip NAME`` (repeatable), ``--out DIR``, ``--readme`` (only redo the README section from the
stored results).
"""

from __future__ import annotations

import subprocess
import sys
import time

from benchmarks import BENCHMARKS, _common


def main(argv=None) -> int:
    parser = _common.argument_parser("Run every mmcourse benchmark")
    parser.add_argument("--skip", action="append", default=[], choices=BENCHMARKS,
                        help="leave this benchmark out (repeatable)")
    parser.add_argument("--readme", action="store_true",
                        help="only copy the stored results into benchmarks/README.md")
    args = parser.parse_args(argv)
    if args.readme:
        _common.update_readme()
        return 0
    _common.output_folder(args)
    machine = _common.machine_record()
    rows = []
    start = time.perf_counter()
    for name in BENCHMARKS:
        if name in args.skip:
            continue
        command = [sys.executable, "-m", f"benchmarks.{name}"]
        if args.quick:
            command.append("--quick")
        if args.out:
            command += ["--out", args.out]
        print(f"=== {name}: {' '.join(command[1:])}", flush=True)
        began = time.perf_counter()
        completed = subprocess.run(command, cwd=_common.REPO_ROOT)
        rows.append({"benchmark": name, "wall_s": time.perf_counter() - began,
                     "exit_code": completed.returncode})
    total = time.perf_counter() - start
    rows.append({"benchmark": "**total**", "wall_s": total})
    failed = [row["benchmark"] for row in rows[:-1] if row["exit_code"] != 0]
    targets = [{"target": f"all {len(BENCHMARKS)} benchmarks in under 15 min",
                "measured": f"{total / 60:.1f} min",
                "met": total < 15 * 60 if not args.skip and not args.quick else None},
               {"target": "every benchmark exits cleanly",
                "measured": "all did" if not failed else "failed: " + ", ".join(failed),
                "met": not failed}]
    _common.write_results(
        "summary", title="make bench", machine=machine,
        settings={"quick": args.quick, "skipped": args.skip},
        tables=[{"key": "benchmarks", "title": "Wall time per benchmark",
                 "columns": [("benchmark", "benchmark"), ("wall_s", "wall s"),
                             ("exit_code", "exit code")], "rows": rows}],
        targets=targets, out_dir=args.out, elapsed_s=total,
    )
    print(f"\nall benchmarks: {total:.1f} s ({total / 60:.1f} min)")
    if not (args.quick or args.skip or args.out or failed):
        _common.update_readme()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
