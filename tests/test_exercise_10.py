"""Exercise 10 grades as intended, through the real sandboxed grader and through ``check()``.

Below: one plausible wrong answer per task and one answer that calls the course's own code; the
tests and submissions come from ``exercise_tests`` (tests/conftest.py, which says what they check).
"""

from __future__ import annotations

from conftest import exercise_tests

from mmcourse.checks import registered_checks

# --- plausible wrong answers, one per task -----------------------------------------------------
WRONG = {
    # the lesson's classification form for every task: the regression factor 1/2 forgotten
    "uncertainty_answer": """
def uncertainty_loss(losses, log_variances, regression):
    losses, s = np.asarray(losses, dtype=float), np.asarray(log_variances, dtype=float)
    return float(np.sum(np.exp(-s) * losses + 0.5 * s))
""",
    # counts the weights only, no biases
    "trunk_answer": """
def widest_trunk(feature_dims, task_classes, budget):
    return budget // (sum(feature_dims.values()) + sum(task_classes.values()))
""",
    # population standard deviation (ddof=0)
    "verdict_answer": """
def compare_runs(single, multi):
    single, multi = np.asarray(single, dtype=float), np.asarray(multi, dtype=float)
    difference = float(multi.mean() - single.mean())
    noise = float(2 * np.hypot(single.std(), multi.std()))
    verdict = ("multi-task better" if difference > noise else
               "single-task better" if difference < -noise else "tie")
    return {"difference": difference, "noise": noise, "verdict": verdict}
""",
}
CALLS_REFERENCE = ("trunk_answer", """
from mmcourse import multitask

def widest_trunk(feature_dims, task_classes, budget):
    return multitask.widest_trunk(feature_dims, task_classes, budget)
""")
TEST_OF = {"uncertainty_answer": "test_uncertainty_loss", "trunk_answer": "test_widest_trunk",
           "verdict_answer": "test_compare_runs"}
FUNCTION_OF = {"uncertainty_answer": ("10.uncertainty_loss", "uncertainty_loss"),
               "trunk_answer": ("10.widest_trunk", "widest_trunk"),
               "verdict_answer": ("10.compare_runs", "compare_runs")}


# --- check() ------------------------------------------------------------------------------------
def test_lesson_10_registers_its_checks():
    assert registered_checks("10") == ["10.compare_runs", "10.uncertainty_loss", "10.widest_trunk"]


# --- check() for each task, and the real grader (tests/conftest.py) -----------------------------
(test_check_accepts_the_solution_and_rejects_stub_and_wrong_answer,
 test_grader_scores_solution_untouched_and_each_wrong_answer) = exercise_tests(
    "10", wrong=WRONG, test_of=TEST_OF, function_of=FUNCTION_OF, calls_reference=CALLS_REFERENCE,
    full_marks=8)
