"""Fusion cost: parameters, multiply-adds, CPU latency and peak memory of every fusion layer,
plus MM-Digits test accuracy of a classifier built around each one.

Run: ``python -m benchmarks.fusion_cost`` (``--quick`` for a smoke run, ``--skip-accuracy`` to
measure the cost table only). Results: ``benchmarks/results/fusion_cost.{json,md}``.

What is measured, per fusion layer, feature size ``d`` (32/64/128) and ``n`` (2/3) modalities,
each modality a ``(batch, d)`` feature vector:

* **parameters** of the fusion layer (``count_params()``, checked against the layer's documented
  ``expected_parameter_count``) and of the fusion layer + the classifier's first head layer
  ``Dense(128)`` — tensor fusion has no weights itself but hands a ``Π(d_i+1)``-long vector to
  that layer, which is where its cost lands;
* **multiply-adds per sample** from an analytic formula per layer (below), for the fusion layer
  and for fusion + ``Dense(128)``; cross-checked against TensorFlow's graph profiler
  (``tf.compat.v1.profiler``, FLOPs / 2) where its op coverage allows (it counts ``MatMul`` and
  element-wise ops but not ``Einsum``);
* **latency**: median wall time of one forward pass of fusion + ``Dense(128)`` on a batch of 256
  (inside ``tf.function``, after a warm-up call), over several repeats;
* **peak memory**: growth of the process's peak resident set size during that measurement
  (``VmHWM`` from ``/proc/self/status`` after resetting it through ``/proc/self/clear_refs``,
  minus ``VmRSS`` before building the model). TensorFlow's allocator reuses freed memory, so this
  is a lower bound; the analytic size of the fused batch (floats × 4 bytes × 256) is shown next
  to it.

Configurations whose fused batch or head weights would exceed ``--memory-limit-mb`` (default
1,000 MB) are not run; their analytic numbers are still reported.
"""

from __future__ import annotations

import math
import time

from benchmarks import _common
from mmcourse.fusion.layers import FUSION_LAYERS

FEATURE_DIMS = (32, 64, 128)
MODALITY_COUNTS = (2, 3)
BATCH_SIZE = 256
HEAD_UNITS = 128
ATTENTION_UNITS = 16
LOW_RANK = 4

LAYER_NAMES = tuple(FUSION_LAYERS)  # every layer of mmcourse.fusion.layers, by class name


def layer_arguments(name: str, feature_dim: int) -> dict:
    """Constructor arguments used for each layer: output size ``d`` wherever there is a choice."""
    return {
        "WeightedAverage": {},
        "Product": {},
        "Concatenate": {},
        "Bilinear": {"units": feature_dim},
        "AttentionFusion": {"attention_units": ATTENTION_UNITS},
        "TensorFusion": {},
        "LowRankFusion": {"units": feature_dim, "rank": LOW_RANK},
        "GatedFusion": {"units": feature_dim},
    }[name]


def output_size(name: str, dims) -> int:
    """Length of the fused vector for inputs of sizes ``dims``."""
    d = dims[0]
    if name == "Concatenate":
        return sum(dims)
    if name == "TensorFusion":
        return math.prod(dim + 1 for dim in dims)
    return d


def fusion_multiply_adds(name: str, dims) -> int:
    """Analytic multiply-adds per sample of the fusion layer (see the docstrings in
    :mod:`mmcourse.fusion.layers` for the formulas; element-wise products count as one each)."""
    n, d, total = len(dims), dims[0], sum(dims)
    if name == "WeightedAverage":  # Σ_i α_i f_i
        return n * d
    if name == "Product":  # f_1 ⊙ f_2 ⊙ ...
        return (n - 1) * d
    if name == "Concatenate":
        return 0
    if name == "Bilinear":  # s_k = f_1ᵀ W_k f_2: (d1·d2 + d2) per output unit, units = d
        return d * dims[0] * dims[1] + d * dims[1]
    if name == "AttentionFusion":  # scores vᵀ tanh(W h_i + b) then Σ a_i h_i
        return n * d * ATTENTION_UNITS + n * ATTENTION_UNITS + n * d
    if name == "TensorFusion":  # successive outer products of [f_i, 1]
        size, count = dims[0] + 1, 0
        for dim in dims[1:]:
            size *= dim + 1
            count += size
        return count
    if name == "LowRankFusion":  # per modality [f_i,1] W_i^(r) for r ranks, then products, sum
        units = d
        return LOW_RANK * units * sum(dim + 1 for dim in dims) + (n - 1) * LOW_RANK * units
    if name == "GatedFusion":  # projections, n gates on the concatenation, gated sum
        units = d
        return total * units + n * (total * units) + n * units
    raise ValueError(f"unknown fusion layer {name!r}")


