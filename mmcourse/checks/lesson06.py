"""Checks for exercise 06 (late fusion), against :mod:`mmcourse.fusion.late`.

The learner's functions (signatures as in ``solutions/06_early_late_fusion.ipynb``):

* ``hint_probabilities(candidates)`` -> bool ``(batch, 10)`` candidate masks to probabilities,
  uniform over the allowed digits (uniform over all ten when none is allowed);
* ``average_fusion(probabilities)`` -> the mean of a list of ``(batch, classes)`` arrays;
* ``product_of_experts(probabilities, floor=1e-6)`` -> ``softmax(Σ_i log max(p_i, floor))``,
  ``(batch, classes)``, rows summing to 1 — in log space, so that many small probabilities do
  not underflow, and with a floor, so that zeros do not give ``log 0``;
* ``choose_on_validation(validation, validation_labels, test, test_labels)`` -> ``(name,
  test_accuracy)``: the rule with the best validation accuracy (first on a tie) and its test
  accuracy — validation chooses, test reports;
* ``LearnedWeightedAverage`` — a Keras layer class (passed itself, not an instance): one trainable
  logit per modality made in ``build()``, output ``Σ_i softmax(logits)_i f_i`` for a list of
  ``(batch, d)`` inputs (learned late fusion; TensorFlow is imported only for this check).
"""

from __future__ import annotations

import re

import numpy as np

from mmcourse.checks import Case, register
from mmcourse.fusion import late, reference


def _probabilities(rng: np.random.Generator, count: int, batch: int, classes: int):
    return [rng.dirichlet(np.full(classes, 0.5), size=batch) for _ in range(count)]


def _uniform_over(candidates: np.ndarray) -> np.ndarray:
    allowed = np.where(candidates.any(axis=1, keepdims=True), candidates, True).astype(float)
    return allowed / allowed.sum(axis=1, keepdims=True)


@register(
    "06.hint_probabilities",
    hints=[
        "Each row should spread probability 1 evenly over the digits whose mask entry is True.",
        "Convert the bool mask to floats and divide each row by its sum "
        "(`keepdims=True` keeps the shapes broadcastable).",
        "A row with no True entry has sum 0 (and 0/0 = nan): find those rows first (is any entry "
        "of the row True?) and replace them by a row where every digit is allowed.",
    ],
)
def _hint_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for batch in (5, 1, 12):
        candidates = rng.random((batch, 10)) < rng.uniform(0.1, 0.7)
        candidates[np.arange(batch), rng.integers(0, 10, batch)] = True  # never empty here
        cases.append(
            Case(f"candidates of shape {candidates.shape}", args=(candidates,),
                 expected=_uniform_over(candidates))
        )
    empty = rng.random((3, 10)) < 0.5
    empty[1] = False  # a missing hint: no digit marked
    cases.append(Case("candidates with an all-False row", args=(empty,),
                      expected=_uniform_over(empty)))
    return cases


@register(
    "06.average",
    hints=[
        "Average the arrays in the list element by element: the result has the shape of one of them.",
        "Stacking the M arrays gives one array of shape (M, batch, classes); average it over the "
        "axis that counts the modalities.",
    ],
)
def _average_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for count, batch, classes in [(2, 6, 10), (3, 4, 5), (1, 3, 4), (5, 1, 10)]:
        probabilities = _probabilities(rng, count, batch, classes)
        cases.append(
            Case(f"{count} arrays of shape ({batch}, {classes})", args=(probabilities,),
                 expected=late.average_probabilities(probabilities))
        )
    return cases


def _floor_kwargs(floor):
    return {} if floor is None else {"floor": floor}


