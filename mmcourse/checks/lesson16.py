"""Visible check of the capstone (exercise 16): is the saved model file one the grader can score?

``check("16.model", load_safely)`` loads ``capstone_model.keras`` the grader's way
(:func:`load_safely`: ``safe_mode=True``, Keras and mmcourse layers only) and checks what a
learner can check without the hidden setting: it is a ``keras.Model`` within the parameter
budget of the course's settings file, with the named inputs the grader feeds, ten class scores
per sample, and a validation accuracy (development setting) above chance. The hidden score is
not computed here: it needs the instructor's settings file.
"""

from __future__ import annotations

import numpy as np

from mmcourse.checks import Case, register

__all__ = ["MODEL_FILE", "load_safely", "compare_model"]

MODEL_FILE = "capstone_model.keras"
_SHAPES = {"image": (None, 8, 8, 1), "audio": (None, 8000), "text": (None,)}


def load_safely(path=MODEL_FILE):
    """The model in ``path``, loaded as the grader loads it (``safe_mode=True``, no compile)."""
    import mmcourse.fusion.dropout  # noqa: F401 - registers ModalityDropout
    from mmcourse.grading.tasks import _load_keras_safely

    return _load_keras_safely(path)


def compare_model(received, expected) -> str | None:
    import keras

    from mmcourse import training
    from mmcourse.data import load_mmdigits
    from mmcourse.env import quiet_tensorflow

    if not isinstance(received, keras.Model):
        return f"expected a keras.Model loaded from {MODEL_FILE}, received {type(received).__name__}"
    params = received.count_params()
    if params > expected["budget"]:
        return f"{params:,} parameters, over the budget of {expected['budget']:,}"
    names = [str(tensor.name).split(":")[0] for tensor in received.inputs]
    modalities = [name for name in ("image", "audio", "text") if name in names]
    if not modalities or any(name not in (*_SHAPES, "present") for name in names):
        return (f"the model's inputs must be named image / audio / text (+ present); they are {names}")
    for tensor, name in zip(received.inputs, names, strict=True):
        wanted = (None, len(modalities)) if name == "present" else _SHAPES[name]
        if tuple(tensor.shape) != wanted:
            return f"input {name} has shape {tuple(tensor.shape)}, the grader feeds {wanted}"
    if [tuple(tensor.shape) for tensor in received.outputs] != [(None, 10)]:
        return "the model must have one output of shape (None, 10): a score per digit"
    val = load_mmdigits("val")
    inputs = training.model_inputs(val, tuple(modalities))
    if "present" not in names:
        inputs.pop("present")
    tf = quiet_tensorflow()
    # one eager call (359 rows): no prediction function traced for a single use
    outputs = received({name: tf.constant(value) for name, value in inputs.items()}, training=False)
    if isinstance(outputs, (list, tuple)) and len(outputs) == 1:
        outputs = outputs[0]
    probabilities = np.asarray(outputs)
    accuracy = float(np.mean(probabilities.argmax(axis=1) == val.label))
    print(f"  your model: {params:,} parameters, validation accuracy {accuracy:.3f} "
          "(development setting; the grade comes from the hidden one)")
    if accuracy < expected["minimum"]:
        return f"validation accuracy {accuracy:.3f}, barely above chance (0.1): is it trained?"
    return None


@register("16.model", hints=[
    "Save the trained model with model.save(MODEL_FILE) in the cell above, then pass "
    "load_safely itself (no parentheses) to check.",
    "A model from mmcourse.models.attach_encoders(head, encoders) takes exactly the inputs the "
    "grader feeds; a Lambda layer or a layer from your own module cannot be loaded safely.",
])
def _model_cases(rng: np.random.Generator) -> list[Case]:
    from mmcourse.grading.capstone import load_settings

    budget = load_settings().budget
    return [Case(f"the file {MODEL_FILE}", args=(MODEL_FILE,),
                 expected={"budget": budget, "minimum": 0.2}, compare=compare_model)]
