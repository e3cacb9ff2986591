"""Figures for the classifier lessons: training curves, confusion matrix, results bars, importance,
and an offline player for animations.

Every function takes ``ax=None`` (a new figure is made when omitted), returns what it drew, and
changes no global Matplotlib state.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from mmcourse import _validate as check

__all__ = [
    "plot_training_curves",
    "plot_confusion_matrix",
    "plot_results",
    "plot_importance",
    "animation_html",
]

# Matplotlib's JavaScript player draws its buttons with Font Awesome icons fetched from a CDN;
# the course runs offline, so the buttons get plain Unicode symbols instead.
_PLAYER_ICONS = {
    "fa fa-play fa-flip-horizontal": "\u25c0",  # play backwards
    "fa fa-fast-backward": "\u23ee",
    "fa fa-step-backward": "\u23f4",
    "fa fa-fast-forward": "\u23ed",
    "fa fa-step-forward": "\u23f5",
    "fa fa-pause": "\u23f8",
    "fa fa-play": "\u25b6",
    "fa fa-minus": "\u2212",
    "fa fa-plus": "+",
}


def _new_axes(ax, ncols: int = 1, figsize=(4.5, 3.2)):
    import matplotlib.pyplot as plt

    if ax is not None:
        return ax
    _, axes = plt.subplots(1, ncols, figsize=(figsize[0] * ncols, figsize[1]), dpi=100,
                           layout="constrained")
    return axes


def plot_training_curves(history, metrics=("loss", "accuracy"), ax=None) -> dict:
    """Train and validation curves of a Keras ``History`` (or its ``.history`` dict).

    One axis per metric (``ax``: one Axes per metric, or None for a new figure). Returns
    ``{metric: [train line, val line]}`` (the val line only when it was recorded).
    """
    logs = getattr(history, "history", history)
    if not isinstance(logs, Mapping):
        raise check.type_error("history", "a Keras History or its .history dict", history)
    if not logs:
        raise check.value_error("history", "a History that recorded at least one epoch",
                                history, "an empty history (was the model trained?)")
    if isinstance(metrics, str):
        metrics = (metrics,)
    metrics = check.sequence(metrics, "metrics", expected="a metric name or a list of them")
    missing = [metric for metric in metrics if metric not in logs]
    if missing:
        raise ValueError(f"history has no {missing}; it recorded {sorted(logs)}. Received: "
                         f"metrics={metrics!r}")
    for metric in metrics:
        train_values = check.array(logs[metric], f"history[{metric!r}]", ndim=1,
                                   kind="numeric", min_length=1, what="per-epoch values")
        if f"val_{metric}" in logs and len(logs[f"val_{metric}"]) != len(train_values):
            check.same_length({f"history[{metric!r}]": train_values,
                               f"history['val_{metric}']": logs[f"val_{metric}"]},
                              "one value per epoch each (curves of the same length)")
    axes = _new_axes(ax, len(metrics))
    axes = list(np.atleast_1d(axes))
    if len(axes) != len(metrics):
        raise check.value_error("ax", f"one Axes per metric ({len(metrics)})", ax,
                                f"{len(axes)} Axes")
    drawn = {}
    for axis, metric in zip(axes, metrics, strict=True):
        epochs = np.arange(1, len(logs[metric]) + 1)
        lines = axis.plot(epochs, logs[metric], marker=".", label="train")
        if f"val_{metric}" in logs:
            lines += axis.plot(epochs, logs[f"val_{metric}"], marker=".", label="validation")
        axis.set_xlabel("epoch")
        axis.set_ylabel(metric)
        axis.grid(alpha=0.3)
        axis.legend()
        drawn[metric] = lines
    return drawn


def plot_confusion_matrix(matrix, class_names=None, normalize: bool = False, ax=None,
                          annotate: bool = True):
    """A confusion matrix (rows: true class, columns: predicted) as an image with counts.

    ``normalize=True`` shows each row as fractions (per-class recall on the diagonal).
    Returns the ``AxesImage``.
    """
    matrix = check.array(matrix, "matrix", ndim=2, kind="numeric", finite=True,
                         what="a square confusion matrix (classes, classes)").astype(np.float64)
    if matrix.shape[0] != matrix.shape[1] or matrix.shape[0] == 0:
        raise check.value_error("matrix", "a square confusion matrix (classes, classes)",
                                matrix)
    if np.any(matrix < 0):
        raise check.value_error("matrix", "counts >= 0", matrix,
                                f"values down to {matrix.min():g}")
    normalize = check.boolean(normalize, "normalize")
    annotate = check.boolean(annotate, "annotate")
    size = matrix.shape[0]
    if class_names is not None and isinstance(class_names, str):
        raise check.type_error("class_names", f"None or a list of {size} names", class_names)
    class_names = [str(index) for index in range(size)] if class_names is None else list(
        class_names)
    if len(class_names) != size:
        raise check.value_error("class_names", f"one name per class ({size})", class_names,
                                f"{len(class_names)} names")
    shown = matrix
    if normalize:
        totals = matrix.sum(axis=1, keepdims=True)
        shown = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)
    ax = _new_axes(ax, figsize=(4.2, 3.8))
    image = ax.imshow(shown, cmap="Blues")
    ax.figure.colorbar(image, ax=ax, shrink=0.8)
    ax.set_xticks(range(size), class_names)
    ax.set_yticks(range(size), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if annotate:
        threshold = shown.max() / 2 if shown.size else 0
        for row in range(size):
            for column in range(size):
                value = shown[row, column]
                text = f"{value:.2f}" if normalize else f"{int(value)}"
                ax.text(column, row, text, ha="center", va="center", fontsize=7,
                        color="white" if value > threshold else "black")
    return image


def plot_results(table, value: str = "accuracy_mean", error: str | None = "accuracy_std",
                 label: str = "name", highlight=None, ax=None):
    """A results table (pandas DataFrame, e.g. from ``training.compare``) as horizontal bars.

    Bars in table order (best first when the table is sorted), error bars from ``error``
    (skipped when None). ``highlight``: names drawn in another colour (e.g. the unimodal
    baselines). Returns the ``BarContainer``.
    """
    if not hasattr(table, "columns"):
        raise check.type_error("table", "a pandas DataFrame (e.g. from training.compare)", table)
    for column in (value, label) + ((error,) if error else ()):
        if column not in table.columns:
            raise ValueError(f"table has no column {column!r}; it has {list(table.columns)}. "
                             f"Received: column {column!r}")
    if len(table) == 0:
        raise check.value_error("table", "a results table with at least one row", table,
                                "an empty table")
    names = [str(name) for name in table[label]]
    values = check.array(np.asarray(table[value]), f"table[{value!r}]", kind="numeric",
                         finite=True, what="a numeric column").astype(np.float64)
    errors = None if error is None else check.array(
        np.asarray(table[error]), f"table[{error!r}]", kind="numeric", finite=True,
        what="a numeric column").astype(np.float64)
    if errors is not None and np.any(errors < 0):
        raise check.value_error(f"table[{error!r}]", "error bars >= 0", errors,
                                f"values down to {errors.min():g}")
    highlight = set(highlight or ())
    colors = ["tab:gray" if name in highlight else "tab:blue" for name in names]
    ax = _new_axes(ax, figsize=(5.5, 0.3 * len(names) + 1.0))
    positions = np.arange(len(names))[::-1]
    bars = ax.barh(positions, values, xerr=errors, color=colors, capsize=3)
    ax.set_yticks(positions, names)
    ax.set_xlabel(value.replace("_", " "))
    for position, bar_value in zip(positions, values, strict=True):
        ax.text(bar_value, position, f" {bar_value:.3f}", va="center", fontsize=8)
    ax.set_xlim(0, max(1.0, float(values.max()) * 1.12) if len(values) else 1.0)
    ax.grid(axis="x", alpha=0.3)
    return bars


def plot_importance(importance, columns=("drop_importance", "permutation_importance"), ax=None):
    """Grouped bars of modality importance (a DataFrame from ``training.modality_importance``).

    Returns a list with one ``BarContainer`` per column.
    """
    if not hasattr(importance, "columns"):
        raise check.type_error("importance", "a DataFrame from training.modality_importance",
                               importance)
    if isinstance(columns, str):
        columns = (columns,)
    columns = check.sequence(columns, "columns", expected="a non-empty list of column names")
    for column in ("modality", *columns):
        if column not in importance.columns:
            raise ValueError(f"importance has no column {column!r}; it has "
                             f"{list(importance.columns)}. Received: column {column!r}")
    if len(importance) == 0:
        raise check.value_error("importance", "a table with at least one modality row",
                                importance, "an empty table")
    for column in columns:
        check.array(np.asarray(importance[column]), f"importance[{column!r}]", kind="numeric",
                    finite=True, what="a numeric column")
    ax = _new_axes(ax)
    names = list(importance["modality"])
    positions = np.arange(len(names))
    width = 0.8 / len(columns)
    containers = []
    for index, column in enumerate(columns):
        containers.append(ax.bar(positions + (index - (len(columns) - 1) / 2) * width,
                                 importance[column], width, label=column.replace("_", " ")))
    ax.set_xticks(positions, names)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_ylabel("accuracy lost without it")
    ax.legend(fontsize=8)
    return containers


def animation_html(animation, default_mode: str = "loop") -> str:
    """A Matplotlib animation as a self-contained HTML player that needs no internet.

    ``animation.to_jshtml()`` embeds every frame but links Font Awesome from a CDN for its
    buttons; here the link is removed and the icons become Unicode symbols, so the player works
    offline and in the course website. Show it with ``IPython.display.HTML(animation_html(a))``.
    """
    import re

    from matplotlib.animation import Animation

    if not isinstance(animation, Animation):
        raise check.type_error("animation", "a matplotlib.animation.Animation (e.g. FuncAnimation)",
                               animation)
    default_mode = check.one_of(default_mode, "default_mode", ("loop", "once", "reflect"))
    html = animation.to_jshtml(default_mode=default_mode)
    html = re.sub(r"<link[^>]*font-awesome[^>]*>", "", html)
    for icon, symbol in _PLAYER_ICONS.items():
        html = html.replace(f'<i class="{icon}"></i>', symbol)
    return html
