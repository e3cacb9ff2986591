"""Checks for exercise 05 (fusion formulas), against :mod:`mmcourse.fusion.reference`.

The learner's functions (signatures as in ``solutions/05_fusion_formulas.ipynb``):

* ``weighted_average(f1, f2, alpha, beta)`` -> ``alpha * f1 + beta * f2``, shape of ``f1``;
* ``product_fusion(f1, f2)`` -> Hadamard product, shape of ``f1``;
* ``concat_fusion(f1, f2)`` -> ``(batch, d1 + d2)``;
* ``attention_weights(scores)`` -> softmax over modalities of ``(batch, M)`` scores;
* ``attention_sum(features, weights)`` -> ``(batch, d)`` from features ``(batch, M, d)``;
* ``tensor_fusion(f1, f2)`` -> ``(batch, (d1 + 1) * (d2 + 1))``.
"""

from __future__ import annotations

import numpy as np

from mmcourse.checks import Case, register
from mmcourse.fusion import reference

_SHAPES = [(4, 3), (1, 5), (7, 1), (2, 16)]  # a typical batch, batch of one, d = 1, wider d


def _describe(**arrays) -> str:
    return ", ".join(
        f"{name} of shape {np.shape(value)}" if np.ndim(value) else f"{name}={value:.3g}"
        for name, value in arrays.items()
    )


@register(
    "05.weighted_average",
    hints=[
        "The fused feature is alpha times f1 plus beta times f2 — element by element.",
        "NumPy arrays multiply by a number and add element-wise: no loop is needed.",
        "Both features must have the same shape (batch, d); the result has that shape too.",
    ],
)
def _weighted_average_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for shape in _SHAPES:
        f1, f2 = rng.normal(size=shape), rng.normal(size=shape)
        alpha, beta = rng.uniform(-1.0, 2.0, size=2)
        cases.append(
            Case(
                _describe(f1=f1, f2=f2, alpha=alpha, beta=beta),
                args=(f1, f2, alpha, beta),
                expected=reference.weighted_average([f1, f2], [alpha, beta]),
            )
        )
    f1, f2 = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    cases.append(  # edge case: alpha = 1, beta = 0 must give f1 back exactly
        Case(_describe(f1=f1, f2=f2, alpha=1.0, beta=0.0), args=(f1, f2, 1.0, 0.0), expected=f1)
    )
    return cases


@register(
    "05.product",
    hints=[
        "Product fusion multiplies the two feature vectors entry by entry (Hadamard product).",
        "`*` on two NumPy arrays of the same shape is already the element-wise product; "
        "`@` or `np.dot` would be a matrix/dot product instead.",
    ],
)
def _product_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for shape in _SHAPES:
        f1, f2 = rng.normal(size=shape), rng.normal(size=shape)
        cases.append(
            Case(
                _describe(f1=f1, f2=f2), args=(f1, f2), expected=reference.product([f1, f2])
            )
        )
    return cases


@register(
    "05.concatenate",
    hints=[
        "Concatenation puts the features of each sample side by side: (batch, d1 + d2).",
        "Join along the feature axis (the last one); joining along axis 0 would stack samples "
        "instead.",
    ],
)
def _concatenate_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for batch, d1, d2 in [(4, 3, 5), (1, 2, 2), (6, 1, 7), (3, 8, 1)]:
        f1, f2 = rng.normal(size=(batch, d1)), rng.normal(size=(batch, d2))
        cases.append(
            Case(
                _describe(f1=f1, f2=f2), args=(f1, f2), expected=reference.concatenate([f1, f2])
            )
        )
    return cases


@register(
    "05.attention_weights",
    hints=[
        "Softmax over the modality axis: exp of each score divided by the sum of the exps of "
        "that sample's scores. Every row must sum to 1.",
        "Sum along the last axis with `keepdims=True` so the division broadcasts per sample.",
        "Large scores (e.g. 1000) overflow `np.exp`. Subtract each row's maximum first: "
        "softmax(s) == softmax(s - max(s)).",
    ],
)
def _attention_weights_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for batch, modalities in [(4, 2), (1, 3), (5, 4)]:
        scores = rng.normal(scale=2.0, size=(batch, modalities))
        cases.append(
            Case(
                _describe(scores=scores),
                args=(scores,),
                expected=reference.attention_weights(scores),
            )
        )
    large = rng.uniform(900.0, 1000.0, size=(3, 3))  # edge case: needs the max-subtraction trick
    cases.append(
        Case(
            _describe(scores=large) + " (large scores, around 1000)",
            args=(large,),
            expected=reference.attention_weights(large),
        )
    )
    equal = np.full((2, 3), rng.normal())
    cases.append(
        Case(
            _describe(scores=equal) + " (all scores equal)",
            args=(equal,),
            expected=reference.attention_weights(equal),
        )
    )
    return cases


@register(
    "05.attention_sum",
    hints=[
        "Each sample has its own weights: fused[b] = sum over m of weights[b, m] * features[b, m].",
        "Give the weights a trailing axis so they broadcast over d: `weights[:, :, None]`, "
        "then sum over the modality axis (axis=1).",
    ],
)
def _attention_sum_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for batch, modalities, dim in [(4, 2, 3), (1, 3, 5), (6, 4, 1), (3, 2, 8)]:
        features = rng.normal(size=(batch, modalities, dim))
        weights = reference.softmax(rng.normal(size=(batch, modalities)))
        expected = reference.attention_sum(list(np.moveaxis(features, 1, 0)), weights)
        cases.append(
            Case(_describe(features=features, weights=weights), args=(features, weights),
                 expected=expected)
        )
    return cases


@register(
    "05.tensor_fusion",
    hints=[
        "Append a 1 to each feature vector, then take the outer product per sample and flatten it.",
        "`np.concatenate([f1, np.ones((batch, 1))], axis=1)` appends the 1; "
        "`z1[:, :, None] * z2[:, None, :]` is the per-sample outer product (batch, d1+1, d2+1).",
        "Flatten each sample with `.reshape(batch, -1)`; the entry for f1's 1 and f2's 1 is last.",
    ],
)
def _tensor_fusion_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for batch, d1, d2 in [(4, 3, 2), (1, 2, 5), (5, 1, 1), (2, 4, 3)]:
        f1, f2 = rng.normal(size=(batch, d1)), rng.normal(size=(batch, d2))
        cases.append(
            Case(
                _describe(f1=f1, f2=f2), args=(f1, f2), expected=reference.tensor_fusion([f1, f2])
            )
        )
    return cases
