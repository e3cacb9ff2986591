"""Autograde a folder of submissions; write a grade CSV and per-student feedback.

Submission layout (one folder per learner, the folder name is the student id)::

    SUBMISSIONS_DIR/
      alice/05_fusion_formulas.ipynb
      bob/05_fusion_formulas.ipynb
      ...

For assignment ``NN`` the source is ``solutions/NN_*.ipynb``. Exercises with grader checks
(:mod:`mmcourse.grading.tasks`: every exercise of the course) are graded by the sandboxed grader,
:mod:`mmcourse.grading.secure` — the notebook runs in a bubblewrap sandbox, the graded functions
are called out of the learner's kernel in a fresh one, results compared here (see
docs/teaching.md, section 8). An exercise without them (a new one being authored) is graded,
only with ``unsafe=True``, by nbgrader's in-kernel autograder (:func:`_grade_nbgrader`): a temporary nbgrader course
(``source/`` → ``nbgrader generate_assignment`` → ``release/``, ``submitted/<student>/``, a
temporary SQLite gradebook), split over a few worker processes.

Robustness — one broken submission never stops the others; each gets the points it earned and a
``reason``:

* not a notebook / not JSON → zero, reason says why;
* a syntax error or exception in the learner's cell → that task's tests fail, reason names it;
* an infinite loop → each cell is interrupted after ``timeout`` seconds (nbgrader's
  ``interrupt_on_timeout``), later tasks are still graded;
* a kernel crash (``os._exit``) → the kernel is restarted, earlier cells replayed, later tasks
  graded (:class:`mmcourse.grading.execute.CrashTolerantExecute`);
* an edited locked test cell → detected with nbgrader's checksums before grading and reported;
  nbgrader grades the original test (with its hidden part), never the edit;
* a deleted test cell → nbgrader puts the original back (``OverwriteCells.add_missing_cells``),
  it is graded, and the reason says so.

CSV columns: ``student``, one column per graded cell (its ``grade_id``), ``total``, ``max_total``,
``reason``. ``total``/``max_total`` count the autograded tasks; manually graded answers are left
blank (grade them in nbgrader's formgrader).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path

import nbformat

from mmcourse.grading.assign import REPO_ROOT

__all__ = ["StudentResult", "grade", "find_source", "write_csv", "write_feedback"]

_STUDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")  # used with re.fullmatch only
MAX_SUBMISSION_BYTES = 20 * 2**20
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_TIMEOUT_NAMES = {"CellTimeoutError", "TimeoutError", "KeyboardInterrupt"}


@dataclass
class StudentResult:
    """One learner's grade: per-task scores (None = awaits manual grading) and what went wrong."""

    student: str
    scores: dict[str, float | None] = field(default_factory=dict)
    max_scores: dict[str, float] = field(default_factory=dict)
    manual: list[str] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    seconds: float = 0.0
    feedback: dict[str, str] = field(default_factory=dict)
    grader_error: str = ""  # the grader itself failed on this submission: regrade it, do not trust 0

    @property
    def total(self) -> float:
        return sum(score or 0.0 for task, score in self.scores.items() if task not in self.manual)

    @property
    def max_total(self) -> float:
        return sum(points for task, points in self.max_scores.items() if task not in self.manual)

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)


def find_source(assignment: str | int, solutions_dir: Path | None = None) -> Path:
    """The solution (nbgrader source) notebook ``solutions/NN_*.ipynb`` of assignment ``NN``."""
    solutions_dir = Path(solutions_dir) if solutions_dir else REPO_ROOT / "solutions"
    try:
        number = int(str(assignment))
    except ValueError:
        raise ValueError(f"assignment must be a lesson number like 05; received {assignment!r}") from None
    matches = sorted(solutions_dir.glob(f"{number:02d}_*.ipynb"))
    if len(matches) != 1:
        raise ValueError(
            f"expected exactly one solutions notebook {number:02d}_*.ipynb in {solutions_dir}; "
            f"found {[path.name for path in matches]}"
        )
    return matches[0]


