"""nbgrader feedback that does not hand the hidden tests to learners (nbgrader #917, #1363).

Stock ``nbgrader generate_feedback`` renders the *autograded* notebook: every test cell with its
hidden part and the traceback of a failing hidden assert. For JupyterHub + nbgrader courses, put
this in the course's ``nbgrader_config.py``::

    from mmcourse.grading.nbgrader_feedback import configure_feedback

    c = get_config()
    configure_feedback(c)

It runs :class:`~nbgrader.preprocessors.ClearHiddenTests` (removes the ``### BEGIN/END HIDDEN
TESTS`` regions from the sources) and :class:`StripTestOutputs` (replaces a test cell's outputs,
whose tracebacks and prints quote hidden lines and inputs, by one sentence) before nbgrader's own
``GetGrades`` step renders the scores. What it cannot fix: nbgrader still runs the hidden tests
inside the learner's kernel, so the in-kernel tampering that ``python -m mmcourse grade`` defeats
(docs/teaching.md, section 7) still works there.
"""

from __future__ import annotations

from nbformat import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor

__all__ = ["StripTestOutputs", "configure_feedback", "feedback_preprocessors"]


class StripTestOutputs(NbGraderPreprocessor):
    """Graded test cells keep no output; a failing one says so in one sentence."""

    def preprocess_cell(self, cell, resources, index):
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            failed = any(output.get("output_type") == "error" for output in cell.get("outputs", []))
            text = ("This test failed (details are hidden; re-run your visible checks).\n" if failed
                    else "This test passed.\n")
            cell.outputs = [NotebookNode(output_type="stream", name="stdout", text=text)]
        return cell, resources


def feedback_preprocessors() -> list:
    """``GenerateFeedback.preprocessors`` with the hidden tests and their outputs removed."""
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import ClearHiddenTests, GetGrades

    return [ClearHiddenTests, StripTestOutputs, GetGrades, CSSHTMLHeaderPreprocessor]


def configure_feedback(config) -> None:
    """Set ``config.GenerateFeedback.preprocessors`` (an nbgrader ``get_config()`` object)."""
    config.GenerateFeedback.preprocessors = feedback_preprocessors()
