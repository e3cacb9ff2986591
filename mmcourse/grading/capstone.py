"""The capstone (lesson 16): a saved model graded on a hidden setting, with a leaderboard.

A submission is a folder ``SUBMISSIONS/<student>/`` holding ``16_capstone.ipynb`` (its report
cell is graded by hand) and the model the notebook saved, ``capstone_model.keras``. The notebook
is **not** re-run at grading time (a capstone may train for longer than a grading run may take);
the saved model is the graded artefact. Per submission:

1. **Static checks, in the grader's process** (no TensorFlow, nothing of the file executed): the
   file is a regular file (not a symlink) of at most 32 MB, a zip archive with a ``config.json``
   whose every serialised object comes from ``keras`` or ``mmcourse``, and no ``Lambda`` (or
   other code-carrying) layer: such a file is refused with the reason, before anything loads it.
2. **Load and predict, in a fresh sandbox** (bubblewrap, :mod:`mmcourse.grading.sandbox`, the
   runner ``sandboxed/capstone_runner.py``): ``keras.saving.load_model(..., safe_mode=True)``
   with only the course's registered layers importable, the parameter count and the input
   signature checked, then class probabilities predicted for the test split under the
   development and the hidden setting. The **inputs** go in; the **labels never do**. The sandbox
   is killed after ``time_limit_seconds``.
3. **Score, in the grader's process**: the probabilities come back as plain data
   (:mod:`mmcourse.grading.sandboxed.plain`) and the accuracies, the bootstrap interval
   (:func:`mmcourse.training.bootstrap_interval`) and the points are computed here, against
   labels the submission never saw.

Trust: a file that broke out of Keras' ``safe_mode`` would run code only inside the sandbox, which
has no labels, no network and dies with the grading step; it could misreport its own parameter
count (counted in the sandbox), never its accuracy.

The settings file (TOML, :func:`load_settings`; the default is ``capstone_settings.toml`` next to
this module) states the rules — parameter budget, time limit, points per accuracy threshold —
and the development and hidden settings (seed and corruption knobs of
:func:`mmcourse.data.load_mmdigits`). The instructor keeps their own file outside the released
material.
"""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

try:  # Python 3.11+; on 3.10 the same parser is the "tomli" package
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    try:
        import tomli as tomllib
    except ModuleNotFoundError:
        tomllib = None

__all__ = [
    "SETTINGS_FILE",
    "MODEL_INPUTS",
    "Setting",
    "Settings",
    "Evaluation",
    "load_settings",
    "points_for",
    "inspect_archive",
    "evaluate_models",
    "rank",
    "write_leaderboard",
    "grade",
]

SETTINGS_FILE = Path(__file__).with_name("capstone_settings.toml")
RUNNER = Path(__file__).resolve().parent / "sandboxed" / "capstone_runner.py"
MAX_MODEL_BYTES = 32 * 2**20
MAX_CONFIG_BYTES = 4 * 2**20
MAX_UNPACKED_BYTES = 256 * 2**20
MODEL_TASK, REPORT_TASK = "test_capstone_model", "report"
# What a capstone model reads: named inputs, a non-empty subset of the modalities (+ "present").
MODEL_INPUTS = {"image": ((None, 8, 8, 1), "float32"), "audio": ((None, 8000), "float32"),
                "text": ((None,), "string"), "present": ((None, "k"), "float32")}
# Layers that carry Python code (refused even though safe_mode would refuse some of them too).
_CODE_LAYERS = {"Lambda", "TFOpLambda", "SlicingOpLambda", "TorchModuleWrapper", "JaxLayer",
                "FlaxLayer", "TFSMLayer"}
_RULE_KEYS = {"budget", "time_limit_seconds", "thresholds", "model_file"}
_SETTING_KEYS = {"seed", "image_noise", "image_occlusion", "audio_snr_db", "audio_noise",
                 "hint_vagueness", "missing_rate"}


# --- the settings file ------------------------------------------------------------------------
@dataclass(frozen=True)
class Setting:
    """A corruption setting of the test split: ``load_mmdigits("test", seed, **corruption)``."""

    seed: int
    corruption: dict

    def load(self, split: str = "test"):
        from mmcourse.data import load_mmdigits

        return load_mmdigits(split, self.seed, **self.corruption)


@dataclass(frozen=True)
class Settings:
    budget: int
    time_limit_seconds: float
    thresholds: tuple[tuple[float, float], ...]  # (accuracy, points), highest accuracy first
    development: Setting
    hidden: Setting
    model_file: str = "capstone_model.keras"
    source: str = ""

    @property
    def max_points(self) -> float:
        return max(points for _, points in self.thresholds)


