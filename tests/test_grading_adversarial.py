"""Hostile and honest submissions against the sandboxed grader, one ``grade()`` run per exercise.

Every attack class of issue 14 is tried on exercises 01, 03, 05 and 15 (15 is the TensorFlow
exercise: its graded function returns a Keras model). Each submission is built from the
generated exercise and the solution's answers, with one trick per task; each case asserts the
exact score per task and a non-empty reason. The honest cases: the solution scores full marks,
the untouched exercise zero, a correct answer written differently full marks, one wrong answer
loses exactly its task's points.

The grader runs for real: bubblewrap sandboxes, Jupyter kernels, the learner's definitions in a
fresh process. Without a working bubblewrap (macOS, a CI runner without user namespaces) these
tests are skipped with the reason, and ``test_refuses_without_sandbox`` checks the refusal.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import nbformat
import pytest
from conftest import hidden_test_lines

from mmcourse.grading import sandbox
from mmcourse.grading.assign import REPO_ROOT
from mmcourse.grading.grade import find_source, grade

pytestmark = pytest.mark.slow

_NO_SANDBOX = sandbox.available()
needs_sandbox = pytest.mark.skipif(_NO_SANDBOX is not None, reason=f"no sandbox: {_NO_SANDBOX}")
TIMEOUT = {"05": 4}  # seconds per notebook cell and graded call: short for exercise 05's loops
DEFAULT_TIMEOUT = 60  # TensorFlow start-up inside a cell of 15 (and 03's vectorizer) on a busy box


def _answers(assignment: str) -> dict[str, str]:
    """The solution's answer cells without the nbgrader markers: the correct answers."""
    notebook = nbformat.read(str(find_source(assignment)), as_version=4)
    answers = {}
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and cell.cell_type == "code":
            answers[meta["grade_id"]] = re.sub(r"\s*### (BEGIN|END) SOLUTION", "", cell.source)
    return answers


def _exercise(assignment: str):
    return nbformat.read(str(REPO_ROOT / "exercises" / find_source(assignment).name), as_version=4)


def _with(assignment: str, changes: dict[str, str], *, extra: dict[str, str] | None = None,
          correct: bool = True):
    """The exercise with the correct answers (or stubs), ``changes`` applied by grade_id, and
    ``extra`` code cells (source by the grade_id they follow) inserted."""
    notebook = _exercise(assignment)
    answers = _answers(assignment) if correct else {}
    answers.update(changes)
    cells = []
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id].strip()
        cells.append(cell)
        if extra and grade_id in extra:
            cells.append(nbformat.v4.new_code_cell(extra[grade_id]))
    notebook.cells = cells
    return notebook


def _write(folder: Path, student: str, notebook) -> None:
    (folder / student).mkdir(parents=True)
    nbformat.write(notebook, str(folder / student / find_source(folder.name[-2:]).name))


def _run(tmp_path_factory, assignment: str, submissions: dict, name: str = "", **options):
    folder = tmp_path_factory.mktemp(f"hostile{assignment}")
    folder = folder.rename(folder.parent / f"hostile_{folder.name}{name}_{assignment}")
    expected = {}
    for student, (notebook, zero, reason) in submissions.items():
        if callable(notebook):
            notebook(folder, student)
        else:
            _write(folder, student, notebook)
        expected[student] = (zero, reason)
    out = folder.parent / f"grades{assignment}{name}.csv"
    feedback = folder.parent / f"feedback{assignment}{name}"
    started = time.perf_counter()
    results = grade(folder, assignment, out, timeout=TIMEOUT.get(assignment, DEFAULT_TIMEOUT),
                    feedback_dir=feedback, workers=2, **options)
    print(f"\n{assignment}: graded {len(results)} submissions in {time.perf_counter() - started:.1f} s")
    return {"results": {r.student: r for r in results}, "expected": expected, "out": out,
            "feedback": feedback, "folder": folder}


def _assert_scores(run, student):
    result = run["results"][student]
    zero, reason = run["expected"][student]
    autograded = [task for task in result.max_scores if task not in result.manual]
    if zero == "all":
        zero = autograded
    for task in autograded:
        expected = 0.0 if task in zero else result.max_scores[task]
        assert result.scores[task] == expected, (student, task, result.scores, result.reason)
    assert result.total == sum(result.max_scores[t] for t in autograded if t not in zero)
    if reason is not None:
        assert result.reason, f"{student}: empty reason"
        assert reason in result.reason, (student, result.reason)