def _nbgrader_config(root: Path, timeout: float):
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute
    from traitlets.config import Config

    from mmcourse.grading.execute import CrashTolerantExecute

    config = Config()
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.db_url = f"sqlite:///{root / 'gradebook.db'}"
    config.CourseDirectory.course_id = "mmcourse"
    config.Execute.timeout = int(max(1, round(timeout)))
    config.Execute.interrupt_on_timeout = True
    config.Execute.startup_timeout = 120
    # No input history on disk, and no kernel start-up chatter (the TCP transport notice).
    config.Execute.extra_arguments = ["--HistoryManager.hist_file=:memory:", "--IPKernelApp.log_level=40"]
    config.Execute.raise_on_iopub_timeout = False  # a slow cell is a timeout, not a lost notebook
    config.Exchange.root = str(root / "exchange")  # never touch the system-wide exchange
    config.OverwriteCells.add_missing_cells = True
    # nbgrader's own autograde chain, with Execute swapped for its crash-tolerant subclass.
    config.Autograde.autograde_preprocessors = [
        CrashTolerantExecute if preprocessor is Execute else preprocessor
        for preprocessor in Autograde.class_traits()["autograde_preprocessors"].default()
    ]
    return config


def _ensure_tools_on_path() -> None:
    """nbgrader's gradebook runs the ``alembic`` command: find it next to this Python."""
    scripts = str(Path(sys.executable).parent)
    if shutil.which("alembic") is None and scripts not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = scripts + os.pathsep + os.environ.get("PATH", "")


def _api(root: Path, timeout: float):
    from nbgrader.apps import NbGraderAPI

    _ensure_tools_on_path()

    api = NbGraderAPI(config=_nbgrader_config(root, timeout))
    api.log.setLevel("ERROR")
    return api


def _last_line(text: str) -> str:
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _error_text(output) -> str:
    traceback = [_ANSI.sub("", line) for line in output.get("traceback", [])]
    lines = "\n".join(traceback).strip().splitlines()
    tail = "\n".join(lines[-4:]) if lines else f"{output.get('ename')}: {output.get('evalue')}"
    return tail[-800:]