def _settings_error(path, where: str, message: str) -> ValueError:
    return ValueError(f"capstone settings {path}, {where}: {message}")


def _setting(path, table: str, raw) -> Setting:
    from mmcourse.data.mmdigits import _check_corruption

    if not isinstance(raw, dict):
        raise _settings_error(path, f"[{table}]", f"must be a table of seed and corruption knobs. "
                              f"Received: {table}={raw!r}")
    unknown = sorted(set(raw) - _SETTING_KEYS)
    if unknown:
        raise _settings_error(path, f"[{table}]", f"unknown key(s) {unknown}; allowed: "
                              f"{sorted(_SETTING_KEYS)}")
    seed = raw.get("seed")
    if type(seed) is not int or seed < 0:
        raise _settings_error(path, f"[{table}] seed", f"must be an int >= 0 (the corruption draws). "
                              f"Received: seed={seed!r}")
    corruption = {key: value for key, value in raw.items() if key != "seed"}
    try:
        checked = _check_corruption(corruption)
    except (TypeError, ValueError) as error:
        raise _settings_error(path, f"[{table}]", str(error)) from None
    return Setting(seed, {key: checked[key] for key in corruption})


def load_settings(path: Path | str | None = None) -> Settings:
    """Read and check a capstone settings file (TOML); ``None``: the course's default file.

    Raises ``ValueError`` naming the file, the table or key and what was expected.
    """
    path = SETTINGS_FILE if path is None else path
    if not isinstance(path, (str, Path)):
        raise TypeError(f"settings must be the path of a TOML settings file. Received: "
                        f"settings={path!r} (a {type(path).__name__})")
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"settings must be an existing TOML file (see {SETTINGS_FILE.name}). "
                         f"Received: settings={str(path)!r}, which "
                         f"{'is a folder' if path.is_dir() else 'does not exist'}")
    if tomllib is None:  # pragma: no cover - Python 3.10 without tomli
        raise ValueError("reading capstone settings needs Python 3.11+ (tomllib) or, on Python "
                         "3.10, the tomli package: pip install tomli")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise _settings_error(path, "syntax", f"not valid TOML ({error})") from None
    unknown = sorted(set(raw) - {"rules", "development", "hidden"})
    missing = [table for table in ("rules", "hidden") if table not in raw]
    if unknown or missing:
        raise _settings_error(path, "tables", f"expected [rules], [development] and [hidden]; "
                              f"missing {missing}, unknown {unknown}")
    rules = raw["rules"]
    if not isinstance(rules, dict) or set(rules) - _RULE_KEYS:
        extra = sorted(set(rules) - _RULE_KEYS) if isinstance(rules, dict) else rules
        raise _settings_error(path, "[rules]", f"allowed keys {sorted(_RULE_KEYS)}. Received: {extra!r}")
    budget = rules.get("budget")
    if type(budget) is not int or budget < 1:
        raise _settings_error(path, "[rules] budget", f"must be a positive int (parameters). "
                              f"Received: budget={budget!r}")
    limit = rules.get("time_limit_seconds", 90)
    if type(limit) not in (int, float) or not math.isfinite(limit) or limit <= 0:
        raise _settings_error(path, "[rules] time_limit_seconds", f"must be a positive number. "
                              f"Received: time_limit_seconds={limit!r}")
    thresholds = rules.get("thresholds")
    expected = ("a non-empty list of [accuracy, points] pairs, accuracy in (0, 1], points >= 0, "
                "e.g. [[0.75, 10], [0.5, 4]]")
    if not isinstance(thresholds, list) or not thresholds:
        raise _settings_error(path, "[rules] thresholds", f"must be {expected}. Received: "
                              f"thresholds={thresholds!r}")
    pairs = []
    for pair in thresholds:
        if (not isinstance(pair, list) or len(pair) != 2
                or any(type(value) not in (int, float) for value in pair)
                or not 0 < pair[0] <= 1 or pair[1] < 0):
            raise _settings_error(path, "[rules] thresholds", f"must be {expected}. Received: {pair!r}")
        pairs.append((float(pair[0]), float(pair[1])))
    pairs.sort(reverse=True)
    if len({accuracy for accuracy, _ in pairs}) != len(pairs):
        raise _settings_error(path, "[rules] thresholds", f"an accuracy appears twice. Received: {thresholds!r}")
    if [points for _, points in pairs] != sorted((points for _, points in pairs), reverse=True):
        raise _settings_error(path, "[rules] thresholds", "a higher accuracy must not give fewer "
                              f"points. Received: {thresholds!r}")
    model_file = rules.get("model_file", "capstone_model.keras")
    if not isinstance(model_file, str) or "/" in model_file or not model_file.endswith(".keras"):
        raise _settings_error(path, "[rules] model_file", f"must be a file name ending in .keras. "
                              f"Received: model_file={model_file!r}")
    development = _setting(path, "development", raw.get("development", {"seed": 0}))
    hidden = _setting(path, "hidden", raw["hidden"])
    return Settings(budget, float(limit), tuple(pairs), development, hidden, model_file, str(path))


