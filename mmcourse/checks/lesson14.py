"""Checks for exercise 14 (privacy), against :mod:`mmcourse.privacy`.

The learner's functions (signatures as in ``solutions/14_privacy.ipynb``):

* ``fedavg_layers(client_weights, client_sizes)`` -> ``{layer name: array}``: FedAvg's weighted
  average ``Σ_k (n_k / n) w_k`` of clients whose weights come as dicts ``{layer name: array}``
  (reference :func:`mmcourse.privacy.fedavg` on the same layers);
* ``private_gradient(per_example, clip_norm, noise_multiplier, noise, expected_batch_size)`` ->
  ``{layer name: array}``: DP-SGD's noisy clipped sum of per-example gradients given per layer
  (``{name: (B, *shape)}``), each example clipped by its norm over **all** layers together
  (reference :func:`mmcourse.privacy.clip_and_noise` on the flattened gradients);
* ``calibrated_advantage(member_losses, nonmember_losses)`` -> float: the loss-threshold attack
  with τ chosen on the first halves (``n // 2`` of each array) and its advantage reported on the
  second halves (references :func:`mmcourse.privacy.choose_threshold`,
  :func:`mmcourse.privacy.membership_advantage`).

The comparison functions here are shared with the grader's tasks (``mmcourse/grading/tasks_14.py``).
All NumPy: nothing here imports TensorFlow.
"""

from __future__ import annotations

import math

import numpy as np

from mmcourse import privacy
from mmcourse.checks import Case, register


def _kind(value) -> str:
    return getattr(value, "what", type(value).__name__)


# --- task 1: FedAvg on dicts of layers ---------------------------------------------------------
def reference_fedavg(client_weights, client_sizes) -> dict[str, np.ndarray]:
    names = list(client_weights[0])
    averaged = privacy.fedavg([[np.asarray(client[name]) for name in names]
                               for client in client_weights], np.asarray(client_sizes))
    return {name: np.asarray(value, dtype=np.float64) for name, value in zip(names, averaged,
                                                                              strict=True)}


def random_clients(rng: np.random.Generator, count: int, shapes: dict[str, tuple]):
    clients = [{name: rng.normal(size=shape) for name, shape in shapes.items()}
               for _ in range(count)]
    sizes = rng.integers(1, 400, size=count)
    sizes[rng.integers(count)] = int(rng.integers(500, 3000))  # one large client: unequal sizes
    return clients, sizes


def compare_layers(received, expected, *, rtol: float = 1e-5, atol: float = 1e-6) -> str | None:
    """A dict {layer name: array} against the reference dict."""
    if type(received) is not dict:
        return f"expected a dict {{layer name: array}}, received {_kind(received)}"
    if sorted(map(str, received)) != sorted(expected):
        return f"expected the keys {sorted(expected)}, received {sorted(map(str, received))}"
    for name, target in expected.items():
        try:
            value = np.asarray(received[name], dtype=np.float64)
        except (TypeError, ValueError):
            return f"the value for {name!r} is not an array of numbers"
        if value.shape != target.shape:
            return f"{name!r}: expected shape {target.shape}, received {value.shape}"
        if not np.all(np.isfinite(value)):
            return f"{name!r} contains nan or inf"
        if not np.allclose(value, target, rtol=rtol, atol=atol):
            return (f"{name!r} differs from the reference (largest difference "
                    f"{np.max(np.abs(value - target)):.3g})")
    return None


# --- task 2: DP-SGD's private gradient, per layer ---------------------------------------------
def reference_private_gradient(per_example, clip_norm, noise_multiplier, noise,
                               expected_batch_size) -> dict[str, np.ndarray]:
    names = list(per_example)
    batch = len(per_example[names[0]])
    flat = np.concatenate([np.asarray(per_example[name], dtype=np.float64).reshape(batch, -1)
                           for name in names], axis=1)
    flat_noise = np.concatenate([np.asarray(noise[name], dtype=np.float64).ravel()
                                 for name in names])
    total = privacy.clip_and_noise(flat, clip_norm, noise_multiplier, flat_noise,
                                   batch_size=expected_batch_size)
    result, start = {}, 0
    for name in names:
        shape = np.asarray(per_example[name]).shape[1:]
        size = int(np.prod(shape))
        result[name] = total[start:start + size].reshape(shape)
        start += size
    return result


def random_gradients(rng: np.random.Generator, batch: int, shapes: dict[str, tuple]):
    scales = np.exp(rng.normal(scale=1.0, size=batch))  # some norms far above the clip, some below
    per_example = {name: rng.normal(size=(batch, *shape)) * scales.reshape(-1, *([1] * len(shape)))
                   for name, shape in shapes.items()}
    noise = {name: rng.normal(size=shape) for name, shape in shapes.items()}
    return per_example, noise


# --- task 3: calibrated membership advantage --------------------------------------------------
def reference_calibrated_advantage(member_losses, nonmember_losses) -> float:
    members = np.asarray(member_losses, dtype=np.float64)
    nonmembers = np.asarray(nonmember_losses, dtype=np.float64)
    half_m, half_n = len(members) // 2, len(nonmembers) // 2
    threshold = privacy.choose_threshold(members[:half_m], nonmembers[:half_n])
    return privacy.membership_advantage(members[half_m:], nonmembers[half_n:], threshold)


