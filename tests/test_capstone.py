"""The capstone (lesson 16) grades as intended: hidden setting, budget, safe loading, leaderboard.

One module-scoped fixture trains a tiny image-only model on the development setting (seconds) and
saves the other test artefacts (an over-budget model, a model with a ``Lambda`` layer, a file that
is not a model); ONE ``python -m mmcourse grade`` call (in-process, real bubblewrap sandboxes)
grades six submissions together. The solution's own model is checked against the top threshold
of the shipped settings by the solution notebook's graded cell (its hidden test calls the same
evaluator; ``pytest --nbval-lax solutions`` runs it in CI) — training it here would cost another
half-minute. Without a working bubblewrap the grading tests are skipped with the reason.
"""

from __future__ import annotations

import csv
import json
import shutil

import nbformat
import numpy as np
import pytest

from mmcourse.grading import capstone, sandbox
from mmcourse.grading.assign import REPO_ROOT

_NO_SANDBOX = sandbox.available()
needs_sandbox = pytest.mark.skipif(_NO_SANDBOX is not None, reason=f"no sandbox: {_NO_SANDBOX}")
NOTEBOOK = "16_capstone.ipynb"

# A hidden setting that hurts an image-only model clearly (heavy pixel noise), another seed.
TEST_SETTINGS = """
[rules]
budget = 60000
time_limit_seconds = 90
thresholds = [[0.9, 10], [0.3, 4], [0.15, 1]]

[development]
seed = 0

[hidden]
seed = 99
image_noise = 0.6
image_occlusion = 0.5
"""


# --- settings file: clear errors (no TensorFlow) --------------------------------------------------
def test_shipped_settings_load_and_state_the_rules():
    settings = capstone.load_settings()
    assert settings.budget == 60_000 and settings.max_points == 10
    assert settings.thresholds == tuple(sorted(settings.thresholds, reverse=True))
    assert settings.hidden.seed != settings.development.seed and settings.hidden.corruption


@pytest.mark.parametrize("text, words", [
    ("[rules]\nbudget = 10\n", "missing ['hidden']"),
    ("[rules\nbudget = 1", "not valid TOML"),
    ("[rules]\nbudget = -3\nthresholds = [[0.5, 1]]\n[hidden]\nseed = 1\n", "budget"),
    ("[rules]\nbudget = 9\nthresholds = [[1.5, 1]]\n[hidden]\nseed = 1\n", "thresholds"),
    ("[rules]\nbudget = 9\nthresholds = [[0.9, 1], [0.5, 4]]\n[hidden]\nseed = 1\n", "fewer points"),
    ("[rules]\nbudget = 9\nthresholds = [[0.5, 1]]\n[hidden]\nseed = 1\nimage_nois = 0.1\n", "image_nois"),
    ("[rules]\nbudget = 9\nthresholds = [[0.5, 1]]\n[hidden]\nseed = 1\naudio_snr_db = 99\n", "audio_snr_db"),
    ("[rules]\nbudget = 9\nthresholds = [[0.5, 1]]\n[hidden]\nimage_noise = 0.1\n", "seed"),
])
def test_bad_settings_files_name_the_problem(tmp_path, text, words):
    path = tmp_path / "settings.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match="settings") as caught:
        capstone.load_settings(path)
    assert words in str(caught.value) and str(path) in str(caught.value)


def test_a_missing_settings_file_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        capstone.load_settings(tmp_path / "nope.toml")
    with pytest.raises(TypeError, match="settings must be the path"):
        capstone.load_settings(42)


def test_points_and_ties_on_the_leaderboard(tmp_path):
    thresholds = ((0.74, 10.0), (0.5, 4.0))
    assert [capstone.points_for(a, thresholds) for a in (0.8, 0.74, 0.6, 0.1)] == [10, 10, 4, 0]
    entries = [capstone.Evaluation("a", params=10, hidden_accuracy=0.80, hidden_ci=(0.76, 0.84), dev_accuracy=0.9),
               capstone.Evaluation("b", params=10, hidden_accuracy=0.78, hidden_ci=(0.74, 0.82), dev_accuracy=0.95),
               capstone.Evaluation("c", params=10, hidden_accuracy=0.70, hidden_ci=(0.65, 0.75), dev_accuracy=0.7),
               capstone.Evaluation("d", reason="broken")]
    assert [(number, item.student) for number, item in capstone.rank(entries)] == [
        ("=1", "a"), ("=1", "b"), ("3", "c"), ("-", "d")]
    csv_path, md_path = capstone.write_leaderboard(entries, tmp_path)
    rows = list(csv.DictReader(csv_path.open()))
    assert [row["rank"] for row in rows] == ["=1", "=1", "3", "-"]
    assert rows[1]["gap"] == "+0.170" and rows[3]["note"] == "broken"
    assert "| =1 | b | 0.780 (0.740–0.820) | 0.950 | +0.170 |" in md_path.read_text()


def test_the_solution_is_checked_against_the_top_threshold_of_the_shipped_settings():
    notebook = nbformat.read(REPO_ROOT / "solutions" / NOTEBOOK, as_version=4)
    graded = [cell.source for cell in notebook.cells
              if cell.metadata.get("nbgrader", {}).get("grade_id") == capstone.MODEL_TASK]
    assert len(graded) == 1
    hidden = graded[0].split("### BEGIN HIDDEN TESTS", 1)[1]
    assert "_capstone.load_settings()" in hidden and "evaluate_models" in hidden
    assert "assert _scored.points == _settings.max_points" in hidden


