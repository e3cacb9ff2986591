"""Exercises and grading on nbgrader: ``assign`` (solutions → exercises) and ``grade`` (→ CSV).

* :func:`mmcourse.grading.assign.assign` regenerates every ``exercises/NN_topic.ipynb`` from
  ``solutions/NN_topic.ipynb`` with nbgrader's own preprocessors (the chain ``nbgrader
  generate_assignment`` runs), byte-stable, so ``assign(check=True)`` can detect drift.
* :func:`mmcourse.grading.grade.grade` autogrades a folder of submissions
  (``SUBMISSIONS_DIR/<student>/NN_topic.ipynb``) — one bubblewrap sandbox per submission, hidden
  checks outside the learner's interpreter (:mod:`mmcourse.grading.secure`) — and writes one CSV
  row per student plus a feedback file per student.

Both are behind ``python -m mmcourse assign`` / ``python -m mmcourse grade``; see
``docs/teaching.md``. nbgrader is imported only when one of them runs.
"""

from __future__ import annotations

__all__ = ["assign", "grade"]


def assign(*args, **kwargs):
    """See :func:`mmcourse.grading.assign.assign`."""
    from mmcourse.grading.assign import assign as _assign

    return _assign(*args, **kwargs)


def grade(*args, **kwargs):
    """See :func:`mmcourse.grading.grade.grade`."""
    from mmcourse.grading.grade import grade as _grade

    return _grade(*args, **kwargs)
