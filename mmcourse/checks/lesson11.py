"""Checks for exercise 11 (cross-modal and self-supervised learning), against NumPy references.

The learner's functions (signatures as in ``solutions/11_crossmodal_selfsupervised.ipynb``):

* ``directional_info_nce(a, b, temperature, weight)`` -> float: InfoNCE with weighted directions,
  ``weight * CE(a → b) + (1 - weight) * CE(b → a)`` on L2-normalised rows (``weight = 0.5`` is
  the lesson's symmetric loss, :func:`mmcourse.alignment.info_nce_numpy`);
* ``digit_recall_at_k(similarity, query_labels, gallery_labels, k)`` -> float: the fraction of
  queries with at least one gallery item of **their label** among their k most similar items
  (the lesson's recall@k counts only the paired item);
* ``knn_probe(labelled, labelled_labels, queries, k)`` -> int ``(M,)``: the majority label of each
  query's k most cosine-similar labelled rows, ties to the smallest label.

The comparison functions here are shared with the grader's tasks (``mmcourse/grading/tasks_11.py``).
"""

from __future__ import annotations

import math

import numpy as np

from mmcourse.checks import Case, register


def _kind(value) -> str:
    return getattr(value, "what", type(value).__name__)


def _normalized(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _diagonal_cross_entropy(logits: np.ndarray) -> float:
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probabilities = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-np.mean(np.diagonal(log_probabilities)))


def reference_directional_info_nce(a, b, temperature, weight) -> float:
    logits = _normalized(a) @ _normalized(b).T / float(temperature)
    return (float(weight) * _diagonal_cross_entropy(logits)
            + (1.0 - float(weight)) * _diagonal_cross_entropy(logits.T))


def reference_digit_recall(similarity, query_labels, gallery_labels, k) -> float:
    similarity = np.asarray(similarity, dtype=np.float64)
    top = np.argsort(-similarity, axis=1, kind="stable")[:, :int(k)]
    hits = (np.asarray(gallery_labels)[top] == np.asarray(query_labels)[:, None]).any(axis=1)
    return float(hits.mean())


def reference_knn_probe(labelled, labelled_labels, queries, k) -> np.ndarray:
    similarity = _normalized(queries) @ _normalized(labelled).T
    nearest = np.argsort(-similarity, axis=1, kind="stable")[:, :int(k)]
    labels = np.asarray(labelled_labels, dtype=np.int64)
    size = int(labels.max()) + 1
    return np.array([np.argmax(np.bincount(labels[row], minlength=size)) for row in nearest],
                    dtype=np.int64)


def compare_scalar(received, expected) -> str | None:
    if isinstance(received, bool) or type(received) not in (int, float, np.float64, np.float32) \
            and not (isinstance(received, np.ndarray) and received.shape == ()):
        return f"expected a number (a Python float), received {_kind(received)}"
    value = float(received)
    if not math.isfinite(value):
        return f"expected a finite number, received {value}"
    if abs(value - expected) > 1e-6 * max(1.0, abs(expected)):
        return f"expected {expected:.6f}, received {value:.6f}"
    return None


def compare_labels(received, expected) -> str | None:
    if type(received) is not np.ndarray or received.dtype.kind not in "iu":
        return f"expected a NumPy array of integer labels, received {_kind(received)}" + (
            f" of dtype {received.dtype}" if type(received) is np.ndarray else "")
    if received.shape != expected.shape:
        return f"expected shape {expected.shape}, received {received.shape}"
    wrong = int(np.sum(received != expected))
    if wrong:
        return f"{wrong} of {len(expected)} predicted labels differ from the reference"
    return None


def random_pairs(rng: np.random.Generator, samples: int, dim: int):
    """Paired embeddings with different norms: b is a noisy copy of a, both rescaled per row."""
    a = rng.normal(size=(samples, dim))
    b = a + rng.uniform(0.3, 1.5) * rng.normal(size=(samples, dim))
    a *= rng.uniform(0.2, 5.0, size=(samples, 1))
    b *= rng.uniform(0.2, 5.0, size=(samples, 1))
    return a, b