def points_for(accuracy: float, thresholds) -> float:
    """Points of the highest threshold ``accuracy`` reaches (0 below the lowest)."""
    reached = [points for minimum, points in thresholds if accuracy >= minimum]
    return max(reached) if reached else 0.0


# --- static checks of the archive (grader's process, nothing executed) --------------------------
def _objects(node, found: list) -> None:
    if isinstance(node, dict):
        if "class_name" in node:
            found.append(node)
        for value in node.values():
            _objects(value, found)
    elif isinstance(node, list):
        for value in node:
            _objects(value, found)


def inspect_archive(raw: bytes) -> str | None:
    """Why the bytes of a ``.keras`` file are refused before loading, or ``None`` if they may load.

    A ``.keras`` file is a zip of ``config.json`` (the architecture), ``model.weights.h5`` and
    assets. Refused: not a zip, no ``config.json``, unpacking to more than 256 MB, a serialised
    object from outside ``keras``/``mmcourse``, or a layer that carries code (``Lambda`` …).
    """
    import io

    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
        entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return "not a Keras model file (a .keras file is a zip archive; this is not one)"
    if sum(entry.file_size for entry in entries) > MAX_UNPACKED_BYTES:
        return "the archive unpacks to more than 256 MB"
    names = {entry.filename: entry for entry in entries}
    if "config.json" not in names or "model.weights.h5" not in names:
        return "not a Keras model file (no config.json or model.weights.h5 in the archive)"
    if names["config.json"].file_size > MAX_CONFIG_BYTES:
        return "config.json is larger than 4 MB"
    try:
        config = json.loads(archive.read("config.json").decode("utf-8"))
    except (ValueError, UnicodeDecodeError, zipfile.BadZipFile, RecursionError):
        return "not a Keras model file (config.json is not valid JSON)"
    found: list = []
    try:
        _objects(config, found)
    except RecursionError:
        return "config.json is nested too deeply"
    for node in found:
        class_name, module = node.get("class_name"), node.get("module")
        if class_name in _CODE_LAYERS:
            return (f"the model contains a {class_name} layer, which carries arbitrary Python code; "
                    "refused (build the model from Keras and mmcourse layers only)")
        if class_name == "__keras_tensor__" and module is None:
            continue
        if not isinstance(module, str) or not (module == "keras" or module.startswith(("keras.", "mmcourse."))):
            return (f"the model uses {str(class_name)[:60]!r} from module {str(module)[:60]!r}; only "
                    "Keras and mmcourse objects are allowed")
        if class_name == "function" and not module.startswith("keras."):
            return f"the model serialises a function from {module[:60]!r}; only Keras functions are allowed"
    return None


# --- evaluation ----------------------------------------------------------------------------------
@dataclass
class Evaluation:
    """One submission's model on the development and hidden settings (accuracies on the test split)."""

    student: str
    reason: str = ""  # why it was not scored ("" = scored)
    params: int | None = None
    hidden_accuracy: float | None = None
    hidden_ci: tuple[float, float] | None = None
    dev_accuracy: float | None = None
    points: float = 0.0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def scored(self) -> bool:
        return not self.reason

    @property
    def gap(self) -> float | None:
        if self.hidden_accuracy is None or self.dev_accuracy is None:
            return None
        return self.dev_accuracy - self.hidden_accuracy


@dataclass
class _Data:
    inputs: dict  # image, audio, text, present for dev rows then hidden rows
    dev_labels: np.ndarray
    hidden_labels: np.ndarray


def _data(settings: Settings) -> _Data:
    dev, hidden = settings.development.load("test"), settings.hidden.load("test")
    inputs = {name: np.concatenate([getattr(dev, name), getattr(hidden, name)])
              for name in ("image", "audio", "text", "present")}
    inputs["text"] = inputs["text"].astype(str)
    return _Data(inputs, np.asarray(dev.label), np.asarray(hidden.label))


