"""At the default corruption, fusion matters: no single modality reaches 90 % test accuracy with a
small model, and multiplying the unimodal probabilities beats the best one by >= 8 points.

Run ``python tests/test_data_fusion.py`` to print the table reported in docs/data_card.md.
"""

from __future__ import annotations

import numpy as np
import pytest

from mmcourse.data import load_mmdigits, text_bayes_accuracy

pytestmark = pytest.mark.slow
SEED = 0


def log_mel_features(audio: np.ndarray) -> np.ndarray:
    """float32 (N, 8000) at 8 kHz → log-mel (32 mels × 15 time bins), flattened: (N, 480)."""
    import librosa

    mel = librosa.feature.melspectrogram(
        y=audio, sr=8000, n_fft=256, hop_length=128, n_mels=32, fmax=4000
    )  # (N, 32, 63)
    log_mel = np.log(mel[:, :, :60] + 1e-6).reshape(len(audio), 32, 15, 4).mean(axis=-1)
    return log_mel.reshape(len(audio), -1).astype(np.float32)


def standardise(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Standardise every array with the train split's mean and std (one number each)."""
    mean, std = train.mean(), train.std() + 1e-6
    return [(array - mean) / std for array in (train, *others)]


def image_model(keras):
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )


def audio_model(keras):
    return keras.Sequential(
        [
            keras.Input((480,)),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )


def text_model(keras, vectorizer):
    return keras.Sequential(
        [
            keras.Input((vectorizer.vocabulary_size(),)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )


def fit_predict(keras, model, train_x, train_y, test_x, epochs, batch_size=64):
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    model.fit(train_x, train_y, epochs=epochs, batch_size=batch_size, verbose=0, shuffle=True)
    return np.asarray(model.predict(test_x, batch_size=256, verbose=0), dtype=np.float64)


def measure_baselines(seed: int = SEED, **corruption) -> dict[str, float]:
    """Train image, audio and text models on train; return test accuracies and the fused one."""
    from mmcourse.env import set_seed

    set_seed(seed)
    import keras

    train = load_mmdigits("train", seed=seed, **corruption)
    test = load_mmdigits("test", seed=seed, **corruption)
    accuracy = {}
    probabilities = {}

    probabilities["image"] = fit_predict(
        keras, image_model(keras), train.image, train.label, test.image, epochs=20
    )
    train_mel, test_mel = standardise(log_mel_features(train.audio), log_mel_features(test.audio))
    probabilities["audio"] = fit_predict(
        keras, audio_model(keras), train_mel, train.label, test_mel, epochs=20
    )
    vectorizer = keras.layers.TextVectorization(output_mode="multi_hot")
    vectorizer.adapt(train.text)
    train_words = np.asarray(vectorizer(train.text))
    test_words = np.asarray(vectorizer(test.text))
    probabilities["text"] = fit_predict(
        keras, text_model(keras, vectorizer), train_words, train.label, test_words, epochs=30
    )
    for name, probability in probabilities.items():
        accuracy[name] = float(np.mean(probability.argmax(axis=1) == test.label))
    prior = np.bincount(train.label, minlength=10) / len(train)
    accuracy["text_bayes_limit"] = text_bayes_accuracy(test.candidates, test.label, prior)
    # Product of experts: p(y | all) ∝ p(y) Π_m p(y | m) / p(y).
    log_fused = sum(np.log(p + 1e-9) - np.log(prior) for p in probabilities.values())
    accuracy["fused_product"] = float(np.mean((log_fused + np.log(prior)).argmax(1) == test.label))
    return accuracy


def test_fusion_matters_at_default_settings():
    accuracy = measure_baselines()
    single = {name: accuracy[name] for name in ("image", "audio", "text")}
    print(accuracy)
    for name, value in single.items():
        assert value < 0.90, f"{name}-only reaches {value:.3f} at the defaults (must be < 0.90)"
        assert value > 0.2, f"{name}-only is at chance ({value:.3f}): the modality carries nothing"
    assert accuracy["text_bayes_limit"] < 0.90
    assert accuracy["text"] <= accuracy["text_bayes_limit"] + 0.03  # cannot beat the Bayes limit
    best = max(single.values())
    assert accuracy["fused_product"] >= best + 0.08, (accuracy, best)


if __name__ == "__main__":
    import time

    start = time.time()
    for key, value in measure_baselines().items():
        print(f"{key:>18s}: {value:.3f}")
    print(f"{time.time() - start:.1f} s")
