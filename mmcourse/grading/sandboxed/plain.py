"""Plain data across the sandbox boundary: JSON with exact built-in and NumPy types only.

``encode`` turns a value into JSON-ready data and ``decode`` turns it back. Only exact types
cross (``type(x) is int``, never a subclass): ``None``, ``bool``, ``int``, ``float``, ``str``,
``list``, ``tuple``, ``dict`` with ``str`` keys, NumPy scalars and arrays of a numeric, boolean
or unicode dtype. Anything else — an ``ndarray`` or ``list`` subclass, an object overriding
``__eq__`` or ``__array_function__``, an object array — becomes ``{"rejected": type name}``, so
no object made by a learner ever reaches the grader's process. ``decode`` is strict: it checks
every tag, dtype and size, and raises :class:`PlainDataError` on anything malformed.

This module is standalone (standard library + NumPy) because the sandbox runner imports it too.
"""

from __future__ import annotations

import base64
import math

import numpy as np

MAX_DEPTH = 20
MAX_ITEMS = 100_000
MAX_ARRAY_BYTES = 64 * 2**20
_DTYPE_KINDS = "biufcU"


class PlainDataError(ValueError):
    """A value that is not plain data, or a malformed encoding."""


class SeededGenerator:
    """An argument that arrives in the learner's function as ``np.random.default_rng(seed)``."""

    def __init__(self, seed: int):
        self.seed = int(seed)


def _exact_array_type(value) -> bool:
    return type(value) is np.ndarray


def encode(value, depth: int = 0):
    """``value`` as JSON-ready plain data; not-plain objects become ``{"rejected": name}``."""
    if depth > MAX_DEPTH:
        return {"rejected": "a structure nested too deeply"}
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return {"v": value} if kind is not int or abs(value) < 2**63 else {"int": str(value)}
    if kind is float:
        return {"float": repr(value)} if not math.isfinite(value) else {"v": value}
    if kind in (list, tuple):
        if len(value) > MAX_ITEMS:
            return {"rejected": f"a {kind.__name__} of more than {MAX_ITEMS} items"}
        return {kind.__name__: [encode(item, depth + 1) for item in value]}
    if kind is dict:
        if not all(type(key) is str for key in value):
            return {"rejected": "a dict whose keys are not all str"}
        return {"dict": {key: encode(item, depth + 1) for key, item in value.items()}}
    if isinstance(value, np.generic) and kind in _NUMPY_SCALARS:
        return {"scalar": _encode_array(np.asarray(value))}
    if _exact_array_type(value):
        if value.dtype.kind not in _DTYPE_KINDS:
            return {"rejected": f"a numpy array of dtype {value.dtype}"}
        if value.nbytes > MAX_ARRAY_BYTES:
            return {"rejected": f"an array of {value.nbytes} bytes"}
        return {"array": _encode_array(value)}
    if kind is SeededGenerator:
        return {"rng": value.seed}
    module = getattr(kind, "__module__", "?")
    name = getattr(kind, "__qualname__", "?")
    return {"rejected": f"{module}.{name}" if isinstance(module, str) and isinstance(name, str) else "?"}


def _encode_array(array: np.ndarray) -> dict:
    array = np.ascontiguousarray(array)
    return {"dtype": array.dtype.str, "shape": list(array.shape),
            "data": base64.b64encode(array.tobytes()).decode("ascii")}


_NUMPY_SCALARS = {
    np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
    np.float16, np.float32, np.float64, np.complex64, np.complex128, np.str_,
}


class Rejected:
    """Stands for a value that was not plain data; ``what`` names its type."""

    def __init__(self, what: str):
        self.what = what

    def __repr__(self) -> str:
        return f"Rejected({self.what!r})"


def decode(data, depth: int = 0, *, generators: bool = False):
    """Plain data back from :func:`encode`'s output; raises :class:`PlainDataError` if malformed.

    generators: turn ``{"rng": seed}`` into ``np.random.default_rng(seed)`` (arguments only).
    """
    if depth > MAX_DEPTH + 1:
        raise PlainDataError("nested too deeply")
    if type(data) is not dict or len(data) != 1:
        raise PlainDataError("expected a one-key tag object")
    ((tag, body),) = data.items()
    if tag == "v":
        if body is None or type(body) in (bool, int, str, float):
            return body
        raise PlainDataError("bad scalar")
    if tag == "int" and type(body) is str and len(body) < 400:
        return int(body)
    if tag == "float" and body in ("nan", "inf", "-inf"):
        return float(body)
    if tag in ("list", "tuple") and type(body) is list and len(body) <= MAX_ITEMS:
        items = [decode(item, depth + 1, generators=generators) for item in body]
        return items if tag == "list" else tuple(items)
    if tag == "dict" and type(body) is dict:
        return {str(key): decode(item, depth + 1, generators=generators) for key, item in body.items()}
    if tag in ("array", "scalar") and type(body) is dict:
        array = _decode_array(body)
        return array[()] if tag == "scalar" else array
    if tag == "rng" and generators and type(body) is int:
        return np.random.default_rng(body)
    if tag == "rejected" and type(body) is str:
        return Rejected(body[:200])
    raise PlainDataError(f"unknown or malformed tag {str(tag)[:40]!r}")


def _decode_array(body: dict) -> np.ndarray:
    try:
        dtype = np.dtype(str(body["dtype"]))
        shape = tuple(int(size) for size in body["shape"])
        raw = base64.b64decode(str(body["data"]), validate=True)
    except (KeyError, TypeError, ValueError) as error:
        raise PlainDataError(f"malformed array: {error}") from None
    if dtype.kind not in _DTYPE_KINDS or dtype.hasobject or any(size < 0 for size in shape):
        raise PlainDataError(f"array dtype {dtype} is not allowed")
    if len(raw) > MAX_ARRAY_BYTES or len(raw) != dtype.itemsize * math.prod(shape):
        raise PlainDataError("array data does not match its shape")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