def _run_sandboxed(workdir: Path, limit: float, sandboxed: bool) -> dict:
    from mmcourse.grading import sandbox

    if sandboxed:
        argv = sandbox.command([sys.executable, f"{sandbox.SANDBOX_RUNNER_DIR}/capstone_runner.py"],
                               workdir=workdir)
        extra = {}
    else:
        argv = [sys.executable, str(RUNNER)]
        extra = {"cwd": str(workdir), "env": dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3",
                                                  PYTHONDONTWRITEBYTECODE="1")}
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, start_new_session=True, **extra)
    try:
        output, _ = process.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, 9)
        except (ProcessLookupError, PermissionError):
            pass
        process.kill()
        process.communicate()
        return {"error": f"loading and predicting took longer than the time limit of {limit:g} s"}
    lines = [line for line in output.decode("utf-8", "replace").splitlines() if line.startswith("{")]
    if not lines:
        return {"error": "the process loading the model died without an answer "
                         f"(exit status {process.returncode})"}
    try:
        answer = json.loads(lines[-1])
    except ValueError:
        return {"error": "the process loading the model gave a malformed answer"}
    return answer if isinstance(answer, dict) else {"error": "malformed answer"}


def _evaluate_one(student: str, model_path: Path | None, settings: Settings, data: _Data,
                  sandboxed: bool, work_root: Path) -> Evaluation:
    from mmcourse.grading import secure
    from mmcourse.grading.sandboxed import plain
    from mmcourse.training import bootstrap_interval

    started = time.perf_counter()
    evaluation = Evaluation(student)

    def done(reason: str = "") -> Evaluation:
        evaluation.reason = reason
        evaluation.seconds = time.perf_counter() - started
        return evaluation

    if model_path is None:
        return done(f"no {settings.model_file} in the submission folder (run the notebook's last "
                    "cells: they save the model)")
    raw = secure._read_regular(model_path, MAX_MODEL_BYTES)
    if raw is None:
        return done(f"{settings.model_file} is not a regular file of at most "
                    f"{MAX_MODEL_BYTES // 2**20} MB (a symbolic link, a folder or too large)")
    problem = inspect_archive(raw)
    if problem:
        return done(problem)
    workdir = Path(tempfile.mkdtemp(prefix="capstone-", dir=work_root))
    os.chmod(workdir, 0o777)  # the sandbox's uid 65534 reads and writes here, nothing else is in it
    (workdir / "model.keras").write_bytes(raw)
    np.savez(workdir / "inputs.npz", **data.inputs)
    (workdir / "rules.json").write_text(json.dumps({"budget": settings.budget}))
    answer = _run_sandboxed(workdir, settings.time_limit_seconds, sandboxed)
    if "error" in answer:
        return done(str(answer["error"])[:300])
    params = answer.get("params")
    if type(params) is not int:
        return done("the process loading the model gave no parameter count")
    evaluation.params = params
    if params > settings.budget:
        return done(f"{params:,} parameters, over the budget of {settings.budget:,}")
    try:
        probabilities = plain.decode(answer.get("probabilities"))
    except plain.PlainDataError as error:
        return done(f"the predictions could not be read back ({error})"[:200])
    rows = len(data.dev_labels) + len(data.hidden_labels)
    if (type(probabilities) is not np.ndarray or probabilities.dtype.kind != "f"
            or probabilities.shape != (rows, 10)):
        shape = getattr(probabilities, "shape", type(probabilities).__name__)
        return done(f"the model must output 10 class scores per sample; it gave {shape} for {rows} samples")
    if not np.all(np.isfinite(probabilities)):
        return done("the model's outputs contain nan or inf")
    predictions = probabilities.argmax(axis=1)
    count = len(data.dev_labels)
    dev_correct = predictions[:count] == data.dev_labels
    hidden_correct = predictions[count:] == data.hidden_labels
    evaluation.dev_accuracy = float(dev_correct.mean())
    evaluation.hidden_accuracy = float(hidden_correct.mean())
    evaluation.hidden_ci = bootstrap_interval(hidden_correct, seed=0)
    evaluation.points = float(points_for(evaluation.hidden_accuracy, settings.thresholds))
    return done()


