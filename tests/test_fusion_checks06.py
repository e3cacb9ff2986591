"""The exercise-06 checks accept right answers and reject the typical wrong ones."""

import numpy as np
import pytest

from mmcourse.checks import check, registered_checks
from mmcourse.fusion import late


def hint_probabilities(candidates):
    allowed = np.where(candidates.any(axis=1, keepdims=True), candidates, True).astype(float)
    return allowed / allowed.sum(axis=1, keepdims=True)


def hint_without_empty_rows(candidates):
    allowed = candidates.astype(float)
    return allowed / allowed.sum(axis=1, keepdims=True)


def average_fusion(probabilities):
    return np.mean(np.stack(probabilities), axis=0)


def product_in_log_space(probabilities, floor=1e-6):
    scores = sum(np.log(np.maximum(p, floor)) for p in probabilities)
    scores = scores - scores.max(axis=-1, keepdims=True)
    return np.exp(scores) / np.exp(scores).sum(axis=-1, keepdims=True)


def product_directly(probabilities, floor=1e-6):  # underflows for many experts
    product = np.prod([np.maximum(p, floor) for p in probabilities], axis=0)
    return product / product.sum(axis=1, keepdims=True)


def product_without_floor(probabilities, floor=1e-6):  # log 0 = -inf
    scores = sum(np.log(p) for p in probabilities)
    scores = scores - scores.max(axis=-1, keepdims=True)
    return np.exp(scores) / np.exp(scores).sum(axis=-1, keepdims=True)


def product_ignoring_floor_argument(probabilities, floor=1e-6):
    return product_in_log_space(probabilities)


def product_hard_coded(probabilities, floor=1e-6):
    return late.product_of_experts([np.array([[0.6, 0.4]])] * 2)


def test_lesson_06_registers_its_checks():
    assert registered_checks("06") == [
        "06.average", "06.hint_probabilities", "06.product_of_experts"
    ]


@pytest.mark.parametrize(
    "check_id, function",
    [
        ("06.hint_probabilities", hint_probabilities),
        ("06.average", average_fusion),
        ("06.average", late.average_probabilities),
        ("06.product_of_experts", product_in_log_space),
        ("06.product_of_experts", late.product_of_experts),
    ],
)
def test_right_answers_pass(check_id, function, capsys):
    assert check(check_id, function)
    assert "visible checks passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    "check_id, function",
    [
        ("06.hint_probabilities", hint_without_empty_rows),
        ("06.average", product_in_log_space),
        ("06.product_of_experts", average_fusion),
        ("06.product_of_experts", product_directly),
        ("06.product_of_experts", product_without_floor),
        ("06.product_of_experts", product_ignoring_floor_argument),
        ("06.product_of_experts", product_hard_coded),
    ],
)
def test_typical_mistakes_fail(check_id, function, capsys):
    with np.errstate(all="ignore"):
        assert not check(check_id, function)
    assert "failed" in capsys.readouterr().out
