"""Exercise 12 grades as intended, through the real sandboxed grader and through ``check()``.

Below: one plausible wrong answer per task and one answer that calls the course's own code; the
tests and submissions come from ``exercise_tests`` (tests/conftest.py, which says what they check).
"""

from __future__ import annotations

import numpy as np
from conftest import exercise_tests

from mmcourse.checks import check, registered_checks

ASSIGNMENT = "12"
# --- plausible wrong answers, one per task -----------------------------------------------------
WRONG = {
    # multiply-adds counted over the INPUT positions (ignores strides and padding)
    "conv3d_answer": """
def conv3d_summary(input_shape, filters, kernel_size, strides, padding):
    out = [-(-n // s) if padding == "same" else (n - k) // s + 1
           for n, k, s in zip(input_shape[:3], kernel_size, strides)]
    per_filter = math.prod(kernel_size) * input_shape[-1]
    return {"output_shape": (*out, filters), "parameters": (per_filter + 1) * filters,
            "multiply_adds": math.prod(input_shape[:3]) * filters * per_filter}
""",
    # picks one source frame per target frame (subsampling) instead of averaging
    "align_answer": """
def align_streams(features, source_rate, num_target, target_rate):
    features = np.asarray(features, dtype=float)
    index = np.floor(np.arange(num_target) * source_rate / target_rate + 1e-9).astype(int)
    return features[np.minimum(index, len(features) - 1)]
""",
    # the mean divides by T: padded zeros count as steps
    "pool_answer": """
def masked_temporal_pool(sequence, mask, mode):
    sequence = np.asarray(sequence, dtype=float)
    valid = np.asarray(mask) > 0
    if mode == "mean":
        return np.where(valid[..., None], sequence, 0.0).mean(axis=1)
    pooled = np.where(valid[..., None], sequence, -np.inf).max(axis=1)
    return np.where(valid.any(axis=1)[:, None], pooled, 0.0)
""",
}
CALLS_REFERENCE = ("pool_answer", """
from mmcourse.temporal import temporal_pool

def masked_temporal_pool(sequence, mask, mode):
    return temporal_pool(sequence, mode, mask)
""")
TEST_OF = {"conv3d_answer": "test_conv3d_summary", "align_answer": "test_align_streams",
           "pool_answer": "test_masked_temporal_pool"}
FUNCTION_OF = {"conv3d_answer": ("12.conv3d_summary", "conv3d_summary"),
               "align_answer": ("12.align_streams", "align_streams"),
               "pool_answer": ("12.masked_temporal_pool", "masked_temporal_pool")}


# --- check() ------------------------------------------------------------------------------------
def test_lesson_12_registers_its_checks():
    assert registered_checks("12") == ["12.align_streams", "12.conv3d_summary", "12.masked_temporal_pool"]


def test_a_lesson_cell_copied_does_not_pass():
    # the lesson pools full-length clips with a plain mean: copying that fails the masked task
    def lesson_pool(sequence, mask, mode):
        return np.asarray(sequence).mean(axis=1)

    assert check("12.masked_temporal_pool", lesson_pool) is False


# --- check() for each task, and the real grader (tests/conftest.py) -----------------------------
(test_check_accepts_the_solution_and_rejects_stub_and_wrong_answer,
 test_grader_scores_solution_untouched_and_each_wrong_answer) = exercise_tests(
    ASSIGNMENT, wrong=WRONG, test_of=TEST_OF, function_of=FUNCTION_OF, calls_reference=CALLS_REFERENCE,
    full_marks=8)
