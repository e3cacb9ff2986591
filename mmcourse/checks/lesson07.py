"""Checks for exercise 07 (the multimodal classifier), against :mod:`mmcourse.training`.

The learner's functions (signatures as in ``solutions/07_multimodal_classifier.ipynb``):

* ``confusion_matrix(labels, predictions, num_classes)`` -> int ``(num_classes, num_classes)``,
  rows = true class, columns = predicted class;
* ``macro_f1(matrix)`` -> float, the mean over classes of ``2 TP / (2 TP + FP + FN)`` (a class
  that is neither present nor predicted scores 0).
"""

from __future__ import annotations

import numpy as np

from mmcourse.checks import Case, register


def _random_predictions(rng, count, num_classes, accuracy):
    labels = rng.integers(0, num_classes, size=count)
    wrong = rng.integers(0, num_classes, size=count)
    predictions = np.where(rng.random(count) < accuracy, labels, wrong)
    return labels, predictions


@register(
    "07.confusion_matrix",
    hints=[
        "Start from a zero matrix of shape (num_classes, num_classes) and add 1 at "
        "[true label, predicted label] for every sample.",
        "A loop over the (label, prediction) pairs is fine. Without a loop, beware: fancy-index "
        "assignment with repeated index pairs counts each pair only once; NumPy's unbuffered "
        "`add.at` does not.",
    ],
)
def _confusion_matrix_cases(rng: np.random.Generator) -> list[Case]:
    from mmcourse.training import confusion_matrix

    cases = []
    for count, num_classes, accuracy in [(50, 10, 0.7), (7, 3, 0.5), (1, 4, 1.0), (30, 5, 0.0)]:
        labels, predictions = _random_predictions(rng, count, num_classes, accuracy)
        cases.append(Case(
            f"{count} labels and predictions, num_classes={num_classes}",
            args=(labels, predictions, num_classes),
            expected=confusion_matrix(labels, predictions, num_classes),
        ))
    return cases


@register(
    "07.macro_f1",
    hints=[
        "True positives are on the diagonal; a column sum is TP + FP of that predicted class, a "
        "row sum TP + FN of that true class.",
        "F1 = 2 TP / (row sum + column sum) per class; give 0 where that denominator is 0, then "
        "take the mean over all classes.",
    ],
)
def _macro_f1_cases(rng: np.random.Generator) -> list[Case]:
    from mmcourse.training import confusion_matrix, macro_f1

    cases = []
    for count, num_classes, accuracy in [(80, 10, 0.8), (12, 3, 0.4), (20, 6, 1.0)]:
        labels, predictions = _random_predictions(rng, count, num_classes, accuracy)
        matrix = confusion_matrix(labels, predictions, num_classes)
        cases.append(Case(f"a {num_classes}×{num_classes} confusion matrix of {count} samples",
                          args=(matrix,), expected=macro_f1(matrix)))
    matrix = np.zeros((4, 4), dtype=np.int64)
    matrix[0, 0], matrix[1, 0] = 3, 2  # classes 2 and 3 never occur nor are predicted
    cases.append(Case("a 4×4 matrix where two classes never occur", args=(matrix,),
                      expected=macro_f1(matrix)))
    return cases


# --- Task 3: the saved model, judged on the validation split (the grader uses test) --------------
MODEL_BUDGET = 60_000
MODEL_TARGET = 0.85


def _check_saved_model(model, _expected) -> str | None:
    import keras

    from mmcourse import models, training
    from mmcourse.data import load_mmdigits

    if not isinstance(model, keras.Model):
        return f"expected the loaded keras.Model, received {type(model).__name__}"
    if model.count_params() > MODEL_BUDGET:
        return f"{model.count_params():,} parameters is over the budget of {MODEL_BUDGET:,}"
    if len(models.model_modalities(model)) < 2:
        return "the model reads fewer than two modalities: Task 3 asks for a fused classifier"
    accuracy = training.evaluate(model, load_mmdigits("val"))["accuracy"]
    if accuracy < MODEL_TARGET:
        return (f"validation accuracy {accuracy:.3f} is below {MODEL_TARGET} — the graded test split "
                "will not do better; train longer or fuse more modalities")
    return None


@register(
    "07.model",
    hints=[
        "Pass a function that loads your saved file, so the check sees exactly what the grader "
        "will load: the budget, the modalities it reads, its validation accuracy.",
        "Under the budget but not accurate enough? Add a modality (the best single one stays "
        "below 80 %), or train a few more epochs with early stopping on val; count_params() tells "
        "you how much room is left.",
    ],
)
def _model_cases(rng: np.random.Generator) -> list[Case]:
    return [Case("the model loaded from multimodal_model.keras", expected=None, compare=_check_saved_model)]