# ---------------------------------------------------------------------------------------------
# Exercise 05 (NumPy): one submission per attack, the attack aimed at one task
# ---------------------------------------------------------------------------------------------
WRONG_WEIGHTED = "def weighted_average(f1, f2, alpha, beta):\n    return f1 + f2"
PATCH_NUMPY = """
import numpy as np
np.allclose = lambda *args, **kwargs: True
np.array_equal = lambda *args, **kwargs: True
def weighted_average(f1, f2, alpha, beta):
    return f1 + f2
"""
ALWAYS_EQUAL_ARRAY = """
import numpy as np
class _Yes(np.ndarray):
    def __eq__(self, other):
        return np.ones(np.shape(other), dtype=bool)
    def __array_function__(self, func, types, args, kwargs):
        return True
def weighted_average(f1, f2, alpha, beta):
    return np.zeros_like(f1).view(_Yes)
"""
FAKE_REFERENCE_MODULE = """
import sys, types
import numpy as np
_fake = types.ModuleType("mmcourse.fusion.reference")
_fake.weighted_average = lambda features, weights: features[0] + features[1]
sys.modules["mmcourse.fusion.reference"] = _fake
import mmcourse.fusion
mmcourse.fusion.reference = _fake
def weighted_average(f1, f2, alpha, beta):
    return f1 + f2
"""
PATCH_REFERENCE = """
import numpy as np
from mmcourse.fusion import reference as _r
_r.product = lambda features: features[0] + features[1]
def product_fusion(f1, f2):
    return f1 + f2
"""
INPUT_TRANSFORMER = """
def _drop_tests(lines):
    return [] if any("assert" in line for line in lines) else lines
get_ipython().input_transformers_post.append(_drop_tests)
def concat_fusion(f1, f2):
    return f1
"""
POST_RUN_HOOK = """
def _hide_errors(result):
    result.error_in_exec = None
get_ipython().events.register("post_run_cell", _hide_errors)
def attention_sum(features, weights):
    return features[:, 0]
"""
READ_SOLUTIONS = f"""
import glob, json
def tensor_fusion(f1, f2):
    for path in glob.glob({str(REPO_ROOT / 'solutions' / '05_*.ipynb')!r}) + glob.glob('/tmp/mmcourse-grade-*/**/*.ipynb', recursive=True):
        for cell in json.load(open(path))["cells"]:
            if "def tensor_fusion" in "".join(cell["source"]):
                exec("".join(cell["source"]), globals())
                return globals()["tensor_fusion"](f1, f2)
    from mmcourse.grading import tasks  # the grader's own checks
    raise RuntimeError("nothing found")
"""
HARM_OTHERS = """
import glob, subprocess, sys
# only this test's own folders (BASE: pytest's temporary root, holding the other submissions)
for victim in glob.glob(BASE + "/**/*.ipynb", recursive=True) + glob.glob("../*/*.ipynb"):
    try:
        open(victim, "w").write("{}")
    except OSError:
        pass
later = "import time\\ntime.sleep(4)\\nopen(" + repr(CSV) + ", 'w').write('attacker,999\\\\n')"
subprocess.Popen([sys.executable, "-c", later], start_new_session=True)
raise RuntimeError("done harming")
"""
LOOP_IGNORING_SIGNALS = """
import signal
def product_fusion(f1, f2):
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        pass
"""
TOP_LEVEL_LOOP = """
def concat_fusion(f1, f2):
    return np.concatenate([f1, f2], axis=1)

import signal
signal.signal(signal.SIGINT, signal.SIG_IGN)
while True:
    pass
"""
WARNING_BUT_CORRECT = """
import warnings
def attention_weights(scores):
    warnings.warn("a harmless RuntimeWarning", RuntimeWarning)
    np.log(np.zeros(1))  # prints numpy's own RuntimeWarning on stderr
    shifted = scores - scores.max(axis=1, keepdims=True)
    return np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
"""
CALLS_REFERENCE = """
from mmcourse.fusion import reference
def attention_sum(features, weights):
    return reference.attention_sum(list(np.moveaxis(features, 1, 0)), weights)
"""
DYNAMIC_REFERENCE = """
import importlib
def tensor_fusion(f1, f2):
    return importlib.import_module("mmcourse.fusion.reference").tensor_fusion([f1, f2])
"""
# Smuggle the hidden inputs out (the visible tests' shapes are left alone, so only inputs the
# learner has not seen would be marked LEAK).
EXFILTRATE_BY_ERROR = """
def attention_weights(scores):
    if scores.shape in [(1, 2), (2, 4)]:
        shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
        return shifted / shifted.sum(axis=1, keepdims=True)
    raise ValueError("LE" + "AK" + str(scores.tolist()))
"""
EXFILTRATE_BY_WARNING = """
import warnings
def product_fusion(f1, f2):
    if f1.shape != (2, 2):
        warnings.warn("LE" + "AK" + str(f1.tolist()))
    return f1 * f2
"""
HELPER_NAMED_LIKE_HIDDEN = """
_reference = 3.0  # a hidden test's import used to overwrite a learner's helper of this name
_shape = None
def weighted_average(f1, f2, alpha, beta):
    return alpha * f1 + beta * f2 + 0 * _reference
"""