def evaluate_models(models: dict[str, Path | None], settings: Settings | None = None, *,
                    sandboxed: bool = True, workers: int = 2,
                    work_root: Path | None = None) -> dict[str, Evaluation]:
    """Evaluate ``{student: model file or None}`` on ``settings`` (default: the shipped file).

    Each model is loaded in its own sandbox (``sandboxed=False``: a plain fresh process, for
    trusted files only); the labels stay in this process. Returns ``{student: Evaluation}``.
    """
    from mmcourse.grading import sandbox

    settings = load_settings() if settings is None else settings
    if not isinstance(settings, Settings):
        settings = load_settings(settings)
    if sandboxed and sandbox.available() is not None:
        raise sandbox.SandboxUnavailable(
            f"no grading sandbox: {sandbox.available()}. Loading a learner's model outside one "
            "trusts the file; pass sandboxed=False (--unsafe) only for files you trust")
    data = _data(settings)
    with tempfile.TemporaryDirectory(prefix="mmcourse-capstone-", dir=work_root) as temporary:
        os.chmod(temporary, 0o711)
        with ThreadPoolExecutor(max(1, int(workers))) as pool:
            futures = {student: pool.submit(_evaluate_one, student, path, settings, data,
                                            sandboxed, Path(temporary))
                       for student, path in models.items()}
            return {student: future.result() for student, future in futures.items()}


# --- leaderboard ----------------------------------------------------------------------------------
def rank(evaluations) -> list[tuple[str, Evaluation]]:
    """``(rank, evaluation)`` by hidden accuracy; ties within the bootstrap interval share a rank.

    Walking down the sorted list, a model is tied with the first model of the current group when
    its hidden accuracy lies inside that model's 95 % bootstrap interval; otherwise it starts a
    new group with rank = its position. Tied ranks are written ``=3``. Unscored models: ``-``.
    """
    scored = sorted((item for item in evaluations if item.scored),
                    key=lambda item: (-item.hidden_accuracy, item.params, item.student))
    ranked, leader, leader_rank = [], None, 0
    for position, item in enumerate(scored, start=1):
        if leader is None or item.hidden_accuracy < leader.hidden_ci[0]:
            leader, leader_rank = item, position
        ranked.append([leader_rank, item])
    counts: dict[int, int] = {}
    for number, _ in ranked:
        counts[number] = counts.get(number, 0) + 1
    result = [(f"={number}" if counts[number] > 1 else str(number), item) for number, item in ranked]
    result += [("-", item) for item in sorted(evaluations, key=lambda item: item.student) if not item.scored]
    return result


_COLUMNS = ["rank", "student", "hidden_accuracy", "hidden_ci_low", "hidden_ci_high",
            "dev_accuracy", "gap", "params", "points", "note"]


