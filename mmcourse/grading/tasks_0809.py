"""The grader's own checks for exercises 08 and 09 (registered into ``tasks.TASKS``).

Same design as :mod:`mmcourse.grading.tasks`: each :class:`~mmcourse.grading.tasks.Task` names
the graded test cell, the answer cell and the learner's function; ``make_cases(rng)`` draws the
inputs from the grading run's seed and computes the expected result **here, in the grader's
process**, with the course's references (:mod:`mmcourse.interpret`, :mod:`mmcourse.robustness`,
:mod:`mmcourse.fusion.late`; modality dropout is random and is judged by its properties). The
comparisons come from :mod:`mmcourse.checks.lesson08` / ``lesson09`` (the same ones the
learner's ``check()`` uses), run in the grader's process on plain data. ``forbidden`` names the
course's own implementation of each task. Importing this module adds the two exercises to
``tasks.TASKS`` (``tasks.py`` imports every ``tasks_*.py`` module on its last line). All six tasks are NumPy only: no TensorFlow is
imported, so grading one submission costs a notebook run plus one fresh Python process.
"""

from __future__ import annotations

import numpy as np

from mmcourse.grading.sandboxed.plain import Rejected, SeededGenerator
from mmcourse.grading.tasks import TASKS, Case, Task, close

__all__ = ["TASKS_0809"]


def _plain_first(compare):
    def wrapped(received, expected):
        if isinstance(received, Rejected):
            return f"returned {received.what}, not plain data (return a dict, list, float or NumPy array)"
        return compare(received, expected)

    return wrapped


# --- exercise 08 --------------------------------------------------------------------------------
def _shapley_cases(rng):
    from mmcourse.checks import lesson08

    cases = [Case((np.array([0.1, 0.5, 0.3, 0.9]),), np.array([0.5, 0.3]), close()),
             Case((np.array([0.1, 0.6, 0.4, 0.8, 0.2, 0.7, 0.5, 0.9]),),
                  lesson08.reference_shapley(np.array([0.1, 0.6, 0.4, 0.8, 0.2, 0.7, 0.5, 0.9])), close())]
    for count in (1, 3, 4, 6):
        values = lesson08.random_table(rng, count)
        cases.append(Case((values,), lesson08.reference_shapley(values), close()))
    return cases


def _permutation_cases(rng):
    from mmcourse.checks import lesson08

    compare = _plain_first(lesson08.compare_importances)
    labels = np.array([0, 1, 0, 1])
    inputs = {"image": np.ones((4, 1)), "text": np.array([[-1.0], [1.0], [-1.0], [1.0]])}
    weights = {"image": np.zeros((1, 2)), "text": np.array([[-1.0, 1.0]])}
    orders = np.array([[1, 0, 3, 2], [0, 1, 2, 3]])
    cases = [Case((inputs, labels, weights, orders), {"image": 0.0, "text": 0.5}, compare)]
    for names, samples, classes, repeats in [(("image", "audio", "text"), 150, 4, 3),
                                             (("a", "b"), 40, 2, 5), (("w", "x", "y", "z"), 90, 6, 2)]:
        problem = lesson08.random_problem(rng, names, samples, classes, repeats)
        cases.append(Case(problem, lesson08.reference_permutation_importance(*problem), compare))
    return cases


def _entropy_cases(rng):
    from mmcourse.checks import lesson08

    cases = [Case((np.array([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0]]),), np.array([1.0, 0.0]), close()),
             Case((np.full((2, 4), 0.25),), np.array([2.0, 2.0]), close())]
    for samples, count in [(9, 3), (1, 2), (15, 6)]:
        attention = lesson08.random_attention(rng, samples, count)
        cases.append(Case((attention,), lesson08.reference_entropy_bits(attention), close()))
    return cases


# --- exercise 09 --------------------------------------------------------------------------------
def _dropout_cases(rng):
    from mmcourse.checks import lesson09

    compare = _plain_first(lesson09.compare_dropout)
    visible = np.array([[1, 1, 1], [1, 0, 0], [0, 0, 0], [0, 1, 1]] * 500, dtype=np.float32)
    cases = [Case((visible, 0.5, SeededGenerator(1)), (visible, 0.5, True), compare),
             Case((visible, 0.5, SeededGenerator(1)), (visible, 0.5, False), compare, {"training": False})]
    for samples, count, rate, training in [(4000, 3, float(rng.uniform(0.2, 0.4)), True),
                                           (3000, 2, 0.6, True), (500, 4, 0.0, True),
                                           (300, 3, 0.4, False)]:
        present = lesson09.random_presence(rng, samples, count)
        cases.append(Case((present, rate, SeededGenerator(int(rng.integers(1 << 31)))),
                          (present, rate, training), compare, {"training": training}))
    return cases