def _symlinked_notebook(folder: Path, student: str) -> None:
    (folder / student).mkdir()
    (folder / student / "05_fusion_formulas.ipynb").symlink_to(find_source("05"))


def _symlinked_folder(folder: Path, student: str) -> None:
    (folder / student).symlink_to(find_source("05").parent, target_is_directory=True)


def _newline_name(folder: Path, student: str) -> None:
    (folder / "evil\n").mkdir()
    (folder / "evil\n" / "05_fusion_formulas.ipynb").write_bytes(find_source("05").read_bytes())


def _duplicated_cells(folder: Path, student: str) -> None:
    notebook = _with("05", {"product_answer": "def product_fusion(f1, f2):\n    return f1 - f2"})
    copies = []
    for cell in notebook.cells:
        copies.append(cell)
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id == "product_answer":  # copy-pasted answer cell: the last copy is the answer
            copies.append(nbformat.from_dict({**cell, "source": "def product_fusion(f1, f2):\n    return f1 * f2"}))
        if grade_id == "concatenate_answer":  # renamed grade_id: the code still counts
            cell.metadata["nbgrader"]["grade_id"] = "my_concatenate"
        if grade_id == "test_attention_sum":  # an extra graded cell and a duplicated test cell
            copies.append(nbformat.from_dict({**cell, "source": "assert True"}))
            copies.append(nbformat.v4.new_code_cell("assert True", metadata={"nbgrader": {
                "grade": True, "grade_id": "bonus", "points": 50, "locked": False, "solution": False}}))
    notebook.cells = copies
    _write(folder, student, notebook)


def _submissions_05(csv_path: Path) -> dict:
    harm = HARM_OTHERS.replace("BASE", repr(str(csv_path.parent))).replace("CSV", repr(str(csv_path)))
    return {
        "solution": (nbformat.read(str(find_source("05")), as_version=4), [], None),
        "untouched": (_exercise("05"), "all", "NotImplementedError"),
        "one_wrong": (_with("05", {"weighted_average_answer": WRONG_WEIGHTED}), ["test_weighted_average"],
                      "test_weighted_average: on input 1"),
        "patched_numpy": (_with("05", {"weighted_average_answer": PATCH_NUMPY}), ["test_weighted_average"],
                          "values differ"),
        "always_equal_array": (_with("05", {"weighted_average_answer": ALWAYS_EQUAL_ARRAY}),
                               ["test_weighted_average"], "not plain data"),
        "fake_reference_module": (_with("05", {"weighted_average_answer": FAKE_REFERENCE_MODULE}),
                                  ["test_weighted_average"], "test_weighted_average"),
        "patched_reference": (_with("05", {"product_answer": PATCH_REFERENCE}), ["test_product"],
                              "test_product"),
        "input_transformer": (_with("05", {"concatenate_answer": INPUT_TRANSFORMER}), ["test_concatenate"],
                              "test_concatenate"),
        "post_run_hook": (_with("05", {"attention_sum_answer": POST_RUN_HOOK}), ["test_attention_sum"],
                          "test_attention_sum"),
        "reads_solutions": (_with("05", {"tensor_fusion_answer": READ_SOLUTIONS}), ["test_tensor_fusion"],
                            "test_tensor_fusion: on input 1"),
        "harms_others": (_with("05", {}, correct=False, extra={"title": harm}), "all", "done harming"),
        "symlinked_notebook": (_symlinked_notebook, "all", "symbolic link"),
        "symlinked_folder": (_symlinked_folder, "all", "symbolic link"),
        "evil\n": (_newline_name, "all", "folder name"),
        "ignores_signals": (_with("05", {"product_answer": LOOP_IGNORING_SIGNALS}), ["test_product"],
                            "did not return in time"),
        "top_level_loop": (_with("05", {"concatenate_answer": TOP_LEVEL_LOOP}), [], "timed out"),
        "warning_but_correct": (_with("05", {"attention_weights_answer": WARNING_BUT_CORRECT}), [], None),
        "duplicated_cells": (_duplicated_cells, [], "2 cells with grade_id product_answer"),
        "calls_reference": (_with("05", {"attention_sum_answer": CALLS_REFERENCE}), ["test_attention_sum"],
                            "course's own reference"),
        "dynamic_reference": (_with("05", {"tensor_fusion_answer": DYNAMIC_REFERENCE}),
                              ["test_tensor_fusion"], "course's own reference"),
        "exfiltrates_inputs": (_with("05", {"attention_weights_answer": EXFILTRATE_BY_ERROR,
                                            "product_answer": EXFILTRATE_BY_WARNING}),
                               ["test_attention_weights"], "raised ValueError"),
        "helper_named_like_hidden": (_with("05", {"weighted_average_answer": HELPER_NAMED_LIKE_HIDDEN}), [], None),
    }


