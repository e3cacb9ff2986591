"""The instant-feedback checks of exercises 02-04 accept correct answers and reject wrong ones.

Correct answers here are written differently from the references they are compared with; wrong
answers are the plausible mistakes each check's hints talk about.
"""

import numpy as np
import pytest
import scipy.fft

from mmcourse.checks import check, registered_checks
from mmcourse.features import audio, image, text


def test_every_lesson_registers_its_tasks():
    assert set(registered_checks("02")) == {"02.conv_output_size", "02.linear_features",
                                            "02.count_parameters", "02.budget_cnn"}
    assert set(registered_checks("03")) == {"03.tokenize", "03.build_vocabulary", "03.encode",
                                            "03.one_hot"}
    assert set(registered_checks("04")) == {"04.frame_signal", "04.mel_filterbank",
                                            "04.power_to_db", "04.mfcc"}


def conv_size(n, k, s=1, padding="valid", dilation=1):
    return int(np.ceil(n / s)) if padding == "same" else int(np.floor((n - dilation * (k - 1) - 1) / s)) + 1


def frames_by_slices(clip, n_fft, hop, pad_mode="constant"):
    padded = np.pad(clip, (n_fft // 2, n_fft // 2), mode=pad_mode)
    return np.array([padded[start:start + n_fft] for start in range(0, len(padded) - n_fft + 1, hop)])


def db_with_ref(p, ref=1.0, amin=1e-10, top=80.0):
    level = np.max(p) if ref == "max" else ref
    db = 10 * np.log10(np.maximum(p, amin) / max(level, amin))
    return np.maximum(db, db.max() - top)


def budget_cnn():
    import keras

    return keras.Sequential([
        keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, activation="relu"),
        keras.layers.MaxPooling2D(2), keras.layers.Flatten(),
        keras.layers.Dense(10, activation="softmax")])


def too_big_cnn():
    return image.build_cnn_encoder(10)


def one_hot_loop(ids, num_vocab):
    rows = np.zeros((len(ids), num_vocab))
    for position, token in enumerate(ids):
        if token:
            rows[position, token] = 1
    return rows


def mfcc_periodic(clip, sr, n_mfcc, n_fft, hop, n_mels):
    frames = audio.frame_signal(np.asarray(clip, np.float64), n_fft, hop)
    power = audio.power_spectrogram(frames, n_fft)
    log_mel = audio.power_to_db(audio.mel_filterbank(sr, n_fft, n_mels) @ power)
    return scipy.fft.dct(log_mel, type=2, norm="ortho", axis=0)[:n_mfcc]


def mfcc_symmetric_window(clip, sr, n_mfcc, n_fft, hop, n_mels):
    frames = audio.frame_signal(np.asarray(clip, np.float64), n_fft, hop)
    power = (np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=-1)) ** 2).T
    log_mel = audio.power_to_db(audio.mel_filterbank(sr, n_fft, n_mels) @ power)
    return scipy.fft.dct(log_mel, type=2, norm="ortho", axis=0)[:n_mfcc]


def mfcc_no_floor(clip, sr, n_mfcc, n_fft, hop, n_mels):
    frames = audio.frame_signal(np.asarray(clip, np.float64), n_fft, hop)
    power = audio.power_spectrogram(frames, n_fft)
    log_mel = audio.power_to_db(audio.mel_filterbank(sr, n_fft, n_mels) @ power, top_db=None)
    return scipy.fft.dct(log_mel, type=2, norm="ortho", axis=0)[:n_mfcc]


CORRECT = [
    ("02.conv_output_size", conv_size),
    ("02.linear_features",
     lambda x, w, b: np.einsum("nk,dk->nd", x.transpose(0, 2, 3, 1).reshape(len(x), -1), w) + b),
    ("02.count_parameters",
     lambda shape, filters, k, d: image.cnn_parameter_count(shape, filters, k, 2, "same", d)),
    ("02.budget_cnn", budget_cnn),
    ("03.tokenize", lambda t: "".join(c for c in t.lower() if c.isalnum() or c.isspace()).split()),
    ("03.build_vocabulary", text.build_vocabulary),
    ("03.encode", text.encode),
    ("03.one_hot", one_hot_loop),
    ("04.frame_signal", frames_by_slices),
    ("04.mel_filterbank",
     lambda sr, n_fft, n_mels: np.asarray(__import__("librosa").filters.mel(
         sr=sr, n_fft=n_fft, n_mels=n_mels), dtype=np.float64)),
    ("04.power_to_db", db_with_ref),
    ("04.mfcc", mfcc_periodic),
]

WRONG = [
    ("02.conv_output_size", lambda n, k, s=1, padding="valid", dilation=1: n - k + 1),
    ("02.conv_output_size", lambda n, k, s=1, padding="valid", dilation=1:  # the lesson's, no dilation
     -(-n // s) if padding == "same" else (n - k) // s + 1),
    ("02.linear_features", lambda x, w, b: np.moveaxis(x, 1, -1).reshape(len(x), -1) @ w.T),  # no bias
    ("02.linear_features", lambda x, w, b: x.reshape(len(x), -1) @ w.T + b),  # the lesson's layout
    ("02.count_parameters", lambda shape, filters, k, d: 8928),  # hard-coded
    ("02.budget_cnn", too_big_cnn),
    ("03.tokenize", lambda t: t.lower().split()),  # punctuation kept
    ("03.build_vocabulary", lambda texts: ["", "[UNK]"] + sorted(set(" ".join(texts).split()))),
    ("03.encode", lambda t, vocabulary, n: text.encode(t, vocabulary, n)[::-1]),  # padding first
    ("03.one_hot", lambda ids, n: np.eye(n)[ids]),  # padding rows not zero
    ("04.frame_signal", lambda clip, n_fft, hop, mode="constant": frames_by_slices(clip, n_fft, hop, mode)[1:]),
    ("04.frame_signal", lambda clip, n_fft, hop, mode="constant": audio.frame_signal(clip, n_fft, hop)),
    ("04.mel_filterbank", lambda sr, n_fft, n_mels: audio.mel_filterbank(sr, n_fft, n_mels,
                                                                         htk=True)),
    ("04.power_to_db", lambda p, ref, amin, top: 10 * np.log10(np.maximum(p, amin))),  # no ref, no floor
    ("04.power_to_db", lambda p, ref, amin, top: audio.power_to_db(p, amin, top)),  # the lesson's: no ref
    ("04.mfcc", mfcc_symmetric_window),
    ("04.mfcc", mfcc_no_floor),
]


@pytest.mark.parametrize("check_id, answer", CORRECT, ids=[c for c, _ in CORRECT])
def test_correct_answers_pass(check_id, answer, capsys):
    assert check(check_id, answer), capsys.readouterr().out


@pytest.mark.parametrize("check_id, answer", WRONG,
                         ids=[f"{c}-{i}" for i, (c, _) in enumerate(WRONG)])
def test_wrong_answers_fail_with_a_message(check_id, answer, capsys):
    assert not check(check_id, answer)
    assert "expected" in capsys.readouterr().out.lower()
