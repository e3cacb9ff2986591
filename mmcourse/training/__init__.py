"""Training and evaluation helpers, in four modules of one concept each.

* :mod:`mmcourse.training.fitting` — ``fit`` (early stopping on validation, seeded),
  ``predict_proba``, ``model_inputs``, ``make_dataset``, ``encode`` → :class:`Features`;
* :mod:`mmcourse.training.metrics` — ``evaluate``, ``confusion_matrix``, ``macro_f1``,
  ``bootstrap_interval``, ``paired_bootstrap``;
* :mod:`mmcourse.training.loop` — ``fit_seeds`` (one architecture trained once per seed in a
  lean hand-written loop, early stopping on validation) → :class:`SeedRun` per seed;
* :mod:`mmcourse.training.experiments` — ``compare`` (every configuration × every seed, scored
  on validation to choose and on test to report), ``summarize_runs``, ``modality_importance``.

Every public name is re-exported here, so ``from mmcourse import training; training.fit(...)``
and ``from mmcourse.training import fit`` both work. Importing it is cheap: TensorFlow is imported
on the first call that needs it.
"""

from __future__ import annotations

from mmcourse.training.experiments import compare, modality_importance, summarize_runs
from mmcourse.training.fitting import (
    EpochLogger,
    Features,
    encode,
    fit,
    make_dataset,
    model_inputs,
    predict_proba,
)
from mmcourse.training.loop import SeedRun, fit_seeds
from mmcourse.training.metrics import (
    _evaluate_two,  # noqa: F401 - one predict call for two splits (tests use it)
    bootstrap_interval,
    confusion_matrix,
    evaluate,
    macro_f1,
    paired_bootstrap,
)

__all__ = [
    "Features",
    "encode",
    "model_inputs",
    "make_dataset",
    "EpochLogger",
    "fit",
    "predict_proba",
    "SeedRun",
    "fit_seeds",
    "confusion_matrix",
    "macro_f1",
    "evaluate",
    "compare",
    "summarize_runs",
    "bootstrap_interval",
    "paired_bootstrap",
    "modality_importance",
]