# --- archives refused before anything loads them --------------------------------------------------
def test_static_checks_refuse_non_models_and_foreign_objects():
    import io
    import zipfile

    assert "this is not one" in capstone.inspect_archive(b"hello")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("config.json", json.dumps({"module": "os", "class_name": "system", "config": {}}))
        archive.writestr("model.weights.h5", b"")
    assert "only Keras and mmcourse" in capstone.inspect_archive(buffer.getvalue())


# --- one real grading run -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    import keras

    from mmcourse import env, training
    from mmcourse.data import load_mmdigits

    root = tmp_path_factory.mktemp("capstone")
    submissions = root / "submissions"
    exercise = REPO_ROOT / "exercises" / NOTEBOOK
    settings_file = root / "instructor.toml"
    settings_file.write_text(TEST_SETTINGS)

    def folder(name, writer=None):
        path = submissions / name
        path.mkdir(parents=True)
        shutil.copy(exercise, path / NOTEBOOK)
        if writer is not None:
            writer(path / "capstone_model.keras")
        return path

    env.set_seed(0)
    inputs = {"image": keras.Input((8, 8, 1), name="image"), "present": keras.Input((1,), name="present")}
    hidden_layer = keras.layers.Dense(32, activation="relu")(keras.layers.Flatten()(inputs["image"]))
    tiny = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(hidden_layer))
    train, val = load_mmdigits("train"), load_mmdigits("val")
    training.fit(tiny, train, val, epochs=8, patience=2, seed=0, verbose=0)
    folder("dev_trained", writer=tiny.save)

    image = keras.Input((8, 8, 1), name="image")
    wide = keras.layers.Dense(1000)(keras.layers.Flatten()(image))
    big = keras.Model({"image": image}, keras.layers.Dense(10, activation="softmax")(wide))
    folder("over_budget", writer=big.save)

    image = keras.Input((8, 8, 1), name="image")
    hacked = keras.layers.Lambda(lambda x: x * 0 + __import__("os").getpid())(keras.layers.Flatten()(image))
    keras.Model({"image": image}, keras.layers.Dense(10, activation="softmax")(hacked)).save(
        root / "lambda.keras")
    folder("with_lambda", writer=lambda path: shutil.copy(root / "lambda.keras", path))
    folder("not_a_model", writer=lambda path: path.write_bytes(b"PK\x03\x04 this is not a zip"))
    folder("untouched")
    (submissions / "only_notebook_missing").mkdir()

    from mmcourse.__main__ import main

    out = root / "grades" / "grades.csv"
    status = main(["grade", str(submissions), "--assignment", "16", "--settings", str(settings_file),
                   "--out", str(out)])
    settings = capstone.load_settings(settings_file)
    expected = {}
    for name, setting in (("dev", settings.development), ("hidden", settings.hidden)):
        data = setting.load("test")
        expected[name] = float(np.mean(training.predict_proba(tiny, data).argmax(1) == data.label))
    return {"status": status, "out": out, "expected": expected,
            "rows": {row["student"]: row for row in csv.DictReader(out.open())},
            "board": {row["student"]: row for row in csv.DictReader((out.parent / "leaderboard.csv").open())}}


@needs_sandbox
def test_a_model_trained_on_the_development_setting_is_scored_on_the_hidden_one(graded):
    board = graded["board"]["dev_trained"]
    hidden, dev = graded["expected"]["hidden"], graded["expected"]["dev"]
    assert hidden < dev - 0.1  # the test setting really is harder for this model
    assert float(board["hidden_accuracy"]) == pytest.approx(hidden, abs=5e-4)
    assert float(board["dev_accuracy"]) == pytest.approx(dev, abs=5e-4)
    assert float(board["gap"]) == pytest.approx(dev - hidden, abs=1e-3)
    assert float(board["hidden_ci_low"]) < hidden < float(board["hidden_ci_high"])
    points = capstone.points_for(hidden, ((0.9, 10), (0.3, 4), (0.15, 1)))  # TEST_SETTINGS
    assert 0 < points < 10
    assert graded["rows"]["dev_trained"]["test_capstone_model"] == f"{points:g}"
    assert board["rank"] == "1"


@needs_sandbox
@pytest.mark.parametrize("student, reason", [
    ("over_budget", "75,010 parameters, over the budget of 60,000"),
    ("with_lambda", "Lambda layer, which carries arbitrary Python code; refused"),
    ("not_a_model", "not a Keras model file"),
    ("untouched", "no capstone_model.keras in the submission folder"),
    ("only_notebook_missing", "no capstone_model.keras"),
])
def test_bad_submissions_score_zero_with_a_clear_reason(graded, student, reason):
    row = graded["rows"][student]
    assert row["test_capstone_model"] == "0" and row["total"] == "0"
    assert reason in row["reason"], row["reason"]
    assert graded["board"][student]["rank"] == "-" and reason in graded["board"][student]["note"]


@needs_sandbox
def test_the_grade_run_writes_csv_and_leaderboards(graded):
    assert graded["status"] == 0
    rows = graded["rows"]
    assert len(rows) == 6 and all(row["report"] == "" and row["max_total"] == "10" for row in rows.values())
    assert "no 16_capstone.ipynb" in rows["only_notebook_missing"]["reason"]
    text = (graded["out"].parent / "leaderboard.md").read_text()
    assert text.startswith("# Capstone leaderboard") and text.count("\n| ") == 7
