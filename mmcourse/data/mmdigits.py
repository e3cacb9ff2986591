"""MM-Digits: one digit seen as an 8×8 image, a 1 s spoken name and a text hint.

The *base* dataset is fixed: splits, the clip paired with each image and the hints are drawn
from a generator seeded by ``SPLIT_SEED``. ``load_mmdigits(split, seed, **corruption)`` then
applies the corruption knobs with draws seeded by ``seed`` (one independent stream per knob, so
turning one knob does not change the draws of another).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mmcourse import _validate as check

from . import corruption as _corruption
from . import hints as _hints
from .speech import load_speech_clips

__all__ = [
    "DEFAULT_CORRUPTION",
    "MODALITIES",
    "SPLITS",
    "MMDigits",
    "load_mmdigits",
    "check_digit_images",
    "load_digit_images",
    "split_indices",
    "speaker_splits",
]

SPLITS = ("train", "val", "test")
MODALITIES = ("image", "audio", "text")
SPLIT_SEED = 1797
SPLIT_FRACTIONS = (0.6, 0.2, 0.2)
# 32 speakers: 20 train, 6 val, 6 test, disjoint.
SPEAKERS_PER_SPLIT = {"train": 20, "val": 6, "test": 6}
SNR_RANGE_DB = (-30.0, 60.0)
AUDIO_NOISE_TYPES = ("white", "babble")
BABBLE_TALKERS = 4

# Tuned so that no single modality reaches 90 % test accuracy with a small model while fusing
# them gains well over 8 points (measured numbers: docs/data_card.md, tests/test_data_fusion.py).
DEFAULT_CORRUPTION = {
    "image_noise": 0.25,
    "image_occlusion": 0.5,
    "audio_snr_db": -6.0,
    "audio_noise": "white",
    "hint_vagueness": 0.8,
    "missing_rate": 0.0,
}


# ----------------------------------------------------------------------------- base data
def check_digit_images(images, labels) -> tuple[np.ndarray, np.ndarray]:
    """Check what ``load_digits`` returned; return (uint8 images (1797, 8, 8), int64 labels).

    Raises ``ValueError`` saying what was expected and what was received.
    """
    images, labels = np.asarray(images), np.asarray(labels)
    problems = []
    if images.shape != (1797, 8, 8):
        problems.append(f"images of shape {images.shape} (expected (1797, 8, 8))")
    if labels.shape != (1797,) or set(np.unique(labels).tolist()) != set(range(10)):
        problems.append(
            f"labels of shape {labels.shape} with values {np.unique(labels).tolist()} "
            "(expected (1797,) with values 0..9)"
        )
    if images.size and (images.min() < 0 or images.max() > 16 or np.any(images % 1 != 0)):
        problems.append(f"pixel values in [{images.min()}, {images.max()}] (expected ints 0..16)")
    if problems:
        raise ValueError(
            "sklearn.datasets.load_digits() returned something MM-Digits does not expect: "
            + "; ".join(problems)
        )
    return images.astype(np.uint8), labels.astype(np.int64)


@functools.lru_cache(maxsize=1)
def load_digit_images() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled UCI digits, checked: (images uint8 (1797, 8, 8) in 0..16, labels)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images, labels = check_digit_images(digits.images, digits.target)
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


@functools.lru_cache(maxsize=1)
def split_indices() -> dict[str, np.ndarray]:
    """Image indices of each split: fixed, stratified by digit (60/20/20), sorted."""
    _, labels = load_digit_images()
    rng = np.random.default_rng(SPLIT_SEED)
    parts = {name: [] for name in SPLITS}
    for digit in range(10):
        members = rng.permutation(np.flatnonzero(labels == digit))
        num_train = int(round(SPLIT_FRACTIONS[0] * len(members)))
        num_val = int(round(SPLIT_FRACTIONS[1] * len(members)))
        parts["train"].append(members[:num_train])
        parts["val"].append(members[num_train : num_train + num_val])
        parts["test"].append(members[num_train + num_val :])
    result = {name: np.sort(np.concatenate(chunks)) for name, chunks in parts.items()}
    for array in result.values():
        array.flags.writeable = False
    return result


@functools.lru_cache(maxsize=4)
def speaker_splits(speech_file=None) -> dict[str, np.ndarray]:
    """Speaker ids of each split, disjoint (20 train, 6 val, 6 test)."""
    clips = load_speech_clips(speech_file)
    order = np.random.default_rng(SPLIT_SEED + 1).permutation(clips.num_speakers)
    result, start = {}, 0
    for name in SPLITS:
        count = SPEAKERS_PER_SPLIT[name]
        result[name] = np.sort(order[start : start + count])
        start += count
    return result


@dataclass(frozen=True)
class _Base:
    index: np.ndarray  # image indices into load_digits
    label: np.ndarray
    clip: np.ndarray  # clip indices into the speech archive
    exact_text: np.ndarray
    exact_type: np.ndarray
    exact_candidates: np.ndarray
    partial_text: np.ndarray
    partial_candidates: np.ndarray
    vagueness_draw: np.ndarray  # uniform [0, 1): the hint is partial when draw < vagueness


@functools.lru_cache(maxsize=8)
def _base(split: str, speech_file) -> _Base:
    images, labels = load_digit_images()
    clips = load_speech_clips(speech_file)
    index = split_indices()[split]
    label = labels[index]
    rng = np.random.default_rng([SPLIT_SEED, SPLITS.index(split)])
    speakers = speaker_splits(speech_file)[split]
    in_split = np.isin(clips.speaker, speakers)
    clip = np.empty(len(index), dtype=np.int64)
    for digit in range(10):
        pool = np.flatnonzero(in_split & (clips.digit == digit))
        where = np.flatnonzero(label == digit)
        clip[where] = rng.choice(pool, size=len(where), replace=True)
    exact_text, exact_type, exact_candidates = [], [], []
    partial_text, partial_candidates = [], []
    for digit in label:
        if rng.random() < 0.5:
            text, mask = _hints.exact_hint(int(digit), rng)
            exact_type.append("exact")
        else:
            text, mask = _hints.arithmetic_hint(int(digit), rng)
            exact_type.append("arithmetic")
        exact_text.append(text)
        exact_candidates.append(mask)
        text, mask = _hints.partial_hint(int(digit), rng)
        partial_text.append(text)
        partial_candidates.append(mask)
    base = _Base(
        index=index,
        label=label,
        clip=clip,
        exact_text=np.asarray(exact_text),
        exact_type=np.asarray(exact_type),
        exact_candidates=np.stack(exact_candidates),
        partial_text=np.asarray(partial_text),
        partial_candidates=np.stack(partial_candidates),
        vagueness_draw=rng.random(len(index)),
    )
    for value in vars(base).values():
        value.flags.writeable = False
    return base


# ----------------------------------------------------------------------------- validation
def _check_split(split) -> str:
    return check.one_of(split, "split", SPLITS)


def _check_number(name: str, value, low: float, high: float, allowed: str) -> float:
    return check.number(value, name, minimum=low, maximum=None if math.isinf(high) else high,
                        expected=allowed)


def _check_missing_rate(value) -> dict[str, float]:
    allowed = "a number in [0, 1] or a dict {modality: number in [0, 1]}"
    if isinstance(value, Mapping):
        unknown = [key for key in value if key not in MODALITIES]
        if unknown:
            raise check.value_error("missing_rate", f"a dict whose keys are among {MODALITIES}",
                                    value, f"{dict(value)!r} (unknown keys {unknown})")
        return {
            name: _check_number(f"missing_rate[{name!r}]", value.get(name, 0.0), 0.0, 1.0,
                                "a number in [0, 1]")
            for name in MODALITIES
        }
    rate = _check_number("missing_rate", value, 0.0, 1.0, allowed)
    return dict.fromkeys(MODALITIES, rate)


def _check_corruption(settings: dict) -> dict:
    unknown = set(settings) - set(DEFAULT_CORRUPTION)
    if unknown:
        raise TypeError(
            f"unknown corruption argument(s) {sorted(unknown)}; allowed: {sorted(DEFAULT_CORRUPTION)}"
            f". Received: {', '.join(f'{key}={settings[key]!r}' for key in sorted(unknown))}"
        )
    merged = {**DEFAULT_CORRUPTION, **settings}
    checked = {
        "image_noise": _check_number(
            "image_noise", merged["image_noise"], 0.0, math.inf, "a finite number >= 0 (a std)"
        ),
        "image_occlusion": _check_number(
            "image_occlusion",
            merged["image_occlusion"],
            0.0,
            1.0,
            "a number in [0, 1] (block side as a fraction of the image side)",
        ),  # fmt: skip
        "hint_vagueness": _check_number(
            "hint_vagueness", merged["hint_vagueness"], 0.0, 1.0, "a number in [0, 1]"
        ),
        "missing_rate": _check_missing_rate(merged["missing_rate"]),
    }
    snr = merged["audio_snr_db"]
    checked["audio_snr_db"] = (
        None
        if snr is None
        else _check_number(
            "audio_snr_db",
            snr,
            *SNR_RANGE_DB,
            f"None (clean) or a number of dB in [{SNR_RANGE_DB[0]:g}, {SNR_RANGE_DB[1]:g}]",
        )  # fmt: skip
    )
    checked["audio_noise"] = check.one_of(merged["audio_noise"], "audio_noise", AUDIO_NOISE_TYPES)
    return checked


def _check_seed(seed) -> int:
    return check.seed(seed)


def _check_modalities(modalities, name: str = "modalities") -> tuple[str, ...]:
    """A non-empty subset of ``MODALITIES`` without repeats (a single name is accepted)."""
    expected = f"a non-empty subset of {MODALITIES} without repeats"
    if isinstance(modalities, str):
        modalities = (modalities,)
    if isinstance(modalities, (Mapping, np.ndarray)) or not isinstance(modalities, Sequence):
        raise check.type_error(name, expected, modalities)
    modalities = tuple(modalities)
    if (not modalities or len(set(map(repr, modalities))) != len(modalities)
            or any(not isinstance(item, str) or item not in MODALITIES for item in modalities)):
        raise check.value_error(name, expected, modalities)
    return modalities


# ----------------------------------------------------------------------------- the dataset
@dataclass
class MMDigits:
    """One split of MM-Digits (N samples). Arrays are NumPy and yours to modify.

    image: float32 (N, 8, 8, 1) in [0, 1] · audio: float32 (N, 8000), 8 kHz ·
    text: str (N,) · label: int64 (N,) · candidates: bool (N, 10), digits the hint allows ·
    present: bool (N, 3), whether (image, audio, text) is present ·
    hint_type: str (N,), "exact" / "arithmetic" / "partial" ("" when the hint is missing) ·
    speaker: int64 (N,) speaker id · speaker_voice: str (N,) espeak-ng voice of that speaker ·
    take: int64 (N,) · clip: int64 (N,) row in the speech archive · index: int64 (N,) row in sklearn's ``load_digits`` ·
    parity: int64 (N,) label % 2 · is_large: int64 (N,) label >= 5 (targets for multitask work).
    """

    split: str
    image: np.ndarray
    audio: np.ndarray
    text: np.ndarray
    label: np.ndarray
    candidates: np.ndarray
    present: np.ndarray
    hint_type: np.ndarray
    speaker: np.ndarray
    speaker_voice: np.ndarray
    take: np.ndarray
    clip: np.ndarray
    index: np.ndarray
    parity: np.ndarray
    is_large: np.ndarray
    seed: int
    corruption: dict
    sample_rate: int = 8000
    modalities: tuple = MODALITIES
    num_classes: int = 10
    class_names: tuple = field(default=_hints.DIGIT_NAMES)

    def __len__(self) -> int:
        return len(self.label)

    def __repr__(self) -> str:
        settings = ", ".join(f"{key}={value!r}" for key, value in self.corruption.items())
        return f"MMDigits(split={self.split!r}, N={len(self)}, seed={self.seed}, {settings})"

    def to_tf_dataset(
        self,
        batch_size: int = 32,
        modalities=MODALITIES,
        *,
        shuffle: bool = False,
        seed: int = 0,
        include_present: bool = True,
    ):
        """A ``tf.data.Dataset`` of ``(inputs, label)`` batches.

        inputs is a dict with the chosen modalities — ``"image"`` float32 (batch, 8, 8, 1),
        ``"audio"`` float32 (batch, 8000), ``"text"`` string (batch,) — and ``"present"``
        float32 (batch, len(modalities)), its columns always in the canonical order image, audio,
        text (whatever order ``modalities`` is given in — the order ``mmcourse.models`` builds
        its presence input in, so the two can never disagree silently); label is int64
        (batch,). Pipeline: from_tensor_slices → cache → [shuffle] → batch → prefetch(AUTOTUNE).

        ``shuffle`` is off by default, so ``model.predict(split.to_tf_dataset())`` lines up with
        ``split.label``; ``shuffle=True`` (for training) shuffles the whole split with ``seed``,
        reshuffled every epoch.
        """
        modalities = _check_modalities(modalities)
        modalities = tuple(name for name in MODALITIES if name in modalities)
        batch_size = check.positive_int(batch_size, "batch_size")
        shuffle = check.boolean(shuffle, "shuffle")
        include_present = check.boolean(include_present, "include_present")
        if len(self) == 0:
            raise check.value_error("split", "a split with at least one sample", self,
                                    f"an empty {self.split!r} split")
        seed = _check_seed(seed)
        from mmcourse.env import quiet_tensorflow

        tf = quiet_tensorflow()
        inputs = {name: getattr(self, name) for name in modalities}
        if include_present:
            columns = [MODALITIES.index(name) for name in modalities]
            inputs["present"] = self.present[:, columns].astype(np.float32)
        dataset = tf.data.Dataset.from_tensor_slices((inputs, self.label))
        dataset = dataset.cache()
        if shuffle:
            dataset = dataset.shuffle(len(self), seed=seed, reshuffle_each_iteration=True)
        dataset = dataset.batch(int(batch_size))
        return dataset.prefetch(tf.data.AUTOTUNE)


def _rng(seed: int, split: str, knob: str) -> np.random.Generator:
    knob_code = ("image_occlusion", "image_noise", "audio", "text", "missing").index(knob)
    return np.random.default_rng([seed, SPLITS.index(split), knob_code])


def load_mmdigits(split: str, seed: int = 0, *, speech_file=None, **corruption) -> MMDigits:
    """Load one split of MM-Digits with seeded corruptions.

    split: "train" (1078 samples), "val" (359) or "test" (360). seed: the corruption draws.
    Corruption knobs (defaults in ``DEFAULT_CORRUPTION``; pass 0 / None to turn one off):

    * ``image_noise`` — std of Gaussian pixel noise (pixels in [0, 1], clipped after);
    * ``image_occlusion`` — side of one blanked square block, as a fraction of the image side;
    * ``audio_snr_db`` — SNR in dB of the added noise, in [-30, 60]; None = clean;
    * ``audio_noise`` — "white" (Gaussian) or "babble" (other clips of the split mixed);
    * ``hint_vagueness`` — probability that a hint is partial instead of exact/arithmetic;
    * ``missing_rate`` — probability that a modality is missing (a number for all, or a dict
      per modality); a missing input is zeroed (text: "") and its ``present`` entry is False.

    ``speech_file`` loads the audio from another copy of the speech archive (its SHA-256 must
    still match). Same arguments → identical arrays, bit for bit.
    """
    split = _check_split(split)
    seed = _check_seed(seed)
    settings = _check_corruption(corruption)
    speech_file = None if speech_file is None else str(Path(speech_file))
    base = _base(split, speech_file)
    images, _ = load_digit_images()
    clips = load_speech_clips(speech_file)
    num = len(base.label)

    image = (images[base.index].astype(np.float32) / np.float32(16.0))[..., None]
    if settings["image_occlusion"] > 0:
        image = _corruption.occlude_images(
            image, settings["image_occlusion"], _rng(seed, split, "image_occlusion")
        )
    if settings["image_noise"] > 0:
        image = _corruption.add_image_noise(
            image, settings["image_noise"], _rng(seed, split, "image_noise")
        )

    audio = clips.audio[base.clip].astype(np.float32) / np.float32(32768.0)
    if settings["audio_snr_db"] is not None:
        rng = _rng(seed, split, "audio")
        noise = None
        if settings["audio_noise"] == "babble":
            pool = np.flatnonzero(np.isin(clips.speaker, speaker_splits(speech_file)[split]))
            talkers = rng.choice(pool, size=(num, BABBLE_TALKERS))
            noise = clips.audio[talkers].astype(np.float32).sum(axis=1)
        audio = _corruption.add_noise_at_snr(audio, settings["audio_snr_db"], rng, noise=noise)

    partial = base.vagueness_draw < settings["hint_vagueness"]
    text = np.where(partial, base.partial_text, base.exact_text).astype(str)
    candidates = np.where(partial[:, None], base.partial_candidates, base.exact_candidates)
    hint_type = np.where(partial, "partial", base.exact_type).astype("<U10")

    missing_rng = _rng(seed, split, "missing")
    rates = np.array([settings["missing_rate"][name] for name in MODALITIES])
    present = missing_rng.random((num, len(MODALITIES))) >= rates[None, :]
    image[~present[:, 0]] = 0.0
    audio[~present[:, 1]] = 0.0
    text[~present[:, 2]] = ""
    hint_type[~present[:, 2]] = ""
    candidates = np.where(present[:, 2:3], candidates, True)  # no hint: every digit possible

    label = base.label.copy()
    return MMDigits(
        split=split,
        image=np.ascontiguousarray(image, dtype=np.float32),
        audio=np.ascontiguousarray(audio, dtype=np.float32),
        text=text,
        label=label,
        candidates=candidates.astype(bool),
        present=present,
        hint_type=hint_type,
        speaker=clips.speaker[base.clip].copy(),
        speaker_voice=clips.speaker_voice[clips.speaker[base.clip]].copy(),
        take=clips.take[base.clip].copy(),
        clip=base.clip.copy(),
        index=base.index.copy(),
        parity=label % 2,
        is_large=(label >= 5).astype(np.int64),
        seed=seed,
        corruption=settings,
        sample_rate=clips.sample_rate,
    )
