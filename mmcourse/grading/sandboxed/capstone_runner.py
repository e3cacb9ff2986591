"""The capstone's sandboxed step (see ``mmcourse/grading/capstone.py``): load one model, predict.

Run as ``python capstone_runner.py`` inside a fresh bubblewrap sandbox whose working folder holds
``model.keras`` (the learner's file, already checked statically by the grader), ``inputs.npz``
(the test split under the development and the hidden setting: image, audio, text, present — no
labels) and ``rules.json`` (the parameter budget). It loads the model with
``keras.saving.load_model(..., safe_mode=True)``, only Keras and the course's registered layers
being importable, checks the parameter budget and the input signature, predicts, and prints one
JSON line: ``{"params": int, "probabilities": plain array}`` or ``{"error": reason}``.
"""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import plain  # noqa: E402

MODALITIES = ("image", "audio", "text")
SHAPES = {"image": (8, 8, 1), "audio": (8000,), "text": ()}


def _signature(model) -> tuple[list[str] | None, str | None]:
    """The modalities the model reads, in the canonical order, or why its inputs are wrong."""
    received = []
    names = []
    for tensor in model.inputs:
        name = str(getattr(tensor, "name", "")).split(":")[0]
        shape = tuple(tensor.shape)
        received.append(f"{name} {shape} {getattr(tensor, 'dtype', '?')}")
        names.append((name, shape, str(getattr(tensor, "dtype", ""))))
    wanted = ("named inputs: a non-empty subset of image (None, 8, 8, 1), audio (None, 8000), "
              "text (None,) string, plus optionally present (None, number of modalities)")
    found = [name for name, _, _ in names]
    modalities = [name for name in MODALITIES if name in found]
    if not modalities or len(set(found)) != len(found) or any(
            name not in (*MODALITIES, "present") for name in found):
        return None, f"the model must take {wanted}; it takes {', '.join(received) or 'nothing'}"
    for name, shape, dtype in names:
        expected = (None, len(modalities)) if name == "present" else (None, *SHAPES[name])
        if shape != expected or ((name == "text") != ("string" in dtype)):
            return None, f"the model must take {wanted}; its input {name} is {shape} {dtype}"
    outputs = [tuple(tensor.shape) for tensor in model.outputs]
    if len(outputs) != 1 or outputs[0] != (None, 10):
        return None, f"the model must output one (None, 10) tensor of class scores; it outputs {outputs}"
    return modalities, None


def main() -> int:
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")  # the answer's private copy of stdout
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)

    def answer(payload: dict) -> int:
        out.write(json.dumps(payload) + "\n")
        out.flush()
        return 0

    try:
        budget = int(json.loads(open("rules.json", encoding="utf-8").read())["budget"])
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
        import keras
        import tensorflow as tf

        import mmcourse.features.audio  # noqa: F401 - registers the course's layers (MFCC, ...)
        import mmcourse.features.image  # noqa: F401
        import mmcourse.features.text  # noqa: F401
        import mmcourse.fusion.dropout  # noqa: F401
        import mmcourse.fusion.layers  # noqa: F401
        import mmcourse.models  # noqa: F401
    except Exception as error:  # noqa: BLE001
        return answer({"error": f"the grader's sandbox could not start Keras ({type(error).__name__})"})
    try:
        model = keras.saving.load_model("model.keras", safe_mode=True, compile=False)
    except Exception as error:  # noqa: BLE001 - any file that does not load is a reason
        text = " ".join(str(error).split())[:200]
        return answer({"error": f"the model could not be loaded safely: {type(error).__name__}: {text}"})
    if not isinstance(model, keras.Model):
        return answer({"error": "the file does not hold a keras.Model"})
    params = int(model.count_params())
    if params > budget:
        return answer({"params": params})
    modalities, problem = _signature(model)
    if problem:
        return answer({"error": problem, "params": params})
    data = np.load("inputs.npz", allow_pickle=False)
    inputs = {name: data[name] for name in modalities}
    columns = [MODALITIES.index(name) for name in modalities]
    if "present" in [str(getattr(t, "name", "")).split(":")[0] for t in model.inputs]:
        inputs["present"] = data["present"][:, columns].astype(np.float32)
    try:
        # Called eagerly in chunks of 256 rows: the same probabilities as model.predict, without
        # tracing a prediction function that would run only once (about a second per model).
        rows = len(data["image"])
        chunks = [model({name: tf.constant(value[start:start + 256]) for name, value in inputs.items()},
                        training=False) for start in range(0, rows, 256)]
        chunks = [chunk[0] if isinstance(chunk, (list, tuple)) and len(chunk) == 1 else chunk
                  for chunk in chunks]
        probabilities = np.concatenate([np.asarray(chunk, dtype=np.float32) for chunk in chunks])
    except Exception as error:  # noqa: BLE001
        return answer({"error": f"the model failed on the test inputs: {type(error).__name__}",
                       "params": params})
    return answer({"params": params, "probabilities": plain.encode(np.ascontiguousarray(probabilities))})


if __name__ == "__main__":
    status = main()
    # The answer is written and flushed: leave at once instead of tearing TensorFlow down (its
    # thread pools and atexit handlers take one to two seconds per sandbox).
    os._exit(status)