@register(
    "06.product_of_experts",
    hints=[
        "Multiply the experts' probabilities class by class, then renormalise each row to sum 1 "
        "— but do it with logarithms: add the logs instead of multiplying.",
        "Clip each probability from below at `floor` before taking its log, so that an exact 0 "
        "does not give -inf. Then turn the summed logs back into probabilities with a softmax over "
        "the class axis, stabilised by subtracting each row's maximum first.",
        "Multiplying many small numbers underflows to 0 (and 0/0 = nan): a hundred factors of "
        "1e-6 make 1e-600, below the smallest float64. In log space that is just -1382, and the "
        "softmax after subtracting the row maximum is fine.",
    ],
)
def _product_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for count, batch, classes in [(2, 6, 10), (3, 4, 5), (1, 3, 4)]:
        probabilities = _probabilities(rng, count, batch, classes)
        cases.append(
            Case(f"{count} arrays of shape ({batch}, {classes})", args=(probabilities,),
                 expected=late.product_of_experts(probabilities))
        )
    zeros = _probabilities(rng, 2, 4, 6)
    zeros[0][:, :2] = 0.0  # expert 0 rules classes 0 and 1 out ...
    zeros[1][:, 2:] = 0.0  # ... expert 1 rules everything else out: every product is 0
    zeros = [p / p.sum(axis=1, keepdims=True) for p in zeros]
    cases.append(Case("two experts whose zeros cover every class (needs the floor)",
                      args=(zeros,), expected=late.product_of_experts(zeros)))
    floor = float(rng.choice([1e-3, 1e-2]))
    veto = [zeros[0], *_probabilities(rng, 1, 4, 6)]  # only expert 0 rules classes out
    cases.append(Case(f"one expert with zeros and floor={floor}", args=(veto,),
                      kwargs=_floor_kwargs(floor),
                      expected=late.product_of_experts(veto, floor=floor)))
    many = [np.full((2, 5), 1e-6) for _ in range(150)]
    for p in many:
        p[:, rng.integers(0, 5)] = 1.0 - 4e-6
    cases.append(Case("150 experts with tiny probabilities (a plain product underflows)",
                      args=(many,), expected=late.product_of_experts(many)))
    return cases


# --- Task 4: choose on validation, report on test ------------------------------------------------
def _accuracy(probabilities, labels) -> float:
    return float(np.mean(np.argmax(np.asarray(probabilities), axis=1) == np.asarray(labels)))


def reference_choose(validation, validation_labels, test, test_labels) -> tuple[str, float]:
    """(the first name with the best validation accuracy, that rule's test accuracy)."""
    scores = {name: _accuracy(probabilities, validation_labels) for name, probabilities in validation.items()}
    chosen = max(scores, key=lambda name: scores[name])  # max keeps the first of equal keys
    return chosen, _accuracy(test[chosen], test_labels)


def random_choice_problem(rng: np.random.Generator, names=None, samples=None, classes=None,
                          tie: bool | None = None):
    """A random choice among fusion rules where validation and test disagree on the best one.

    Returns ``(validation, validation_labels, test, test_labels)``; about one problem in three has
    a tie on validation (every one with ``tie=True``, none with ``tie=False``), and the rule
    best on test is never the one best on validation.
    """
    names = list(names or rng.choice(["average", "product", "image", "hint", "max", "learned"],
                                     size=int(rng.integers(2, 6)), replace=False))
    samples = int(samples or rng.integers(20, 80))
    classes = int(classes or rng.integers(2, 11))
    while True:
        splits = []
        for _ in range(2):
            labels = rng.integers(0, classes, size=samples)
            rules = {}
            for name in names:
                probabilities = rng.dirichlet(np.ones(classes), size=samples)
                right = rng.random(samples) < rng.uniform(0.2, 0.9)
                probabilities[right, labels[right]] += 2.0  # this rule is right on these samples
                rules[str(name)] = probabilities / probabilities.sum(axis=1, keepdims=True)
            splits.append((rules, labels))
        (validation, validation_labels), (test, test_labels) = splits
        if (rng.random() < 0.35 if tie is None else tie) and len(names) > 1:  # a tie: the first wins
            best = reference_choose(validation, validation_labels, test, test_labels)[0]
            other = str(rng.choice([name for name in validation if name != best]))
            validation[other] = validation[best].copy()  # two rules best on validation
        chosen = reference_choose(validation, validation_labels, test, test_labels)[0]
        best_on_test = max(test, key=lambda name: _accuracy(test[name], test_labels))
        if best_on_test != chosen and _accuracy(test[best_on_test], test_labels) > _accuracy(test[chosen], test_labels):
            return validation, validation_labels, test, test_labels


