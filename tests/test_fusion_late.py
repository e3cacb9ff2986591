"""Late-fusion helpers against NumPy formulas and against an exact Bayes posterior."""

import warnings

import numpy as np
import pytest

from mmcourse.fusion import late
from mmcourse.fusion import reference as ref


def _random_probabilities(count=3, batch=20, classes=5, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.dirichlet(np.ones(classes), size=batch) for _ in range(count)]


@pytest.mark.parametrize(
    "method, formula",
    [
        (late.average_probabilities, ref.average_probabilities_reference),
        (late.weighted_vote, ref.weighted_vote_reference),
        (late.product_of_experts, ref.product_of_experts_reference),
    ],
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_the_reference_formula(method, formula, seed):
    probabilities = _random_probabilities(seed=seed)
    got = method(probabilities)
    np.testing.assert_allclose(got, formula(probabilities), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got.sum(axis=1), 1.0)
    weights = [0.5, 2.0, 1.0]
    np.testing.assert_allclose(method(probabilities, weights=weights),
                               _weighted_formula(method, probabilities, weights), atol=1e-12)


def _weighted_formula(method, probabilities, weights):
    if method is late.product_of_experts:
        scores = sum(w * np.log(np.maximum(p, 1e-6)) for w, p in zip(weights, probabilities,
                                                                      strict=True))
        return ref.softmax(scores, axis=-1)
    if method is late.weighted_vote:
        return ref.weighted_vote_reference(probabilities, weights)
    return ref.average_probabilities_reference(probabilities, weights)


def test_average_by_hand():
    first = np.array([[0.6, 0.4]])
    second = np.array([[0.2, 0.8]])
    np.testing.assert_allclose(late.average_probabilities([first, second]), [[0.4, 0.6]])
    np.testing.assert_allclose(late.average_probabilities([first, second], weights=[3, 1]),
                               [[0.5, 0.5]])


def test_product_sharpens_agreeing_evidence_while_average_does_not():
    vote = np.array([[0.6, 0.4]])
    np.testing.assert_allclose(late.average_probabilities([vote, vote]), vote)
    np.testing.assert_allclose(late.product_of_experts([vote, vote]), [[0.36 / 0.52, 0.16 / 0.52]])


def test_product_of_experts_is_the_bayes_posterior_under_conditional_independence():
    """A discrete model with p(y), p(x1|y), p(x2|y): the product of the two posteriors divided
    by the prior once is exactly p(y | x1, x2)."""
    rng = np.random.default_rng(3)
    classes, values = 4, 6
    prior = rng.dirichlet(np.ones(classes))
    likelihood_1 = rng.dirichlet(np.ones(values), size=classes)  # p(x1 | y), (classes, values)
    likelihood_2 = rng.dirichlet(np.ones(values), size=classes)
    x1, x2 = np.meshgrid(np.arange(values), np.arange(values), indexing="ij")
    x1, x2 = x1.ravel(), x2.ravel()
    posterior_1 = ref.softmax(np.log(prior * likelihood_1[:, x1].T), axis=-1)  # p(y | x1)
    posterior_2 = ref.softmax(np.log(prior * likelihood_2[:, x2].T), axis=-1)
    joint = prior * likelihood_1[:, x1].T * likelihood_2[:, x2].T
    exact = joint / joint.sum(axis=1, keepdims=True)
    fused = late.product_of_experts([posterior_1, posterior_2], prior=prior, floor=1e-300)
    np.testing.assert_allclose(fused, exact, rtol=1e-9)
    assert not np.allclose(late.average_probabilities([posterior_1, posterior_2]), exact,
                           atol=1e-2)
    assert not np.allclose(late.product_of_experts([posterior_1, posterior_2]), exact, atol=1e-3)


def test_candidate_mask_multiplies_in_as_a_likelihood():
    image = np.array([[0.1, 0.5, 0.4, 0.0]])
    candidates = np.array([[0.0, 0.0, 1.0, 1.0]])  # the hint allows classes 2 and 3
    fused = late.product_of_experts([image, candidates], floor=1e-9)
    assert np.argmax(fused) == 2
    assert fused[0, :2].max() < 1e-6


def test_product_is_safe_with_zeros():
    zeros = [np.array([[0.0, 1.0, 0.0]]), np.array([[1.0, 0.0, 0.0]])]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fused = late.product_of_experts(zeros)
    assert np.all(np.isfinite(fused))
    np.testing.assert_allclose(fused.sum(), 1.0)
    np.testing.assert_allclose(fused[0, :2], [0.5, 0.5], rtol=1e-6)
    with pytest.raises(ValueError, match="floor"):
        late.product_of_experts(zeros, floor=0.0)


@pytest.mark.parametrize(
    "method", [late.average_probabilities, late.weighted_vote, late.product_of_experts]
)
def test_missing_modalities_are_left_out(method):
    probabilities = _random_probabilities(count=3, batch=6, seed=4)
    presence = np.ones((6, 3), bool)
    presence[:, 1] = False
    presence[5] = False
    got = method(probabilities, presence=presence)
    subset = method([probabilities[0], probabilities[2]])
    np.testing.assert_allclose(got[:5], subset[:5], atol=1e-12)
    np.testing.assert_allclose(got[5], np.full(5, 0.2))  # nothing present: uniform


def test_product_with_prior_and_nothing_present_returns_the_prior():
    probabilities = _random_probabilities(count=2, batch=2, classes=3)
    prior = np.array([0.5, 0.3, 0.2])
    got = late.product_of_experts(probabilities, presence=np.zeros((2, 2)), prior=prior)
    np.testing.assert_allclose(got, np.tile(prior, (2, 1)))


def test_weighted_vote_by_hand():
    probabilities = [np.array([[0.9, 0.1, 0.0]]), np.array([[0.2, 0.7, 0.1]]),
                     np.array([[0.3, 0.6, 0.1]])]
    np.testing.assert_allclose(late.weighted_vote(probabilities), [[1 / 3, 2 / 3, 0.0]])
    np.testing.assert_allclose(late.weighted_vote(probabilities, weights=[3, 1, 1]),
                               [[0.6, 0.4, 0.0]])


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: late.average_probabilities(np.ones((2, 3))), TypeError, "list"),
        (lambda: late.average_probabilities([]), ValueError, "at least one"),
        (lambda: late.average_probabilities([np.ones((2, 3)), np.ones((2, 4))]), ValueError,
         "same shape"),
        (lambda: late.weighted_vote([np.ones(3), np.ones(3)]), ValueError, "rank 2"),
        (lambda: late.product_of_experts([-np.ones((2, 3))]), ValueError, "non-negative"),
        (lambda: late.average_probabilities([np.ones((2, 3))], weights=[1, 2]), ValueError,
         "weights"),
        (lambda: late.weighted_vote([np.ones((2, 3))], presence=np.ones((2, 2))), ValueError,
         "presence"),
        (lambda: late.product_of_experts([np.ones((2, 3))], prior=[1, 1]), ValueError, "prior"),
        (lambda: late.accuracy(np.ones((2, 3)), [1, 2, 3]), ValueError, "labels"),
    ],
)
def test_bad_input_raises(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_accuracy():
    probabilities = np.array([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4]])
    assert late.accuracy(probabilities, [0, 1, 1]) == pytest.approx(2 / 3)
