"""Exercise 11 grades as intended, through the real sandboxed grader and through ``check()``.

Below: one plausible wrong answer per task and one answer that calls the course's own code; the
tests and submissions come from ``exercise_tests`` (tests/conftest.py, which says what they check).
"""

from __future__ import annotations

import math

import numpy as np
from conftest import exercise_tests

from mmcourse.checks import registered_checks

ASSIGNMENT = "11"

# --- plausible wrong answers, one per task -----------------------------------------------------
WRONG = {
    # the weight ignored: the lesson's symmetric loss copied as it is
    "info_nce_answer": """
def directional_info_nce(a, b, temperature, weight):
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    logits = a @ b.T / temperature

    def diagonal_cross_entropy(scores):
        shifted = scores - scores.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        return -np.mean(np.diagonal(log_p))

    return float(0.5 * (diagonal_cross_entropy(logits) + diagonal_cross_entropy(logits.T)))
""",
    # the lesson's instance recall@k (the paired column), not "any item of the query's label"
    "recall_answer": """
def digit_recall_at_k(similarity, query_labels, gallery_labels, k):
    similarity = np.asarray(similarity, dtype=float)
    paired = similarity[np.arange(len(similarity)), np.arange(len(similarity)) % similarity.shape[1]]
    return float(np.mean((similarity > paired[:, None]).sum(axis=1) < k))
""",
    # Euclidean neighbours: the rows are not normalised
    "probe_answer": """
def knn_probe(labelled, labelled_labels, queries, k):
    labelled, queries = np.asarray(labelled, dtype=float), np.asarray(queries, dtype=float)
    distances = ((queries[:, None, :] - labelled[None, :, :]) ** 2).sum(-1)
    nearest = np.argsort(distances, axis=1, kind="stable")[:, :k]
    labels = np.asarray(labelled_labels)
    return np.array([np.argmax(np.bincount(labels[row], minlength=labels.max() + 1))
                     for row in nearest], dtype=np.int64)
""",
}
CALLS_REFERENCE = ("probe_answer", """
from mmcourse.checks.lesson11 import reference_knn_probe

def knn_probe(labelled, labelled_labels, queries, k):
    return reference_knn_probe(labelled, labelled_labels, queries, k)
""")
TEST_OF = {"info_nce_answer": "test_directional_info_nce", "recall_answer": "test_digit_recall_at_k",
           "probe_answer": "test_knn_probe"}
FUNCTION_OF = {"info_nce_answer": ("11.directional_info_nce", "directional_info_nce"),
               "recall_answer": ("11.digit_recall_at_k", "digit_recall_at_k"),
               "probe_answer": ("11.knn_probe", "knn_probe")}


# --- check() ------------------------------------------------------------------------------------
def test_lesson_11_registers_its_checks():
    assert registered_checks("11") == ["11.digit_recall_at_k", "11.directional_info_nce", "11.knn_probe"]


def test_the_symmetric_special_case_is_the_lessons_loss():
    from mmcourse.alignment import info_nce_numpy
    from mmcourse.checks import lesson11

    rng = np.random.default_rng(0)
    a, b = lesson11.random_pairs(rng, 12, 5)
    assert math.isclose(lesson11.reference_directional_info_nce(a, b, 0.3, 0.5), info_nce_numpy(a, b, 0.3),
                        rel_tol=1e-12)


# --- check() for each task, and the real grader (tests/conftest.py) -----------------------------
(test_check_accepts_the_solution_and_rejects_stub_and_wrong_answer,
 test_grader_scores_solution_untouched_and_each_wrong_answer) = exercise_tests(
    ASSIGNMENT, wrong=WRONG, test_of=TEST_OF, function_of=FUNCTION_OF, calls_reference=CALLS_REFERENCE,
    full_marks=7)