@pytest.fixture(scope="module")
def run05(tmp_path_factory):
    csv_path = tmp_path_factory.getbasetemp() / "grades05.csv"
    return _run(tmp_path_factory, "05", _submissions_05(csv_path))


STUDENTS_05 = list(_submissions_05(Path("/nonexistent.csv")))


@needs_sandbox
@pytest.mark.parametrize("student", STUDENTS_05, ids=[s.strip() or "blank" for s in STUDENTS_05])
def test_exercise05_submission_scores_exactly(run05, student):
    _assert_scores(run05, student)


@needs_sandbox
def test_exercise05_reasons_and_feedback_name_what_happened(run05):
    results = run05["results"]
    assert results["solution"].reason == ""
    assert results["helper_named_like_hidden"].reason == ""
    assert results["warning_but_correct"].reason == ""
    assert "RuntimeWarning" in results["warning_but_correct"].feedback["test_attention_weights"]
    duplicated = results["duplicated_cells"].reason
    assert "unknown grade_id 'my_concatenate'" in duplicated and "unknown grade_id 'bonus'" in duplicated
    assert "bonus" not in results["duplicated_cells"].scores
    assert results["duplicated_cells"].total == 10


@needs_sandbox
def test_exercise05_no_survivor_rewrites_the_csv(run05):
    """The detached process of 'harms_others' died with its sandbox: the CSV stays as written."""
    before = run05["out"].read_text(encoding="utf-8")
    time.sleep(6)  # the survivor would have written after 4 s
    assert run05["out"].read_text(encoding="utf-8") == before
    assert "999" not in before
    solution = run05["folder"] / "solution" / "05_fusion_formulas.ipynb"
    assert solution.read_bytes() == find_source("05").read_bytes(), "another student's notebook was changed"
    survivors = subprocess.run(["pgrep", "-f", "attacker,999"], capture_output=True, text=True, check=False)
    assert survivors.stdout.strip() == "", survivors.stdout


def _hidden_lines(assignment: str) -> set[str]:
    hidden_lines = hidden_test_lines(nbformat.read(str(find_source(assignment)), as_version=4))
    assert hidden_lines
    return hidden_lines


@needs_sandbox
def test_exercise05_feedback_never_quotes_hidden_tests(run05):
    hidden_lines = _hidden_lines("05")
    texts = [path.read_text(encoding="utf-8") for path in run05["feedback"].iterdir()]
    texts.append(run05["out"].read_text(encoding="utf-8"))
    assert len(texts) > 10
    for text in texts:
        for line in hidden_lines:
            assert line not in text, line
        assert "default_rng(50" not in text and "HIDDEN" not in text
        assert "LEAK" not in text  # an input smuggled out in an exception or a warning


@needs_sandbox
def test_policy_is_configurable(tmp_path_factory):
    run = _run(tmp_path_factory, "05", {
        "calls_reference": (_with("05", {"attention_sum_answer": CALLS_REFERENCE}), [], None),
    }, name="policy", allow_reference=True)
    _assert_scores(run, "calls_reference")


