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
        "06.average", "06.choose_on_validation", "06.hint_probabilities",
        "06.learned_weighted_average", "06.product_of_experts",
    ]


def choose_by_loop(validation, validation_labels, test, test_labels):
    best_name, best = None, -1.0
    for name, probabilities in validation.items():
        score = np.mean(probabilities.argmax(1) == validation_labels)
        if score > best:
            best_name, best = name, score
    return best_name, float(np.mean(test[best_name].argmax(1) == test_labels))


def choose_on_test(validation, validation_labels, test, test_labels):  # selects on test
    return choose_by_loop(test, test_labels, test, test_labels)


def choose_last_on_tie(validation, validation_labels, test, test_labels):
    scores = {name: np.mean(p.argmax(1) == validation_labels) for name, p in validation.items()}
    name = [n for n in scores if scores[n] == max(scores.values())][-1]
    return name, float(np.mean(test[name].argmax(1) == test_labels))


def choose_reports_validation(validation, validation_labels, test, test_labels):
    name, _ = choose_by_loop(validation, validation_labels, test, test_labels)
    return name, float(np.mean(validation[name].argmax(1) == validation_labels))


@pytest.mark.parametrize("function, passes", [(choose_by_loop, True), (choose_on_test, False),
                                              (choose_last_on_tie, False),
                                              (choose_reports_validation, False)])
def test_choose_on_validation_check(function, passes, capsys):
    results = [check("06.choose_on_validation", function) for _ in range(3)]
    assert all(results) if passes else not any(results), capsys.readouterr().out


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


# --- 06.learned_weighted_average: a Keras layer class is checked, not a function -------------------

import keras  # noqa: E402 - only the layer tests need Keras

from mmcourse.fusion.layers import WeightedAverage  # noqa: E402


class LearnedWeightedAverage(keras.layers.Layer):
    """The notebook's solution: softmax(logits)-weighted sum of M (batch, d) inputs."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)

    def build(self, input_shape):
        self.logits = self.add_weight(shape=(len(input_shape),), initializer="zeros", name="logits")

    def call(self, inputs):
        weights = keras.ops.softmax(self.logits)
        stacked = keras.ops.stack(inputs, axis=1)
        return keras.ops.sum(stacked * weights[None, :, None], axis=1)


class ScalarLogits(keras.layers.Layer):
    """Also right: one (1,) variable per modality instead of one (M,) vector."""

    def build(self, input_shape):
        self.scalars = [self.add_weight(shape=(1,), initializer="zeros", name=f"logit_{index}")
                        for index in range(len(input_shape))]

    def call(self, inputs):
        weights = keras.ops.softmax(keras.ops.concatenate(self.scalars))
        return sum(weights[index] * feature for index, feature in enumerate(inputs))


class Stub(keras.layers.Layer):
    """The untouched exercise: the methods still raise NotImplementedError."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)

    def build(self, input_shape):
        raise NotImplementedError()

    def call(self, inputs):
        raise NotImplementedError()


class NoSoftmax(LearnedWeightedAverage):
    def call(self, inputs):
        stacked = keras.ops.stack(inputs, axis=1)
        return keras.ops.sum(stacked * self.logits[None, :, None], axis=1)


class FixedWeights(LearnedWeightedAverage):
    """α = β = 1/M as constants: nothing to learn."""

    def build(self, input_shape):
        self.logits = self.add_weight(shape=(len(input_shape),), initializer="zeros",
                                      name="logits", trainable=False)


class PlainAverage(LearnedWeightedAverage):
    """Has the logits, but ignores them."""

    def call(self, inputs):
        return keras.ops.mean(keras.ops.stack(inputs, axis=1), axis=1)


class WeightsMadeInCall(keras.layers.Layer):
    def build(self, input_shape):
        pass

    def call(self, inputs):
        self.logits = self.add_weight(shape=(len(inputs),), initializer="zeros", name="logits")
        weights = keras.ops.softmax(self.logits)
        return sum(weights[index] * feature for index, feature in enumerate(inputs))


class NumpyInCall(LearnedWeightedAverage):
    """Right numbers in eager mode, but NumPy cuts the gradient and fails on keras.Input."""

    def call(self, inputs):
        weights = np.exp(self.logits.numpy()) / np.exp(self.logits.numpy()).sum()
        return sum(float(w) * feature for w, feature in zip(weights, inputs, strict=True))


class HardCoded(LearnedWeightedAverage):
    """The output for one example, typed in."""

    def call(self, inputs):
        return keras.ops.convert_to_tensor(np.full((4, 3), 0.5, dtype="float32"))


class ForgetsTheClass(LearnedWeightedAverage):
    @classmethod
    def from_config(cls, config):
        return keras.layers.Identity(**config)


def test_lesson_06_registers_the_layer_check():
    assert "06.learned_weighted_average" in registered_checks("06")


@pytest.mark.parametrize("layer_class", [LearnedWeightedAverage, ScalarLogits, WeightedAverage])
def test_right_layers_pass(layer_class, capsys):
    assert check("06.learned_weighted_average", layer_class)
    assert "visible checks passed (4 cases)" in capsys.readouterr().out


@pytest.mark.parametrize(
    "layer_class, message",
    [
        (Stub, "still the stub"),
        (NoSoftmax, "softmax"),
        (FixedWeights, "trainable numbers"),
        (PlainAverage, "wrong values"),
        (WeightsMadeInCall, "trainable numbers"),
        (NumpyInCall, "gradient"),
        (HardCoded, "wrong values"),
        (ForgetsTheClass, "from_config"),
    ],
)
def test_wrong_layers_fail(layer_class, message, capsys):
    assert not check("06.learned_weighted_average", layer_class)
    output = capsys.readouterr().out
    assert "failed" in output and message in output, output


def test_a_plain_function_fails_with_a_message(capsys):
    assert not check("06.learned_weighted_average", lambda: np.zeros(3))
    assert "keras.layers.Layer" in capsys.readouterr().out