def random_losses(rng: np.random.Generator, members: int, nonmembers: int, gap: float):
    """Members' losses lower than non-members' by ``gap`` on a log scale, like an overfitted model."""
    return (np.exp(rng.normal(-gap, 1.0, size=members)),
            np.exp(rng.normal(0.0, 1.0, size=nonmembers)))


def compare_number(received, expected) -> str | None:
    if type(received) not in (int, float, np.float64, np.float32) or isinstance(received, bool):
        return f"expected a float, received {_kind(received)}"
    if not math.isfinite(float(received)):
        return "the advantage is not a finite number"
    if abs(float(received) - expected) > 1e-9:
        return f"expected the advantage {expected:.4f}, received {float(received):.4f}"
    return None


# ---------------------------------------------------------------------------------------------
@register(
    "14.fedavg_layers",
    hints=[
        "Each client's share is its number of examples divided by the total over all clients.",
        "For every layer name, add up share_k × client_k[name] over the clients (same shapes).",
        "The shares must sum to 1; a plain mean over clients is what FedAvg is *not* when the "
        "clients' sizes differ.",
    ],
)
def _fedavg_cases(rng: np.random.Generator) -> list[Case]:
    visible = [{"kernel": np.array([[1.0, 2.0]]), "bias": np.array([0.0])},
               {"kernel": np.array([[3.0, 6.0]]), "bias": np.array([4.0])}]
    cases = [Case("two clients with 1 and 3 examples you can work out by hand",
                  args=(visible, [1, 3]),
                  expected={"kernel": np.array([[2.5, 5.0]]), "bias": np.array([3.0])},
                  compare=compare_layers)]
    for count, shapes in [(5, {"dense/kernel": (4, 3), "dense/bias": (3,)}),
                          (1, {"w": (2, 2)}),
                          (12, {"k1": (6, 8), "b1": (8,), "k2": (8, 10), "b2": (10,)})]:
        clients, sizes = random_clients(rng, count, shapes)
        cases.append(Case(f"{count} client(s) of unequal sizes, layers {list(shapes)}",
                          args=(clients, sizes), expected=reference_fedavg(clients, sizes),
                          compare=compare_layers))
    return cases


@register(
    "14.private_gradient",
    hints=[
        "An example's gradient norm covers all its layers together: the square root of the sum "
        "over layers of the squared entries of that example's gradient.",
        "Scale each example's gradient (every layer) by min(1, clip_norm / norm), then add up "
        "over the examples, layer by layer.",
        "Add noise_multiplier × clip_norm × noise[name] to each layer's sum and divide by "
        "expected_batch_size (not by the number of rows).",
    ],
)
def _gradient_cases(rng: np.random.Generator) -> list[Case]:
    visible = {"kernel": np.array([[[3.0]], [[0.3]]]), "bias": np.array([[4.0], [0.4]])}
    noise = {"kernel": np.array([[1.0]]), "bias": np.array([-1.0])}
    cases = [Case("two examples (norms 5 and 0.5), C = 1, σ = 0.5, expected batch 4",
                  args=(visible, 1.0, 0.5, noise, 4.0),
                  expected={"kernel": np.array([[0.35]]), "bias": np.array([0.175])},
                  compare=compare_layers)]
    for batch, shapes, clip, sigma, expected_batch in [
            (16, {"kernel": (5, 3), "bias": (3,)}, 1.0, 1.1, 12.5),
            (40, {"k1": (4, 6), "b1": (6,), "k2": (6, 2), "b2": (2,)}, 0.5, 0.0, 40.0),
            (1, {"w": (3,)}, 2.0, 3.0, 0.8)]:
        per_example, draws = random_gradients(rng, batch, shapes)
        cases.append(Case(f"{batch} per-example gradients of layers {list(shapes)}, C={clip}, "
                          f"σ={sigma}", args=(per_example, clip, sigma, draws, expected_batch),
                          expected=reference_private_gradient(per_example, clip, sigma, draws,
                                                              expected_batch),
                          compare=compare_layers))
    return cases


@register(
    "14.calibrated_advantage",
    hints=[
        "Split each array: the first n // 2 losses are the calibration half, the rest the "
        "report half.",
        "On the calibration halves, try every calibration loss as τ; guess 'member' when "
        "loss <= τ; keep the τ with the largest TPR − FPR (the smallest τ on ties).",
        "Report TPR − FPR of that τ on the report halves — never the maximum found on the "
        "calibration halves themselves.",
    ],
)
def _advantage_cases(rng: np.random.Generator) -> list[Case]:
    members = np.array([0.1, 0.2, 0.9, 0.3, 0.5, 2.0])
    nonmembers = np.array([0.15, 1.0, 3.0, 0.4, 1.5, 1.6])
    cases = [Case("six members and six non-members you can work out by hand",
                  args=(members, nonmembers), expected=1 / 3, compare=compare_number)]
    for count_m, count_n, gap in [(200, 200, 1.0), (51, 300, 2.0), (400, 90, 0.2)]:
        member_losses, nonmember_losses = random_losses(rng, count_m, count_n, gap)
        cases.append(Case(f"{count_m} member and {count_n} non-member losses",
                          args=(member_losses, nonmember_losses),
                          expected=reference_calibrated_advantage(member_losses, nonmember_losses),
                          compare=compare_number))
    return cases
