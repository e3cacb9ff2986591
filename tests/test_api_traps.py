"""The silent traps of issue 13, each now correct or a clear error (one test per trap).

Training here is one epoch of a tiny fusion head on precomputed features (about a second).
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from mmcourse.data import load_mmdigits


@pytest.fixture(scope="module")
def val():
    return load_mmdigits("val")


def _features(data, dims=(4, 4)):
    from mmcourse import training

    rng = np.random.default_rng(0)
    arrays = {name: rng.normal(size=(len(data), dim)).astype("float32")
              for name, dim in zip(("image", "audio"), dims, strict=True)}
    return training.Features(arrays, data.present.copy(), data.label.copy())


def _head():
    from mmcourse import models

    return models.build_fusion_head(("image", "audio"), "concat", feature_dims=4)


# ----------------------------------------------------------------------------- fusion namespace
def test_fusion_names_resolve_one_way_and_are_listed():
    import importlib

    import mmcourse.fusion as fusion
    from mmcourse import models
    from mmcourse.fusion import dropout, late, late_layer, layers

    assert set(fusion._SUBMODULES) == {"reference", "layers", "late", "late_layer", "dropout"}
    modules = {name: importlib.import_module(f"mmcourse.fusion.{name}")
               for name in fusion._SUBMODULES}
    public = {name: module_name for module_name, module in modules.items()
              for name in module.__all__}
    assert public == fusion.NAMES  # complete, and every name comes from exactly one module
    assert sum(len(module.__all__) for module in modules.values()) == len(fusion.NAMES)
    assert fusion.product_of_experts is late.product_of_experts  # with weights/presence/prior
    assert fusion.average_probabilities is late.average_probabilities
    assert fusion.WeightedAverage is layers.WeightedAverage
    assert fusion.ModalityDropout is dropout.ModalityDropout
    assert fusion.LateFusion is late_layer.LateFusion is models.LateFusion  # one class, two paths
    assert {"product_of_experts", "WeightedAverage", "softmax", "late"} <= set(dir(fusion))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        fusion.nope  # noqa: B018


# ----------------------------------------------------------------------------- data
def test_to_tf_dataset_does_not_shuffle_by_default_so_predictions_line_up(val):
    labels = np.concatenate([batch[1].numpy() for batch in val.to_tf_dataset(batch_size=100)])
    np.testing.assert_array_equal(labels, val.label)
    with pytest.raises(TypeError):
        val.to_tf_dataset(32, ("image",), True)  # shuffle and seed are keyword-only


# ----------------------------------------------------------------------------- models
def test_default_modality_order_is_the_canonical_one_and_another_order_warns(val):
    import warnings

    from mmcourse import models

    head = models.build_fusion_head(fusion="concat", feature_dims=4)
    assert models.model_modalities(head) == models.MODALITIES == ("image", "audio", "text")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the default order never warns
        models.build_fusion_head(("image", "audio", "text"), "concat", feature_dims=4)
    with pytest.warns(UserWarning, match=r"present' columns always follow"):
        reordered = models.build_fusion_head(("image", "text", "audio"), "concat",
                                             feature_dims=4)
    assert models.model_modalities(reordered) == ("image", "audio", "text")


def test_tensor_fusion_instance_gets_the_same_projections_as_the_name():
    from mmcourse import models
    from mmcourse.fusion.layers import TensorFusion

    by_name = models.build_fusion_head(("image", "audio"), "tensor", feature_dims=8, tensor_dim=3)
    by_instance = models.build_fusion_head(("image", "audio"), TensorFusion(name="fusion"),
                                           feature_dims=8, tensor_dim=3)
    assert by_instance.count_params() == by_name.count_params()
    assert by_instance.get_layer("fusion").output.shape[-1] == (3 + 1) ** 2


def test_build_fusion_layer_no_longer_takes_an_ignored_tensor_dim():
    from mmcourse import models

    with pytest.raises(TypeError, match="tensor_dim"):
        models.build_fusion_layer("tensor", 3, tensor_dim=6)


@pytest.mark.parametrize("rule", ["product", "average"])
@pytest.mark.parametrize("dtype", ["float32", "mixed_float16"])
def test_late_fusion_layer_is_finite_with_nothing_present(rule, dtype):
    import keras

    from mmcourse import models

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(dtype)
    try:
        layer = models.LateFusion(rule)
    finally:
        keras.config.set_dtype_policy(previous)
    probabilities = [np.full((2, 4), 0.25, "float32"), np.eye(4, dtype="float32")[:2]]
    presence = np.array([[1, 1], [0, 0]], "float32")
    fused = np.asarray(layer(probabilities, presence=presence), dtype=np.float64)
    assert np.all(np.isfinite(fused))
    np.testing.assert_allclose(fused[1], 0.25, atol=1e-3)  # nothing present: uniform


# ----------------------------------------------------------------------------- training.fit
def test_fit_learning_rate_is_used_for_an_already_compiled_model(val):
    import keras

    from mmcourse import training

    model = _head()
    model.compile(optimizer=keras.optimizers.Adam(0.1), loss="sparse_categorical_crossentropy")
    training.fit(model, _features(val), None, epochs=1, learning_rate=1e-4, verbose=0)
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-4)
    training.fit(model, _features(val), None, epochs=1, verbose=0)  # None keeps the rate
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-4)
    fresh = _head()
    training.fit(fresh, _features(val), None, epochs=1, verbose=0)
    assert float(fresh.optimizer.learning_rate) == pytest.approx(3e-3)  # the default


@pytest.mark.parametrize("failure", [TypeError, RuntimeError, ValueError, AttributeError])
def test_fit_falls_back_to_keras_lazy_build_on_any_symbolic_build_failure(val, failure):
    from mmcourse import training

    model = _head()
    calls = []

    def broken(*args, **kwargs):
        calls.append(1)
        raise failure("a Keras version whose private _symbolic_build changed")

    model._symbolic_build = broken
    history = training.fit(model, _features(val), None, epochs=1, verbose=0)
    assert calls == [1] and len(history.history["loss"]) == 1
    assert np.isfinite(history.history["loss"][0])


def test_a_split_name_instead_of_a_split_says_how_to_load_it(val):
    from mmcourse import training

    with pytest.raises(TypeError, match=r"load_mmdigits\('val'\)"):
        training.fit(_head(), _features(val), "val", verbose=0)


# ----------------------------------------------------------------------------- global state
def _run(code, **env):
    environment = {key: value for key, value in os.environ.items()
                   if key != "TF_CPP_MIN_LOG_LEVEL"}
    environment.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, env=environment).stdout.strip()


def test_import_keeps_tensorflow_errors_visible_and_respects_the_learners_level():
    code = "import os, mmcourse; print(os.environ['TF_CPP_MIN_LOG_LEVEL'])"
    assert _run(code) == "2"  # INFO and WARNING off, ERROR still shown (3 would hide errors)
    assert _run(code, TF_CPP_MIN_LOG_LEVEL="0") == "0"


def test_importing_models_leaves_tensorflows_python_logger_alone():
    code = ("import logging, mmcourse.models, absl.logging; "
            "print(logging.getLogger('tensorflow').level, absl.logging.get_verbosity())")
    before = _run("import logging, absl.logging; "
                  "print(logging.getLogger('tensorflow').level, absl.logging.get_verbosity())")
    assert _run(code) == before  # the retracing warnings lesson 13 teaches stay visible


def test_only_keras_internal_retracing_alarms_are_filtered():
    code = """