# ---------------------------------------------------------------------------------------------
# Exercise 05 under small resource limits: a fork bomb, a memory hog, a disk filler, and the
# reference reached in ways no source scan sees — each costs exactly its own task
# ---------------------------------------------------------------------------------------------
FORK_BOMB = """
import os, time
def product_fusion(f1, f2):
    for _ in range(600):  # bounded, so a broken limit cannot take the shared test machine down
        if os.fork() == 0:
            time.sleep(20)
            os._exit(0)
    return f1 * f2
"""
MEMORY_HOG = """
def weighted_average(f1, f2, alpha, beta):
    hog = []
    while True:  # 64 MB at a time, every page written
        hog.append(np.ones(2**23))
"""
DISK_FILLER = """
import itertools
def concat_fusion(f1, f2):
    for number in itertools.count():  # files up to the size limit, until the disk is full
        with open(f"filler{number}.bin", "wb") as handle:
            try:
                while True:
                    handle.write(b"x" * 2**20)
            except OSError as error:
                if error.errno != 27:  # EFBIG: this file is at the limit, start the next one
                    raise
"""
# The reference, reached so that no source scan sees it: names built at run time.
REFERENCE_BY_GETATTR = """
def attention_sum(features, weights):
    module = __import__("mmcourse.fusion." + "refer" + "ence", fromlist=["x"])
    return getattr(module, "attention" + "_sum")(list(np.moveaxis(features, 1, 0)), weights)
"""
REFERENCE_PROFILER_OFF = """
import sys
def tensor_fusion(f1, f2):
    sys.setprofile(None)  # no grader's hook can watch any more
    module = __import__("mmcourse.fusion." + "refer" + "ence", fromlist=["x"])
    return getattr(module, "tensor" + "_fusion")([f1, f2])
"""
SMALL_LIMITS = {"MMCOURSE_GRADE_MEMORY_MB": "768", "MMCOURSE_GRADE_FILE_MB": "16",
                "MMCOURSE_GRADE_TMP_MB": "48", "MMCOURSE_GRADE_DISK_MB": "48", "MMCOURSE_GRADE_TASKS": "200"}
SUBMISSIONS_LIMITS = {
    "solution": ({}, [], None),
    "fork_bomb": ({"product_answer": FORK_BOMB}, ["test_product"], "200 processes and threads"),
    "memory_hog": ({"weighted_average_answer": MEMORY_HOG}, ["test_weighted_average"],
                   "raised MemoryError"),
    "disk_filler": ({"concatenate_answer": DISK_FILLER}, ["test_concatenate"], "disk space is full"),
    "reference_by_getattr": ({"attention_sum_answer": REFERENCE_BY_GETATTR}, ["test_attention_sum"],
                             "mmcourse.fusion.reference.attention_sum, seen while your function ran"),
    "reference_profiler_off": ({"tensor_fusion_answer": REFERENCE_PROFILER_OFF}, ["test_tensor_fusion"],
                               "sys.setprofile"),
}


