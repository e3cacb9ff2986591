"""Choose lesson 14's hyper-parameters on the VALIDATION split only (dev-time; not run by tests).

Seeded, offline, CPU. It never loads the test split and prints validation numbers only. Each
grid is small and bounded by the lesson's run-time budget (at most 20 passes over the data, at
most 400 DP-SGD steps); inside it, the setting with the highest mean validation accuracy over
the lesson's seeds (0, 1, 2) wins (ties: the first in the printed order, i.e. the cheaper one).

* ``probe`` — the digit model whose hidden layer the speaker probe reads (section 2): trained on
  the training speakers' clips, scored on the 6 validation speakers' clips (digit accuracy).
  The probe itself keeps scikit-learn's default regularisation (C = 1): not tuned.
* ``nonprivate`` — the model attacked in section 3 (plain SGD on Poisson-sampled batches, no
  clipping, no noise), trained on the members, scored on the validation split's images.
* ``dpsgd`` — DP-SGD's learning rate, clipping norm C, steps and sampling rate q, at σ = 1.5 (the
  middle of the lesson's σ sweep; the sweep itself is reported, not chosen), same data.
* ``federated`` / ``centralised`` / ``local`` — section 4's three ways to train, each tuned for
  itself (learning rate; passes over the data; FedAvg's local epochs per round), scored on the
  validation split (its speakers belong to no client); ``local`` is the mean over the 20 clients.

Run under the course's CPU lock and keep the output:

    flock /tmp/mmcourse-tf.lock python scripts/tune_lesson14.py > scripts/tune_lesson14.out.md

(``--only GRID`` runs one grid.) The last block is the chosen settings as JSON; the lesson uses
exactly these. ε in the lesson covers one training run with the chosen settings, not this
search: the search looked at the members' data many times and is not accounted for.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time

import numpy as np

SEEDS = (0, 1, 2)
DP_REFERENCE_SIGMA = 1.5

GRIDS = {
    "probe": {"epochs": (10, 20, 30), "learning_rate": (0.03, 0.1, 0.3)},
    "nonprivate": {"steps": (100, 200, 400), "sampling_probability": (0.1, 0.2),
                   "learning_rate": (0.3, 1.0, 3.0)},
    "dpsgd": {"steps": (200, 400), "sampling_probability": (0.1, 0.2),
              "learning_rate": (0.3, 1.0, 3.0), "clip_norm": (0.5, 1.0, 2.0)},
    "federated": {"passes": (10, 20), "local_epochs": (1, 2), "learning_rate": (0.03, 0.1, 0.3)},
    "centralised": {"epochs": (10, 20), "learning_rate": (0.03, 0.1, 0.3)},
    "local": {"epochs": (10, 20), "learning_rate": (0.03, 0.1, 0.3)},
}


def load():
    """The lesson's features (sections 1, 3 and 4), without the test split."""
    from mmcourse.data import load_mmdigits, speaker_splits
    from mmcourse.data.speech import load_speech_clips
    from mmcourse.features.audio import mfcc

    clips = load_speech_clips()
    coefficients = mfcc(clips.audio.astype(np.float32) / 32768.0)
    segments = coefficients[:, :, :100].reshape(len(coefficients), 13, 10, 10).mean(axis=-1)
    speakers = speaker_splits()
    is_train_speaker = np.isin(clips.speaker, speakers["train"])
    flat = segments.reshape(len(segments), -1)
    mean, std = flat[is_train_speaker].mean(axis=0), flat[is_train_speaker].std(axis=0)
    audio_features = ((flat - mean) / std).astype(np.float32)
    train, val = load_mmdigits("train"), load_mmdigits("val")
    pixels, labels = train.image.reshape(len(train), -1), train.label
    order = np.random.default_rng(0).permutation(len(labels))
    members = np.sort(order[: len(labels) // 2])

    def fused(split):
        return np.hstack([split.image.reshape(len(split), -1),
                          audio_features[split.clip]]).astype(np.float32)

    return {"clips": clips, "audio_features": audio_features,
            "is_train_speaker": is_train_speaker,
            "is_val_speaker": np.isin(clips.speaker, speakers["val"]),
            "member_pixels": pixels[members], "member_labels": labels[members],
            "val_pixels": val.image.reshape(len(val), -1), "val_labels": val.label,
            "train_x": fused(train), "train_labels": train.label, "train_speakers": train.speaker,
            "val_x": fused(val)}


def score(grid: str, setting: dict, seed: int, data: dict) -> float:
    """Validation accuracy of one setting and seed."""
    from mmcourse import privacy

    if grid == "probe":
        clips, features, train = data["clips"], data["audio_features"], data["is_train_speaker"]
        model, _ = privacy.centralised_training(
            lambda: privacy.build_classifier(130, hidden_units=64, seed=seed),
            features[train], clips.digit[train], epochs=setting["epochs"],
            learning_rate=setting["learning_rate"], seed=seed)
        val = data["is_val_speaker"]
        return privacy.accuracy(model, features[val], clips.digit[val])
    if grid in ("nonprivate", "dpsgd"):
        sigma, clip = (0.0, None) if grid == "nonprivate" else (DP_REFERENCE_SIGMA,
                                                               setting["clip_norm"])
        model, _ = privacy.train_dp_sgd(
            data["member_pixels"], data["member_labels"], noise_multiplier=sigma, clip_norm=clip,
            steps=setting["steps"], sampling_probability=setting["sampling_probability"],
            learning_rate=setting["learning_rate"], hidden_units=128, seed=seed)
        return privacy.accuracy(model, data["val_pixels"], data["val_labels"])

    def build():
        return privacy.build_classifier(data["train_x"].shape[1], hidden_units=64, seed=seed)

    evaluation = (data["val_x"], data["val_labels"])
    if grid == "federated":
        clients = privacy.split_by_client(data["train_x"], data["train_labels"],
                                          data["train_speakers"])
        model, _ = privacy.federated_training(
            build, clients, rounds=setting["passes"] // setting["local_epochs"],
            local_epochs=setting["local_epochs"], learning_rate=setting["learning_rate"],
            seed=seed)
        return privacy.accuracy(model, *evaluation)
    if grid == "centralised":
        model, _ = privacy.centralised_training(build, data["train_x"], data["train_labels"],
                                                epochs=setting["epochs"],
                                                learning_rate=setting["learning_rate"], seed=seed)
        return privacy.accuracy(model, *evaluation)
    clients = privacy.split_by_client(data["train_x"], data["train_labels"],
                                      data["train_speakers"])
    return float(privacy.local_training(build, clients, epochs=setting["epochs"],
                                        learning_rate=setting["learning_rate"], seed=seed,
                                        evaluate_on=evaluation).mean())


def run_grid(grid: str, data: dict) -> dict:
    names = list(GRIDS[grid])
    rows = []
    print(f"\n## {grid}\n")
    if grid == "dpsgd":
        print(f"(at σ = {DP_REFERENCE_SIGMA})\n")
    print("| " + " | ".join(names) + " | " + " | ".join(f"val seed {s}" for s in SEEDS)
          + " | val mean ± std |")
    print("|" + "---|" * (len(names) + len(SEEDS) + 1))
    started = time.perf_counter()
    for values in itertools.product(*(GRIDS[grid][name] for name in names)):
        setting = dict(zip(names, values, strict=True))
        scores = np.array([score(grid, setting, seed, data) for seed in SEEDS])
        rows.append((setting, scores))
        print("| " + " | ".join(str(v) for v in values) + " | "
              + " | ".join(f"{s:.3f}" for s in scores)
              + f" | {scores.mean():.3f} ± {scores.std(ddof=1):.3f} |", flush=True)
    best_index = int(np.argmax([scores.mean() for _, scores in rows]))
    best, best_scores = rows[best_index]
    runner_up = sorted((scores.mean() for _, scores in rows), reverse=True)[1]
    print(f"\nchosen: {best} (validation {best_scores.mean():.3f} ± "
          f"{best_scores.std(ddof=1):.3f}; next best mean {runner_up:.3f}); "
          f"{len(rows)} settings × {len(SEEDS)} seeds in {time.perf_counter() - started:.0f} s")
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=tuple(GRIDS), action="append",
                        help="run only this grid (repeatable)")
    args = parser.parse_args()
    from mmcourse.env import quiet_tensorflow

    quiet_tensorflow()
    started = time.perf_counter()
    print("# Lesson 14: hyper-parameters chosen on validation (scripts/tune_lesson14.py)\n")
    print(f"Seeds {SEEDS}; validation accuracy only (the test split is never loaded). "
          "Criterion: the highest mean validation accuracy over the seeds.")
    data = load()
    chosen = {grid: run_grid(grid, data) for grid in (args.only or GRIDS)}
    print(f"\n## chosen settings ({time.perf_counter() - started:.0f} s in all)\n")
    print("```json\n" + json.dumps(chosen, indent=1) + "\n```")
    return 0


if __name__ == "__main__":
    sys.exit(main())
