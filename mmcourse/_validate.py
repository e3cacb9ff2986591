"""The one place where mmcourse checks its arguments, with one rule and one wording.

Rule: a wrong *type* raises ``TypeError``, a wrong *value* raises ``ValueError``. Wording (the
Keras style)::

    <name> must be <what was expected>. Received: <name>=<what was received>

so every message names the argument, what it should have been and what came in. Every public
function and layer of the package routes its checks through these helpers (the table of bad
inputs is ``tests/test_bad_inputs.py``). Plain NumPy: importing this module imports nothing heavy.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence

import numpy as np

__all__ = [
    "describe",
    "type_error",
    "value_error",
    "integer",
    "positive_int",
    "seed",
    "number",
    "probability",
    "boolean",
    "one_of",
    "array",
    "labels",
    "presence",
    "same_length",
    "sequence",
]


# ----------------------------------------------------------------------------- wording
def describe(value, limit: int = 60) -> str:
    """A short description of ``value`` for a message: arrays by shape and dtype, else a repr."""
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    if shape is not None and dtype is not None and not np.isscalar(value):
        try:
            shape_text = tuple(shape)
        except TypeError:  # a symbolic tensor with unknown rank
            shape_text = shape
        return f"{type(value).__name__} of shape {shape_text} and dtype {getattr(dtype, 'name', dtype)}"
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    if isinstance(value, (str, numbers.Number, type(None), bool)):
        return text
    return f"{text} (a {type(value).__name__})"


def _message(name: str, expected: str, received: str) -> str:
    prefix, _, bare = name.rpartition(": ")  # "Concatenate: units" -> "Concatenate", "units"
    prefix = f"{prefix}: " if prefix else ""
    return f"{prefix}{bare} must be {expected}. Received: {bare}={received}"


def type_error(name: str, expected: str, value) -> TypeError:
    """The ``TypeError`` for ``name``: ``raise type_error("units", "a positive int", units)``."""
    return TypeError(_message(name, expected, describe(value)))


def value_error(name: str, expected: str, value, received: str | None = None) -> ValueError:
    """The ``ValueError`` for ``name``; ``received`` overrides the description of ``value``."""
    return ValueError(_message(name, expected, describe(value) if received is None else received))


# ----------------------------------------------------------------------------- scalars
def _is_integer(value) -> bool:
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(
        value, (bool, np.bool_)
    )


def integer(value, name: str, *, minimum: int | None = None, maximum: int | None = None,
            expected: str | None = None) -> int:
    """An ``int`` (NumPy integers accepted, ``bool`` and floats refused) within the bounds."""
    if expected is None:
        if minimum == 1 and maximum is None:
            expected = "a positive int"
        elif minimum == 0 and maximum is None:
            expected = "a non-negative int"
        elif minimum is not None and maximum is not None:
            expected = f"an int in [{minimum}, {maximum}]"
        elif minimum is not None:
            expected = f"an int >= {minimum}"
        elif maximum is not None:
            expected = f"an int <= {maximum}"
        else:
            expected = "an int"
    if not _is_integer(value):
        raise type_error(name, expected, value)
    value = int(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise value_error(name, expected, value)
    return value


def positive_int(value, name: str) -> int:
    """An int >= 1."""
    return integer(value, name, minimum=1)


def seed(value, name: str = "seed") -> int:
    """A seed: an int >= 0."""
    return integer(value, name, minimum=0)


def number(value, name: str, *, minimum: float | None = None, maximum: float | None = None,
           exclusive_minimum: bool = False, allow_none: bool = False,
           expected: str | None = None) -> float | None:
    """A finite real number (NumPy scalars accepted, ``bool`` refused) within the bounds."""
    if expected is None:
        low = "" if minimum is None else (f"> {minimum:g}" if exclusive_minimum else f">= {minimum:g}")
        if minimum is not None and maximum is not None and not exclusive_minimum:
            expected = f"a finite number in [{minimum:g}, {maximum:g}]"
        elif minimum is not None and maximum is not None:
            expected = f"a finite number in ({minimum:g}, {maximum:g}]"
        elif minimum is not None:
            expected = f"a finite number {low}"
        elif maximum is not None:
            expected = f"a finite number <= {maximum:g}"
        else:
            expected = "a finite number"
        if allow_none:
            expected += " or None"
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (numbers.Real, np.integer, np.floating)
    ):
        raise type_error(name, expected, value)
    value = float(value)
    if not math.isfinite(value):
        raise value_error(name, expected, value)
    if minimum is not None and (value <= minimum if exclusive_minimum else value < minimum):
        raise value_error(name, expected, value)
    if maximum is not None and value > maximum:
        raise value_error(name, expected, value)
    return value


def probability(value, name: str, *, expected: str | None = None) -> float:
    """A finite number in [0, 1] (a rate, a fraction, a probability)."""
    return number(value, name, minimum=0.0, maximum=1.0,
                  expected=expected or "a number in [0, 1]")


def boolean(value, name: str) -> bool:
    """``True`` or ``False`` (NumPy booleans accepted; 0/1 and strings refused)."""
    if not isinstance(value, (bool, np.bool_)):
        raise type_error(name, "True or False", value)
    return bool(value)


def one_of(value, name: str, choices: Sequence) -> object:
    """One of a fixed set of choices (compared with ``==``; unhashable values refused)."""
    expected = "one of " + ", ".join(repr(choice) for choice in choices)
    try:
        hash(value)
    except TypeError:
        raise type_error(name, expected, value) from None
    if not any(value is choice or (type(value) is type(choice) and value == choice)
               for choice in choices):
        if choices and all(isinstance(choice, str) for choice in choices) and not isinstance(
            value, str
        ) and value is not None:
            raise type_error(name, expected, value)
        raise value_error(name, expected, value)
    return value


def sequence(value, name: str, *, expected: str, allow_empty: bool = False) -> list:
    """A list or tuple (not a string, not an array: those are refused with a ``TypeError``)."""
    if isinstance(value, (str, bytes, np.ndarray, Mapping)) or not isinstance(value, Sequence):
        raise type_error(name, expected, value)
    if not allow_empty and len(value) == 0:
        raise value_error(name, expected, value)
    return list(value)


# ----------------------------------------------------------------------------- arrays
_KINDS = {
    "float": ("f", "floating-point"),
    "numeric": ("biuf", "numeric"),
    "int": ("iu", "integer"),
    "bool": ("b", "boolean"),
}


def _shape_text(shape) -> str:
    return "(" + ", ".join("any" if size is None else str(size) for size in shape) + (
        ",)" if len(shape) == 1 else ")"
    )


def array(value, name: str, *, ndim: int | Sequence[int] | None = None, kind: str = "numeric",
          shape: Sequence[int | None] | None = None, finite: bool = False,
          min_length: int | None = None, what: str = "an array") -> np.ndarray:
    """An array of the expected kind (``"float"``, ``"numeric"``, ``"int"``, ``"bool"``), rank and
    shape (``None`` entries match any size), optionally with only finite values.

    Returns ``np.asarray(value)``. Wrong kind or something that is not array-like →
    ``TypeError``; wrong rank, shape, length or non-finite values → ``ValueError``.
    """
    codes, kind_text = _KINDS[kind]
    if isinstance(value, (str, bytes, Mapping)) or value is None:
        raise type_error(name, f"{what} of {kind_text} values", value)
    try:
        result = np.asarray(value)
    except (TypeError, ValueError) as error:  # ragged lists and the like
        raise value_error(name, f"{what} of {kind_text} values (a rectangular array)", value,
                          f"{describe(value)} ({error})") from None
    if result.dtype.kind not in codes:
        raise type_error(name, f"{what} of {kind_text} values", result)
    if shape is not None:
        ndim = len(shape)
    if ndim is not None:
        ranks = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if result.ndim not in ranks:
            expected = (f"{what} of rank {' or '.join(str(rank) for rank in ranks)}"
                        + ("" if shape is None else f", shape {_shape_text(shape)}"))
            raise value_error(name, expected, result)
    if shape is not None and any(
        want is not None and have != want for want, have in zip(shape, result.shape, strict=True)
    ):
        raise value_error(name, f"{what} of shape {_shape_text(shape)}", result)
    if min_length is not None and (result.ndim == 0 or result.shape[0] < min_length):
        raise value_error(name, f"{what} with at least {min_length} row(s)", result)
    if finite and result.dtype.kind == "f" and not np.all(np.isfinite(result)):
        bad = int(result.size - np.count_nonzero(np.isfinite(result)))
        raise value_error(name, f"{what} of finite values", result,
                          f"{describe(result)} with {bad} NaN or infinite value(s)")
    return result


def labels(value, name: str = "labels", *, num_classes: int | None = None) -> np.ndarray:
    """Integer class labels ``(N,)``, each in ``[0, num_classes)``; returned as int64."""
    result = np.asarray(value) if not isinstance(value, (str, bytes)) else value
    if isinstance(result, np.ndarray) and result.dtype.kind == "f" and result.size and np.all(
        np.isfinite(result)
    ) and np.all(result == np.round(result)):
        result = result.astype(np.int64)  # 3.0 is the label 3 (Keras gives float labels back)
    result = array(result, name, ndim=1, kind="int", what="a 1-D array of integer labels")
    if num_classes is not None and result.size and (result.min() < 0 or result.max() >= num_classes):
        raise value_error(name, f"labels in [0, {num_classes})", result,
                          f"labels in [{result.min()}, {result.max()}]")
    return result.astype(np.int64)


def presence(value, name: str = "presence", *, batch: int | None, num_modalities: int,
             soft: bool = False) -> np.ndarray:
    """A presence mask ``(batch, num_modalities)`` of 0/1 (bool or numbers); float64 copy.

    ``soft=True`` also allows values strictly between 0 and 1 (a degree of presence).
    """
    result = array(value, name, shape=(batch, num_modalities), kind="numeric", finite=True,
                   what="a presence mask")
    result = result.astype(np.float64)
    if soft:
        if result.size and (result.min() < 0 or result.max() > 1):
            raise value_error(name, "a presence mask with values in [0, 1]", result,
                              f"values in [{result.min():g}, {result.max():g}]")
    elif not np.all((result == 0) | (result == 1)):
        odd = np.unique(result[(result != 0) & (result != 1)])[:5].tolist()
        raise value_error(name, "a presence mask of 0 (missing) and 1 (present) values", result,
                          f"{describe(value)} containing {odd}")
    return result


def same_length(arrays: Mapping[str, object], what: str = "the same number of samples") -> int:
    """Check that every named array has the same first dimension; return it."""
    lengths = {name: len(item) for name, item in arrays.items()}
    if len(set(lengths.values())) > 1:
        names = ", ".join(lengths)
        received = ", ".join(f"len({name})={length}" for name, length in lengths.items())
        raise ValueError(f"{names} must have {what}. Received: {received}")
    return next(iter(lengths.values()), 0)