@pytest.fixture(scope="module")
def run_limits(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        for variable, value in SMALL_LIMITS.items():
            patch.setenv(variable, value)
        return _run(tmp_path_factory, "05", _submissions("05", SUBMISSIONS_LIMITS), name="limits")


@needs_sandbox
@pytest.mark.parametrize("student", SUBMISSIONS_LIMITS)
def test_resource_limits_and_run_time_reference_check(run_limits, student):
    _assert_scores(run_limits, student)
    if student == "solution":
        assert run_limits["results"][student].reason == ""


@needs_sandbox
def test_limits_name_the_limit_in_the_reasons(run_limits):
    results = run_limits["results"]
    assert "768 MB of memory per process" in results["memory_hog"].reason
    # the notebook run's kernel sandbox wrote into the one host folder it has: the watchdog
    # stopped it (and emptied the folder, so the restarted kernel ran the later cells)
    assert "the sandbox was stopped: it wrote more than 48 MB into its folder" in results["disk_filler"].reason
    if os.geteuid() == 0:  # a root grader: the kernel ignores RLIMIT_NPROC, the watchdog stops it
        assert "the sandbox was stopped: it ran more than 200 processes" in results["fork_bomb"].reason


def test_source_scan_alone_misses_the_run_time_tricks():
    """What the run-time check adds: the source scan does not see these two answers."""
    from mmcourse.grading.secure import uses_reference

    reference = "mmcourse.fusion.reference."
    for answer, name in ((REFERENCE_BY_GETATTR, "attention_sum"), (REFERENCE_PROFILER_OFF, "tensor_fusion")):
        assert uses_reference([("answer", answer)], (reference + name,), "answer") is None
    assert uses_reference([("answer", CALLS_REFERENCE)], (reference + "attention_sum",), "answer")


def test_limits_come_from_the_environment_and_are_checked(monkeypatch):
    monkeypatch.setenv("MMCOURSE_GRADE_MEMORY_MB", "1000")
    assert sandbox.current_limits().memory_mb == 1000
    for bad in ("lots", "0", "-5"):
        monkeypatch.setenv("MMCOURSE_GRADE_MEMORY_MB", bad)
        with pytest.raises(ValueError, match="MMCOURSE_GRADE_MEMORY_MB must be a positive int"):
            sandbox.current_limits()
    with pytest.raises(TypeError, match="tasks must be a positive int"):
        sandbox.Limits(tasks=2.5)


# ---------------------------------------------------------------------------------------------
# Exercises 01, 03 and 15: several attacks per submission, one per task
# ---------------------------------------------------------------------------------------------
SUBMISSIONS_01 = {
    "solution": ({}, [], None),
    "untouched": (None, "all", "NotImplementedError"),
    # a wrong measured_snr_db costs only its own task, not add_white_noise's too
    "one_wrong": ({"measured_snr_answer": "def measured_snr_db(clean, noisy):\n    return np.zeros(len(clean))"},
                  ["test_measured_snr"], "test_measured_snr"),
    "hostile": ({
        "class_balance_answer": "import numpy as np\nclass _L(list):\n    def __eq__(self, other):\n"
                                "        return True\ndef class_balance(labels, num_classes=10):\n"
                                "    return _L([0.0] * num_classes)",
        "measured_snr_answer": "import mmcourse.data as _d\n_d.measured_snr_db = lambda c, n: np.zeros(len(c))\n"
                               "def measured_snr_db(clean, noisy):\n    return np.zeros(len(clean))",
        "add_noise_answer": f"def add_white_noise(clean, snr_db, rng):\n"
                            f"    exec(open({str(find_source('01'))!r}).read())\n    return clean",
    }, "all", "not plain data"),
}
SUBMISSIONS_03 = {
    "solution": ({}, [], None),
    "untouched": (None, "all", "NotImplementedError"),
    "hostile": ({
        "tokenize_answer": "class _Any(list):\n    def __eq__(self, other):\n        return True\n"
                           "def tokenize(text):\n    return _Any()",
        "build_vocabulary_answer": "from mmcourse.features.text import build_vocabulary",
        "encode_answer": "np.array_equal = lambda *a, **k: True\n"
                         "def encode(text, vocabulary, max_length):\n    return np.zeros(max_length, dtype=int)",
        "one_hot_answer": "get_ipython().input_transformers_post.append(lambda lines: [])\n"
                          "def one_hot_encode(ids, num_vocab):\n    return np.zeros((len(ids), num_vocab))",
    }, "all", "course's own reference"),
}
SUBMISSIONS_15 = {
    "solution": ({}, [], None),
    "untouched": (None, "all", "NotImplementedError"),
    "hostile": ({
        "flatten_size_answer": "class _Int(int):\n    def __eq__(self, other):\n        return True\n"
                               "    __hash__ = int.__hash__\n"
                               "def flatten_size(height, width, channels, filters=32):\n    return _Int(0)",
        # a model that keeps Dot: the grader loads the returned .keras file itself and looks
        "article_model_answer": "import sys\nsys.modules['mmcourse.checks.lesson15'] = None\n"
                                "def build_article_model(max_length, num_vocab, image_shape=(8, 8, 1)):\n"
                                "    image = Input(shape=image_shape)\n"
                                "    text = Input(shape=(max_length, num_vocab))\n"
                                "    a = Dense(64)(Flatten()(image))\n    b = LSTM(64)(text)\n"
                                "    x = Dense(128, activation='relu')(Dot(axes=1)([a, b]))\n"
                                "    return keras.Model([image, text], Dense(10, activation='softmax')(x))",
    }, "all", "Dot"),
}


def _read_solution(assignment: str, function: str, signature: str) -> str:
    """An answer that reads the repository's solution notebook and runs its answer cell."""
    return (f"import json\ndef {function}({signature}):\n"
            f"    cells = json.load(open({str(find_source(assignment))!r}))['cells']\n"
            f"    exec(''.join(next(c['source'] for c in cells if 'def {function}' in ''.join(c['source']))), globals())\n"
            f"    return globals()['{function}']({', '.join(a.split('=')[0] for a in signature.split(', '))})")


POST_RUN = ("get_ipython().events.register('post_run_cell', lambda result: setattr(result, "
            "'error_in_exec', None))\n")
WARN = "import warnings\nwarnings.warn('a harmless warning at definition time')\n"
SUBMISSIONS_01["hostile2"] = ({
    "class_balance_answer": POST_RUN + "def class_balance(labels, num_classes=10):\n    return np.ones(num_classes)",
    "measured_snr_answer": _read_solution("01", "measured_snr_db", "clean, noisy"),
    "add_noise_answer": WARN + _answers("01")["add_noise_answer"].replace(
        "noise = rng", "warnings.warn('noisy', RuntimeWarning)\n    noise = rng"),
}, ["test_class_balance", "test_measured_snr"], "FileNotFoundError")
SUBMISSIONS_03["hostile2"] = ({
    "tokenize_answer": _read_solution("03", "tokenize", "text"),
    "build_vocabulary_answer": "import sys, types\nsys.modules['mmcourse.features.text'] = types.ModuleType('x')\n"
                               "def build_vocabulary(texts):\n    return ['', '[UNK]']",
    "encode_answer": POST_RUN + "def encode(text, vocabulary, max_length):\n    return np.zeros(max_length, dtype=int)",
    "one_hot_answer": WARN + _answers("03")["one_hot_answer"],
}, ["test_tokenize", "test_build_vocabulary", "test_encode"], "FileNotFoundError")
SUBMISSIONS_15["hostile2"] = ({
    "flatten_size_answer": _read_solution("15", "flatten_size", "height, width, channels, filters=32"),
    # helpers named like the hidden test's variables: no clash any more
    "article_model_answer": "_reference_model = None\n_model = 'mine'\n" + _answers("15")["article_model_answer"],
}, ["test_flatten_size"], "FileNotFoundError")


def _symlink_to_solution(assignment: str):
    def build(folder: Path, student: str) -> None:
        (folder / student).mkdir()
        (folder / student / find_source(assignment).name).symlink_to(find_source(assignment))
    return build


for _assignment, _table in (("01", SUBMISSIONS_01), ("03", SUBMISSIONS_03), ("15", SUBMISSIONS_15)):
    _table["symlinked"] = (_symlink_to_solution(_assignment), "all", "symbolic link")


def _submissions(assignment: str, table: dict) -> dict:
    built = {}
    for student, (changes, zero, reason) in table.items():
        if callable(changes):
            built[student] = (changes, zero, reason)
        elif changes is None:
            built[student] = (_exercise(assignment), zero, reason)
        else:
            built[student] = (_with(assignment, changes), zero, reason)
    return built


@pytest.fixture(scope="module")
def runs_small(tmp_path_factory):
    return {assignment: _run(tmp_path_factory, assignment, _submissions(assignment, table))
            for assignment, table in (("01", SUBMISSIONS_01), ("03", SUBMISSIONS_03), ("15", SUBMISSIONS_15))}


@needs_sandbox
@pytest.mark.parametrize("assignment, student", [
    *[("01", s) for s in SUBMISSIONS_01], *[("03", s) for s in SUBMISSIONS_03],
    *[("15", s) for s in SUBMISSIONS_15],
])
def test_submission_scores_exactly(runs_small, assignment, student):
    _assert_scores(runs_small[assignment], student)
    if student == "solution":
        assert runs_small[assignment]["results"][student].reason == ""


@needs_sandbox
@pytest.mark.parametrize("assignment", ["01", "03", "15"])
def test_feedback_never_quotes_hidden_tests_01_03_15(runs_small, assignment):
    hidden = _hidden_lines(assignment)
    run = runs_small[assignment]
    texts = [path.read_text(encoding="utf-8") for path in run["feedback"].iterdir()]
    texts.append(run["out"].read_text(encoding="utf-8"))
    for text in texts:
        assert not [line for line in hidden if line in text]
        assert "HIDDEN" not in text


@needs_sandbox
def test_hostile_reasons_name_each_trick(runs_small):
    reason01 = runs_small["01"]["results"]["hostile"].reason
    assert "test_class_balance: on input 1" in reason01 and "not plain data" in reason01
    assert "test_add_noise" in reason01
    reason03 = runs_small["03"]["results"]["hostile"].reason
    assert "test_tokenize" in reason03 and "mmcourse.features.text.build_vocabulary" in reason03
    reason15 = runs_small["15"]["results"]["hostile"].reason
    assert "test_flatten_size: on input 1" in reason15 and "not plain data" in reason15
    assert "still fuses with Dot" in reason15


# ---------------------------------------------------------------------------------------------
# The sandbox itself, and refusing without one
# ---------------------------------------------------------------------------------------------
@needs_sandbox
def test_sandbox_hides_the_repository_and_has_no_network():
    import socket
    import sys

    # A server on this machine's loopback, outside the sandbox: the sandbox has its own network
    # namespace (a loopback of its own, nothing else), so it cannot reach it. Only loopback
    # addresses are used: no packet is ever meant to leave the machine.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        probe = ("import os, socket\n"
                 f"print(os.path.exists({str(REPO_ROOT / 'solutions')!r}) or os.path.exists('/etc/shadow'),\n"
                 "      os.getuid(),\n"
                 f"      os.listdir({str(REPO_ROOT / 'mmcourse' / 'grading')!r}))\n"
                 f"try:\n    socket.create_connection(('127.0.0.1', {port}), timeout=2); print('net')\n"
                 "except OSError:\n    print('no net')\n")
        reachable = socket.create_connection(("127.0.0.1", port), timeout=2)  # it is there
        reachable.close()
        done = subprocess.run(sandbox.command([sys.executable, "-c", probe]), capture_output=True,
                              text=True, timeout=60, check=False)
    assert done.stdout.split("\n")[:2] == ["False 65534 []", "no net"], done


