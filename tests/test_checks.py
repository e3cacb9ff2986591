"""mmcourse.checks: instant feedback on fresh random inputs, for exercise 05."""

from __future__ import annotations

import numpy as np
import pytest

from mmcourse import checks
from mmcourse.checks import Case, check, hint, register


def correct_tensor_fusion(f1, f2):
    batch = f1.shape[0]
    z1 = np.hstack([f1, np.ones((batch, 1))])
    z2 = np.hstack([f2, np.ones((batch, 1))])
    return np.einsum("bi,bj->bij", z1, z2).reshape(batch, -1)


def stable_softmax_written_differently(scores):
    logs = scores - np.log(np.sum(np.exp(scores - scores.max(1, keepdims=True)), 1, keepdims=True))
    return np.exp(logs - scores.max(1, keepdims=True))


RIGHT_ANSWERS = {
    "05.weighted_average": lambda f1, f2, alpha, beta: np.add(np.multiply(alpha, f1), beta * f2),
    "05.product": np.multiply,
    "05.concatenate": lambda f1, f2: np.hstack([f1, f2]),
    "05.attention_weights": stable_softmax_written_differently,
    "05.attention_sum": lambda features, weights: np.einsum("bm,bmd->bd", weights, features),
    "05.tensor_fusion": correct_tensor_fusion,
}


def test_lesson05_registers_every_task():
    assert checks.registered_checks("05") == sorted(RIGHT_ANSWERS)


@pytest.mark.parametrize("check_id", sorted(RIGHT_ANSWERS))
def test_right_answer_passes_with_honest_wording(check_id, capsys):
    assert check(check_id, RIGHT_ANSWERS[check_id]) is True
    out = capsys.readouterr().out
    assert out.startswith(f"✓ {check_id}: visible checks passed (")
    assert "all tests passed" not in out.lower()


@pytest.mark.parametrize("check_id", sorted(RIGHT_ANSWERS))
def test_untouched_stub_fails_with_a_clear_message(check_id, capsys):
    def stub(*args):
        raise NotImplementedError()

    assert check(check_id, stub) is False
    out = capsys.readouterr().out
    assert out.startswith(f"✗ {check_id}")
    assert "NotImplementedError" in out and "stub" in out
    assert "Traceback" not in out
    assert "hint:" in out


def test_wrong_answer_prints_expected_and_received(capsys):
    assert check("05.weighted_average", lambda f1, f2, alpha, beta: alpha * f1 + alpha * f2) is False
    out = capsys.readouterr().out
    assert "expected: array of shape" in out
    assert "received: array of shape" in out
    assert "wrong values" in out


def test_wrong_shape_is_named(capsys):
    assert check("05.concatenate", lambda f1, f2: np.concatenate([f1.T, f2.T]).T.ravel()) is False
    assert "wrong shape" in capsys.readouterr().out


def test_unstable_softmax_fails_on_large_scores(capsys):
    with np.errstate(over="ignore", invalid="ignore"):
        naive = check("05.attention_weights", lambda s: np.exp(s) / np.exp(s).sum(1, keepdims=True))
    assert naive is False
    assert "large scores" in capsys.readouterr().out


def test_answer_hard_coded_to_one_input_fails(capsys):
    # Record what a correct function returns on one visible call, then replay it every time.
    recorded = {}

    def recorder(f1, f2):
        result = f1 * f2
        recorded.setdefault(f1.shape, result)
        return result

    assert check("05.product", recorder)
    capsys.readouterr()
    assert check("05.product", lambda f1, f2: recorded[f1.shape]) is False  # fresh inputs
    assert "wrong values" in capsys.readouterr().out


def test_missing_return_is_explained(capsys):
    assert check("05.product", lambda f1, f2: None) is False
    assert "forget a `return`" in capsys.readouterr().out


def test_in_place_edit_cannot_change_expected(capsys):
    def mutating(f1, f2, alpha, beta):
        f1 *= alpha
        f1 += beta * f2
        return f1

    assert check("05.weighted_average", mutating) is True


def test_hint_goes_one_further_each_call(capsys):
    checks._HINTS_SHOWN.pop("05.tensor_fusion", None)
    first = hint("05.tensor_fusion")
    second = hint("05.tensor_fusion")
    third = hint("05.tensor_fusion")
    again = hint("05.tensor_fusion")
    assert first.startswith("hint 1/3") and second.startswith("hint 2/3")
    assert third.startswith("hint 3/3") and "last hint" in third and again == third


def test_bad_ids_and_arguments():
    with pytest.raises(ValueError, match="NN.task"):
        check("5.product", np.multiply)
    with pytest.raises(ValueError, match="unknown check"):
        check("05.no_such_task", np.multiply)
    with pytest.raises(ValueError, match="no checks"):
        check("99.anything", np.multiply)
    with pytest.raises(TypeError, match="no parentheses"):
        check("05.product", np.multiply(1, 2))


def test_registry_pattern_for_other_lessons(capsys):
    @register("98.double", hints=["Multiply by two."])
    def _cases(rng):
        x = rng.normal(size=3)
        return [Case("x", args=(x,), expected=2 * x), Case("text", args=("a",), raises=TypeError)]

    def double(x):
        if isinstance(x, str):
            raise TypeError("numbers only")
        return 2 * x

    assert check("98.double", double) is True
    assert check("98.double", lambda x: 2 * np.asarray(x, dtype=object)) is False
    assert "expected your function to raise TypeError" in capsys.readouterr().out
