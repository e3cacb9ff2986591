"""mmcourse benchmarks: what the course costs, measured side by side.

Five benchmarks, each a module runnable alone (``python -m benchmarks.<name>``) and all of them
together with ``python -m benchmarks`` (what ``make bench`` runs):

* :mod:`benchmarks.mfcc` — MFCC throughput: librosa per clip vs librosa batched vs the
  ``tf.signal`` :class:`mmcourse.features.audio.MFCC` layer;
* :mod:`benchmarks.pipeline` — NumPy feeding vs ``tf.data`` pipelines for one training epoch,
  with data-only throughput next to training throughput;
* :mod:`benchmarks.fusion_cost` — parameters, multiply-adds, latency and memory of every fusion
  layer, plus MM-Digits test accuracy;
* :mod:`benchmarks.course_runtime` — every notebook executed: wall time and peak RSS;
* :mod:`benchmarks.grading` — grading throughput: the sandboxed grader against nbgrader's
  in-kernel autograder (exercises 05 and 07).

Each writes ``benchmarks/results/<name>.json`` and ``<name>.md``; see ``benchmarks/README.md``.
"""

BENCHMARKS = ("mfcc", "pipeline", "fusion_cost", "course_runtime", "grading")
