"""mmcourse.robustness: MultiBench's relative and effective robustness, sweeps, imputation."""

import numpy as np
import pandas as pd
import pytest

from mmcourse import robustness
from mmcourse.training import Features


def multibench_relative(curve):  # MultiBench's own loop, for 11 levels
    return sum((curve[i] + curve[i + 1]) * 0.1 / 2 for i in range(len(curve) - 1))


def test_relative_robustness_is_multibench_area_for_eleven_levels():
    rng = np.random.default_rng(0)
    curve = np.sort(rng.random(11))[::-1]
    assert robustness.relative_robustness(curve) == pytest.approx(multibench_relative(curve))


def test_relative_robustness_of_flat_and_linear_curves():
    assert robustness.relative_robustness([0.8] * 6) == pytest.approx(0.8)
    assert robustness.relative_robustness(np.linspace(1.0, 0.0, 7)) == pytest.approx(0.5)


def test_effective_robustness():
    baseline = np.array([0.9, 0.8, 0.6, 0.4])
    assert robustness.effective_robustness(baseline, baseline) == pytest.approx(0.0)
    # the same shape, shifted: the same effective robustness (0)
    assert robustness.effective_robustness(baseline - 0.1, baseline) == pytest.approx(0.0)
    # a flat curve loses nothing: it beats the baseline's fall by 0.1 + 0.3 + 0.5
    assert robustness.effective_robustness([0.7] * 4, baseline) == pytest.approx(0.9)
    with pytest.raises(ValueError, match="same number of levels"):
        robustness.effective_robustness([0.7] * 3, baseline)


@pytest.mark.parametrize("bad, error", [(0.5, TypeError), ([0.5], ValueError),
                                        ([0.5, np.nan], ValueError), ("ab", TypeError),
                                        ([[0.1, 0.2]], TypeError)])
def test_bad_curves_name_the_argument(bad, error):
    with pytest.raises(error, match="Received: accuracies="):
        robustness.relative_robustness(bad)


class _ConstantModel:
    """Predicts one fixed digit, whatever the input; a stand-in scored by ``score``."""

    def __init__(self, accuracy_by_level):
        self.accuracy_by_level = accuracy_by_level


def test_sweep_and_table():
    levels = (0, 1, 2)
    models = {
        "late": [_ConstantModel({0: 0.9, 1: 0.7, 2: 0.5}), _ConstantModel({0: 0.9, 1: 0.7, 2: 0.5})],
        "robust": [_ConstantModel({0: 0.8, 1: 0.8, 2: 0.7}), _ConstantModel({0: 0.8, 1: 0.7, 2: 0.7})],
    }
    curves = robustness.sweep(models, lambda level: level, levels, corruption="noise",
                              score=lambda model, level: model.accuracy_by_level[level])
    assert list(curves.columns) == ["corruption", "level", "step", "model", "seed", "accuracy"]
    assert len(curves) == 3 * 4
    table = robustness.robustness_table(curves, baseline="late").set_index("model")
    assert table.loc["late", "effective"] == pytest.approx(0.0)
    assert table.loc["late", "relative"] == pytest.approx((0.8 + 0.6) / 2)
    robust_curves = [np.array([0.8, 0.8, 0.7]), np.array([0.8, 0.7, 0.7])]
    effective = [robustness.effective_robustness(c, [0.9, 0.7, 0.5]) for c in robust_curves]
    assert table.loc["robust", "effective"] == pytest.approx(np.mean(effective))
    assert table.loc["robust", "effective_std"] == pytest.approx(np.std(effective, ddof=1))
    assert table.loc["robust", "clean_accuracy"] == pytest.approx(0.8)
    with pytest.raises(ValueError, match="Received: baseline="):
        robustness.robustness_table(curves, baseline="early")
    with pytest.raises(TypeError, match="Received: curves"):
        robustness.robustness_table(pd.DataFrame({"a": [1]}), baseline="late")
    with pytest.raises(ValueError, match="Received: levels="):
        robustness.sweep(models, lambda level: level, [0])


def test_corruption_levels_are_valid_mmdigits_settings():
    from mmcourse.data import load_mmdigits

    for knob, levels in robustness.CORRUPTION_LEVELS.items():
        assert len(levels) >= 6
        load_mmdigits("test", **{knob: levels[-1]})  # raises if out of range


def _features(count=50, seed=0):
    rng = np.random.default_rng(seed)
    features = {m: rng.normal(size=(count, 4)).astype("float32") for m in ("image", "audio", "text")}
    present = np.ones((count, 3), dtype=bool)
    present[:10, 1] = False
    return Features(features, present, rng.integers(0, 10, size=count))


def test_impute_zero_and_mean():
    test, train = _features(seed=0), _features(seed=1)
    zero = robustness.impute(test, "audio", "zero")
    assert np.all(zero.audio == 0) and zero.present[:, 1].all()
    np.testing.assert_array_equal(zero.image, test.image)
    mean = robustness.impute(test, "audio", "mean", reference=train)
    np.testing.assert_allclose(mean.audio, np.broadcast_to(train.audio.mean(0), test.audio.shape))
    assert not test.present[:10, 1].any()  # the input is not changed
    with pytest.raises(ValueError, match="Received: how="):
        robustness.impute(test, "audio", "median")
    with pytest.raises(TypeError, match="reference"):
        robustness.impute(test, "audio", "mean")
    with pytest.raises(ValueError, match="Received: modality="):
        robustness.impute(test, "video")


def test_bootstrap_interval_covers_the_mean_and_is_seeded():
    correct = np.r_[np.ones(300), np.zeros(60)]
    low, high = robustness.bootstrap_interval(correct, seed=0)
    assert low < correct.mean() < high and high - low < 0.1
    assert robustness.bootstrap_interval(correct, seed=0) == (low, high)
    with pytest.raises(ValueError, match="Received: level="):
        robustness.bootstrap_interval(correct, level=95)


def test_add_modality_dropout_keeps_inputs_and_trains_only_with_dropout():
    import keras

    from mmcourse import models
    from mmcourse.env import set_seed

    set_seed(0)
    head = models.build_fusion_head(fusion="concat", feature_dims=4)
    wrapped = robustness.add_modality_dropout(head, 0.5, seed=0)
    assert models.model_modalities(wrapped) == models.model_modalities(head)
    data = _features()
    inputs = {**data.features, "present": data.present.astype("float32")}
    np.testing.assert_allclose(np.asarray(wrapped(inputs, training=False)),
                               np.asarray(head(inputs, training=False)), rtol=1e-6)
    assert not np.allclose(np.asarray(wrapped(inputs, training=True)),
                           np.asarray(head(inputs, training=True)))
    with pytest.raises(ValueError, match="present"):
        robustness.add_modality_dropout(keras.Sequential([keras.Input((3,)),
                                                          keras.layers.Dense(2)]))
