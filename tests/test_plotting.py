"""Plot helpers: they draw what they are given, return the artists, and touch no global state."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from mmcourse import plotting  # noqa: E402

HISTORY = {"loss": [2.0, 1.5, 1.2], "val_loss": [2.1, 1.7, 1.6],
           "accuracy": [0.3, 0.5, 0.6], "val_accuracy": [0.2, 0.4, 0.5]}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_training_curves_draw_train_and_validation():
    params_before = dict(plt.rcParams)
    lines = plotting.plot_training_curves(HISTORY)
    assert set(lines) == {"loss", "accuracy"}
    np.testing.assert_array_equal(lines["loss"][1].get_ydata(), HISTORY["val_loss"])
    np.testing.assert_array_equal(lines["accuracy"][0].get_xdata(), [1, 2, 3])
    assert dict(plt.rcParams) == params_before
    _, axis = plt.subplots()
    only_loss = plotting.plot_training_curves({"loss": [1.0, 0.5]}, metrics="loss", ax=axis)
    assert len(only_loss["loss"]) == 1 and only_loss["loss"][0].axes is axis
    with pytest.raises(ValueError, match="no \\['accuracy'\\]"):
        plotting.plot_training_curves({"loss": [1.0]})


def test_confusion_matrix_image_and_normalisation():
    matrix = np.array([[5, 1, 0], [2, 2, 0], [0, 0, 3]])
    _, axis = plt.subplots()
    image = plotting.plot_confusion_matrix(matrix, ["a", "b", "c"], ax=axis)
    np.testing.assert_array_equal(image.get_array(), matrix)
    assert [text.get_text() for text in axis.texts][:2] == ["5", "1"]
    normalised = plotting.plot_confusion_matrix(matrix, normalize=True)
    np.testing.assert_allclose(np.asarray(normalised.get_array()).sum(axis=1), 1.0)
    with pytest.raises(ValueError, match="square"):
        plotting.plot_confusion_matrix(np.zeros((2, 3)))


def test_results_bars_with_error_bars():
    table = pd.DataFrame({"name": ["late", "concat", "audio"], "accuracy_mean": [0.9, 0.85, 0.7],
                          "accuracy_std": [0.01, 0.02, 0.0]})
    bars = plotting.plot_results(table, highlight=["audio"])
    widths = [patch.get_width() for patch in bars.patches]
    assert widths == pytest.approx([0.9, 0.85, 0.7])
    assert bars.errorbar is not None
    assert bars.patches[2].get_facecolor() != bars.patches[0].get_facecolor()
    with pytest.raises(ValueError, match="no column 'f1'"):
        plotting.plot_results(table, value="f1")


def test_importance_bars_one_container_per_column():
    importance = pd.DataFrame({"modality": ["image", "audio"], "drop_importance": [0.3, 0.01],
                               "permutation_importance": [0.25, -0.01]})
    containers = plotting.plot_importance(importance)
    assert len(containers) == 2
    assert [patch.get_height() for patch in containers[0].patches] == pytest.approx([0.3, 0.01])


def test_animation_player_needs_no_internet():
    import matplotlib.pyplot as plt
    from matplotlib.animation import FuncAnimation

    figure, ax = plt.subplots(figsize=(1, 1))
    image = ax.imshow(np.zeros((4, 4)))
    frames = [np.full((4, 4), value) for value in range(3)]
    animation = FuncAnimation(figure, lambda i: image.set_data(frames[i]) or [image], frames=3)
    html = plotting.animation_html(animation)
    plt.close(figure)
    assert "https://" not in html and "http://" not in html  # no CDN, no remote font
    assert 'class="fa' not in html  # every icon became a symbol
    assert html.count("data:image/png;base64") == 3  # the frames are embedded
    assert "anim-controls" in html and "\u25b6" in html  # the buttons are there, with a play symbol
    with pytest.raises(TypeError, match="animation"):
        plotting.animation_html(figure)
    with pytest.raises(ValueError, match="default_mode"):
        plotting.animation_html(animation, default_mode="bounce")
