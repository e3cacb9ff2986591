"""Lessons tell only true, honestly measured stories (COURSE_DESIGN.md, "Honest evaluation" and
"Lesson anatomy"; issue 12).

Pure-Python scans of the committed lessons (no TensorFlow, well under a second):

* ``training.summarize_runs`` (what ``compare`` returns) ranks on validation, never on test, and
  names every metric column after its split;
* no lesson's selection code (``max``/``argmax``/``sort_values``/``idxmax`` … in an assignment)
  reads a test metric;
* every hint quoted in a lesson's Markdown is one the hint grammar of ``mmcourse.data.hints``
  can produce;
* every lesson has answers to its check-yourself questions in collapsed ``<details>``, a
  "Further reading" section with 2–5 full citations, a "Challenges" line naming the survey's
  challenges, at least one "Your turn" cell, and (if it has an exercise) a pointer to the
  exercise before its summary;
* no lesson promises a run time in prose ("runs in about a minute") that no cell prints.

Each scan is also run on a small hand-made bad example, to prove it can fail.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mmcourse.data import hints

REPO_ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))
EXERCISE_STEMS = {path.stem for path in (REPO_ROOT / "exercises").glob("*.ipynb")}
CHALLENGES = ("representation", "alignment", "reasoning", "generation", "transference",
              "quantification")


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _markdown(cells) -> list[str]:
    return [_source(c) for c in cells if c["cell_type"] == "markdown"]


def _code(cells) -> list[str]:
    return [_source(c) for c in cells if c["cell_type"] == "code"]


def _ids(paths):
    return [path.name for path in paths]


# -- compare's output: choose on validation, report on test -------------------------------------


def test_summarize_runs_ranks_on_validation_with_named_columns():
    runs = pd.DataFrame({
        "name": ["a", "a", "b", "b"], "seed": [0, 1, 0, 1],
        "val_accuracy": [0.70, 0.72, 0.90, 0.88], "val_log_loss": [0.9, 0.8, 0.3, 0.4],
        "test_accuracy": [0.99, 0.98, 0.60, 0.62],  # test would rank a first
        "test_correct": [np.ones(5, bool), np.ones(5, bool), np.zeros(5, bool),
                         np.zeros(5, bool)],
    })
    from mmcourse import training

    table = training.summarize_runs(runs)
    assert list(table["name"]) == ["b", "a"]
    metrics = [c for c in table.columns if re.search("accuracy|f1|loss", c)]
    assert metrics and all(c.startswith(("val_", "test_")) for c in metrics), metrics
    assert {"test_ci_low", "test_ci_high", "val_accuracy_std", "test_accuracy_std"} <= set(
        table.columns)


# -- no selection on test in the lessons ---------------------------------------------------------

_SELECTION = re.compile(
    r"\b(max|min|sorted)\([^#]*\bkey=|sort_values\(|\bidx(max|min)\(|\bn(largest|smallest)\("
    r"|\barg(max|min)\((?!\s*(axis\s*=\s*)?-?1\s*\))"  # not a class argmax over axis 1
)
_TEST_METRIC = re.compile(r"test", re.IGNORECASE)


def selections_on_test(code: str) -> list[str]:
    """Lines that pick something (an assignment with a max/argmax/sort …) using a test value.

    ``assert`` lines are claims about reported numbers, and ``print`` lines only report; both
    are allowed. Comments are ignored.
    """
    found = []
    for line in code.splitlines():
        statement = line.split("#", 1)[0].strip()
        if not statement or statement.startswith(("assert", "print(")):
            continue
        if _SELECTION.search(statement) and _TEST_METRIC.search(statement):
            found.append(statement)
    return found


def test_the_selection_scan_catches_the_old_lesson_07_top_three():
    old = ('first = training.compare(configs, train, val, test)\n'
           'top_three = list(first.sort_values("test_accuracy", ascending=False)["name"][:3])\n'
           'best = max(test_scores, key=test_scores.get)\n'
           'i = np.argmax(test_accuracies)\n')
    assert len(selections_on_test(old)) == 3
    assert not selections_on_test('best = max(val_scores, key=val_scores.get)\n'
                                  'predicted = test_probabilities.argmax(axis=1)\n'
                                  'assert table["test_accuracy"].idxmin() == "tensor"\n')


@pytest.mark.parametrize("path", LESSONS, ids=_ids(LESSONS))
def test_no_lesson_selects_on_test_metrics(path):
    found = [line for code in _code(_cells(path)) for line in selections_on_test(code)]
    assert not found, f"{path.name} selects on the test split: {found}"


# -- quoted hints must be producible by the grammar ----------------------------------------------


def producible_hints() -> set[str]:
    """Every text the hint grammar can produce (exact, arithmetic and partial)."""
    names = hints.DIGIT_NAMES
    produced = {template.format(name) for template in ("{}", "the digit {}", "it is {}")
                for name in names}
    for digit in range(10):
        produced |= {f"{names[first]} plus {names[digit - first]}" for first in range(digit + 1)}
        produced |= {f"{names[digit + second]} minus {names[second]}"
                     for second in range(10 - digit)}
        produced |= {f"{names[a]} times {names[b]}" for a in range(10) for b in range(10)
                     if a * b == digit}
    for family in hints.PARTIAL_FAMILIES.values():
        produced |= {phrase for phrase, _ in family}
    return produced


PRODUCIBLE = producible_hints()
HINT_WORDS = {word for hint in PRODUCIBLE for word in hint.split()}
_QUOTED = re.compile(r"[\"“]([^\"”\n]{2,60})[\"”]")


def quoted_hints(markdown: str) -> list[str]:
    """Quoted strings that read like a hint: lower-case words of the grammar's vocabulary only."""
    return [text for text in _QUOTED.findall(markdown)
            if re.fullmatch(r"[a-z ]+", text) and set(text.split()) <= HINT_WORDS
            and (len(text.split()) > 1 or text in hints.DIGIT_NAMES)]  # "odd" is a word, not a hint


