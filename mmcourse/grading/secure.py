"""The sandboxed grader: hidden checks never run inside the learner's interpreter.

Per submission (each step in its own bubblewrap sandbox, :mod:`mmcourse.grading.sandbox`):

1. **Rebuild** (grader): the graded notebook is the *released* exercise with the learner's answer
   cells put in by ``grade_id`` and the learner's own extra cells kept in place. Locked and test
   cells always come from the release (edits and deletions are reported); duplicated, unknown or
   retyped ids are dropped and reported, so one damaged cell never zeroes the rest.
2. **Execute** (sandbox A): the rebuilt notebook — answers and *visible* tests only — runs with
   a per-cell timeout; a timed-out or crashed cell restarts the kernel and the run goes on. Used
   for feedback and for artefacts (exercise 07's ``multimodal_model.keras``), never for a score.
3. **Call** (sandbox B, a fresh interpreter): loads only the learner's definitions and calls each
   graded function on the grader's inputs (:mod:`mmcourse.grading.tasks`); results come back as
   plain data (:mod:`mmcourse.grading.sandboxed.plain`, subclasses rejected) or as a ``.keras``
   file, and are compared **in the grader's process** with the expected values, which never
   leave it. A call that hangs is killed and the remaining tasks are called in a new sandbox.
4. **Judge** (grader): artefacts are loaded with ``safe_mode=True``; an answer that imports or
   calls the course's reference for its own task scores 0 (``allow_reference=True`` allows it):
   found in the source (imports, aliases, module names in strings) or, for what the source hides
   (``getattr``, ``__import__``, names built at run time), seen running during the call in
   sandbox B (``sandboxed/runner.py``).

Every sandbox runs under :func:`mmcourse.grading.sandbox.current_limits` (memory, processes,
file and disk sizes, CPU time); a submission over a limit loses the task it was on, with the
limit named in the reason.
"""

from __future__ import annotations

import ast
import base64
import json
import os
import queue
import secrets
import stat
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import numpy as np

from mmcourse.grading import sandbox
from mmcourse.grading.sandboxed import plain
from mmcourse.grading.tasks import Case, Task

RUNNER = sandbox.RUNNER_DIR / "runner.py"
MAX_ARTEFACT_BYTES = 64 * 2**20
MAX_LINE_BYTES = 80 * 2**20
# Work in the grader's process that is not thread-safe runs one thread at a time: TensorFlow, and
# ast.parse (CPython 3.11's AST constructor keeps one recursion counter per interpreter, so two
# threads parsing at once can fail with "SystemError: AST constructor recursion depth mismatch",
# python/cpython#106905; TensorFlow's autograph parses source too, hence one lock for both).
_TF_LOCK = threading.Lock()


def _parse(source: str) -> ast.Module:
    with _TF_LOCK:
        return ast.parse(source)


@dataclass
class Prepared:
    """What the grader computed once per run: tasks, their cases (with expected values)."""

    tasks: list[Task]
    cases: dict[str, list[Case]]
    release: nbformat.NotebookNode
    points: dict[str, float]
    manual: list[str]
    grade_ids: list[str]
    accepted: dict[str, str] = field(default_factory=dict)  # locked cells as in the source notebook


def prepare(tasks: list[Task], release: nbformat.NotebookNode, seed: int | None,
            source: nbformat.NotebookNode | None = None) -> Prepared:
    seed = secrets.randbits(63) if seed is None else int(seed)
    cases = {}
    for index, task in enumerate(tasks):
        if task.make_cases is not None:
            cases[task.test_id] = task.make_cases(np.random.default_rng([seed, index]))
    points, manual, order = {}, [], []
    for cell in release.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            order.append(meta["grade_id"])
            points[meta["grade_id"]] = float(meta.get("points", 0))
            if meta.get("solution") or cell.cell_type == "markdown":
                manual.append(meta["grade_id"])
    missing = [grade_id for grade_id in order if grade_id not in manual
               and grade_id not in {task.test_id for task in tasks}]
    if missing:
        raise ValueError(f"no grader checks for graded cells {missing} (mmcourse/grading/tasks.py)")
    accepted = {_grade_id(cell): cell.source for cell in (source.cells if source else []) if _grade_id(cell)}
    return Prepared(tasks, cases, release, points, manual, order, accepted)


