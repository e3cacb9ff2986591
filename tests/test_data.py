"""Unit tests of MM-Digits (mmcourse.data): shapes, determinism, splits, corruptions, bad input.

Load-time target (< 2 s for all three splits after the first call) is a benchmark note in
docs/data_card.md, not a timed test.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import sys

import numpy as np
import pytest

from mmcourse.data import (
    DEFAULT_CORRUPTION,
    DIGIT_NAMES,
    MODALITIES,
    PARTIAL_FAMILIES,
    SPEECH_FILE,
    SPLITS,
    load_mmdigits,
    load_speech_clips,
    make_video,
    measured_snr_db,
    speaker_splits,
    split_indices,
    text_bayes_accuracy,
    text_bayes_predict,
)
from mmcourse.data.mmdigits import check_digit_images

CLEAN = {
    "image_noise": 0.0,
    "image_occlusion": 0.0,
    "audio_snr_db": None,
    "hint_vagueness": 0.0,
    "missing_rate": 0.0,
}
ARRAY_FIELDS = (
    "image", "audio", "text", "label", "candidates", "present", "hint_type", "speaker",
    "speaker_voice", "take", "clip", "index", "parity", "is_large",
)  # fmt: skip


@pytest.fixture(scope="module")
def splits():
    return {name: load_mmdigits(name) for name in SPLITS}


# ------------------------------------------------------------------------- shapes and ranges
@pytest.mark.parametrize("split", SPLITS)
def test_shapes_dtypes_and_ranges(splits, split):
    data = splits[split]
    num = len(data)
    assert num == len(split_indices()[split]) > 300
    assert data.image.shape == (num, 8, 8, 1) and data.image.dtype == np.float32
    assert data.image.min() >= 0.0 and data.image.max() <= 1.0
    assert data.audio.shape == (num, 8000) and data.audio.dtype == np.float32
    assert np.all(np.isfinite(data.audio))
    assert data.text.shape == (num,) and data.text.dtype.kind == "U"
    assert data.label.shape == (num,) and data.label.dtype.kind == "i"
    assert set(np.unique(data.label)) == set(range(10))
    assert data.candidates.shape == (num, 10) and data.candidates.dtype == bool
    assert data.present.shape == (num, len(MODALITIES)) and data.present.dtype == bool
    assert data.modalities == ("image", "audio", "text") and data.sample_rate == 8000
    assert np.array_equal(data.parity, data.label % 2)
    assert np.array_equal(data.is_large, (data.label >= 5).astype(int))
    # every hint allows the true digit
    assert np.all(data.candidates[np.arange(num), data.label])
    assert set(np.unique(data.hint_type)) <= {"exact", "arithmetic", "partial"}


def test_total_size_and_class_balance(splits):
    sizes = {name: len(data) for name, data in splits.items()}
    assert sum(sizes.values()) == 1797
    for digit in range(10):
        counts = np.array([np.sum(splits[name].label == digit) for name in SPLITS])
        fractions = counts / counts.sum()
        assert np.allclose(fractions, [0.6, 0.2, 0.2], atol=0.02), (digit, counts)


def test_clean_data_matches_the_sources():
    from sklearn.datasets import load_digits

    digits = load_digits()
    clips = load_speech_clips()
    data = load_mmdigits("val", **CLEAN)
    assert np.array_equal(data.image[..., 0], (digits.images[data.index] / 16).astype(np.float32))
    assert np.array_equal(data.label, digits.target[data.index])
    # the clip paired with each image says the same digit, in a speaker of this split
    assert np.array_equal(clips.digit[data.clip], data.label)
    assert np.array_equal(data.audio, clips.audio[data.clip] / np.float32(32768))
    assert np.all(np.isin(data.speaker, speaker_splits()["val"]))
    peaks = np.abs(data.audio).max(axis=1)
    assert np.allclose(peaks, 0.9, atol=0.01)  # clips are peak-normalised


def test_speech_asset_has_enough_speakers_and_takes():
    clips = load_speech_clips()
    assert clips.audio.shape[1] == 8000 and clips.audio.dtype == np.int16
    assert clips.num_speakers >= 24 and len(set(clips.speaker_voice.tolist())) >= 24
    for speaker in range(clips.num_speakers):
        for digit in range(10):
            assert np.sum((clips.speaker == speaker) & (clips.digit == digit)) >= 2
    assert SPEECH_FILE.stat().st_size <= 8_000_000


# ------------------------------------------------------------------------- determinism
def test_same_arguments_give_identical_arrays():
    settings = {"audio_noise": "babble", "missing_rate": 0.2, "hint_vagueness": 0.5}
    first = load_mmdigits("train", seed=3, **settings)
    second = load_mmdigits("train", seed=3, **settings)
    for name in ARRAY_FIELDS:
        a, b = getattr(first, name), getattr(second, name)
        assert a.dtype == b.dtype and a.shape == b.shape
        assert a.tobytes() == b.tobytes(), name


def test_seed_changes_corruption_but_not_the_base_dataset():
    first = load_mmdigits("test", seed=0)
    second = load_mmdigits("test", seed=1)
    for name in ("label", "index", "clip", "speaker", "text", "candidates"):
        assert np.array_equal(getattr(first, name), getattr(second, name)), name
    assert not np.array_equal(first.image, second.image)
    assert not np.array_equal(first.audio, second.audio)


def test_returned_arrays_are_private_copies():
    data = load_mmdigits("val")
    data.image[:] = 0.5
    data.label[:] = 0
    again = load_mmdigits("val")
    assert not np.all(again.image == 0.5)
    assert set(np.unique(again.label)) == set(range(10))


# ------------------------------------------------------------------------- splits
def test_image_indices_are_disjoint_and_cover_everything():
    parts = split_indices()
    seen = np.concatenate([parts[name] for name in SPLITS])
    assert len(seen) == len(np.unique(seen)) == 1797


def test_speakers_are_disjoint_between_splits(splits):
    speakers = speaker_splits()
    assert not set(speakers["test"]) & set(speakers["train"])
    assert not set(speakers["val"]) & set(speakers["train"])
    assert not set(speakers["val"]) & set(speakers["test"])
    for name in SPLITS:
        assert set(np.unique(splits[name].speaker)) <= set(speakers[name])
    assert not set(splits["test"].speaker) & set(splits["train"].speaker)
    assert not set(splits["test"].speaker_voice) & set(splits["train"].speaker_voice)


# ------------------------------------------------------------------------- corruptions
@pytest.mark.parametrize("noise_type", ["white", "babble"])
@pytest.mark.parametrize("snr_db", [-10.0, 0.0, 20.0])
def test_measured_snr_matches_the_request(noise_type, snr_db):
    clean = load_mmdigits("val", **CLEAN)
    noisy = load_mmdigits("val", **{**CLEAN, "audio_snr_db": snr_db, "audio_noise": noise_type})
    measured = measured_snr_db(clean.audio, noisy.audio)
    assert np.all(np.abs(measured - snr_db) < 0.1), (measured.min(), measured.max())


def test_image_noise_grows_with_its_std():
    clean = load_mmdigits("val", **CLEAN).image
    differences = [
        np.abs(load_mmdigits("val", **{**CLEAN, "image_noise": std}).image - clean).mean()
        for std in (0.0, 0.1, 0.3)
    ]
    assert differences[0] == 0.0 < differences[1] < differences[2]


@pytest.mark.parametrize("fraction", [0.25, 0.5])
def test_occlusion_blanks_one_square_block(fraction):
    clean = load_mmdigits("val", **CLEAN).image[..., 0]
    occluded = load_mmdigits("val", **{**CLEAN, "image_occlusion": fraction}).image[..., 0]
    side = round(fraction * 8)
    changed = occluded != clean
    assert np.all(occluded[changed] == 0)
    # each image has a side×side block of zeros that contains every changed pixel
    for image, diff in zip(occluded, changed, strict=True):
        found = False
        for top in range(9 - side):
            for left in range(9 - side):
                block = np.zeros((8, 8), dtype=bool)
                block[top : top + side, left : left + side] = True
                if np.all(image[block] == 0) and not np.any(diff & ~block):
                    found = True
        assert found
    assert changed.mean() > 0.1 * (side / 8) ** 2  # a visible share of ink is removed


def test_hint_vagueness_sets_the_partial_fraction():
    fractions = []
    for vagueness in (0.0, 0.3, 0.7, 1.0):
        data = load_mmdigits("train", hint_vagueness=vagueness)
        fractions.append(np.mean(data.hint_type == "partial"))
        partial = data.hint_type == "partial"
        assert np.all(data.candidates[partial].sum(axis=1) >= 2)
        assert np.all(data.candidates[~partial].sum(axis=1) == 1)
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    assert abs(fractions[1] - 0.3) < 0.05 and abs(fractions[2] - 0.7) < 0.05
    assert fractions == sorted(fractions)


def test_exact_and_arithmetic_hints_state_the_label():
    data = load_mmdigits("train", hint_vagueness=0.0)
    word = {name: digit for digit, name in enumerate(DIGIT_NAMES)}
    for text, kind, label in zip(data.text, data.hint_type, data.label, strict=True):
        tokens = text.split()
        if kind == "exact":
            assert word[tokens[-1]] == label
        else:
            first, operation, second = tokens
            value = {"plus": int.__add__, "minus": int.__sub__, "times": int.__mul__}[operation](
                word[first], word[second]
            )
            assert value == label, text


def test_partial_families_are_partitions():
    for family, members in PARTIAL_FAMILIES.items():
        covered = sorted(digit for _, digits in members for digit in digits)
        assert covered == list(range(10)), family


def test_missing_rate_sets_the_presence_mask_and_zeroes_inputs():
    data = load_mmdigits("train", missing_rate=0.3)
    assert abs(data.present.mean() - 0.7) < 0.03
    assert np.all(data.image[~data.present[:, 0]] == 0)
    assert np.all(data.audio[~data.present[:, 1]] == 0)
    assert np.all(data.text[~data.present[:, 2]] == "")
    assert np.all(data.candidates[~data.present[:, 2]])  # no hint: every digit possible
    assert np.all(data.text[data.present[:, 2]] != "")
    per_modality = load_mmdigits("train", missing_rate={"audio": 0.5})
    rates = 1 - per_modality.present.mean(axis=0)
    assert rates[0] == 0 and rates[2] == 0 and abs(rates[1] - 0.5) < 0.05


def test_defaults_are_the_documented_ones():
    data = load_mmdigits("test")
    assert data.corruption["image_noise"] == DEFAULT_CORRUPTION["image_noise"]
    assert data.corruption["audio_snr_db"] == DEFAULT_CORRUPTION["audio_snr_db"]
    assert np.mean(data.hint_type == "partial") > 0.5


def test_text_bayes_limit():
    data = load_mmdigits("test", hint_vagueness=0.0)
    prior = np.full(10, 0.1)
    assert text_bayes_accuracy(data.candidates, data.label, prior) == 1.0
    vague = load_mmdigits("test", hint_vagueness=1.0)
    accuracy = text_bayes_accuracy(vague.candidates, vague.label, prior)
    assert 0.15 < accuracy < 0.5
    everything = np.ones((3, 10), dtype=bool)
    assert np.all(text_bayes_predict(everything, np.eye(10)[4] + 0.01) == 4)


# ------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"split": "training"}, ["split", "'train'", "'training'"]),
        ({"image_noise": -0.1}, ["image_noise", ">= 0", "-0.1"]),
        ({"image_noise": float("nan")}, ["image_noise", "nan"]),
        ({"image_occlusion": 1.5}, ["image_occlusion", "[0, 1]", "1.5"]),
        ({"audio_snr_db": 100}, ["audio_snr_db", "[-30, 60]", "100"]),
        ({"audio_snr_db": -45.0}, ["audio_snr_db", "[-30, 60]", "-45"]),
        ({"audio_snr_db": float("nan")}, ["audio_snr_db", "nan"]),
        ({"audio_noise": "pink"}, ["audio_noise", "'white'", "'pink'"]),
        ({"hint_vagueness": 2}, ["hint_vagueness", "[0, 1]", "2"]),
        ({"missing_rate": 1.2}, ["missing_rate", "[0, 1]", "1.2"]),
        ({"missing_rate": -0.1}, ["missing_rate", "[0, 1]", "-0.1"]),
        ({"missing_rate": {"video": 0.1}}, ["missing_rate", "'image'", "video"]),
        ({"missing_rate": {"text": 3}}, ["missing_rate['text']", "[0, 1]", "3"]),
        ({"seed": -1}, ["seed", "-1"]),
    ],
)
def test_bad_input_raises_a_clear_value_error(kwargs, words):
    kwargs = {"split": "train", **kwargs}
    with pytest.raises(ValueError) as error:
        load_mmdigits(**kwargs)
    for word in words:
        assert word in str(error.value), (word, str(error.value))


def test_unknown_corruption_argument_is_a_type_error():
    with pytest.raises(TypeError, match="image_nosie"):
        load_mmdigits("train", image_nosie=0.1)


def test_damaged_speech_file_is_refused(tmp_path):
    intact = tmp_path / "intact.npz"
    shutil.copy(SPEECH_FILE, intact)
    reference = load_mmdigits("test")
    copy = load_mmdigits("test", speech_file=intact)
    assert np.array_equal(copy.audio, reference.audio)

    damaged = tmp_path / "damaged.npz"
    payload = bytearray(SPEECH_FILE.read_bytes())
    payload[len(payload) // 2] ^= 0xFF
    damaged.write_bytes(bytes(payload))
    with pytest.raises(ValueError, match="SHA-256") as error:
        load_mmdigits("test", speech_file=damaged)
    assert str(damaged) in str(error.value)
    with pytest.raises(FileNotFoundError, match="make_speech.py"):
        load_mmdigits("test", speech_file=tmp_path / "absent.npz")


def test_unexpected_sklearn_digits_are_refused():
    from sklearn.datasets import load_digits

    digits = load_digits()
    images, labels = check_digit_images(digits.images, digits.target)
    assert images.shape == (1797, 8, 8) and labels.shape == (1797,)
    with pytest.raises(ValueError, match=r"expected \(1797, 8, 8\)"):
        check_digit_images(digits.images[:100], digits.target[:100])
    with pytest.raises(ValueError, match="expected ints 0..16"):
        check_digit_images(digits.images * 16, digits.target)


# ------------------------------------------------------------------------- video
def test_make_video_moves_the_digit_deterministically():
    images = load_mmdigits("val", **CLEAN).image[:20]
    video = make_video(images, num_frames=6, seed=1)
    assert video.shape == (20, 6, 16, 16, 1) and video.dtype == np.float32
    assert video.min() >= 0 and video.max() <= 1
    assert np.array_equal(video, make_video(images, num_frames=6, seed=1))
    assert not np.array_equal(video, make_video(images, num_frames=6, seed=2))
    rows = np.arange(16)

    def centre_of_mass(frame):
        mass = frame[..., 0]
        return np.array([(mass.sum(1) * rows).sum(), (mass.sum(0) * rows).sum()]) / mass.sum()

    shifts = [np.linalg.norm(centre_of_mass(clip[0]) - centre_of_mass(clip[-1])) for clip in video]
    assert np.median(shifts) > 1.0  # the digit travels
    assert np.all(video.reshape(20, 6, -1).sum(-1) > 0)  # and stays visible
    with pytest.raises(ValueError, match="num_frames"):
        make_video(images, num_frames=0)
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        make_video(images[0, ..., 0])


# ------------------------------------------------------------------------- tf.data
def test_import_does_not_load_tensorflow():
    code = "import sys, mmcourse.data; assert 'tensorflow' not in sys.modules, 'TF imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_to_tf_dataset_batches_and_reshuffles():
    data = load_mmdigits("val", missing_rate=0.2)
    dataset = data.to_tf_dataset(batch_size=64, shuffle=True, seed=5)
    inputs, labels = next(iter(dataset))
    assert set(inputs) == {"image", "audio", "text", "present"}
    assert tuple(inputs["image"].shape) == (64, 8, 8, 1)
    assert tuple(inputs["audio"].shape) == (64, 8000)
    assert tuple(inputs["text"].shape) == (64,) and inputs["text"].dtype.name == "string"
    assert tuple(inputs["present"].shape) == (64, 3) and labels.dtype.name == "int64"

    def epoch_labels(ds):
        return np.concatenate([batch[1].numpy() for batch in ds])

    dataset = data.to_tf_dataset(batch_size=64, shuffle=True, seed=5)  # fresh: next() began one
    first, second = epoch_labels(dataset), epoch_labels(dataset)
    assert len(first) == len(data) and sorted(first) == sorted(data.label)
    assert not np.array_equal(first, second)  # reshuffled every epoch
    assert np.array_equal(
        first, epoch_labels(data.to_tf_dataset(batch_size=64, shuffle=True, seed=5)))
    ordered = epoch_labels(data.to_tf_dataset(batch_size=100, shuffle=False))
    assert np.array_equal(ordered, data.label)
    # the default does not shuffle: model.predict(split.to_tf_dataset()) lines up with split.label
    assert np.array_equal(epoch_labels(data.to_tf_dataset(batch_size=100)), data.label)

    audio_only = data.to_tf_dataset(batch_size=8, modalities=("audio",), shuffle=False)
    inputs, _ = next(iter(audio_only))
    assert set(inputs) == {"audio", "present"}
    assert np.array_equal(inputs["present"].numpy()[:, 0], data.present[:8, 1])
    # present columns follow the canonical order (image, audio, text) whatever order is asked for,
    # the order mmcourse.models builds its presence input in
    text_image = data.to_tf_dataset(batch_size=50, modalities=("text", "image"), shuffle=False)
    inputs, _ = next(iter(text_image))
    assert np.array_equal(inputs["present"].numpy(), data.present[:50][:, [0, 2]])
    assert not np.array_equal(data.present[:50][:, [2, 0]], data.present[:50][:, [0, 2]])
    for bad in (("smell",), (), ("audio", "audio")):
        with pytest.raises(ValueError, match="modalities"):
            data.to_tf_dataset(batch_size=8, modalities=bad)
    with pytest.raises(ValueError, match="batch_size"):
        data.to_tf_dataset(batch_size=0)


def test_nothing_is_nan():
    data = load_mmdigits("train", audio_snr_db=-30.0, image_noise=5.0)
    assert not np.isnan(data.audio).any() and not np.isnan(data.image).any()
    assert math.isfinite(float(np.abs(data.audio).max()))