import logging, mmcourse.env
tf = mmcourse.env.quiet_tensorflow()
seen = []
class Collect(logging.Handler):
    def emit(self, record):
        seen.append(record.getMessage())
logging.getLogger("tensorflow").addHandler(Collect())
@tf.function
def mine(x):
    return x * 2
for value in range(7):
    mine(value)  # a Python int per call: a real retracing the learner should hear about
log = logging.getLogger("tensorflow")
log.warning("5 out of the last 5 calls to <function TensorFlowTrainer.make_predict_function."
            "<locals>.one_step_on_data_distributed at 0x1> triggered tf.function retracing.")
log.warning("an unrelated warning")
print(any("retracing" in m and "mine" in m for m in seen),
      any("TensorFlowTrainer" in m for m in seen), "an unrelated warning" in seen)
"""
    # the learner's retracing is reported, Keras's per-model alarm is not, other warnings are
    assert _run(code).split() == ["True", "False", "True"]


def test_keras_range_in_pyproject_contains_the_tested_version(repo_root):
    tomllib = pytest.importorskip("tomllib")
    from importlib.metadata import version

    from packaging.requirements import Requirement

    project = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]
    keras_requirement = next(Requirement(r) for r in project["dependencies"]
                             if r.startswith("keras"))
    assert keras_requirement.specifier.contains(version("keras"))
    assert not keras_requirement.specifier.contains("4.0")  # an upper bound is stated