def write_leaderboard(evaluations, folder: Path | str, settings: Settings | None = None) -> tuple[Path, Path]:
    """Write ``leaderboard.csv`` and ``leaderboard.md`` into ``folder``; return their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for number, item in rank(list(evaluations)):
        low, high = item.hidden_ci or (None, None)
        rows.append({
            "rank": number, "student": item.student,
            "hidden_accuracy": _fmt(item.hidden_accuracy), "hidden_ci_low": _fmt(low),
            "hidden_ci_high": _fmt(high), "dev_accuracy": _fmt(item.dev_accuracy),
            "gap": "" if item.gap is None else f"{item.gap:+.3f}",
            "params": "" if item.params is None else str(item.params),
            "points": f"{item.points:g}", "note": item.reason,
        })
    csv_path, md_path = folder / "leaderboard.csv", folder / "leaderboard.md"
    with open(csv_path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    lines = ["# Capstone leaderboard", ""]
    if settings is not None:
        lines += [f"Hidden accuracy on the test split (360 samples, test voices) under the hidden "
                  f"setting, with its 95 % bootstrap interval; development accuracy: the same "
                  f"samples under the public development setting; gap = development − hidden. "
                  f"Budget {settings.budget:,} parameters. Ranks marked `=` are ties: their "
                  f"accuracy lies inside the interval of the group's first model.", ""]
    lines += ["| rank | student | hidden accuracy (95 % CI) | development | gap | parameters | points | note |",
              "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        hidden = (f"{row['hidden_accuracy']} ({row['hidden_ci_low']}–{row['hidden_ci_high']})"
                  if row["hidden_accuracy"] else "—")
        note = row["note"].replace("|", "/")
        params = f"{int(row['params']):,}" if row["params"] else "—"
        lines.append(f"| {row['rank']} | {row['student']} | {hidden} | {row['dev_accuracy'] or '—'} | "
                     f"{row['gap'] or '—'} | {params} | {row['points']} | {note} |")
    md_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return csv_path, md_path


def _fmt(value) -> str:
    return "" if value is None else f"{value:.3f}"


# --- the grade command for assignment 16 ----------------------------------------------------------
def grade(submissions_dir: Path, source: Path, out: Path | str | None, *, settings=None,
          feedback_dir: Path | str | None = None, unsafe: bool = False,
          workers: int | None = None):
    """``python -m mmcourse grade SUBMISSIONS --assignment 16 --settings FILE --out grades.csv``.

    Returns one :class:`~mmcourse.grading.grade.StudentResult` per student folder; writes the CSV
    (``test_capstone_model`` = points for the hidden accuracy, ``report`` left blank for manual
    grading), feedback if asked, and ``leaderboard.md``/``leaderboard.csv`` next to the CSV.
    """
    import nbformat

    from mmcourse.grading import grade as grading
    from mmcourse.grading.assign import generate_exercise

    settings = load_settings(settings)
    folders = grading._student_folders(Path(submissions_dir))
    release = nbformat.reads(generate_exercise(source), as_version=4)
    points, manual = {}, []
    for cell in release.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            points[meta["grade_id"]] = float(meta.get("points", 0))
            if meta.get("solution") or cell.cell_type == "markdown":
                manual.append(meta["grade_id"])
    if MODEL_TASK not in points:
        raise ValueError(f"{source.name} has no graded cell {MODEL_TASK!r} for the capstone's points")
    if settings.max_points > points[MODEL_TASK]:
        raise ValueError(f"capstone settings {settings.source}: thresholds give up to "
                         f"{settings.max_points:g} points, the notebook's {MODEL_TASK} cell is worth "
                         f"{points[MODEL_TASK]:g}")
    results, models = {}, {}
    for folder in folders:
        result = grading.StudentResult(folder.name, max_scores=dict(points), manual=list(manual))
        result.scores = {task: (None if task in manual else 0.0) for task in points}
        results[folder.name] = result
        if not grading._STUDENT_ID.fullmatch(folder.name) or folder.is_symlink():
            result.reasons.append("student folder name must be 1-100 letters, digits, '_', '.', '-' "
                                  "(starting with a letter or digit), and a real folder")
            continue
        notebook = folder / source.name
        if not notebook.is_file() or notebook.is_symlink():
            result.reasons.append(f"no {source.name} in the submission folder: the report cannot be graded")
        else:
            grading._parse_notebook(notebook, result)
        model = folder / settings.model_file
        models[folder.name] = model if (model.exists() or model.is_symlink()) else None
    evaluations = evaluate_models(models, settings, sandboxed=not unsafe,
                                  workers=workers or min(os.cpu_count() or 1, 2)) if models else {}
    for student, evaluation in evaluations.items():
        result = results[student]
        result.scores[MODEL_TASK] = evaluation.points
        result.seconds = evaluation.seconds
        checked = (f"Checked: {settings.model_file}, loaded safely; at most {settings.budget:,} "
                   "parameters; named inputs image/audio/text/present; accuracy on the test split "
                   "under the hidden setting, points by the thresholds "
                   + ", ".join(f">= {a:.2f}: {p:g}" for a, p in settings.thresholds) + ".")
        if evaluation.scored:
            low, high = evaluation.hidden_ci
            result.feedback[MODEL_TASK] = (
                f"{checked}\nHidden accuracy {evaluation.hidden_accuracy:.3f} (95 % interval "
                f"{low:.3f}-{high:.3f}), development accuracy {evaluation.dev_accuracy:.3f}, "
                f"{evaluation.params:,} parameters: {evaluation.points:g} points.")
            result.reasons.append(f"{MODEL_TASK}: hidden accuracy {evaluation.hidden_accuracy:.3f}"
                                  f" -> {evaluation.points:g} points")
        else:
            result.feedback[MODEL_TASK] = f"{checked}\nNot scored: {evaluation.reason}."
            result.failures[MODEL_TASK] = result.feedback[MODEL_TASK]
            result.reasons.append(f"{MODEL_TASK}: {evaluation.reason}")
    ordered = [results[key] for key in sorted(results)]
    if out is not None:
        grading.write_csv(ordered, out)
        unscored = [Evaluation(student, reason=results[student].reason or "not graded")
                    for student in results if student not in evaluations]
        write_leaderboard([*evaluations.values(), *unscored], Path(out).parent, settings)
    if feedback_dir is not None:
        grading.write_feedback(ordered, feedback_dir, f"a{source.stem[:2]}")
    return ordered