def head_multiply_adds(name: str, dims) -> int:
    return output_size(name, dims) * HEAD_UNITS


def head_parameters(name: str, dims) -> int:
    return output_size(name, dims) * HEAD_UNITS + HEAD_UNITS


def _status_kb(key: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w", encoding="utf-8") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _profiler_flops(tf, model, dims) -> int | None:
    """FLOPs of one sample through ``model`` as TensorFlow's graph profiler counts them."""
    try:
        from tensorflow.python.framework.convert_to_constants import (
            convert_variables_to_constants_v2,
        )

        function = tf.function(lambda *features: model(list(features), training=False))
        concrete = function.get_concrete_function(*[tf.TensorSpec((1, d)) for d in dims])
        frozen = convert_variables_to_constants_v2(concrete)
        options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
        options["output"] = "none"
        profile = tf.compat.v1.profiler.profile(graph=frozen.graph, options=options)
        return int(profile.total_float_ops)
    except Exception:  # the profiler is a tf.compat.v1 API: report "—" rather than fail
        return None


def measure_cost(name, feature_dim, num_modalities, repeats, memory_limit_mb, batch_size,
                 profile=True):
    """One row of the cost table."""
    import keras
    import numpy as np

    tf = _common.quiet_tensorflow()
    dims = [feature_dim] * num_modalities
    row = {
        "layer": name,
        "feature_dim": feature_dim,
        "modalities": num_modalities,
        "output_size": output_size(name, dims),
        "fusion_multiply_adds": fusion_multiply_adds(name, dims),
        "head_parameters": head_parameters(name, dims),
    }
    row["total_multiply_adds"] = row["fusion_multiply_adds"] + head_multiply_adds(name, dims)
    layer_class = FUSION_LAYERS[name]
    if name == "Bilinear" and num_modalities > 2:
        row["status"] = "n/a: Bilinear fuses exactly 2 modalities"
        return row
    layer = layer_class(**layer_arguments(name, feature_dim))
    row["fusion_parameters"] = int(layer.expected_parameter_count(dims))
    row["total_parameters"] = row["fusion_parameters"] + row["head_parameters"]
    fused_batch_mb = row["output_size"] * 4 * batch_size / 2**20
    head_weights_mb = row["head_parameters"] * 4 / 2**20
    row["fused_batch_mb"] = fused_batch_mb
    if max(fused_batch_mb, head_weights_mb) > memory_limit_mb:
        row["status"] = (
            f"not run: fused batch {fused_batch_mb:,.0f} MB, head weights {head_weights_mb:,.0f} MB"
            f" > limit {memory_limit_mb:,.0f} MB"
        )
        return row

    keras.utils.set_random_seed(0)
    _reset_peak_rss()
    rss_before = _status_kb("VmRSS")
    inputs = [keras.Input((feature_dim,), name=f"modality_{i}") for i in range(num_modalities)]
    fused = layer(inputs)
    outputs = keras.layers.Dense(HEAD_UNITS, name="head")(fused)
    model = keras.Model(inputs, outputs)
    built = int(layer.count_params())
    if built != row["fusion_parameters"]:
        raise AssertionError(
            f"{name}: count_params() {built} != documented formula {row['fusion_parameters']}"
        )
    rng = np.random.default_rng(0)
    features = [tf.constant(rng.normal(size=(batch_size, feature_dim)).astype("float32"))
                for _ in range(num_modalities)]
    forward = tf.function(lambda *x: model(list(x), training=False))
    timing = _common.time_call(lambda: forward(*features).numpy(), repeats=repeats, warmup=1)
    peak = _status_kb("VmHWM")
    row["latency_ms"] = timing["median_s"] * 1000
    row["latency_min_ms"] = timing["min_s"] * 1000
    if rss_before is not None and peak is not None:
        row["peak_rss_growth_mb"] = max(0, peak - rss_before) / 1024
    fusion_only = keras.Model(inputs, fused)
    flops = _profiler_flops(tf, fusion_only, dims) if profile else None
    row["profiler_fusion_flops"] = flops
    row["status"] = "ok"
    keras.backend.clear_session()
    return row


# ------------------------------------------------------------------------------- accuracy
MODEL_FUSION_NAMES = {  # mmcourse.models names of the layers
    "WeightedAverage": "weighted_average", "Product": "product", "Concatenate": "concat",
    "Bilinear": "bilinear", "AttentionFusion": "attention", "TensorFusion": "tensor",
    "LowRankFusion": "low_rank", "GatedFusion": "gated",
}


def measure_accuracy(layer_names, quick):
    """MM-Digits test accuracy (default corruption, seed 0, 3 modalities, d = 32) of each layer
    in lesson 07's comparison, with lesson 07's settings.

    The three unimodal classifiers are trained end to end (``training.fit``: at most 20 epochs,
    patience 3, batch 32); their encoders are frozen and run once per split
    (``training.encode``); then ``training.compare`` trains fusion + ``Dense(128)`` +
    ``Dense(10)`` for every layer on those features (at most 40 epochs, patience 5, batch 128).
    Seed 0 gives the numbers of lesson 07's seed-0 runs.
    """
    from mmcourse import models, training
    from mmcourse.data import load_mmdigits
    from mmcourse.env import set_seed

    splits = {name: load_mmdigits(name) for name in ("train", "val", "test")}
    if quick:
        splits = {name: _common.subset(data, 64) for name, data in splits.items()}
    encoder_epochs, head_epochs = (1, 1) if quick else (20, 40)
    encoders = {}
    for modality in models.MODALITIES:
        set_seed(0)
        unimodal = models.build_unimodal_classifier(modality,
                                                    text_vocabulary=splits["train"].text)
        training.fit(unimodal, splits["train"], splits["val"], epochs=encoder_epochs,
                     patience=3, seed=0, verbose=0)
        encoders[modality] = models.get_encoder(unimodal, modality)
        encoders[modality].trainable = False
    features = {name: training.encode(encoders, data) for name, data in splits.items()}
    encoder_parameters = sum(encoder.count_params() for encoder in encoders.values())
    configs = {name: {"fusion": MODEL_FUSION_NAMES[name]}
               for name in layer_names if name != "Bilinear"}
    _, runs = training.compare(configs, features["train"], features["val"], features["test"],
                               seeds=(0,), epochs=head_epochs, patience=5, batch_size=128,
                               return_runs=True, verbose=False)
    by_name = runs.set_index("name")
    rows = []
    for name in layer_names:
        if name not in configs:
            rows.append({"layer": name, "status": "n/a: Bilinear fuses exactly 2 modalities"})
            continue
        run = by_name.loc[name]
        rows.append({"layer": name, "val_accuracy": float(run["val_accuracy"]),
                     "test_accuracy": float(run["test_accuracy"]),
                     "head_parameters": int(run["params"]),
                     "parameters": int(run["params"]) + encoder_parameters,
                     "train_s": float(run["train_seconds"]), "epochs": int(run["epochs"]),
                     "status": "ok"})
    return rows


# ------------------------------------------------------------------------------- driver
COST_COLUMNS = [
    ("layer", "layer"), ("feature_dim", "d"), ("modalities", "n"), ("output_size", "fused size"),
    ("fusion_parameters", "fusion params"), ("total_parameters", "fusion + Dense(128) params"),
    ("fusion_multiply_adds", "fusion MACs/sample"),
    ("profiler_fusion_flops", "TF profiler FLOPs (no einsum)"),
    ("total_multiply_adds", "fusion + head MACs/sample"),
    ("latency_ms", "latency ms / batch 256 (median)"), ("fused_batch_mb", "fused batch MB"),
    ("peak_rss_growth_mb", "peak RSS growth MB"), ("status", "status"),
]
ACCURACY_COLUMNS = [
    ("layer", "fusion"), ("val_accuracy", "val accuracy"), ("test_accuracy", "test accuracy"),
    ("head_parameters", "head params (fusion + Dense(128) + Dense(10))"),
    ("parameters", "model params (with the 3 encoders)"), ("train_s", "head train s"),
    ("epochs", "epochs"), ("status", "status"),
]


def run(quick: bool = False, out_dir=None, accuracy: bool = True,
        memory_limit_mb: float = 1000.0, layer_names=LAYER_NAMES) -> dict:
    """Measure and write ``fusion_cost.json`` / ``.md``; return the payload."""
    start = time.perf_counter()
    machine = _common.machine_record()
    feature_dims = (8,) if quick else FEATURE_DIMS
    batch_size = 16 if quick else BATCH_SIZE
    repeats = 2 if quick else 5
    rows = []
    for num_modalities in MODALITY_COUNTS:
        for feature_dim in feature_dims:
            for name in layer_names:
                rows.append(measure_cost(name, feature_dim, num_modalities, repeats,
                                         memory_limit_mb, batch_size,
                                         profile=feature_dim == feature_dims[0]))
    accuracy_rows = measure_accuracy(layer_names, quick) if accuracy else []
    tables = [{"key": "cost", "title": "Cost per fusion layer", "columns": COST_COLUMNS,
               "rows": rows}]
    notes = [
        "Latency and memory are for the fusion layer followed by Dense(128) (the classifier "
        "head's first layer), forward pass only, float32, under tf.function.",
        "Peak RSS growth = VmHWM (reset via /proc/self/clear_refs) minus VmRSS before building; "
        "a lower bound because TensorFlow reuses memory freed by earlier configurations.",
        "TF profiler FLOPs (smallest d only; the formulas scale): tf.compat.v1 graph profiler on "
        "the fusion layer alone, one sample. It counts a MatMul multiply-add as 2 FLOPs and an "
        "element-wise op as 1, and skips Einsum ops that are not rewritten into MatMul "
        "(Bilinear and LowRankFusion read far too low), so it cross-checks the analytic MACs "
        "where the layer is MatMul-based (GatedFusion, AttentionFusion: ≈ 2 × MACs plus bias "
        "adds and activations) or element-wise (TensorFusion, Product: = MACs).",
    ]
    targets = []
    tensor = {(r["feature_dim"], r["modalities"]): r for r in rows if r["layer"] == "TensorFusion"}
    low_rank = {(r["feature_dim"], r["modalities"]): r for r in rows
                if r["layer"] == "LowRankFusion"}
    if (128, 3) in tensor and (128, 3) in low_rank:
        key = (128, 3)
        ratio = tensor[key]["total_parameters"] / low_rank[key]["total_parameters"]
        targets.append({
            "target": "tensor fusion's growth vs low-rank visible (d=128, n=3, with Dense(128))",
            "measured": f"{tensor[key]['total_parameters']:,} vs "
                        f"{low_rank[key]['total_parameters']:,} parameters ({ratio:,.0f}×)",
            "met": ratio > 10,
        })
    if accuracy_rows:
        tables.append({
            "key": "accuracy",
            "title": "MM-Digits test accuracy (3 modalities, d = 32, default corruption, seed 0)",
            "columns": ACCURACY_COLUMNS, "rows": accuracy_rows,
        })
        notes.append(
            "Accuracy: lesson 07's comparison with its settings — the three unimodal classifiers "
            "of mmcourse.models trained end to end (mmcourse.training.fit, Adam 3e-3, batch 32, "
            "at most 20 epochs, early stopping on val loss with patience 3), their encoders "
            "frozen and run once per split, then fusion + Dense(128) + Dense(10) for each layer "
            "trained on those features by mmcourse.training.compare (batch 128, at most 40 "
            "epochs, patience 5; tensor fusion on 6-d projections, as in the model builder). "
            "Seed 0 only; lesson 07 adds seeds 1 and 2 for its top three methods."
        )
    settings = {"feature_dims": list(feature_dims), "modalities": list(MODALITY_COUNTS),
                "batch_size": batch_size, "repeats": repeats, "head_units": HEAD_UNITS,
                "attention_units": ATTENTION_UNITS, "low_rank": LOW_RANK,
                "memory_limit_mb": memory_limit_mb,
                "quick": quick}
    return _common.write_results(
        "fusion_cost", title="Fusion cost", machine=machine, settings=settings, tables=tables,
        targets=targets, notes=notes, out_dir=out_dir, elapsed_s=time.perf_counter() - start,
    )


def main(argv=None) -> None:
    parser = _common.argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--memory-limit-mb", type=float, default=1000.0)
    args = parser.parse_args(argv)
    _common.output_folder(args)
    run(quick=args.quick, out_dir=args.out, accuracy=not args.skip_accuracy,
        memory_limit_mb=args.memory_limit_mb)
    _common.print_markdown("fusion_cost", args.out)


if __name__ == "__main__":
    main()