def _summary_cases(rng):
    from mmcourse.checks import lesson09

    compare = _plain_first(lesson09.compare_summary)
    cases = [Case(({"late": [0.9, 0.7, 0.5], "early": [0.8, 0.7, 0.6]}, "late"),
                  {"late": (0.7, 0.0), "early": (0.7, 0.3)}, compare)]
    for names, levels in [(("late", "early", "attention", "dropout"), 6), (("a", "b"), 11), (("x", "y", "z"), 2)]:
        curves = lesson09.random_curves(rng, names, levels)
        baseline = str(rng.choice(names))
        cases.append(Case((curves, baseline), lesson09.reference_summary(curves, baseline), compare))
    return cases


def _late_cases(rng):
    from mmcourse.checks import lesson09

    visible = (np.array([[[0.8, 0.2], [0.4, 0.6]]] * 3), np.array([[1, 1], [0, 1], [0, 0]]), np.array([1.0, 3.0]))
    cases = [Case(visible, np.array([[0.5, 0.5], [0.4, 0.6], [0.5, 0.5]]), close())]
    for samples, count, classes in [(50, 3, 10), (1, 2, 3), (30, 5, 4)]:
        args = lesson09.random_late_inputs(rng, samples, count, classes)
        cases.append(Case(args, lesson09.reference_late_fusion(*args), close()))
    return cases


_INTERPRET = "mmcourse.interpret."
_ROBUST = "mmcourse.robustness."
TASKS_0809: dict[str, list[Task]] = {
    "08": [
        Task("test_shapley", "shapley_answer", "shapley_from_table",
             "shapley_from_table on the visible tables and on random coalition tables of 1, 3, 4 "
             "and 6 modalities, against the course's exact Shapley values",
             _shapley_cases, (_INTERPRET + "shapley_values", _INTERPRET + "shapley_values_by_permutations",
                              "mmcourse.checks.lesson08.reference_shapley")),
        Task("test_permutation_importance", "permutation_answer", "permutation_importance",
             "permutation_importance on the visible problem and on random linear models with 2 to 4 "
             "modalities and given shuffles: the keys and each modality's mean accuracy drop",
             _permutation_cases, (_INTERPRET + "permutation_importance",
                                  "mmcourse.checks.lesson08.reference_permutation_importance")),
        Task("test_entropy_bits", "entropy_answer", "attention_entropy_bits",
             "attention_entropy_bits on the visible rows and on random attention with missing "
             "modalities (weight 0), against the course's entropy in bits",
             _entropy_cases, (_INTERPRET + "attention_entropy", "mmcourse.checks.lesson08.reference_entropy_bits")),
    ],
    "09": [
        Task("test_drop_modalities", "dropout_answer", "drop_modalities",
             "drop_modalities on the visible mask and on random masks of 2 to 4 modalities: same "
             "shape, 0/1 only, never adds a modality, never empties a sample, drops about `rate` "
             "of the present modalities, nothing at rate 0, unchanged with training=False",
             _dropout_cases, ("mmcourse.fusion.dropout.ModalityDropout", _ROBUST + "add_modality_dropout")),
        Task("test_robustness_summary", "summary_answer", "robustness_summary",
             "robustness_summary on the visible curves and on random tables of curves (2, 6 and 11 "
             "levels, a random baseline), against the course's relative and effective robustness",
             _summary_cases, (_ROBUST + "relative_robustness", _ROBUST + "effective_robustness",
                              _ROBUST + "robustness_table", "mmcourse.checks.lesson09.reference_summary")),
        Task("test_late_fusion_missing", "late_answer", "late_fusion_missing",
             "late_fusion_missing on the visible samples and on random probabilities, masks (some "
             "samples with nothing present) and weights, against the course's missing-aware average",
             _late_cases, ("mmcourse.fusion.late.average_probabilities",
                           "mmcourse.checks.lesson09.reference_late_fusion")),
    ],
}

TASKS.update(TASKS_0809)