# --- 1. rebuild -----------------------------------------------------------------------------
def _grade_id(cell) -> str | None:
    meta = cell.get("metadata", {}).get("nbgrader")
    grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
    return grade_id if isinstance(grade_id, str) else None


def rebuild(submission, release, accepted: dict[str, str] | None = None
            ) -> tuple[nbformat.NotebookNode, list[tuple[str, str]], list[str]]:
    """(graded notebook, learner code cells as ``(label, source)``, reasons).

    accepted: locked cells' sources that are not an edit either (the solution notebook's own test
    cells, hidden part included, so a solution submitted as it is counts as unedited).
    """
    accepted = accepted or {}
    reasons: list[str] = []
    release_ids = {_grade_id(cell): cell for cell in release.cells if _grade_id(cell)}
    found: dict[str, list] = {}
    extras: dict[str | None, list] = {}
    anchor = None
    for cell in submission.cells:
        grade_id = _grade_id(cell)
        if grade_id is None:
            if cell.get("cell_type") == "code" and isinstance(cell.get("source"), str):
                extras.setdefault(anchor, []).append(cell.source)
            continue
        if grade_id not in release_ids:
            reasons.append(f"cell with unknown grade_id {grade_id[:40]!r}: its metadata was ignored"
                           + (", its code kept" if cell.get("cell_type") == "code" else ""))
            if cell.get("cell_type") == "code" and isinstance(cell.get("source"), str):
                extras.setdefault(anchor, []).append(cell.source)
            continue
        found.setdefault(grade_id, []).append(cell)
        anchor = grade_id
    cells, sources = [], []

    def add_extras(key):
        for number, source in enumerate(extras.get(key, []), start=1):
            label = f"your extra cell {number} after {key or 'the start'}"
            cells.append(nbformat.v4.new_code_cell(source))
            sources.append((label, source))

    add_extras(None)
    for cell in release.cells:
        grade_id = _grade_id(cell)
        if grade_id is None:  # unmarked cells (setup, check calls) are the learner's: kept as extras
            continue
        copies = found.get(grade_id, [])
        meta = cell.metadata["nbgrader"]
        if len(copies) > 1:
            reasons.append(f"{len(copies)} cells with grade_id {grade_id}: graded the last one")
        learner = copies[-1] if copies else None
        if meta.get("solution") and cell.cell_type == "code":
            if learner is None:  # no stub put back: a renamed copy elsewhere may hold the answer
                reasons.append(f"answer cell {grade_id} is missing")
                source = ""
            elif learner.get("cell_type") != "code" or not isinstance(learner.get("source"), str):
                reasons.append(f"answer cell {grade_id} is no longer a code cell: graded as unanswered")
                source = ""
            else:
                source = learner.source
            new = nbformat.v4.new_code_cell(source, metadata={"nbgrader": dict(meta)})
            cells.append(new)
            sources.append((grade_id, source))
        elif meta.get("solution"):  # a manually graded markdown answer: keep the learner's text
            text = learner.source if learner is not None and isinstance(learner.get("source"), str) else cell.source
            cells.append(nbformat.v4.new_markdown_cell(text, metadata={"nbgrader": dict(meta)}))
        else:
            if learner is None and meta.get("grade"):
                reasons.append(f"cell {grade_id} was deleted: the original was restored")
            elif (learner is not None and meta.get("grade")
                  and learner.get("source") not in (cell.source, accepted.get(grade_id))):
                reasons.append(f"locked cell {grade_id} was edited: graded with the original, not the edit")
            cells.append(cell)
        add_extras(grade_id)
    notebook = nbformat.v4.new_notebook(cells=cells, metadata=release.metadata)
    return notebook, sources, reasons


# --- sandbox plumbing -----------------------------------------------------------------------
def _wrap(argv: list[str], workdir: Path | None, sandboxed: bool) -> tuple[list[str], dict]:
    if sandboxed:
        return sandbox.command(argv, workdir=workdir), {}
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1")
    return argv, {"env": env, "cwd": str(workdir) if workdir else None}


def _runner(sandboxed: bool) -> str:
    return f"{sandbox.SANDBOX_RUNNER_DIR}/runner.py" if sandboxed else str(RUNNER)