def _cell_task(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _describe_autograded(path: Path, timeout: float, result: StudentResult) -> None:
    """Add failing outputs and reasons found in the autograded notebook."""
    notebook = nbformat.read(str(path), as_version=4)
    for number, cell in enumerate(notebook.cells, start=1):
        if cell.cell_type != "code":
            continue
        nbgrader_meta = cell.metadata.get("nbgrader", {})
        task = nbgrader_meta.get("grade_id")
        for output in cell.get("outputs", []):
            if output.get("output_type") != "error":
                continue
            ename = output.get("ename", "")
            where = f"cell {number}" + (f" ({task})" if task else "")
            if nbgrader_meta.get("grade"):
                result.failures[task] = _error_text(output)
            if ename in _TIMEOUT_NAMES:
                result.reasons.append(f"{where} timed out after {timeout:g} s and was interrupted")
            elif ename == "KernelDied":
                result.reasons.append(f"the kernel died in {where}; restarted, later cells graded")
            elif not nbgrader_meta.get("grade") and ename != "NotImplementedError":
                result.reasons.append(f"error in {where}: {ename}: {_last_line(output.get('evalue', ''))[:120]}")
            break


def _grade_chunk(root: str, assignment_id: str, notebook_id: str, students: list[str],
                 timeout: float) -> list[dict]:
    """Worker: autograde ``students`` in the course at ``root``; return their results as dicts."""
    from nbgrader.api import Gradebook, MissingEntry

    warnings.filterwarnings("ignore", module="nbgrader")  # SQLAlchemy notes from nbgrader's own queries
    warnings.filterwarnings("ignore", message=".*not in session.*")
    root_path = Path(root)
    api = _api(root_path, timeout)
    results = []
    for student in students:
        started = time.perf_counter()
        result = StudentResult(student)
        outcome = api.autograde(assignment_id, student, force=True, create=True)
        if not outcome.get("success"):
            log_errors = [
                line.strip() for line in outcome.get("log", "").splitlines()
                if re.match(r"^\s*[\w.]*(Error|Exception)\b", line.strip())
            ]
            detail = log_errors[-1] if log_errors else _last_line(outcome.get("error", ""))
            result.reasons.append(f"nbgrader could not autograde this notebook: {detail[:200]}")
        with Gradebook(f"sqlite:///{root_path / 'gradebook.db'}") as gradebook:
            try:
                submission = gradebook.find_submission_notebook(notebook_id, assignment_id, student)
                for grade_entry in submission.grades:
                    manual = grade_entry.auto_score is None and grade_entry.manual_score is None
                    result.scores[grade_entry.name] = (
                        None if manual else float(grade_entry.score)
                    )
            except MissingEntry:
                pass
        autograded = root_path / "autograded" / student / assignment_id / f"{notebook_id}.ipynb"
        if autograded.exists():
            _describe_autograded(autograded, timeout, result)
        result.seconds = time.perf_counter() - started
        results.append(asdict(result))
    return results


def _locked_checksums(release: Path) -> tuple[dict[str, str], dict[str, float], list[str], list[str]]:
    """From the released notebook: checksums of locked cells, points, grade ids, manual ids."""
    notebook = nbformat.read(str(release), as_version=4)
    checksums, points, order, manual = {}, {}, [], []
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        grade_id = meta.get("grade_id")
        if not grade_id:
            continue
        if meta.get("locked"):
            checksums[grade_id] = meta["checksum"]
        if meta.get("grade"):
            order.append(grade_id)
            points[grade_id] = float(meta.get("points", 0))
            if meta.get("solution") or cell.cell_type == "markdown":
                manual.append(grade_id)
    return checksums, points, order, manual


def _inspect_submission(path: Path, checksums: dict[str, set[str]], grade_ids: list[str],
                        result: StudentResult) -> bool:
    """Reject what is not a notebook; report edited locked cells and deleted test cells."""
    from nbgrader.utils import compute_checksum

    notebook = _parse_notebook(path, result)
    if notebook is None:
        return False
    seen = set()
    for cell in notebook.cells:
        grade_id = _cell_task(cell)
        if not grade_id:
            continue
        seen.add(grade_id)
        if grade_id in checksums and compute_checksum(cell) not in checksums[grade_id]:
            result.reasons.append(
                f"locked cell {grade_id} was edited: nbgrader graded with the original cell, not the edit"
            )
    for grade_id in grade_ids:
        if grade_id not in seen:
            result.reasons.append(f"cell {grade_id} was deleted: nbgrader restored the original")
    return True


def _find_submission(folder: Path, notebook_name: str, result: StudentResult) -> Path | None:
    expected = folder / notebook_name
    if expected.is_symlink() or any(path.is_symlink() for path in folder.glob("*.ipynb")):
        result.reasons.append("the notebook is a symbolic link: submit the file itself")
        return None
    if expected.is_file():
        return expected
    candidates = sorted(folder.glob("*.ipynb"))
    if len(candidates) == 1:
        result.reasons.append(f"file named {candidates[0].name}, expected {notebook_name}")
        return candidates[0]
    result.reasons.append(f"no {notebook_name} in the submission folder")
    return None


def _student_folders(submissions_dir: Path) -> list[Path]:
    if not submissions_dir.is_dir():
        raise ValueError(f"submissions_dir must be a folder; received {submissions_dir}")
    folders = sorted(path for path in submissions_dir.iterdir() if path.is_dir() or path.is_symlink())
    if not folders:
        raise ValueError(
            f"submissions_dir must hold one folder per student (SUBMISSIONS/<student>/NN_topic.ipynb); "
            f"received {submissions_dir} with no student folders"
        )
    return folders


def _check_options(timeout, workers) -> None:
    """``grade()``'s options, checked before anything is graded (wrong type: ``TypeError``, wrong
    value: ``ValueError``, both naming the option); also the sandbox limits from the environment."""
    from mmcourse import _validate
    from mmcourse.grading import sandbox

    _validate.number(timeout, "timeout", minimum=0, exclusive_minimum=True,
                     expected="a positive, finite number of seconds")
    if workers is not None:
        _validate.positive_int(workers, "workers")
    sandbox.current_limits()  # a bad MMCOURSE_GRADE_* variable fails here, not mid-run


def _read_submission(folder: Path, source_name: str, result: StudentResult):
    """The learner's notebook from ``folder``, or ``None`` with a reason (names, links, JSON)."""
    if not _STUDENT_ID.fullmatch(folder.name):
        result.reasons.append("student folder name must be 1-100 letters, digits, '_', '.', '-' "
                              "(starting with a letter or digit)")
        return None
    if folder.is_symlink():
        result.reasons.append("the student folder is a symbolic link: submit a real folder")
        return None
    path = _find_submission(folder, source_name, result)
    if path is None:
        return None
    if path.stat().st_size > MAX_SUBMISSION_BYTES:
        result.reasons.append(f"the notebook is larger than {MAX_SUBMISSION_BYTES // 2**20} MB")
        return None
    return _parse_notebook(path, result)


def _parse_notebook(path: Path, result: StudentResult):
    """The notebook at ``path``, or ``None`` with a reason when it is not valid notebook JSON."""
    try:
        text = path.read_text(encoding="utf-8")
        raw = json.loads(text)
        if not isinstance(raw, dict) or not isinstance(raw.get("cells"), list):
            raise ValueError("JSON without a 'cells' list")
        notebook = nbformat.reads(text, as_version=4)
        nbformat.validate(notebook)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        result.reasons.append(f"not a notebook: the file is not valid JSON ({type(error).__name__})")
        return None
    except Exception as error:  # noqa: BLE001 - any malformed notebook is reported, not raised
        result.reasons.append(f"not a valid notebook: {_last_line(str(error))[:160]}")
        return None
    return notebook


def grade(
    submissions_dir: Path | str,
    assignment: str | int,
    out: Path | str | None = None,
    *,
    timeout: float = 30.0,
    feedback_dir: Path | str | None = None,
    solutions_dir: Path | str | None = None,
    workers: int | None = None,
    unsafe: bool = False,
    allow_reference: bool = False,
    seed: int | None = None,
    settings: Path | str | None = None,
) -> list[StudentResult]:
    """Autograde ``submissions_dir/<student>/NN_topic.ipynb``; write the CSV and feedback.

    Exercises with grader checks (:mod:`mmcourse.grading.tasks`) are graded by the sandboxed
    grader (:mod:`mmcourse.grading.secure`): one bubblewrap sandbox per submission, hidden
    checks outside the learner's interpreter. Without a working sandbox it refuses
    (:class:`~mmcourse.grading.sandbox.SandboxUnavailable`) unless ``unsafe=True``, which runs
    the same steps as plain processes. Exercises without grader checks are graded by nbgrader's
    in-kernel autograder, and only with ``unsafe=True``.

    timeout: seconds one cell may run before the kernel is restarted.
    workers: submissions graded at once (default: the number of CPUs, at most 4).
    allow_reference: do not zero an answer that uses the course's reference for its own task.
    seed: the hidden inputs' seed (default: fresh from the OS on every run).
    settings: the capstone's settings file (assignment 16 only; default: the shipped one), see
    :mod:`mmcourse.grading.capstone`, which grades assignment 16 from its saved model.
    Returns one :class:`StudentResult` per student folder, sorted by student id.
    """
    from mmcourse.grading import sandbox, secure
    from mmcourse.grading.assign import generate_exercise
    from mmcourse.grading.tasks import tasks_for

    _check_options(timeout, workers)
    submissions_dir = Path(submissions_dir)
    folders = _student_folders(submissions_dir)
    source = find_source(assignment, solutions_dir)
    if out is not None:
        _check_writable(Path(out))
    if source.stem == "16_capstone":  # graded from the saved model, on a hidden setting
        from mmcourse.grading import capstone

        return capstone.grade(submissions_dir, source, out, settings=settings,
                              feedback_dir=feedback_dir, unsafe=unsafe, workers=workers)
    if settings is not None:
        raise ValueError(f"settings (--settings) is for the capstone, assignment 16, only; "
                         f"received settings={str(settings)!r} for assignment {source.stem[:2]}")
    tasks = tasks_for(source.stem[:2])
    if tasks is None:
        if not unsafe:
            raise ValueError(
                f"exercise {source.stem[:2]} has no grader checks yet (mmcourse/grading/tasks.py), "
                "so only nbgrader's in-kernel autograder can grade it, which a hostile submission "
                "can fool; pass unsafe=True (--unsafe) to use it anyway"
            )
        return _grade_nbgrader(submissions_dir, assignment, out, timeout=timeout,
                               feedback_dir=feedback_dir, solutions_dir=solutions_dir, workers=workers)
    why_not = sandbox.available()
    if why_not is not None and not unsafe:
        raise sandbox.SandboxUnavailable(
            f"no grading sandbox: {why_not}. Grading without one lets a submission read the hidden "
            "checks and other students' work; pass unsafe=True (--unsafe) only for trusted submissions"
        )
    release = nbformat.reads(generate_exercise(source), as_version=4)
    prepared = secure.prepare(tasks, release, seed, nbformat.read(str(source), as_version=4))
    results: dict[str, StudentResult] = {}
    notebooks = {}
    for folder in folders:
        result = StudentResult(folder.name, max_scores=dict(prepared.points), manual=list(prepared.manual))
        result.scores = {task: (None if task in prepared.manual else 0.0) for task in prepared.grade_ids}
        results[folder.name] = result
        notebook = _read_submission(folder, source.name, result)
        if notebook is not None:
            notebooks[folder.name] = notebook
    worker_count = workers or min(os.cpu_count() or 1, 4)
    with tempfile.TemporaryDirectory(prefix="mmcourse-grade-") as temporary:
        os.chmod(temporary, 0o711)
        graded = secure.grade_all(notebooks, prepared, timeout=timeout, sandboxed=why_not is None,
                                  allow_reference=allow_reference, workers=worker_count,
                                  work_root=Path(temporary))
    for student, graded_result in graded.items():
        graded_result.reasons = results[student].reasons + graded_result.reasons
        results[student] = graded_result
    ordered = [results[key] for key in sorted(results)]
    if out is not None:
        write_csv(ordered, out)
    if feedback_dir is not None:
        write_feedback(ordered, feedback_dir, f"a{source.stem[:2]}")
    return ordered


def _check_writable(out: Path) -> None:
    """Fail before grading if the CSV cannot be written: really open it (then leave it as it was)."""
    if out.is_dir():
        raise ValueError(f"out must be a CSV file path; received the folder {out}")
    existed = out.exists()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out, "a", encoding="utf-8"):
            pass
    except OSError as error:
        raise ValueError(f"out must be a path this user can write; received {out} "
                         f"({error.strerror or type(error).__name__})") from None
    if not existed:
        out.unlink()