def _compare_choice(received, expected) -> str | None:
    if not isinstance(received, (tuple, list)) or len(received) != 2:
        return f"expected a tuple (name, test_accuracy), received {type(received).__name__}"
    name, accuracy = received
    if name != expected[0]:
        return (f"chose {name!r}, but {expected[0]!r} has the best validation accuracy (the first "
                "one, on a tie) — is the choice made on validation?")
    try:
        accuracy = float(accuracy)
    except (TypeError, ValueError):
        return f"the second item should be the test accuracy (a float), received {accuracy!r}"
    if not np.isclose(accuracy, expected[1]):
        return f"the chosen rule's test accuracy is {expected[1]:.4f}, received {accuracy:.4f}"
    return None


@register(
    "06.choose_on_validation",
    hints=[
        "Compute every rule's accuracy on the validation split only, pick the best, and only then "
        "look at the test split — for that one rule.",
        "Accuracy is the share of samples whose most probable class (the arg-max over the class "
        "axis) equals the label. On a tie keep the first name in the dict's order: Python's own "
        "max over the keys with a key function already does that.",
    ],
)
def _choose_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for _ in range(5):
        problem = random_choice_problem(rng, tie=bool(len(cases) % 2))
        names = list(problem[0])
        cases.append(Case(f"{len(names)} rules {names} on {len(problem[1])} validation samples "
                          "(the rule best on test is another one)", args=problem,
                          expected=reference_choose(*problem), compare=_compare_choice))
    return cases


# --- Task 5: a learned weighted average as a Keras layer -------------------------------------------
#
# The learner's class (``LearnedWeightedAverage`` in the notebook) is passed itself, not an
# instance: ``check("06.learned_weighted_average", LearnedWeightedAverage)``. Each case calls
# ``LayerClass()`` (the check's ``fn()``), and its ``compare`` then exercises the instance: build,
# parameter count, outputs against the NumPy reference with random logits set into the layer's
# own weights, weights summing to 1, gradients reaching the logits, a symbolic (functional) call,
# and a ``get_config`` → ``from_config`` round trip. TensorFlow is imported only here, lazily, so
# the NumPy checks above stay light.


def _trainable_size(layer) -> int:
    return int(sum(np.prod(weight.shape) for weight in layer.trainable_weights))


def _set_logits(layer, logits: np.ndarray) -> None:
    """Write ``logits`` (M,) into the layer's trainable weights, in order, whatever their shapes."""
    start = 0
    for weight in layer.trainable_weights:
        size = int(np.prod(weight.shape))
        weight.assign(np.reshape(logits[start:start + size], weight.shape).astype(weight.dtype))
        start += size


def _own_logits(layer) -> np.ndarray:
    return np.concatenate([np.ravel(np.asarray(weight.numpy(), dtype=np.float64))
                           for weight in layer.trainable_weights])


