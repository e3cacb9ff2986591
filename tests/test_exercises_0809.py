"""Exercises 08 and 09 grade as intended, through the real sandboxed grader and through ``check()``.

For each exercise, ONE ``grade()`` run (bubblewrap sandboxes, Jupyter kernels, the learner's
functions called out of kernel on fresh inputs) grades several submissions built from the
generated exercise: the solution's answers (and the solution notebook as it is) score full marks, the untouched exercise scores 0,
one plausible wrong answer per task loses exactly that task's points (with a reason), and an
answer that calls the course's own reference scores 0 for its task. The ``check()`` tests (pure
NumPy, no sandbox) show that each check accepts the solution and rejects the untouched stub and
the same wrong answers. Without a working bubblewrap the grading tests are skipped with the reason.
"""

from __future__ import annotations

import pytest
from conftest import (
    assert_check_accepts_solution_rejects_stub_and_wrong,
    assert_graded_as_expected,
    needs_sandbox,
    register_submissions,
    standard_submissions,
    write_submissions,
)

from mmcourse.checks import registered_checks

# --- plausible wrong answers, one per task -----------------------------------------------------
WRONG = {
    "08": {
        # Banzhaf weights 1 / 2**(M-1) instead of |S|!(M-|S|-1)!/M!: equal to Shapley for M <= 2 only
        "shapley_answer": """
def shapley_from_table(values):
    values = np.asarray(values, dtype=float)
    count = int(round(math.log2(len(values))))
    result = np.zeros(count)
    for player in range(count):
        for mask in range(len(values)):
            if not mask >> player & 1:
                result[player] += (values[mask | 1 << player] - values[mask]) / 2 ** (count - 1)
    return result
""",
        # shuffles every modality at once instead of one at a time
        "permutation_answer": """
def linear_predict(inputs, weights):
    scores = sum(np.asarray(inputs[name]) @ np.asarray(weights[name]) for name in weights)
    return np.argmax(scores, axis=1)


def permutation_importance(inputs, labels, weights, orders):
    before = np.mean(linear_predict(inputs, weights) == labels)
    drops = [before - np.mean(linear_predict({k: np.asarray(v)[o] for k, v in inputs.items()}, weights)
                              == labels) for o in np.asarray(orders)]
    return {name: float(np.mean(drops)) for name in inputs}
""",
        # natural log: nats, not bits
        "entropy_answer": """
def attention_entropy_bits(attention):
    attention = np.asarray(attention, dtype=float)
    return -np.sum(attention * np.log(np.where(attention > 0, attention, 1.0)), axis=1)
""",
    },
    "09": {
        # rate used as the keep probability
        "dropout_answer": """
def drop_modalities(present, rate, rng, training=True):
    present = np.asarray(present, dtype=bool)
    if not training:
        return present.astype(np.float32)
    kept = present & (rng.random(present.shape) < rate)
    for row in np.flatnonzero(present.any(axis=1) & ~kept.any(axis=1)):
        kept[row, rng.choice(np.flatnonzero(present[row]))] = True
    return kept.astype(np.float32)
""",
        # effective robustness without shifting the baseline to the model's clean accuracy
        "summary_answer": """
def robustness_summary(curves, baseline):
    base = np.asarray(curves[baseline], dtype=float)
    result = {}
    for name, curve in curves.items():
        curve = np.asarray(curve, dtype=float)
        relative = float(np.sum((curve[:-1] + curve[1:]) / (2 * (len(curve) - 1))))
        result[name] = (relative, float(np.sum(curve - base)))
    return result
""",
        # divides by the weights of all modalities, present or not
        "late_answer": """
def late_fusion_missing(probabilities, present, weights):
    probabilities = np.asarray(probabilities, dtype=float)
    effective = np.asarray(weights, dtype=float)[None, :] * (np.asarray(present) > 0)
    fused = np.einsum("nm,nmc->nc", effective, probabilities) / np.sum(weights)
    uniform = np.full_like(fused, 1.0 / probabilities.shape[-1])
    return np.where(effective.sum(1, keepdims=True) > 0, fused, uniform)
""",
    },
}
CALLS_REFERENCE = {
    "08": ("entropy_answer", """
from mmcourse import interpret

def attention_entropy_bits(attention):
    return interpret.attention_entropy(attention) / np.log(2)
"""),
    "09": ("summary_answer", """
from mmcourse.robustness import effective_robustness, relative_robustness

def robustness_summary(curves, baseline):
    return {name: (relative_robustness(c), effective_robustness(c, curves[baseline]))
            for name, c in curves.items()}
"""),
}
TEST_OF = {"shapley_answer": "test_shapley", "permutation_answer": "test_permutation_importance",
           "entropy_answer": "test_entropy_bits", "dropout_answer": "test_drop_modalities",
           "summary_answer": "test_robustness_summary", "late_answer": "test_late_fusion_missing"}
FUNCTION_OF = {"shapley_answer": ("08.shapley", "shapley_from_table"),
               "permutation_answer": ("08.permutation_importance", "permutation_importance"),
               "entropy_answer": ("08.entropy_bits", "attention_entropy_bits"),
               "dropout_answer": ("09.drop_modalities", "drop_modalities"),
               "summary_answer": ("09.robustness_summary", "robustness_summary"),
               "late_answer": ("09.late_fusion_missing", "late_fusion_missing")}


# --- check() ------------------------------------------------------------------------------------
def test_lessons_08_and_09_register_their_checks():
    assert registered_checks("08") == ["08.entropy_bits", "08.permutation_importance", "08.shapley"]
    assert registered_checks("09") == ["09.drop_modalities", "09.late_fusion_missing",
                                       "09.robustness_summary"]


@pytest.mark.parametrize("answer_id", sorted(FUNCTION_OF))
def test_check_accepts_the_solution_and_rejects_stub_and_wrong_answer(answer_id):
    check_id, name = FUNCTION_OF[answer_id]
    assignment = check_id[:2]
    assert_check_accepts_solution_rejects_stub_and_wrong(assignment, answer_id, check_id, name,
                                                         WRONG[assignment][answer_id])


# --- the real grader ----------------------------------------------------------------------------
def _submissions(assignment):
    def build(folder):
        return write_submissions(folder, assignment, standard_submissions(
            assignment, WRONG[assignment], TEST_OF, CALLS_REFERENCE[assignment]))
    return build


for _assignment in WRONG:
    register_submissions(_assignment, _submissions(_assignment))


@needs_sandbox()
@pytest.mark.slow
@pytest.mark.parametrize("assignment", ["08", "09"])
def test_grader_scores_solution_untouched_and_each_wrong_answer(assignment, graded_assignment):
    run = graded_assignment(assignment)
    zero_of = {"solution": set(), "untouched": {TEST_OF[a] for a in WRONG[assignment]}, **run["expected"]}
    assert_graded_as_expected(run, zero_of, full_marks=8)