def test_refuses_without_sandbox(tmp_path, monkeypatch):
    monkeypatch.setattr(sandbox, "available", lambda: "no bwrap here (test)")
    (tmp_path / "subs" / "alice").mkdir(parents=True)
    with pytest.raises(sandbox.SandboxUnavailable, match="unsafe"):
        grade(tmp_path / "subs", "05", tmp_path / "grades.csv")


def test_refuses_legacy_grading_without_unsafe(tmp_path):
    """Every course exercise has grader checks; a new one being authored (here a copy of 05 as
    exercise 21) has none, and is graded only in-kernel, only with unsafe=True."""
    import shutil

    from mmcourse.grading.tasks import tasks_for

    assert tasks_for("21") is None
    (tmp_path / "solutions").mkdir()
    shutil.copy(find_source("05"), tmp_path / "solutions" / "21_draft.ipynb")
    (tmp_path / "subs" / "alice").mkdir(parents=True)
    with pytest.raises(ValueError, match="no grader checks"):
        grade(tmp_path / "subs", "21", tmp_path / "grades.csv", solutions_dir=tmp_path / "solutions")


def test_feedback_json_has_checked_sentence(run05):
    payload = json.loads((run05["feedback"] / "one_wrong.json").read_text(encoding="utf-8"))
    task = next(t for t in payload["tasks"] if t["task"] == "test_weighted_average")
    assert task["score"] == 0 and task["feedback"].startswith("Checked: weighted_average")


