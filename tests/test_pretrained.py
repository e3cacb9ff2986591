"""mmcourse.pretrained: lesson 07's unimodal models, trained once and cached.

Small splits (48 / 24 samples) and one epoch keep every training here under a second or two;
what is checked does not depend on the size: a cached model is the model a retraining gives,
weight for weight, and the cache never hands out a model trained on other inputs.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
import threading

import numpy as np
import pytest

from mmcourse import env, models, pretrained, training
from mmcourse.data import load_mmdigits

SMALL = dict(modalities=("image", "audio", "text"), epochs=1, patience=1)


def _head(split, size):
    values = {field.name: getattr(split, field.name) for field in dataclasses.fields(split)}
    return dataclasses.replace(split, **{name: value[:size] for name, value in values.items()
                                         if isinstance(value, np.ndarray)})


@pytest.fixture(scope="module")
def splits():
    return _head(load_mmdigits("train"), 48), _head(load_mmdigits("val"), 24)


def _weights(trained):
    return {m: [np.asarray(w) for w in model.get_weights()] for m, model in trained.items()}


def _assert_same(first, second):
    assert first.keys() == second.keys()
    for modality in first:
        assert len(first[modality]) == len(second[modality])
        for a, b in zip(first[modality], second[modality], strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.fixture(scope="module")
def cached(splits, tmp_path_factory):
    """One miss, shared: the folder, the trained models and the random numbers drawn right after."""
    train, val = splits
    folder = tmp_path_factory.mktemp("models")
    trained = pretrained.unimodal_models(train, val, folder=folder, **SMALL)
    return folder, trained, np.random.random(3)


def test_a_miss_trains_exactly_lesson_07s_models(splits, cached):
    train, val = splits
    folder, trained, _ = cached
    explicit = {}  # lesson 07's cell, written out independently of the module
    for modality in SMALL["modalities"]:
        env.set_seed(0)
        explicit[modality] = models.build_unimodal_classifier(modality, text_vocabulary=train.text)
        training.fit(explicit[modality], train, val, epochs=1, patience=1, seed=0, verbose=0)
    _assert_same(_weights(trained), _weights(explicit))
    assert len(list(folder.glob("unimodal-*.keras"))) == 3
    assert len(list(folder.glob("unimodal-*.json"))) == 1


def test_a_hit_loads_the_same_weights_without_training(splits, cached, monkeypatch):
    train, val = splits
    folder, trained, after_miss = cached

    def no_training(*args, **kwargs):
        raise AssertionError("a cache hit must not train")

    monkeypatch.setattr(pretrained, "_train", no_training)
    hit = pretrained.unimodal_models(train, val, folder=folder, **SMALL)
    # the same random state after a hit as after a miss: what a notebook does next is the same
    np.testing.assert_array_equal(np.random.random(3), after_miss)
    _assert_same(_weights(hit), _weights(trained))
    for modality in SMALL["modalities"]:  # and they compute the same probabilities
        np.testing.assert_array_equal(training.predict_proba(hit[modality], val),
                                      training.predict_proba(trained[modality], val))
    assert [layer.name for layer in hit["audio"].layers] == [
        layer.name for layer in trained["audio"].layers]


def test_a_fresh_python_loads_the_cache(splits, cached):
    # a fresh interpreter has imported nothing: loading must register the course's own layers
    # (the audio model's MFCC layer) by itself
    train, val = splits
    folder, trained, _ = cached
    key = pretrained.cache_key(train, val, **SMALL)
    script = ("import warnings; warnings.simplefilter('error')\n"
              "from pathlib import Path\nfrom mmcourse import pretrained\n"
              f"loaded = pretrained._load(Path({str(folder)!r}), {key!r}, {SMALL['modalities']!r})\n"
              "assert loaded is not None and sorted(loaded) == ['audio', 'image', 'text'], loaded\n"
              "print(sum(m.count_params() for m in loaded.values()))")
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                               timeout=300)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert int(completed.stdout.split()[-1]) == sum(m.count_params() for m in trained.values())


def test_the_key_changes_with_everything_that_decides_the_weights(splits):
    train, val = splits
    key = pretrained.cache_key(train, val, **SMALL)
    assert key == pretrained.cache_key(train, val, **SMALL)
    other_pixels = dataclasses.replace(train, image=train.image + np.float32(1e-3))
    other_labels = dataclasses.replace(train, label=np.roll(train.label, 1))
    other_text = dataclasses.replace(train, text=np.array(["x"] * len(train), dtype=object))
    changed = {
        "train pixels": pretrained.cache_key(other_pixels, val, **SMALL),
        "train labels": pretrained.cache_key(other_labels, val, **SMALL),
        "train text": pretrained.cache_key(other_text, val, **SMALL),
        "val split": pretrained.cache_key(train, train, **SMALL),
        "seed": pretrained.cache_key(train, val, **{**SMALL, "seed": 1}),
        "epochs": pretrained.cache_key(train, val, **{**SMALL, "epochs": 2}),
        "patience": pretrained.cache_key(train, val, **{**SMALL, "patience": 2}),
        "modalities": pretrained.cache_key(train, val, **{**SMALL, "modalities": ("image",)}),
    }
    assert all(value != key for value in changed.values()), changed


def test_the_key_changes_with_the_machine_and_the_package_source(splits, monkeypatch):
    train, val = splits
    key = pretrained.cache_key(train, val, **SMALL)
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    assert pretrained.cache_key(train, val, **SMALL) != key
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA")
    monkeypatch.setattr(pretrained, "_source_digest", lambda: "edited")
    assert pretrained.cache_key(train, val, **SMALL) != key


def test_a_damaged_cache_is_retrained_with_a_warning(splits, cached, tmp_path):
    train, val = splits
    folder, trained, _ = cached
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    (damaged,) = copy.glob("unimodal-*-image.keras")
    damaged.write_bytes(b"not a model")
    with pytest.warns(RuntimeWarning, match="did not load"):
        again = pretrained.unimodal_models(train, val, folder=copy, **SMALL)
    _assert_same(_weights(again), _weights(trained))
    assert damaged.stat().st_size > 100  # rewritten


IMAGE_ONLY = {**SMALL, "modalities": ("image",)}  # the cheapest training, for the tests below


def test_caching_off_writes_nothing(splits, tmp_path, monkeypatch):
    train, val = splits
    monkeypatch.setenv("MMCOURSE_MODELS", "off")
    assert pretrained.cache_folder() is None
    pretrained.unimodal_models(train, val, **IMAGE_ONLY)
    monkeypatch.setenv("MMCOURSE_MODELS", str(tmp_path / "models"))
    assert pretrained.cache_folder() == tmp_path / "models"
    pretrained.unimodal_models(train, val, cache=False, **IMAGE_ONLY)
    assert not (tmp_path / "models").exists()


def test_an_unwritable_cache_folder_trains_with_a_warning(splits, tmp_path):
    train, val = splits
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    with pytest.warns(RuntimeWarning, match="cannot use the model cache"):
        trained = pretrained.unimodal_models(train, val, folder=blocked / "models", **IMAGE_ONLY)
    assert sorted(trained) == ["image"]


def test_two_callers_at_once_train_once(splits, tmp_path, monkeypatch):
    train, val = splits
    calls, real_train = [], pretrained._train

    def counted(*args):
        calls.append(1)
        return real_train(*args)

    monkeypatch.setattr(pretrained, "_train", counted)
    results, errors = [], []

    def call():
        try:
            results.append(pretrained.unimodal_models(train, val, folder=tmp_path, **IMAGE_ONLY))
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=call) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(results) == 2
    assert len(calls) == 1
    _assert_same(_weights(results[0]), _weights(results[1]))


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"train": "train"}, TypeError, "train"),
    ({"val": np.zeros(3)}, TypeError, "val"),
    ({"epochs": 0}, ValueError, "epochs"),
    ({"seed": -1}, ValueError, "seed"),
    ({"cache": "yes"}, TypeError, "cache"),
    ({"modalities": ("smell",)}, ValueError, "modalit"),
])
def test_bad_input_is_a_clear_error(splits, tmp_path, kwargs, error, match):
    train, val = splits
    arguments = {"train": train, "val": val, "folder": tmp_path, **SMALL}
    arguments.update(kwargs)
    with pytest.raises(error, match=match):
        pretrained.unimodal_models(**arguments)
    assert not list(tmp_path.glob("unimodal-*"))
