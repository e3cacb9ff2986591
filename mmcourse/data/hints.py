"""The text modality of MM-Digits: short English hints from a small grammar.

Three kinds of hint, each with the set of digits it allows (``candidates``, a (10,) bool mask):

* ``exact`` — the digit's name, plainly: ``"seven"``, ``"the digit seven"``, ``"it is seven"``;
* ``arithmetic`` — exact information, but it must be computed: ``"three plus four"``,
  ``"nine minus two"``, ``"two times three"``;
* ``partial`` — a property that several digits share: ``"an odd number above four"``,
  ``"a multiple of three"``, ``"less than five"``.

Partial hints are generated so that the best text-only guess is computable exactly: a *family*
of properties (parity, halves, thirds, ...) is picked independently of the digit, and each family
is a partition of 0–9, so exactly one of its members is true for the digit. Then
``P(hint | digit)`` is the same for every digit the hint allows, and the Bayes-optimal guess from
the text alone is the most frequent digit (under the prior) among the candidates — see
:func:`text_bayes_accuracy`.
"""

from __future__ import annotations

import numpy as np

from mmcourse import _validate as check

__all__ = [
    "DIGIT_NAMES",
    "HINT_TYPES",
    "PARTIAL_FAMILIES",
    "candidates_mask",
    "exact_hint",
    "arithmetic_hint",
    "partial_hint",
    "text_bayes_accuracy",
    "text_bayes_predict",
]

DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
HINT_TYPES = ("exact", "arithmetic", "partial")

# Each family is a partition of the digits 0..9 into phrases: exactly one phrase is true per digit.
PARTIAL_FAMILIES: dict[str, tuple[tuple[str, frozenset], ...]] = {
    "parity": (
        ("an even number", frozenset({0, 2, 4, 6, 8})),
        ("an odd number", frozenset({1, 3, 5, 7, 9})),
    ),
    "halves": (
        ("less than five", frozenset({0, 1, 2, 3, 4})),
        ("five or more", frozenset({5, 6, 7, 8, 9})),
    ),
    "parity and size": (
        ("an even number below five", frozenset({0, 2, 4})),
        ("an odd number below five", frozenset({1, 3})),
        ("an even number above four", frozenset({6, 8})),
        ("an odd number above four", frozenset({5, 7, 9})),
    ),
    "thirds": (
        ("less than three", frozenset({0, 1, 2})),
        ("between three and six", frozenset({3, 4, 5, 6})),
        ("more than six", frozenset({7, 8, 9})),
    ),
    "remainder by three": (
        ("a multiple of three", frozenset({0, 3, 6, 9})),
        ("one more than a multiple of three", frozenset({1, 4, 7})),
        ("two more than a multiple of three", frozenset({2, 5, 8})),
    ),
    "primes": (
        ("a prime number", frozenset({2, 3, 5, 7})),
        ("not a prime number", frozenset({0, 1, 4, 6, 8, 9})),
    ),
    "neighbours": tuple(
        (f"either {DIGIT_NAMES[low]} or {DIGIT_NAMES[low + 1]}", frozenset({low, low + 1}))
        for low in range(0, 10, 2)
    ),
}

_EXACT_TEMPLATES = ("{}", "the digit {}", "it is {}")


def candidates_mask(digits) -> np.ndarray:
    """(10,) bool mask that is True at each digit in ``digits``."""
    mask = np.zeros(10, dtype=bool)
    mask[[_check_digit(digit) for digit in digits]] = True
    return mask


def _check_digit(digit) -> int:
    return check.integer(digit, "digit", minimum=0, maximum=9, expected="an int in 0..9")


def exact_hint(digit: int, rng: np.random.Generator) -> tuple[str, np.ndarray]:
    """An exact hint such as ``"seven"`` and its one-hot candidates mask."""
    digit = _check_digit(digit)
    template = _EXACT_TEMPLATES[rng.integers(len(_EXACT_TEMPLATES))]
    return template.format(DIGIT_NAMES[digit]), candidates_mask([digit])


def arithmetic_hint(digit: int, rng: np.random.Generator) -> tuple[str, np.ndarray]:
    """An arithmetic hint whose result is ``digit`` (``"three plus four"``) and its mask."""
    digit = _check_digit(digit)
    operation = ("plus", "minus", "times")[rng.integers(3)]
    if operation == "plus":
        first = int(rng.integers(0, digit + 1))
        second = digit - first
    elif operation == "minus":
        second = int(rng.integers(0, 10 - digit))
        first = digit + second
    else:
        pairs = [(a, b) for a in range(10) for b in range(10) if a * b == digit]
        first, second = pairs[rng.integers(len(pairs))]
    text = f"{DIGIT_NAMES[first]} {operation} {DIGIT_NAMES[second]}"
    return text, candidates_mask([digit])


def partial_hint(digit: int, rng: np.random.Generator) -> tuple[str, np.ndarray]:
    """A partial hint true for ``digit`` (``"an odd number above four"``) and its mask."""
    digit = _check_digit(digit)
    families = list(PARTIAL_FAMILIES.values())
    family = families[rng.integers(len(families))]
    for phrase, members in family:
        if digit in members:
            return phrase, candidates_mask(members)
    raise AssertionError("every family is a partition of 0..9")  # pragma: no cover


def text_bayes_predict(candidates: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """Bayes-optimal digit from the hint alone: argmax of the prior over each candidate set.

    candidates: bool, shape (N, 10); prior: shape (10,), class frequencies. Returns int (N,).
    An empty candidate set (a missing hint) falls back to the prior's argmax.
    """
    candidates = check.array(candidates, "candidates", shape=(None, 10), kind="numeric",
                             finite=True, what="a candidates mask (bool or 0/1)")
    if not np.all((candidates == 0) | (candidates == 1)):
        raise check.value_error("candidates", "a candidates mask of bool or 0/1 values",
                                candidates)
    candidates = candidates.astype(bool)
    prior = check.array(prior, "prior", shape=(10,), kind="numeric", finite=True,
                        what="class frequencies").astype(np.float64)
    if np.any(prior < 0):
        raise check.value_error("prior", "non-negative class frequencies", prior,
                                f"{prior.tolist()}")
    allowed = np.where(candidates.any(axis=1, keepdims=True), candidates, True)
    return np.argmax(np.where(allowed, prior, -np.inf), axis=1)


def text_bayes_accuracy(candidates: np.ndarray, labels: np.ndarray, prior: np.ndarray) -> float:
    """Accuracy of :func:`text_bayes_predict` — the best any text-only model can do on average."""
    predictions = text_bayes_predict(candidates, prior)
    labels = check.labels(labels, "labels", num_classes=10)
    if len(labels) != len(predictions):
        check.same_length({"candidates": predictions, "labels": labels})
    if len(labels) == 0:
        raise check.value_error("labels", "at least one label", labels)
    return float(np.mean(predictions == labels))
