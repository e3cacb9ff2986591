"""``solutions/NN_topic.ipynb`` → ``exercises/NN_topic.ipynb`` with nbgrader's own preprocessors.

The chain is the one ``nbgrader generate_assignment`` runs (``GenerateAssignment.preprocessors``):
lock cells, replace ``### BEGIN SOLUTION`` regions by the stub, clear outputs, check metadata,
compute checksums, remove ``### BEGIN HIDDEN TESTS`` regions and mark schemes, recompute checksums.
Only ``SaveCells`` (which writes to a gradebook database) is left out — grading makes its own
gradebook. Timing metadata and interpreter versions are dropped, so the output depends only on the
source notebook's content: run it twice and the bytes are identical.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

__all__ = ["AssignReport", "assign", "check_metadata", "generate_exercise", "find_solutions",
           "REPO_ROOT"]

REPO_ROOT = Path(__file__).resolve().parents[2]
_VOLATILE_CELL_METADATA = ("execution", "ExecuteTime", "collapsed", "scrolled")


def find_solutions(solutions_dir: Path) -> list[Path]:
    """Every ``NN_topic.ipynb`` in ``solutions_dir`` (checkpoints ignored), sorted."""
    return sorted(
        path
        for path in Path(solutions_dir).glob("[0-9][0-9]_*.ipynb")
        if ".ipynb_checkpoints" not in path.parts
    )


def _nbgrader_preprocessors():
    from nbgrader.converters import GenerateAssignment
    from nbgrader.preprocessors import SaveCells

    chain = GenerateAssignment.class_traits()["preprocessors"].default()
    return [preprocessor for preprocessor in chain if preprocessor is not SaveCells]


_SCHEMA_HINT = (
    'every nbgrader cell needs "schema_version": 3 in its metadata, e.g. {"grade": false, '
    '"solution": true, "locked": false, "grade_id": "task_answer", "schema_version": 3}'
)


def check_metadata(notebook, source: Path | str) -> None:
    """Validate each cell's nbgrader metadata with nbgrader's own validator, up front.

    nbgrader's errors name neither the notebook nor the cell; this raises ``ValueError`` naming
    the file, the cell's index (0-based, as in ``notebook.cells``), its type and ``grade_id``,
    what is wrong and how to fix it. Also rejects a ``grade_id`` used twice.
    """
    import jsonschema
    from nbgrader.nbgraderformat import MetadataValidator, ValidationError
    from nbgrader.nbgraderformat.common import SchemaMismatchError

    validator = MetadataValidator()
    seen: dict[str, int] = {}
    for index, cell in enumerate(notebook.cells):
        meta = cell.get("metadata", {}).get("nbgrader")
        if meta is None:
            continue
        where = f"{source}: cell {index} ({cell.cell_type}"
        if not isinstance(meta, dict):
            raise ValueError(f"{where}): the nbgrader metadata must be a dict; received "
                             f"{type(meta).__name__}. {_SCHEMA_HINT}")
        grade_id = meta.get("grade_id")
        where += f", grade_id {grade_id!r})" if grade_id is not None else ")"
        try:
            validator.validate_cell(copy.deepcopy(cell))
        except SchemaMismatchError as error:
            raise ValueError(f"{where}: nbgrader metadata schema_version is "
                             f"{meta.get('schema_version', 'missing')!r}, nbgrader expects 3. "
                             f"{_SCHEMA_HINT}") from error
        except (ValidationError, jsonschema.ValidationError, KeyError) as error:
            detail = (f"missing key {error}" if isinstance(error, KeyError)
                      else getattr(error, "message", str(error)))
            raise ValueError(f"{where}: invalid nbgrader metadata: {detail}. "
                             f"{_SCHEMA_HINT}") from error
        if grade_id is not None:
            if grade_id in seen:
                raise ValueError(f"{where}: grade_id {grade_id!r} is already used by cell "
                                 f"{seen[grade_id]}; every grade_id must be unique")
            seen[grade_id] = index


def generate_exercise(source: Path) -> str:
    """The exercise notebook generated from the nbgrader source ``source``, as text.

    Bad nbgrader metadata raises ``ValueError`` naming the file and the cell
    (:func:`check_metadata`).
    """
    from traitlets.config import Config

    notebook = nbformat.read(str(source), as_version=nbformat.NO_CONVERT)
    notebook = copy.deepcopy(notebook)
    check_metadata(notebook, source)
    stem = Path(source).stem
    resources = {
        "nbgrader": {"notebook": stem, "assignment": stem[:2]},
        "metadata": {"path": str(Path(source).parent)},
        "unique_key": stem,
    }
    config = Config()
    for preprocessor_class in _nbgrader_preprocessors():
        preprocessor = preprocessor_class(config=config)
        notebook, resources = preprocessor.preprocess(notebook, resources)
    for cell in notebook.cells:
        for key in _VOLATILE_CELL_METADATA:
            cell.metadata.pop(key, None)
    kernelspec = notebook.metadata.get("kernelspec", {})
    notebook.metadata = nbformat.NotebookNode(
        {
            "kernelspec": kernelspec,
            "language_info": {"name": notebook.metadata.get("language_info", {}).get("name", "python")},
        }
    )
    nbformat.validate(notebook)
    return nbformat.writes(notebook) + "\n"


@dataclass
class AssignReport:
    """What ``assign`` did (or, with ``check=True``, would do)."""

    written: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)
    stale: list[Path] = field(default_factory=list)
    missing: list[Path] = field(default_factory=list)
    extra: list[Path] = field(default_factory=list)

    @property
    def up_to_date(self) -> bool:
        return not (self.stale or self.missing or self.extra)


def assign(
    solutions_dir: Path | str | None = None,
    exercises_dir: Path | str | None = None,
    *,
    check: bool = False,
) -> AssignReport:
    """Regenerate every exercise from its solution; with ``check=True`` only compare.

    Writes ``exercises_dir/NN_topic.ipynb`` for every ``solutions_dir/NN_topic.ipynb``.
    ``extra`` lists exercises whose solution no longer exists (never deleted automatically).
    """
    solutions_dir = Path(solutions_dir) if solutions_dir else REPO_ROOT / "solutions"
    exercises_dir = Path(exercises_dir) if exercises_dir else REPO_ROOT / "exercises"
    report = AssignReport()
    sources = find_solutions(solutions_dir)
    expected_names = {source.name for source in sources}
    for source in sources:
        target = exercises_dir / source.name
        text = generate_exercise(source)
        if not target.exists():
            report.missing.append(target)
        elif target.read_text(encoding="utf-8") != text:
            report.stale.append(target)
        else:
            report.unchanged.append(target)
            continue
        if not check:
            exercises_dir.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            report.written.append(target)
    if exercises_dir.exists():
        report.extra = sorted(
            path for path in exercises_dir.glob("*.ipynb") if path.name not in expected_names
        )
    return report
