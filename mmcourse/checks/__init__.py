"""Instant feedback for exercises: ``check("05.weighted_average", fn)`` and ``hint("05.weighted_average")``.

A learner calls :func:`check` right after writing a function. It runs the function on **fresh
random inputs** (drawn from the operating system's entropy on every call, several shapes and edge
cases), compares each result with a reference implementation from ``mmcourse``, and prints either

    ✓ 05.weighted_average: visible checks passed (6 cases)

or, for the first case that fails, what the inputs were, what was expected, what came back, and
one hint. :func:`hint` prints the next, more detailed hint each time it is called. A function that
raises (for example the stub's ``NotImplementedError``) gets a one-paragraph message, not a
traceback. ``check`` returns ``True``/``False`` so ``assert check(...)`` works.

The wording is deliberately "visible checks passed", never "all tests passed": a graded exercise
also has hidden tests the learner never sees.

How a lesson adds its checks (the whole pattern)
------------------------------------------------
A check id is ``"NN.task"``. The ``NN`` part names the module ``mmcourse/checks/lessonNN.py``,
imported the first time one of its checks is used. That module registers one *case generator* per
task with the :func:`register` decorator::

    # mmcourse/checks/lesson07.py
    import numpy as np
    from mmcourse.checks import Case, register
    from mmcourse.fusion import reference

    @register("07.normalise", hints=[
        "Divide each row by its sum.",
        "Use `x / x.sum(axis=-1, keepdims=True)` so the shapes broadcast.",
    ])
    def _normalise_cases(rng: np.random.Generator) -> list[Case]:
        cases = []
        for shape in [(3,), (4, 5), (1, 1)]:  # several shapes, including an edge case
            x = rng.uniform(0.1, 1.0, size=shape)
            cases.append(Case(f"x of shape {shape}", args=(x,), expected=x / x.sum(-1, keepdims=True)))
        return cases

* The generator receives a fresh ``numpy.random.Generator`` (never seeded by the lesson) and
  returns a list of :class:`Case`: positional ``args`` (and ``kwargs``) for the learner's function
  and the ``expected`` result, computed with a reference implementation — not typed in by hand.
* ``Case(raises=ValueError)`` instead of ``expected`` asks that the call raises that exception.
* ``Case(compare=callable)`` replaces the default comparison (same shape, ``numpy.allclose``
  with ``rtol=1e-5, atol=1e-6``); the callable gets ``(received, expected)`` and returns ``None``
  when they agree or a short sentence saying what differs.
* Hints go from a gentle nudge to almost the answer; ``check`` shows the first, ``hint`` the rest.
* Inputs are copied before the learner's function sees them, so an in-place edit cannot change
  the expected value.
"""

from __future__ import annotations

import copy
import importlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Case", "register", "check", "hint", "registered_checks"]

_ID_PATTERN = re.compile(r"^(?P<lesson>\d{2})\.(?P<task>[A-Za-z_][A-Za-z0-9_]*)$")
_NOTHING = object()


@dataclass
class Case:
    """One visible check case: call ``fn(*args, **kwargs)`` and compare with ``expected``.

    label: what the inputs look like, shown when the case fails (``"f1, f2 of shape (4, 3)"``).
    raises: an exception type the call must raise, instead of an expected value.
    compare: optional ``(received, expected) -> str | None``; ``None`` means "they agree".
    """

    label: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    expected: Any = _NOTHING
    raises: type[BaseException] | None = None
    compare: Callable[[Any, Any], str | None] | None = None
    rtol: float = 1e-5
    atol: float = 1e-6


@dataclass
class _Registered:
    make_cases: Callable[[np.random.Generator], list[Case]]
    hints: tuple[str, ...]


_REGISTRY: dict[str, _Registered] = {}
_HINTS_SHOWN: dict[str, int] = {}


def register(check_id: str, *, hints: Sequence[str] = ()):
    """Decorator: register ``make_cases(rng) -> list[Case]`` as the check ``check_id``."""
    _parse_id(check_id)

    def decorator(make_cases):
        _REGISTRY[check_id] = _Registered(make_cases, tuple(hints))
        return make_cases

    return decorator


def registered_checks(lesson: str | int) -> list[str]:
    """The check ids of one lesson (``"05"`` or ``5``), importing its module if needed."""
    lesson_code = f"{int(lesson):02d}"
    _load_lesson(lesson_code)
    return sorted(key for key in _REGISTRY if key.startswith(f"{lesson_code}."))


def _parse_id(check_id) -> tuple[str, str]:
    if not isinstance(check_id, str):
        raise TypeError(f"a check id is a string like '05.weighted_average'; received {check_id!r}")
    match = _ID_PATTERN.match(check_id)
    if match is None:
        raise ValueError(
            f"a check id looks like 'NN.task' (two-digit lesson, dot, task name, e.g. "
            f"'05.weighted_average'); received {check_id!r}"
        )
    return match["lesson"], match["task"]


def _load_lesson(lesson_code: str) -> None:
    module_name = f"{__name__}.lesson{lesson_code}"
    try:
        importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name != module_name:
            raise
        raise ValueError(f"lesson {lesson_code} has no checks (no module {module_name})") from None


