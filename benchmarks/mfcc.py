"""MFCC throughput: librosa one clip at a time vs librosa batched vs the ``tf.signal`` MFCC layer.

Run: ``python -m benchmarks.mfcc`` (``--quick`` for a smoke run). Results:
``benchmarks/results/mfcc.{json,md}``.

Input: 2,000 MM-Digits clips (the train split's audio at the default corruption, its 1,078 clips
repeated to reach 2,000), float32, 8 kHz, 1 s. Methods, all with the course's MFCC settings
(``mmcourse.features.audio.DEFAULTS``), timed side by side in one process:

1. **librosa, per clip** — a Python loop calling ``mmcourse.features.audio.mfcc(clip)`` (the
   librosa wrapper) on one ``(8000,)`` clip at a time: how a first script usually does it;
2. **librosa, batched (wrapper)** — ``mmcourse.features.audio.mfcc(batch)`` on the whole
   ``(2000, 8000)`` array. The wrapper still loops clip by clip inside (librosa's ``top_db``
   floor would otherwise take one max over the batch), so it measures the same work minus the
   caller's loop;
3. **librosa, vectorised** — ``librosa.feature.melspectrogram`` on the whole batch at once (one
   batched STFT), ``librosa.power_to_db`` per clip (per-clip floor), ``librosa.feature.mfcc`` on
   the stacked log-mel batch: the fastest librosa can do with identical results;
4. **MFCC layer, batched** — :class:`mmcourse.features.audio.MFCC` called under ``tf.function``
   on batches of 500 clips.

Each method: one warm-up pass (the layer's includes tracing), then the median over 5 repeats of
the time to turn all 2,000 clips into MFCC, the methods timed in interleaved rounds. Agreement: the largest absolute difference between
each method's MFCC and the per-clip librosa reference, against the tolerance the features module
states (``1e-2``).
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks import _common

NUM_CLIPS = 2000
LAYER_BATCH_SIZE = 250
TOLERANCE = 1e-2  # mmcourse.features.audio docstring: layer vs librosa on real clips


def load_clips(num_clips: int) -> np.ndarray:
    """``num_clips`` train-split clips, float32 ``(num_clips, 8000)``, repeating if needed."""
    from mmcourse.data import load_mmdigits

    audio = load_mmdigits("train").audio
    repeats = -(-num_clips // len(audio))
    return np.ascontiguousarray(np.concatenate([audio] * repeats)[:num_clips], dtype=np.float32)


def librosa_per_clip(clips):
    from mmcourse.features.audio import mfcc

    return np.stack([mfcc(clip) for clip in clips])


def librosa_batched_wrapper(clips):
    from mmcourse.features.audio import mfcc

    return mfcc(clips)


def librosa_vectorised(clips):
    import librosa

    from mmcourse.features.audio import DEFAULTS

    mel_power = librosa.feature.melspectrogram(
        y=clips, sr=DEFAULTS["sr"], n_fft=DEFAULTS["n_fft"], hop_length=DEFAULTS["hop_length"],
        window="hann", center=True, pad_mode="constant", power=2.0, n_mels=DEFAULTS["n_mels"],
        fmin=DEFAULTS["fmin"], fmax=DEFAULTS["fmax"], htk=False, norm="slaney",
    )  # (batch, n_mels, frames), one batched STFT
    log_mel = np.stack([
        librosa.power_to_db(clip_power, ref=1.0, amin=1e-10, top_db=DEFAULTS["top_db"])
        for clip_power in mel_power
    ])  # per clip, so each clip gets its own top_db floor
    return librosa.feature.mfcc(S=log_mel, n_mfcc=DEFAULTS["n_mfcc"], dct_type=2, norm="ortho",
                                lifter=0).astype(np.float32)


def make_layer_function(batch_size: int):
    """A function clips → MFCC running the Keras layer under ``tf.function`` in batches."""
    from mmcourse.features.audio import MFCC

    tf = _common.quiet_tensorflow()
    layer = MFCC()
    compute = tf.function(lambda batch: layer(batch),
                          input_signature=[tf.TensorSpec((None, None), tf.float32)])

    def run(clips):
        return np.concatenate([compute(tf.constant(clips[start:start + batch_size])).numpy()
                               for start in range(0, len(clips), batch_size)])

    return run


def run(quick: bool = False, out_dir=None) -> dict:
    """Measure and write ``mfcc.json`` / ``.md``; return the payload."""
    start = time.perf_counter()
    machine = _common.machine_record()
    num_clips = 40 if quick else NUM_CLIPS
    batch_size = 16 if quick else LAYER_BATCH_SIZE
    repeats = 1 if quick else 5
    clips = load_clips(num_clips)
    methods = [
        ("librosa, one clip at a time", librosa_per_clip),
        ("librosa, batched (mmcourse.features.audio.mfcc on the batch)", librosa_batched_wrapper),
        ("librosa, vectorised (batched STFT + mel, per-clip dB floor)", librosa_vectorised),
        (f"MFCC layer (tf.signal) under tf.function, batches of {batch_size}",
         make_layer_function(batch_size)),
    ]
    reference = librosa_per_clip(clips)
    outputs = {label: function(clips) for label, function in methods}  # also the warm-up
    timings = _common.time_calls_interleaved(
        {label: (lambda function=function: function(clips)) for label, function in methods},
        repeats=repeats, warmup=0)
    rows = []
    for label, _ in methods:
        output, timing = outputs[label], timings[label]
        error = float(np.max(np.abs(output.astype(np.float64) - reference)))
        rows.append({
            "method": label,
            "median_s": timing["median_s"],
            "clips_per_s": num_clips / timing["median_s"],
            "max_abs_error": error,
            "within_tolerance": error <= TOLERANCE,
            "output_shape": "×".join(str(size) for size in output.shape),
        })
    base = rows[0]["clips_per_s"]
    for row in rows:
        row["speedup_vs_per_clip"] = row["clips_per_s"] / base
    layer_row = rows[-1]
    targets = [
        {"target": "MFCC layer ≥ 5× the per-clip librosa loop",
         "measured": f"{layer_row['speedup_vs_per_clip']:.1f}×",
         "met": layer_row["speedup_vs_per_clip"] >= 5},
        {"target": f"layer agrees with librosa: max |error| ≤ {TOLERANCE:g}",
         "measured": f"{layer_row['max_abs_error']:.2e}",
         "met": layer_row["within_tolerance"]},
    ]
    columns = [("method", "method"), ("median_s", f"seconds for {num_clips} clips (median)"),
               ("clips_per_s", "clips/s"), ("speedup_vs_per_clip", "× per-clip loop"),
               ("max_abs_error", "max abs error vs per-clip librosa"),
               ("within_tolerance", f"≤ {TOLERANCE:g}"), ("output_shape", "output shape")]
    notes = [
        "All methods produce float32 MFCC (clips, 13, 101) with the course's settings "
        "(sr 8000, n_fft 256, hop 80, 40 Slaney mels, 13 coefficients, top_db 80 per clip).",
        f"Median over {repeats} timed passes after one warm-up pass each, the methods timed in "
        "rounds (one pass of each, then the next round) so that load changes on the shared "
        "machine hit all of them alike; TensorFlow uses all CPU cores (intra-op threads), "
        "librosa's NumPy FFT one.",
        "The agreement tolerance is the one stated in mmcourse.features.audio (1e-2 on "
        "coefficients that span hundreds of dB units).",
    ]
    settings = {"num_clips": num_clips, "layer_batch_size": batch_size, "repeats": repeats,
                "source": "MM-Digits train split audio, default corruption, repeated",
                "quick": quick}
    return _common.write_results(
        "mfcc", title="MFCC throughput", machine=machine, settings=settings,
        tables=[{"key": "throughput", "title": "Throughput and agreement", "columns": columns,
                 "rows": rows}],
        targets=targets, notes=notes, out_dir=out_dir, elapsed_s=time.perf_counter() - start,
    )


def main(argv=None) -> None:
    args = _common.argument_parser(__doc__.splitlines()[0]).parse_args(argv)
    _common.output_folder(args)
    run(quick=args.quick, out_dir=args.out)
    _common.print_markdown("mfcc", args.out)


if __name__ == "__main__":
    main()