def _error_text(error: Exception) -> str:
    """The learner-relevant part of an error (Keras wraps it in "Exception encountered ...")."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error)).split("Arguments received by")[0]
    lines = [line.strip() for line in text.splitlines()
             if line.strip() and not line.strip().startswith("Exception encountered when calling")]
    return " ".join(lines)[:300]


def _layer_problem(layer, features, logits) -> str | None:
    """None if ``layer`` (fresh, unbuilt) behaves as a learned softmax-weighted average."""
    import keras
    import tensorflow as tf

    count, (batch, dim) = len(features), features[0].shape
    if not isinstance(layer, keras.layers.Layer):
        return f"LayerClass() should give a keras.layers.Layer; it gave {type(layer).__name__}"
    step = "build"
    try:
        layer.build([(batch, dim)] * count)
        size = _trainable_size(layer)
        if size != count:
            return (
                f"after build() for {count} inputs the layer should hold exactly {count} trainable "
                f"numbers (one logit per modality, made with self.add_weight(..., trainable=True) "
                f"in build()); it holds {size}"
            )
        _set_logits(layer, logits)
        own = _own_logits(layer)
        if not np.allclose(own, logits, atol=1e-6):
            return "the layer's trainable weights did not take the logits set into them"
        step = "call"
        tensors = [tf.constant(feature, dtype=tf.float32) for feature in features]
        output = layer(tensors)
        received = np.asarray(output, dtype=np.float64)
        if _trainable_size(layer) != count:
            return (
                f"calling the layer changed its number of trainable numbers from {count} to "
                f"{_trainable_size(layer)} — create weights in build(), never in call()"
            )
        expected = reference.weighted_average(features, reference.softmax(own))
        if received.shape != expected.shape:
            return f"wrong output shape: expected {expected.shape}, received {received.shape}"
        if not np.allclose(received, expected, rtol=1e-4, atol=1e-5):
            fusion_weights = reference.softmax(own)
            return (
                "wrong values: with logits "
                f"{np.array2string(own, precision=3)} the output should be Σ_i softmax(logits)_i · "
                f"f_i, i.e. weights {np.array2string(fusion_weights, precision=3)} (summing to 1) "
                "— is the softmax missing, or are the weights not the layer's own?"
            )
        step = "a second call"
        again = np.asarray(layer(tensors), dtype=np.float64)
        if not np.allclose(again, received, rtol=1e-6, atol=1e-7) or _trainable_size(layer) != count:
            return "a second call on the same inputs changed the output or the weights"
        step = "the gradient"
        targets = tf.constant(np.random.default_rng(batch * 100 + dim).normal(size=(batch, dim)),
                              dtype=tf.float32)
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(layer(tensors) * targets)
        gradients = tape.gradient(loss, layer.trainable_weights)
        if any(gradient is None for gradient in gradients):
            return (
                "no gradient reaches the logits — compute the output from the weights with "
                "keras.ops (no NumPy, no .numpy()) so training can change them"
            )
        if not any(np.any(np.abs(np.asarray(g)) > 1e-9) for g in gradients):
            return "the gradient with respect to the logits is zero — the output ignores them"
        step = "get_config / from_config"
        clone = type(layer).from_config(layer.get_config())
        if type(clone) is not type(layer):
            return f"from_config(get_config()) gave a {type(clone).__name__}, not a {type(layer).__name__}"
        clone.build([(batch, dim)] * count)
        if _trainable_size(clone) != count:
            return "a layer rebuilt with from_config(get_config()) does not hold one logit per modality"
        step = "a symbolic call (keras.Input)"
        inputs = [keras.Input((dim,)) for _ in range(count)]
        symbolic = type(layer).from_config(layer.get_config())(inputs)
        if tuple(symbolic.shape) != (None, dim):
            return (
                f"called on keras.Input tensors the layer gave shape {tuple(symbolic.shape)}; "
                f"expected (None, {dim}) — use keras.ops, not NumPy, in call()"
            )
    except NotImplementedError:
        return f"{step} raised NotImplementedError — it is still the stub; write that method"
    except Exception as error:  # noqa: BLE001 - any learner error becomes a message
        return f"{step} raised {type(error).__name__}: {_error_text(error)}"
    return None


@register(
    "06.learned_weighted_average",
    hints=[
        "In build(input_shape), input_shape is a list with one (batch, d) shape per modality: make "
        "ONE trainable weight of shape (len(input_shape),) with self.add_weight(...) — the logits.",
        "In call(inputs): the fusion weights are the softmax of the logits (shape (M,), summing "
        "to 1). Stack the M inputs along a new modality axis, reshape the weights so that they "
        "broadcast along that axis, multiply and sum the modality axis away.",
        "Create nothing in call() and use only keras.ops there (no np., no .numpy()), so the "
        "gradient reaches the logits and the layer also works on keras.Input tensors.",
    ],
)
def _learned_weighted_average_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for count, batch, dim in [(2, 4, 3), (3, 5, 10), (2, 1, 7), (3, 6, 1)]:
        features = [rng.normal(size=(batch, dim)).astype(np.float32).astype(np.float64)
                    for _ in range(count)]
        logits = rng.normal(scale=1.5, size=count)
        expected = reference.weighted_average(features, reference.softmax(logits))

        def compare(layer, _expected, features=features, logits=logits):
            return _layer_problem(layer, features, logits)

        cases.append(Case(f"{count} inputs of shape ({batch}, {dim}), random logits set with "
                          f"the layer's own weights", expected=expected, compare=compare))
    return cases