@pytest.mark.parametrize("options, error, match", [
    ({"timeout": float("nan")}, ValueError, "timeout must be a positive, finite number of seconds. Received: timeout=nan"),
    ({"timeout": 0}, ValueError, "Received: timeout=0"),
    ({"timeout": -3.0}, ValueError, "Received: timeout=-3.0"),
    ({"timeout": "30"}, TypeError, "timeout must be a positive, finite number"),
    ({"timeout": True}, TypeError, "Received: timeout=True"),
    ({"workers": 0}, ValueError, "workers must be a positive int. Received: workers=0"),
    ({"workers": 2.0}, TypeError, "workers must be a positive int"),
])
def test_grade_options_are_checked_before_grading(tmp_path, options, error, match):
    (tmp_path / "subs" / "alice").mkdir(parents=True)
    with pytest.raises(error, match=re.escape(match)):
        grade(tmp_path / "subs", "05", tmp_path / "grades.csv", **options)
    assert not (tmp_path / "grades.csv").exists()


def test_grade_rejects_a_bad_limit_variable_before_grading(tmp_path, monkeypatch):
    (tmp_path / "subs" / "alice").mkdir(parents=True)
    monkeypatch.setenv("MMCOURSE_GRADE_TASKS", "many")
    with pytest.raises(ValueError, match="MMCOURSE_GRADE_TASKS must be a positive int"):
        grade(tmp_path / "subs", "05", tmp_path / "grades.csv")