def test_the_hint_scan_rejects_a_hint_the_grammar_cannot_produce():
    markdown = 'sometimes only "an odd number above five", sometimes `"seven"`'
    assert quoted_hints(markdown) == ["an odd number above five", "seven"]
    assert "an odd number above five" not in PRODUCIBLE
    assert {"seven", "three plus four", "an odd number above four"} <= PRODUCIBLE


@pytest.mark.parametrize("path", LESSONS, ids=_ids(LESSONS))
def test_quoted_hints_are_producible_by_the_grammar(path):
    quoted = [hint for text in _markdown(_cells(path)) for hint in quoted_hints(text)]
    impossible = sorted(set(quoted) - PRODUCIBLE)
    assert not impossible, f"{path.name} quotes hints the grammar cannot produce: {impossible}"


# -- lesson anatomy ------------------------------------------------------------------------------


def anatomy_problems(cells, stem: str) -> list[str]:
    """What a lesson lacks of the anatomy in COURSE_DESIGN.md (an empty list: nothing)."""
    problems = []
    markdown = _markdown(cells)
    title = markdown[0] if markdown else ""
    if "challenges" not in title.lower() or not any(name in title.lower()
                                                    for name in CHALLENGES):
        problems.append("the title cell names none of the survey's six challenges")
    check = [text for text in markdown if "## Check yourself" in text]
    if not check:
        return problems + ["no '## Check yourself' section"]
    questions_part = check[-1].split("## Check yourself", 1)[1].split("## Further reading")[0]
    questions = re.findall(r"^(?:\*\*\d+\.\*\*|\d+\.)\s", questions_part, re.MULTILINE)
    answers = questions_part.count("<details>")
    if not questions or answers < len(questions) or questions_part.count("</details>") != answers:
        problems.append(f"{len(questions)} questions but {answers} collapsed <details> answers")
    reading = [text for text in markdown if "## Further reading" in text]
    if not reading:
        problems.append("no '## Further reading' section")
    else:
        entries = re.findall(r"^\* (.+)$", reading[-1].split("## Further reading", 1)[1],
                             re.MULTILINE)
        cited = [entry for entry in entries if re.search(r"\(\d{4}\)\.", entry)
                 and re.search(r"\*[^*]+\*", entry)]
        if not 2 <= len(cited) <= 5 or len(cited) != len(entries):
            problems.append(f"further reading needs 2–5 full citations (authors (year). title. "
                            f"*venue*); found {len(cited)} of {len(entries)} entries")
    if not any(text.lstrip().startswith("**Your turn.**") or "\n**Your turn.**" in text
               for text in markdown):
        problems.append("no 'Your turn' cell")
    if stem in EXERCISE_STEMS:
        pointer = f"exercises/{stem}.ipynb"
        positions = [i for i, text in enumerate(markdown) if pointer in text]
        summary = [i for i, text in enumerate(markdown) if "## Summary" in text]
        if not positions or (summary and min(positions) > max(summary)):
            problems.append(f"no pointer to {pointer} before the summary")
    for text in markdown:
        if re.search(r"runs? in about (a|one|\d)", text):
            problems.append("a run time promised in prose that no cell prints")
    return problems


def test_the_anatomy_scan_finds_what_a_bare_lesson_lacks():
    bare = [{"cell_type": "markdown", "source": "# 99 · A lesson\n\n**Time** (the notebook runs "
                                                 "in about a minute)"},
            {"cell_type": "markdown", "source": "## Summary\n\n## Check yourself\n\n1. Why?\n"}]
    problems = " | ".join(anatomy_problems(bare, "99_x"))
    for expected in ("challenges", "1 questions but 0", "Further reading", "Your turn",
                     "run time"):
        assert expected in problems, problems


@pytest.mark.parametrize("path", LESSONS, ids=_ids(LESSONS))
def test_every_lesson_has_answers_reading_challenges_and_a_your_turn(path):
    problems = anatomy_problems(_cells(path), path.stem)
    assert not problems, f"{path.name}: " + "; ".join(problems)