def _grade_nbgrader(
    submissions_dir: Path,
    assignment: str | int,
    out: Path | str | None = None,
    *,
    timeout: float = 30.0,
    feedback_dir: Path | str | None = None,
    solutions_dir: Path | str | None = None,
    workers: int | None = None,
) -> list[StudentResult]:
    """nbgrader's in-kernel autograder (``unsafe=True`` only): robust to accidents, not to intent."""
    from nbgrader.api import Gradebook

    source = find_source(assignment, solutions_dir)
    notebook_id = source.stem
    assignment_id = f"a{source.stem[:2]}"
    student_folders = _student_folders(submissions_dir)
    results: dict[str, StudentResult] = {}

    with tempfile.TemporaryDirectory(prefix="mmcourse-grade-") as temporary:
        root = Path(temporary) / "course"
        (root / "source" / assignment_id).mkdir(parents=True)
        shutil.copy(source, root / "source" / assignment_id / source.name)
        generated = _api(root, timeout).generate_assignment(assignment_id, force=True, create=True)
        if not generated.get("success"):
            raise RuntimeError(f"nbgrader generate_assignment failed:\n{generated.get('error')}")
        release = root / "release" / assignment_id / source.name
        released_checksums, points, grade_ids, manual = _locked_checksums(release)
        # A locked cell is unedited if it matches the released cell or the source cell (the
        # source still holds the hidden tests, so a solution notebook submitted as-is is fine).
        checksums = {grade_id: {checksum} for grade_id, checksum in released_checksums.items()}
        with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
            for grade_id, accepted in checksums.items():
                accepted.add(gradebook.find_source_cell(grade_id, notebook_id, assignment_id).checksum)

        to_grade = []
        for folder in student_folders:
            student = folder.name
            result = StudentResult(student, max_scores=dict(points), manual=list(manual))
            result.scores = {task: (None if task in manual else 0.0) for task in grade_ids}
            results[student] = result
            if not _STUDENT_ID.fullmatch(student) or folder.is_symlink():
                result.reasons.append("student folder name must use letters, digits, '_', '.', '-'")
                continue
            path = _find_submission(folder, source.name, result)
            if path is None or not _inspect_submission(path, checksums, grade_ids, result):
                continue
            target = root / "submitted" / student / assignment_id / source.name
            target.parent.mkdir(parents=True)
            shutil.copy(path, target)
            to_grade.append(student)

        worker_count = max(1, min(workers or min(os.cpu_count() or 1, 4), len(to_grade)))
        chunks = [to_grade[index::worker_count] for index in range(worker_count)]
        chunk_roots = []
        for index, chunk in enumerate(chunks):
            chunk_root = Path(temporary) / f"worker{index}"
            shutil.copytree(root, chunk_root, ignore=shutil.ignore_patterns("submitted"))
            for student in chunk:
                shutil.copytree(root / "submitted" / student, chunk_root / "submitted" / student)
            chunk_roots.append(chunk_root)
        if to_grade:
            if worker_count == 1:
                graded = [_grade_chunk(str(chunk_roots[0]), assignment_id, notebook_id, chunks[0], timeout)]
            else:
                with ProcessPoolExecutor(worker_count, mp_context=get_context("spawn")) as pool:
                    futures = [
                        pool.submit(_grade_chunk, str(chunk_root), assignment_id, notebook_id,
                                    chunk, timeout)
                        for chunk_root, chunk in zip(chunk_roots, chunks, strict=True)
                    ]
                    graded = [future.result() for future in futures]
            for chunk_results in graded:
                for graded_result in chunk_results:
                    result = results[graded_result["student"]]
                    for task, score in graded_result["scores"].items():
                        if task in result.scores:
                            result.scores[task] = score
                    result.failures.update(graded_result["failures"])
                    result.reasons.extend(graded_result["reasons"])
                    result.seconds = graded_result["seconds"]

    ordered = [results[key] for key in sorted(results)]
    if out is not None:
        write_csv(ordered, out)
    if feedback_dir is not None:
        write_feedback(ordered, feedback_dir, assignment_id)
    return ordered


