"""Choose lesson 12's clip-encoder training settings on the VALIDATION split only (dev-time; not
run by tests).

Seeded, offline, CPU. It never loads the test split and prints validation numbers only. It
trains the lesson's three clip encoders (frame average, TimeDistributed CNN + LSTM, Conv3D; the
same builders, clips and seeds as section 3) with ``training.fit_seeds`` for every setting of a
small grid — the frame CNN's filters, the batch size with its learning rate, and the most epochs
(early stopping on validation loss, patience 2, as in the lesson) — and scores each run's
validation accuracy.

Criterion, fixed before the grid was run: the section compares encoders, so every encoder must
learn on every seed — a setting qualifies when every encoder and seed is above 35% on ``val``
(chance is 10%); among those, the one with the least training work (most epochs × the three
encoders' multiply-adds per clip; ties: more samples per batch, i.e. fewer steps) wins. The
lesson runs in a time budget, so the cheapest setting that lets every encoder learn is chosen,
not the most accurate one.

Run under the course's CPU lock and keep the output:

    flock /tmp/mmcourse-tf.lock python scripts/tune_lesson12.py > scripts/tune_lesson12.out.md

The last block is the chosen setting as JSON; the lesson uses exactly it (``ENCODER_SETTING``).
"""

from __future__ import annotations

import itertools
import json
import sys
import time

import numpy as np

SEEDS = (0, 1, 2)
FRAMES, CANVAS = 8, 12  # the lesson's clips: 8 frames of 12 x 12 pixels
THRESHOLD = 0.35
GRID = {"filters": [(4, 8), (8, 16)], "batch": [(128, 0.01), (64, 0.01), (64, 0.006), (32, 0.003)],
        "epochs": [4, 6, 8]}


def load():
    from mmcourse.data import load_mmdigits, make_video

    data = {}
    for index, name in enumerate(("train", "val")):  # the lesson's clip seeds: train 0, val 1
        split = load_mmdigits(name, image_noise=0, image_occlusion=0, audio_snr_db=None)
        data[name] = (make_video(split.image, num_frames=FRAMES, canvas_size=CANVAS, seed=index),
                      split.label)
    return data


def encoders(filters):
    import keras

    from mmcourse.features import video

    shape = (FRAMES, CANVAS, CANVAS, 1)
    builders = {
        "frame average": lambda: video.build_frame_average_encoder(
            32, shape, filters=filters, spatial_pooling="flatten"),
        "TimeDistributed CNN + LSTM": lambda: video.build_timedistributed_lstm_encoder(
            32, shape, filters=filters, spatial_pooling="flatten"),
        "Conv3D": lambda: video.build_conv3d_encoder(32, shape, filters=filters,
                                                     spatial_pooling="flatten"),
    }
    return {name: (lambda build=build: keras.Sequential(
        [(encoder := build()), keras.layers.Dense(10, activation="softmax", name="digit")],
        name=encoder.name)) for name, build in builders.items()}


def main() -> int:
    from mmcourse import temporal, training

    data = load()
    print("# Lesson 12: clip-encoder settings chosen on validation (scripts/tune_lesson12.py)\n")
    print(f"Clips ({FRAMES}, {CANVAS}, {CANVAS}, 1); seeds {SEEDS}; validation accuracy only "
          "(the test split is never loaded). A setting "
          f"qualifies when every encoder and seed is above {THRESHOLD:.0%} on val; the "
          "qualifying setting with the least work (epochs × multiply-adds) is chosen.\n")
    names = list(encoders((4, 8)))
    print("| filters | batch | learning rate | epochs | work (M multiply-adds) | "
          + " | ".join(f"{name}: val per seed" for name in names) + " | qualifies | seconds |")
    print("|" + "---|" * (len(names) + 6))
    started, rows = time.perf_counter(), []
    for filters, (batch, rate), epochs in itertools.product(*GRID.values()):
        began, scores, macs = time.perf_counter(), {}, 0
        for name, build in encoders(filters).items():
            runs = training.fit_seeds(build, data["train"], data["val"], seeds=SEEDS,
                                      epochs=epochs, batch_size=batch, learning_rate=rate,
                                      patience=2)
            scores[name] = [float(np.mean(run.predict_proba(data["val"][0]).argmax(axis=1)
                                          == data["val"][1])) for run in runs]
            macs += temporal.multiply_adds(runs[0].model)
        qualifies = min(min(values) for values in scores.values()) > THRESHOLD
        setting = {"filters": list(filters), "batch_size": batch, "learning_rate": rate,
                   "epochs": epochs}
        rows.append((qualifies, epochs * macs, -batch, setting))
        print(f"| {filters} | {batch} | {rate} | {epochs} | {epochs * macs / 1e6:.1f} | "
              + " | ".join(" / ".join(f"{v:.3f}" for v in scores[name]) for name in names)
              + f" | {'yes' if qualifies else 'no'} | {time.perf_counter() - began:.0f} |",
              flush=True)
    qualified = sorted((row for row in rows if row[0]), key=lambda row: row[1:3])
    if not qualified:
        print("\nno setting qualifies")
        return 1
    chosen = qualified[0][3]
    print(f"\n## chosen setting ({len(rows)} settings × 3 encoders × {len(SEEDS)} seeds in "
          f"{time.perf_counter() - started:.0f} s)\n")
    print("```json\n" + json.dumps(chosen) + "\n```")
    return 0


if __name__ == "__main__":
    sys.exit(main())
