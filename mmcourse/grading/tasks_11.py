"""The grader's own checks for exercise 11 (registered into ``tasks.TASKS``).

Same design as :mod:`mmcourse.grading.tasks_0809`: ``make_cases(rng)`` draws the inputs from the
grading run's seed and computes the expected result here, in the grader's process, with the
references of :mod:`mmcourse.checks.lesson11` (the same comparisons the learner's ``check()``
uses). ``forbidden`` names the course's own implementation of each task. All three tasks are
NumPy only: no TensorFlow is imported, so grading one submission costs a notebook run plus one
fresh Python process.
"""

from __future__ import annotations

from mmcourse.grading.sandboxed.plain import Rejected
from mmcourse.grading.tasks import TASKS, Case, Task

__all__ = ["TASKS_11"]


def _plain_first(compare):
    def wrapped(received, expected):
        if isinstance(received, Rejected):
            return f"returned {received.what}, not plain data (return a float or a NumPy array)"
        return compare(received, expected)

    return wrapped


def _info_nce_cases(rng):
    from mmcourse.checks import lesson11

    compare = _plain_first(lesson11.compare_scalar)
    cases = []
    for samples, dim, weight in [(8, 4, 0.5), (16, 8, None), (3, 2, 1.0), (40, 16, None),
                                 (24, 6, 0.0)]:
        a, b = lesson11.random_pairs(rng, samples, dim)
        temperature = float(rng.uniform(0.05, 1.0))
        weight = float(rng.uniform(0.05, 0.95)) if weight is None else weight
        cases.append(Case((a, b, temperature, weight),
                          lesson11.reference_directional_info_nce(a, b, temperature, weight),
                          compare))
    return cases


def _recall_cases(rng):
    from mmcourse.checks import lesson11

    compare = _plain_first(lesson11.compare_scalar)
    cases = []
    for queries, gallery, classes, k in [(30, 45, 10, 1), (20, 20, 4, 2), (60, 90, 10, 10),
                                         (6, 9, 3, 9)]:
        args = lesson11.random_retrieval(rng, queries, gallery, classes)
        cases.append(Case((*args, k), lesson11.reference_digit_recall(*args, k), compare))
    return cases


def _probe_cases(rng):
    from mmcourse.checks import lesson11

    compare = _plain_first(lesson11.compare_labels)
    cases = []
    for labelled, queries, dim, classes, k in [(40, 25, 6, 3, 5), (60, 30, 8, 10, 1),
                                               (24, 12, 4, 4, 4), (90, 35, 16, 10, 6)]:
        args = lesson11.random_probe(rng, labelled, queries, dim, classes)
        cases.append(Case((*args, k), lesson11.reference_knn_probe(*args, k), compare))
    return cases


_ALIGN = "mmcourse.alignment."
_CHECKS = "mmcourse.checks.lesson11."
TASKS_11: dict[str, list[Task]] = {
    "11": [
        Task("test_directional_info_nce", "info_nce_answer", "directional_info_nce",
             "directional_info_nce on random paired embeddings with different row norms, random "
             "temperatures and direction weights (0, 0.5, 1 and random), against the NumPy "
             "reference",
             _info_nce_cases, (_ALIGN + "info_nce", _ALIGN + "info_nce_numpy",
                               _ALIGN + "SymmetricInfoNCE",
                               _CHECKS + "reference_directional_info_nce")),
        Task("test_digit_recall_at_k", "recall_answer", "digit_recall_at_k",
             "digit_recall_at_k on random similarity matrices (square and not) with 3 to 10 "
             "labels and k from 1 to the gallery size, against the NumPy reference",
             _recall_cases, (_ALIGN + "recall_at_k", _ALIGN + "recall_at_k_reference",
                             _CHECKS + "reference_digit_recall")),
        Task("test_knn_probe", "probe_answer", "knn_probe",
             "knn_probe on random clustered embeddings with different row norms (cosine, not "
             "Euclidean), 3 to 10 classes and k from 1 to 6, against the NumPy reference",
             _probe_cases, (_ALIGN + "linear_probe", _ALIGN + "prototype_predict",
                            _CHECKS + "reference_knn_probe")),
    ],
}

TASKS.update(TASKS_11)
