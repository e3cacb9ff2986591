"""Sandbox B's job (run as a script inside bubblewrap; see ``sandbox.py`` and ``secure.py``).

(Sandbox A, the notebook run, needs no runner: the grader drives a sandboxed kernel, ``kernel.py``.)

``python runner.py call`` (a JSON request on stdin)
    A fresh interpreter that loads only the learner's *definitions* (top-level imports, ``def``,
    ``class`` and literal assignments of the learner's cells; calls, loops and training are
    skipped), then calls each graded function on the inputs it is sent and writes one JSON line
    per task to the output it was given: results as :mod:`plain` data, errors with the
    learner's failing line, warnings seen. The expected values never enter this process.

    **Reference policy at run time.** A task may name the course's reference functions for it
    (``"forbidden"``, dotted names). Before the learner's code is loaded those functions are
    looked up, and while the graded function runs a profiler (``sys.setprofile``, also set for
    threads it starts) watches for their code running — however the learner reached it: an
    alias, ``importlib``, ``getattr``, ``__import__``, a name built at run time, a reloaded
    module. A call made from another module of the course package (a course helper that uses the
    reference internally) is not counted; a call from the learner's cells, the standard library
    or code the learner ``exec``-ed is. Switching the profiler off (``sys.setprofile``) during the
    call counts as a use too. Recorded per task as ``"reference"`` in the result line.
"""

from __future__ import annotations

import ast
import base64
import json
import linecache
import os
import signal
import sys
import time
import traceback
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import plain  # noqa: E402

ALLOWED = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
MAX_MODEL_BYTES = 32 * 2**20


# --- call ----------------------------------------------------------------------------------
class _Timeout(BaseException):
    pass


def _on_alarm(signum, frame):
    raise _Timeout()


def _register_source(label: str, source: str) -> None:
    linecache.cache[label] = (len(source), None, source.splitlines(True), label)


def _python_source(source: str) -> str:
    try:  # IPython magics (%matplotlib, !pip) become calls, which are then skipped
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(source)
    except Exception:  # noqa: BLE001
        return source


def _literal(node) -> bool:
    try:
        ast.literal_eval(node)
        return True
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False


def _definitions(tree: ast.Module) -> list[ast.stmt]:
    kept = []
    for node in tree.body:
        if isinstance(node, ALLOWED):
            kept.append(node)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None and _literal(node.value):
            kept.append(node)
    return kept


def _learner_frame(tb, labels: set[str]) -> str:
    frames = [frame for frame in traceback.extract_tb(tb) if frame.filename in labels]
    if not frames:
        return ""
    frame = frames[-1]
    return f"line {frame.lineno} of your cell {frame.filename}: {(frame.line or '').strip()[:160]}"


def _describe(error: BaseException, labels: set[str]) -> dict:
    try:
        message = str(error)[:300]
    except BaseException:  # noqa: BLE001 - a hostile __str__
        message = ""
    name = type(error).__name__
    errno = getattr(error, "errno", None) if isinstance(error, OSError) else None
    return {"type": name if type(name) is str else "?", "message": message,
            "where": _learner_frame(error.__traceback__, labels),
            "errno": errno if type(errno) is int else None}


def load_definitions(sources: list[list[str]], namespace: dict) -> list[dict]:
    """Run the definitions of each ``[label, source]``; return the errors (label, type, line)."""
    errors = []
    labels = {label for label, _ in sources}
    for label, source in sources:
        source = _python_source(source)
        _register_source(label, source)
        try:
            tree = ast.parse(source, filename=label)
        except SyntaxError as error:
            errors.append({"cell": label, "type": "SyntaxError",
                           "message": f"line {error.lineno}: {error.msg}"})
            continue
        for node in _definitions(tree):
            code = compile(ast.Module(body=[node], type_ignores=[]), label, "exec")
            try:
                exec(code, namespace)  # noqa: S102 - learner code, inside the sandbox
            except BaseException as error:  # noqa: BLE001
                errors.append({"cell": label, **_describe(error, labels)})
    return errors


def _reference_targets(tasks: list[dict]) -> dict[tuple[str, str], str]:
    """``(file, qualified name)`` of every forbidden function's code -> its dotted name."""
    import importlib

    targets = {}
    for task in tasks:
        for dotted in task.get("forbidden") or []:
            module_name, _, attribute = str(dotted).rpartition(".")
            try:
                code = getattr(importlib.import_module(module_name), attribute).__code__
            except Exception:  # noqa: BLE001 - not a Python function: the source scan still applies
                continue
            targets[(code.co_filename, code.co_qualname)] = str(dotted)
    return targets