def _kill(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, 9)
    except (ProcessLookupError, PermissionError):
        pass
    process.kill()
    process.wait()


def _read_regular(path: Path, limit: int) -> bytes | None:
    """The bytes of ``path`` if it is a regular file (not a symlink) of at most ``limit`` bytes."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        with os.fdopen(descriptor, "rb") as handle:
            descriptor = None
            return handle.read(limit + 1)[:limit]
    finally:
        if descriptor is not None:
            os.close(descriptor)


# --- 2. execute -------------------------------------------------------------------------------
def execute(notebook, workdir: Path, timeout: float, sandboxed: bool) -> tuple[dict | None, list[str]]:
    """Run the rebuilt notebook with its kernel in sandbox A; (executed notebook or None, reasons)."""
    from mmcourse.grading import kernel

    ipc_dir = Path(tempfile.mkdtemp(prefix="ipc-", dir=workdir.parent))
    os.chmod(ipc_dir, 0o777)
    try:
        executed = kernel.execute(notebook, workdir, ipc_dir, timeout, sandboxed)
    except Exception as error:  # noqa: BLE001 - a kernel that cannot start or breaks the protocol
        return None, [f"the notebook could not be run to the end ({type(error).__name__}); "
                      "feedback from the notebook is missing"]
    return {"cells": [dict(cell) for cell in executed.cells]}, []


def _text(value, limit: int = 300) -> str:
    if isinstance(value, list):
        value = "".join(item for item in value if isinstance(item, str))
    return value[:limit] if isinstance(value, str) else ""


def notebook_notes(executed: dict, release_ids: dict[str, dict], timeout: float
                   ) -> tuple[list[str], dict[str, str], dict[str, list[str]]]:
    """(reasons, visible-test error per test id, stderr warnings per grade id) from sandbox A."""
    reasons, visible, stderr = [], {}, {}
    for number, cell in enumerate(executed["cells"][:2000], start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        grade_id = _grade_id(cell)
        meta = release_ids.get(grade_id, {})
        where = f"cell {number}" + (f" ({grade_id})" if grade_id else "")
        outputs = cell.get("outputs") if isinstance(cell.get("outputs"), list) else []
        for output in outputs[:100]:
            if not isinstance(output, dict):
                continue
            if output.get("output_type") == "stream" and output.get("name") == "stderr" and grade_id:
                stderr.setdefault(grade_id, []).append(_text(output.get("text"), 200).strip())
            if output.get("output_type") != "error":
                continue
            ename, evalue = _text(output.get("ename"), 60), _text(output.get("evalue"), 200)
            if ename == "CellTimeoutError":
                reasons.append(f"{where} timed out after {timeout:g} s; the kernel was restarted")
            elif ename == "KernelDied":
                why = f" ({evalue})" if evalue.startswith("the sandbox was stopped") else ""
                reasons.append(f"the kernel died in {where}{why}; it was restarted, later cells ran")
            elif meta.get("grade") and not meta.get("solution"):
                visible[grade_id] = f"{ename}: {evalue}".strip(": ")
            elif ename != "NotImplementedError":
                reasons.append(f"error in {where}: {ename}: {evalue.strip().splitlines()[-1][:120] if evalue.strip() else ''}")
            break
    return reasons, visible, stderr


# --- 3. call ------------------------------------------------------------------------------------
@dataclass
class Called:
    loaded_errors: list[dict] = field(default_factory=list)
    results: dict[str, list] = field(default_factory=dict)  # test id -> decoded results
    warnings: dict[str, list[str]] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)  # test id -> why it has no results
    references: dict[str, str] = field(default_factory=dict)  # test id -> reference seen running


def _reader(stream, lines: queue.Queue) -> None:
    while True:
        line = stream.readline(MAX_LINE_BYTES)
        lines.put(line)
        if not line:
            return


def _decode_result(item, returns: str, scratch: Path):
    if not isinstance(item, dict):
        raise plain.PlainDataError("malformed result")
    if "error" in item:
        error = item["error"] if isinstance(item["error"], dict) else {}
        errno = error.get("errno")
        return CallError(_text(error.get("type"), 60), _text(error.get("message"), 300),
                         _text(error.get("where"), 220), errno if type(errno) is int else None)
    value = item.get("value")
    if returns == "keras_model" and isinstance(value, dict) and set(value) == {"keras"}:
        raw = base64.b64decode(str(value["keras"]), validate=True)
        path = scratch / f"returned-{secrets.token_hex(6)}.keras"
        path.write_bytes(raw[:MAX_ARTEFACT_BYTES])
        return path
    return plain.decode(value)


@dataclass
class CallError:
    type: str
    message: str
    where: str
    errno: int | None = None

    def describe(self) -> str:
        # The exception's message is left out on purpose: a learner could put the hidden input
        # into it (``raise ValueError(str(f1))``) and read it back in the feedback.
        text = f"raised {self.type}" + (f" ({self.where})" if self.where else "")
        limits = sandbox.current_limits()
        hint = {"MemoryError": f"more than the sandbox's {limits.memory_mb} MB of memory per process"}.get(self.type)
        hint = {27: f"a file larger than the sandbox's {limits.file_mb} MB",
                28: f"the sandbox's disk space is full ({limits.tmp_mb} MB in /tmp)",
                11: f"more than the sandbox's {limits.tasks} processes and threads"}.get(self.errno, hint)
        return text + (f" — {hint}, the sandbox's limit" if hint else "")


def call(sources, tasks: list[Task], cases: dict[str, list[Case]], sandboxed: bool,
         scratch: Path, timeout: float = 30.0, allow_reference: bool = False) -> Called:
    """Call the graded functions in fresh sandboxes (B); a hung task is killed, the rest go on.

    A sandbox the watchdog stops (over its process limit) costs the task it was calling; the
    remaining tasks are called in a new sandbox. Unless ``allow_reference``, each task's
    forbidden reference functions are watched for at run time (``Called.references``).
    """
    called = Called()
    limits = sandbox.current_limits()
    remaining = [task for task in tasks if task.function is not None]
    first = True
    while remaining:
        request = {
            "sources": [list(pair) for pair in sources], "scratch": "/tmp" if sandboxed else str(scratch),
            "tasks": [{"id": task.test_id, "function": task.function, "returns": task.returns,
                       "timeout": task.call_timeout or timeout,
                       "forbidden": [] if allow_reference else list(task.forbidden),
                       "cases": [{"args": plain.encode(case.args), "kwargs": plain.encode(case.kwargs)}
                                 for case in cases[task.test_id]]} for task in remaining],
        }
        argv, extra = _wrap([sys.executable, _runner(sandboxed), "call"], None, sandboxed)
        process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, start_new_session=True, **extra)
        watch = sandbox.WATCHDOG.watch(process.pid, limits) if sandboxed else None
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=_reader, args=(process.stdout, lines), daemon=True).start()
        try:
            process.stdin.write((json.dumps(request) + "\n").encode())
            process.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        current, deadline = None, time.monotonic() + 180
        done = set()
        by_id = {task.test_id: task for task in remaining}
        while True:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None or not line:
                break
            try:
                event = json.loads(line)
            except (ValueError, RecursionError):
                continue
            if not isinstance(event, dict):
                continue
            kind = event.get("event")
            if kind == "loaded" and first and isinstance(event.get("errors"), list):
                called.loaded_errors = [error for error in event["errors"][:20] if isinstance(error, dict)]
            elif kind == "start" and event.get("task") in by_id:
                current = by_id[event["task"]]
                deadline = time.monotonic() + (current.call_timeout or timeout) + 5
            elif kind == "case" and current is not None:
                deadline = time.monotonic() + (current.call_timeout or timeout) + 5
            elif kind == "result" and event.get("task") in by_id and event["task"] not in done:
                task = by_id[event["task"]]
                try:
                    results = [_decode_result(item, task.returns, scratch) for item in event.get("results", [])]
                except (plain.PlainDataError, ValueError, TypeError) as error:
                    called.problems[task.test_id] = f"its results could not be read back ({error})"[:200]
                    results = None
                if results is not None:
                    called.results[task.test_id] = results
                warnings = event.get("warnings")
                if isinstance(warnings, list):  # the category only: a message could carry an input
                    categories = [_text(item, 200).split(":")[0] for item in warnings[:5]]
                    called.warnings[task.test_id] = [f"{name} while your function ran"
                                                     for name in dict.fromkeys(categories) if name]
                if event.get("reference") and not allow_reference:
                    called.references[task.test_id] = _text(event["reference"], 120)
                done.add(task.test_id)
                current = None
                deadline = time.monotonic() + 60
            elif kind == "done":
                break
        _kill(process)
        if watch is not None:
            sandbox.WATCHDOG.unwatch(watch)
        first = False
        unfinished = [task for task in remaining if task.test_id not in done]
        stopped = watch.tripped if watch is not None else None
        if current is not None and current.test_id not in done and stopped:
            called.problems[current.test_id] = f"{current.function} was stopped: {stopped}"
            unfinished = [task for task in unfinished if task is not current]
        elif current is not None and current.test_id not in done:
            called.problems[current.test_id] = f"{current.function} did not return in time and was stopped"
            unfinished = [task for task in unfinished if task is not current]
        elif unfinished:
            for task in unfinished:
                called.problems.setdefault(task.test_id, "the process calling your functions died")
            unfinished = []
        remaining = unfinished
    return called


# --- 4. policy --------------------------------------------------------------------------------
def _dotted(node) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


def uses_reference(sources, forbidden: tuple[str, ...], answer: str | None = None) -> str | None:
    """The forbidden dotted name that the answer cell ``answer`` imports or uses, if any.

    Import aliases are collected from all the learner's cells (``from mmcourse.fusion import
    reference`` in the setup cell, ``reference.product(...)`` in the answer); a module name in a
    string (``importlib.import_module("mmcourse.fusion.reference")``) counts as a use.
    """
    if not forbidden:
        return None
    aliases: dict[str, str] = {}
    trees = []
    for _, source in sources:
        try:
            trees.append(_parse(source))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
    answer_trees = []
    for label, source in sources:
        if answer is None or label == answer:
            try:
                answer_trees.append(_parse(source))
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                continue
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    aliases[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else alias.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    if alias.name == "*" and any(name.startswith(node.module + ".") for name in forbidden):
                        return f"from {node.module} import *"
                    aliases[alias.asname or alias.name] = full
    for tree in answer_trees:
        for node in ast.walk(tree):
            if isinstance(node, (ast.Name, ast.Attribute)):
                dotted = _dotted(node)
                if dotted is None:
                    continue
                head, _, rest = dotted.partition(".")
                resolved = aliases.get(head, head) + (f".{rest}" if rest else "")
                if resolved in forbidden:
                    return resolved
            elif isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    if f"{node.module}.{alias.name}" in forbidden:
                        return f"{node.module}.{alias.name}"
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "." in node.value:
                if any(name == node.value or name.startswith(node.value + ".") for name in forbidden):
                    return f"the module name {node.value!r} as a string"
    return None


# --- the whole submission ------------------------------------------------------------------------
def grade_one(student: str, submission, prepared: Prepared, timeout: float, sandboxed: bool,
              allow_reference: bool, work_root: Path):
    from mmcourse.grading.grade import StudentResult

    started = time.perf_counter()
    result = StudentResult(student, max_scores=dict(prepared.points), manual=list(prepared.manual))
    result.scores = {task: (None if task in prepared.manual else 0.0) for task in prepared.grade_ids}
    notebook, sources, reasons = rebuild(submission, prepared.release, prepared.accepted)
    result.reasons.extend(reasons)
    workdir = Path(tempfile.mkdtemp(prefix="submission-", dir=work_root))
    os.chmod(workdir, 0o777)  # the sandbox's uid 65534 writes here (nothing else is in it)
    scratch = Path(tempfile.mkdtemp(prefix="scratch-", dir=work_root))
    os.chmod(scratch, 0o777)
    executed, notes = execute(notebook, workdir, timeout, sandboxed)
    result.reasons.extend(notes)
    release_ids = {_grade_id(cell): cell.metadata["nbgrader"] for cell in prepared.release.cells if _grade_id(cell)}
    visible, stderr = {}, {}
    if executed is not None:
        more, visible, stderr = notebook_notes(executed, release_ids, timeout)
        result.reasons.extend(more)
    called = call(sources, prepared.tasks, prepared.cases, sandboxed, scratch, timeout, allow_reference)
    for error in called.loaded_errors:
        if error.get("type") != "NotImplementedError":
            result.reasons.append(f"{_text(error.get('type'), 40)} in cell {_text(error.get('cell'), 60)}: "
                                  f"{_text(error.get('message'), 120)}")
    result.feedback = {}
    for task in prepared.tasks:
        lines = [f"Checked: {task.checked}."]
        failure = None
        if task.artefact:
            raw = _read_regular(workdir / task.artefact, MAX_ARTEFACT_BYTES)
            if raw is None:
                failure = f"{task.artefact} was not saved by the notebook (or is not a regular file)"
            else:
                path = scratch / f"artefact-{task.artefact}"
                path.write_bytes(raw)
                with _TF_LOCK:
                    failure = task.evaluate(path)
        elif task.test_id in called.problems:
            failure = called.problems[task.test_id]
        else:
            results = called.results.get(task.test_id, [])
            task_cases = prepared.cases[task.test_id]
            if len(results) != len(task_cases):
                failure = "not every input got a result"
            for number, (case, received) in enumerate(zip(task_cases, results, strict=False), start=1):
                if isinstance(received, CallError):
                    failure = f"on input {number} of {len(task_cases)}, your function {received.describe()}"
                else:
                    try:
                        if task.returns == "keras_model":
                            with _TF_LOCK:
                                problem = case.compare(received, case.expected)
                        else:
                            problem = case.compare(received, case.expected)
                    except Exception as error:  # noqa: BLE001 - a comparison must never crash grading
                        problem = f"the result could not be compared ({type(error).__name__})"
                    if problem:
                        failure = f"on input {number} of {len(task_cases)}: {problem}"
                if failure:
                    break
        if failure is None and not allow_reference:
            used = uses_reference(sources, task.forbidden, task.answer_id)
            if used:
                failure = (f"the answer uses the course's own reference for this task ({used}); "
                           "write it yourself (policy: 0 points)")
            elif task.test_id in called.references:
                failure = (f"the answer calls the course's own reference for this task "
                           f"({called.references[task.test_id]}, seen while your function ran); "
                           "write it yourself (policy: 0 points)")
        if failure is None:
            result.scores[task.test_id] = prepared.points.get(task.test_id, 0.0)
        else:
            lines.append(f"Failed: {failure}.")
            result.reasons.append(f"{task.test_id}: {failure}"[:300])
            if task.test_id in visible:
                lines.append(f"The visible test in your notebook said: {visible[task.test_id]}")
        warnings = called.warnings.get(task.test_id, []) + stderr.get(task.answer_id, []) + stderr.get(task.test_id, [])
        if warnings:
            lines.append("Warnings (not counted against you): " + "; ".join(dict.fromkeys(warnings))[:400])
        result.feedback[task.test_id] = "\n".join(lines)
        if failure is not None:
            result.failures[task.test_id] = "\n".join(lines)
    result.seconds = time.perf_counter() - started
    return result


def grade_all(submissions: dict[str, object], prepared: Prepared, *, timeout: float, sandboxed: bool,
              allow_reference: bool, workers: int, work_root: Path) -> dict:
    """Grade ``{student: parsed notebook}`` with ``workers`` submissions in flight.

    A failure of the grader itself on one submission (a bug, not the learner's doing) does not lose
    the other grades: that student's result has no scores and says ``grader_error``.
    """
    with ThreadPoolExecutor(max(1, workers)) as pool:
        futures = {student: pool.submit(grade_one, student, notebook, prepared, timeout, sandboxed,
                                        allow_reference, work_root)
                   for student, notebook in submissions.items()}
        results = {}
        for student, future in futures.items():
            try:
                results[student] = future.result()
            except Exception as error:  # noqa: BLE001 - one broken grading must not lose the rest
                results[student] = _grader_failed(student, prepared, error)
        return results


def _grader_failed(student: str, prepared: Prepared, error: BaseException):
    from mmcourse.grading.grade import StudentResult

    message = f"{type(error).__name__}: {_text(str(error), 200)}"
    result = StudentResult(student, max_scores=dict(prepared.points), manual=list(prepared.manual),
                           grader_error=message)
    result.scores = {task: None for task in prepared.grade_ids}  # not graded, which is not 0
    result.reasons.append(f"GRADER ERROR, not graded (regrade this submission): {message}")
    return result