def random_retrieval(rng: np.random.Generator, queries: int, gallery: int, classes: int):
    query_labels = rng.integers(0, classes, size=queries)
    gallery_labels = rng.integers(0, classes, size=gallery)
    similarity = rng.normal(size=(queries, gallery))
    similarity += 0.8 * (query_labels[:, None] == gallery_labels[None, :])
    return similarity, query_labels, gallery_labels


def random_probe(rng: np.random.Generator, labelled: int, queries: int, dim: int, classes: int):
    centres = rng.normal(size=(classes, dim))
    labels = rng.integers(0, classes, size=labelled)
    labels[:classes] = np.arange(classes)  # every class at least once
    points = centres[labels] + 0.9 * rng.normal(size=(labelled, dim))
    points *= rng.uniform(0.2, 5.0, size=(labelled, 1))  # norms differ: cosine ≠ Euclidean
    query_labels = rng.integers(0, classes, size=queries)
    query_points = centres[query_labels] + 0.9 * rng.normal(size=(queries, dim))
    query_points *= rng.uniform(0.2, 5.0, size=(queries, 1))
    return points, labels, query_points


# ---------------------------------------------------------------------------------------------
@register(
    "11.directional_info_nce",
    hints=[
        "Normalise every row of a and of b to unit length first; the logits are a @ b.T / "
        "temperature, an (N, N) matrix whose diagonal holds the pairs.",
        "CE(a → b) is the mean over rows of −log softmax(row)[i] at the row's own index i; "
        "CE(b → a) is the same on the transposed matrix.",
        "weight multiplies the a → b term and (1 − weight) the b → a term; with weight = 0.5 you "
        "get the lesson's symmetric loss — compare with mmcourse.alignment.info_nce_numpy.",
    ],
)
def _info_nce_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for samples, dim in [(8, 4), (32, 16), (3, 2), (64, 8)]:
        a, b = random_pairs(rng, samples, dim)
        temperature = float(rng.uniform(0.05, 1.0))
        weight = float(rng.uniform(0.0, 1.0))
        cases.append(Case(f"a, b of shape {(samples, dim)}, temperature={temperature:.3f}, "
                          f"weight={weight:.3f}", args=(a, b, temperature, weight),
                          expected=reference_directional_info_nce(a, b, temperature, weight),
                          compare=compare_scalar))
    return cases


@register(
    "11.digit_recall_at_k",
    hints=[
        "For each query (row), find the indices of its k largest similarities "
        "(np.argsort on the negated row, first k).",
        "Look up the gallery labels of those k items and ask whether any equals the query's "
        "label; the result is the mean of those True/False values.",
    ],
)
def _recall_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for queries, gallery, classes, k in [(40, 60, 10, 1), (25, 25, 5, 3), (50, 80, 10, 10),
                                         (5, 7, 3, 7)]:
        args = random_retrieval(rng, queries, gallery, classes)
        cases.append(Case(f"similarity of shape {(queries, gallery)}, {classes} labels, k={k}",
                          args=(*args, k), expected=reference_digit_recall(*args, k),
                          compare=compare_scalar))
    return cases


@register(
    "11.knn_probe",
    hints=[
        "Cosine similarity: divide each row of both arrays by its length, then one matrix "
        "product gives every query–labelled similarity.",
        "Take each query's k most similar labelled rows and count their labels "
        "(np.bincount); the prediction is the label with the most votes.",
        "np.argmax returns the first maximum, which is the smallest label on a tie — as asked.",
    ],
)
def _probe_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for labelled, queries, dim, classes, k in [(30, 20, 6, 3, 5), (50, 40, 8, 10, 1),
                                               (20, 15, 4, 4, 4), (100, 30, 16, 10, 7)]:
        args = random_probe(rng, labelled, queries, dim, classes)
        cases.append(Case(f"{labelled} labelled rows of dim {dim}, {queries} queries, k={k}",
                          args=(*args, k), expected=reference_knn_probe(*args, k),
                          compare=compare_labels))
    return cases