class _Recorder:
    """A profiler that notes the first forbidden function run from outside the course package."""

    def __init__(self, targets: dict[tuple[str, str], str], forbidden: set[str]):
        import mmcourse

        self.targets = {key: name for key, name in targets.items() if name in forbidden}
        self.files = {key[0] for key in self.targets}
        self.package = os.path.dirname(os.path.abspath(mmcourse.__file__)) + os.sep
        self.used: str | None = None
        self.active = False
        self.setprofile = sys.setprofile

    def __call__(self, frame, event, arg):
        if self.used is not None or not self.active:
            return
        if event == "c_call" and arg is self.setprofile:
            self.used = "sys.setprofile (switching off the grader's check of reference calls)"
        elif event == "call":
            code = frame.f_code
            name = self.targets.get((code.co_filename, code.co_qualname))
            if name is None:
                return
            caller = frame.f_back
            while caller is not None and caller.f_code.co_filename in self.files:
                caller = caller.f_back
            if caller is None or not caller.f_code.co_filename.startswith(self.package):
                self.used = name


def _encode_result(value, returns: str, scratch: str):
    if returns == "keras_model":
        keras = sys.modules.get("keras")
        if keras is None or not isinstance(value, keras.Model):
            return {"rejected": f"{type(value).__module__}.{type(value).__qualname__} (not a keras.Model)"}
        path = os.path.join(scratch, f"model-{time.monotonic_ns()}.keras")
        value.save(path)
        with open(path, "rb") as handle:
            raw = handle.read(MAX_MODEL_BYTES + 1)
        os.unlink(path)
        if len(raw) > MAX_MODEL_BYTES:
            return {"rejected": "a model file larger than 32 MB"}
        return {"keras": base64.b64encode(raw).decode("ascii")}
    return plain.encode(value)


def call(request: dict, out) -> int:
    namespace = {"__name__": "__main__"}
    sources = request["sources"]
    labels = {label for label, _ in sources}

    def emit(payload: dict) -> None:
        out.write(json.dumps(payload) + "\n")
        out.flush()

    targets = _reference_targets(request["tasks"])  # before any learner code runs
    emit({"event": "loaded", "errors": load_definitions(sources, namespace)})
    signal.signal(signal.SIGALRM, _on_alarm)
    import threading

    for task in request["tasks"]:
        emit({"event": "start", "task": task["id"]})
        results = []
        recorder = _Recorder(targets, set(task.get("forbidden") or []))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            function = namespace.get(task["function"])
            for case in task["cases"]:
                if not callable(function):
                    results.append({"error": {"type": "NameError", "where": "",
                                              "message": f"no function named {task['function']}"}})
                    continue
                try:
                    args = plain.decode(case["args"], generators=True)
                    kwargs = plain.decode(case["kwargs"], generators=True)
                    signal.setitimer(signal.ITIMER_REAL, float(task["timeout"]))
                    profiled = bool(recorder.targets)
                    if profiled:
                        threading.setprofile(recorder)
                        sys.setprofile(recorder)
                        recorder.active = True
                    try:
                        value = function(*args, **kwargs)
                    finally:
                        if profiled:
                            recorder.active = False
                            if sys.getprofile() is not recorder and recorder.used is None:
                                recorder.used = "sys.setprofile (switching off the grader's check of reference calls)"
                            sys.setprofile(None)
                            threading.setprofile(None)
                        signal.setitimer(signal.ITIMER_REAL, 0)
                    results.append({"value": _encode_result(value, task["returns"], request["scratch"])})
                except _Timeout:
                    results.append({"error": {"type": "TimeoutError", "where": "",
                                              "message": f"the call took longer than {task['timeout']} s"}})
                except BaseException as error:  # noqa: BLE001
                    results.append({"error": _describe(error, labels)})
                emit({"event": "case", "task": task["id"]})
        seen = []
        for warning in caught[:50]:
            try:
                text = f"{warning.category.__name__}: {str(warning.message)[:160]}"
            except BaseException:  # noqa: BLE001
                continue
            if text not in seen:
                seen.append(text)
        emit({"event": "result", "task": task["id"], "results": results, "warnings": seen[:5],
              "reference": recorder.used})
    emit({"event": "done"})
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["call"]:
        out = os.fdopen(os.dup(1), "w", encoding="utf-8")  # the protocol's private copy of stdout
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)  # the learner's prints go nowhere
        sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
        request = json.loads(sys.stdin.readline())
        return call(request, out)
    print(f"usage: runner.py call (a JSON request on stdin); received {argv!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