def write_csv(results: list[StudentResult], out: Path | str) -> Path:
    """One row per student: a column per graded task, ``total``, ``max_total``, ``reason``."""
    out = Path(out)
    tasks = list(results[0].max_scores) if results else []
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", *tasks, "total", "max_total", "reason"])
        for result in results:
            cells = ["" if result.scores.get(task) is None else f"{result.scores[task]:g}" for task in tasks]
            writer.writerow(
                [result.student, *cells, f"{result.total:g}", f"{result.max_total:g}", result.reason]
            )
    return out


def write_feedback(results: list[StudentResult], feedback_dir: Path | str, assignment_id: str) -> Path:
    """``<student>.json`` and ``<student>.md`` per student: score per task and failing output."""
    feedback_dir = Path(feedback_dir)
    feedback_dir.mkdir(parents=True, exist_ok=True)
    for result in results:
        name = result.student
        if not _STUDENT_ID.fullmatch(name):  # never a file name with a newline, '..' or the like
            name = "invalid-name-" + hashlib.sha256(name.encode("utf-8", "replace")).hexdigest()[:12]
        tasks = [
            {
                "task": task,
                "score": result.scores.get(task),
                "max_score": result.max_scores[task],
                "graded": "manually" if task in result.manual else "automatically",
                "failing_output": result.failures.get(task, ""),
                "feedback": result.feedback.get(task, ""),
            }
            for task in result.max_scores
        ]
        payload = {
            "student": result.student,
            "assignment": assignment_id,
            "total": result.total,
            "max_total": result.max_total,
            "reason": result.reason,
            "tasks": tasks,
        }
        (feedback_dir / f"{name}.json").write_text(
            json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        lines = [
            f"# Feedback for {result.student} — assignment {assignment_id}",
            "",
            f"**Autograded score: {result.total:g} / {result.max_total:g}**",
            "",
        ]
        if result.reason:
            lines += [f"Notes: {result.reason}", ""]
        lines += ["| task | score | graded |", "|---|---|---|"]
        for task in tasks:
            score = "pending" if task["score"] is None else f"{task['score']:g}"
            lines.append(f"| {task['task']} | {score} / {task['max_score']:g} | {task['graded']} |")
        for task in tasks:
            if task["failing_output"]:
                lines += ["", f"## {task['task']} failed", "", "```", task["failing_output"], "```"]
        (feedback_dir / f"{name}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return feedback_dir
