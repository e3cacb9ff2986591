"""The shipped nbgrader feedback configuration removes hidden tests and their outputs."""

from __future__ import annotations

import copy

import nbformat
from conftest import hidden_test_lines
from nbformat import NotebookNode
from traitlets.config import Config

from mmcourse.grading.grade import find_source
from mmcourse.grading.nbgrader_feedback import StripTestOutputs, configure_feedback


def test_feedback_chain_strips_hidden_sources_and_tracebacks():
    from nbgrader.preprocessors import ClearHiddenTests

    source = nbformat.read(str(find_source("05")), as_version=4)
    hidden = hidden_test_lines(source)
    assert len(hidden) > 10
    autograded = copy.deepcopy(source)
    for cell in autograded.cells:  # what an autograded notebook looks like: hidden asserts failed
        if cell.metadata.get("nbgrader", {}).get("grade") and cell.cell_type == "code":
            quoted = [line for line in cell.source.splitlines() if line.strip() in hidden]
            cell.outputs = [NotebookNode(output_type="error", ename="AssertionError", evalue="",
                                         traceback=quoted)]
    before = nbformat.writes(autograded)
    assert any(line in before for line in hidden)
    resources = {}
    for preprocessor in (ClearHiddenTests(), StripTestOutputs()):
        autograded, resources = preprocessor.preprocess(autograded, resources)
    after = nbformat.writes(autograded)
    assert not [line for line in hidden if line in after]
    assert "BEGIN HIDDEN" not in after
    assert "This test failed" in after


def test_configure_feedback_sets_the_chain():
    config = Config()
    configure_feedback(config)
    names = [cls.__name__ for cls in config.GenerateFeedback.preprocessors]
    assert names.index("ClearHiddenTests") < names.index("GetGrades")
    assert "StripTestOutputs" in names