def _lookup(check_id) -> _Registered:
    lesson_code, _ = _parse_id(check_id)
    if check_id not in _REGISTRY:
        _load_lesson(lesson_code)
    if check_id not in _REGISTRY:
        known = ", ".join(sorted(k for k in _REGISTRY if k.startswith(f"{lesson_code}."))) or "none"
        raise ValueError(f"unknown check {check_id!r}; lesson {lesson_code} has: {known}")
    return _REGISTRY[check_id]


def _short(value) -> str:
    """A compact, readable rendering of an array or value (shape and a few numbers)."""
    if isinstance(value, np.ndarray) or (
        isinstance(value, list | tuple) and value and all(isinstance(v, int | float) for v in value)
    ):
        array = np.asarray(value)
        text = np.array2string(
            array, precision=4, suppress_small=True, threshold=12, edgeitems=2, max_line_width=88
        )
        return f"array of shape {array.shape}, dtype {array.dtype}:\n      {text.replace(chr(10), chr(10) + '      ')}"
    if isinstance(value, list | tuple):
        return f"{type(value).__name__} of {len(value)} items: " + ", ".join(
            _short(item).split(":")[0] for item in value[:4]
        )
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + "…"


def _default_compare(received, expected, rtol: float, atol: float) -> str | None:
    if received is None and expected is not None:
        return "your function returned None — did you forget a `return` statement?"
    expected_array = np.asarray(expected)
    try:
        received_array = np.asarray(received, dtype=np.float64 if expected_array.dtype.kind in "fc" else None)
    except (TypeError, ValueError):
        return f"expected an array, but the result ({type(received).__name__}) is not numeric"
    if received_array.shape != expected_array.shape:
        return f"wrong shape: expected {expected_array.shape}, received {received_array.shape}"
    if expected_array.dtype == bool or received_array.dtype == bool:
        return None if np.array_equal(received_array, expected_array) else "wrong values"
    if not np.all(np.isfinite(received_array)) and np.all(np.isfinite(expected_array)):
        return "the result contains nan or inf (overflow? division by zero?)"
    if not np.allclose(received_array, expected_array, rtol=rtol, atol=atol):
        worst = np.unravel_index(
            np.argmax(np.abs(received_array - expected_array)), expected_array.shape
        )
        return f"wrong values (largest difference at index {tuple(int(i) for i in worst)})"
    return None


def _run_case(fn, case: Case):
    """Return None when the case passes, else a message describing the failure."""
    args = copy.deepcopy(case.args)
    kwargs = copy.deepcopy(case.kwargs)
    try:
        received = fn(*args, **kwargs)
    except NotImplementedError:
        return (
            "your function raised NotImplementedError — it is still the stub. Replace the line "
            "`raise NotImplementedError()` with your code."
        )
    except Exception as error:  # noqa: BLE001 - any learner error becomes a message
        if case.raises is not None and isinstance(error, case.raises):
            return None
        return f"your function raised {type(error).__name__}: {error}\n  on inputs: {case.label}"
    if case.raises is not None:
        return (
            f"expected your function to raise {case.raises.__name__} on inputs: {case.label}, "
            f"but it returned {_short(received)}"
        )
    if case.compare is not None:
        problem = case.compare(received, case.expected)
    else:
        problem = _default_compare(received, case.expected, case.rtol, case.atol)
    if problem is None:
        return None
    return (
        f"{problem}\n  inputs:   {case.label}\n  expected: {_short(case.expected)}\n"
        f"  received: {_short(received)}"
    )


def check(check_id: str, fn: Callable) -> bool:
    """Run ``fn`` on fresh random cases for ``check_id``; print the verdict; return True/False."""
    registered = _lookup(check_id)
    if not callable(fn):
        raise TypeError(
            f"check({check_id!r}, fn) needs your function itself (no parentheses); "
            f"received {type(fn).__name__}"
        )
    rng = np.random.default_rng()  # fresh OS entropy on every call: hard-coded answers fail
    cases = registered.make_cases(rng)
    for number, case in enumerate(cases, start=1):
        problem = _run_case(fn, case)
        if problem is not None:
            print(f"✗ {check_id}: case {number} of {len(cases)} failed — {problem}")
            if registered.hints:
                print(f"  hint: {registered.hints[0]}")
                _HINTS_SHOWN[check_id] = max(_HINTS_SHOWN.get(check_id, 0), 1)
                if len(registered.hints) > 1:
                    print(f"  (call hint({check_id!r}) for a further hint)")
            return False
    print(f"✓ {check_id}: visible checks passed ({len(cases)} cases)")
    return True


def hint(check_id: str) -> str:
    """Print (and return) the next hint for ``check_id``; each call goes one hint further."""
    registered = _lookup(check_id)
    if not registered.hints:
        message = f"{check_id}: no hints for this task."
    else:
        shown = _HINTS_SHOWN.get(check_id, 0)
        index = min(shown, len(registered.hints) - 1)
        _HINTS_SHOWN[check_id] = index + 1
        last = " (that was the last hint)" if index == len(registered.hints) - 1 else ""
        message = f"hint {index + 1}/{len(registered.hints)} for {check_id}: {registered.hints[index]}{last}"
    print(message)
    return message
