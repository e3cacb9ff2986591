"""Exercise 14 grades as intended, through the real sandboxed grader and through ``check()``.

Below: one plausible wrong answer per task and one answer that calls the course's own code; the
tests and submissions come from ``exercise_tests`` (tests/conftest.py, which says what they check).
"""

from __future__ import annotations

from conftest import exercise_tests, function_from

from mmcourse.checks import check, registered_checks

WRONG = {
    # a plain mean over the clients: FedAvg only when every client has as many examples
    "fedavg_answer": """
def fedavg_layers(client_weights, client_sizes):
    return {name: np.mean([np.asarray(c[name], dtype=float) for c in client_weights], axis=0)
            for name in client_weights[0]}
""",
    # clips every layer by its own norm instead of the example's norm over all layers
    "gradient_answer": """
def private_gradient(per_example, clip_norm, noise_multiplier, noise, expected_batch_size):
    result = {}
    for name, gradients in per_example.items():
        gradients = np.asarray(gradients, dtype=float)
        flat = gradients.reshape(len(gradients), -1)
        factors = np.minimum(1.0, clip_norm / np.maximum(np.linalg.norm(flat, axis=1), 1e-12))
        scaled = (flat * factors[:, None]).sum(axis=0).reshape(gradients.shape[1:])
        result[name] = (scaled + noise_multiplier * clip_norm * np.asarray(noise[name])) / expected_batch_size
    return result
""",
    # chooses the threshold on all the losses and reports the advantage on the same losses
    "advantage_answer": """
def calibrated_advantage(member_losses, nonmember_losses):
    members, nonmembers = np.asarray(member_losses, float), np.asarray(nonmember_losses, float)
    candidates = np.unique(np.concatenate([members, nonmembers]))
    return float(max(np.mean(members <= t) - np.mean(nonmembers <= t) for t in candidates))
""",
}
CALLS_REFERENCE = ("fedavg_answer", """
from mmcourse.privacy import fedavg

def fedavg_layers(client_weights, client_sizes):
    names = list(client_weights[0])
    averaged = fedavg([[c[n] for n in names] for c in client_weights], np.asarray(client_sizes))
    return {n: np.asarray(a, dtype=float) for n, a in zip(names, averaged)}
""")
TEST_OF = {"fedavg_answer": "test_fedavg_layers", "gradient_answer": "test_private_gradient",
           "advantage_answer": "test_calibrated_advantage"}
FUNCTION_OF = {"fedavg_answer": ("14.fedavg_layers", "fedavg_layers"),
               "gradient_answer": ("14.private_gradient", "private_gradient"),
               "advantage_answer": ("14.calibrated_advantage", "calibrated_advantage")}


def test_lesson_14_registers_its_checks():
    assert registered_checks("14") == ["14.calibrated_advantage", "14.fedavg_layers",
                                       "14.private_gradient"]


def test_copying_the_lesson_fedavg_does_not_pass():
    lesson_cell = """
def fedavg_layers(client_weights, client_sizes):
    fractions = np.asarray(client_sizes, dtype=float) / np.sum(client_sizes)
    return [sum(f * weights[layer] for f, weights in zip(fractions, client_weights))
            for layer in range(len(client_weights[0]))]
"""
    assert check("14.fedavg_layers", function_from(lesson_cell, "fedavg_layers")) is False


# --- check() for each task, and the real grader (tests/conftest.py) -----------------------------
(test_check_accepts_the_solution_and_rejects_stub_and_wrong_answer,
 test_grader_scores_solution_untouched_and_each_wrong_answer) = exercise_tests(
    "14", wrong=WRONG, test_of=TEST_OF, function_of=FUNCTION_OF, calls_reference=CALLS_REFERENCE,
    full_marks=8)
