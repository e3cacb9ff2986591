"""The course map: every lesson, its one-line promise and the part of the article it covers.

One source of truth for lesson 00's syllabus table and the README's (tests/test_readme.py checks
the README against it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["Lesson", "LESSONS", "ARTICLE_PARTS", "lesson", "markdown_table"]

ARTICLE_PARTS = {
    1: "background",
    2: "core concepts",
    3: "algorithm and formulas",
    4: "Keras code example",
    5: "future trends and challenges",
    6: "FAQ",
}


@dataclass(frozen=True)
class Lesson:
    number: int
    stem: str  # file name without .ipynb, the same in notebooks/, exercises/ and solutions/
    title: str
    promise: str  # what the learner can do afterwards, in one line
    article_parts: tuple[int, ...]
    has_exercise: bool

    @property
    def filename(self) -> str:
        return f"{self.stem}.ipynb"

    @property
    def article(self) -> str:
        return ", ".join(f"{part} · {ARTICLE_PARTS[part]}" for part in self.article_parts)


LESSONS: tuple[Lesson, ...] = (
    Lesson(0, "00_welcome", "Welcome",
           "use the course alone, in a lab or for grades, and check your set-up", (1, 6), False),
    Lesson(1, "01_modalities_and_data", "Modalities and data",
           "look at, listen to and read MM-Digits, and know why splits are speaker-disjoint",
           (1, 2), True),
    Lesson(2, "02_image_features", "Image features",
           "turn an image into a feature vector with f(x) = Wx + b and with a CNN", (3,), True),
    Lesson(3, "03_text_features", "Text features",
           "tokenise hints and encode them with one-hot/embedding, SimpleRNN and LSTM", (3,), True),
    Lesson(4, "04_audio_features", "Audio features",
           "compute MFCCs step by step, match librosa, and run them inside a Keras model", (3,), True),
    Lesson(5, "05_fusion_formulas", "Fusion formulas",
           "fuse features by weighted average, product, attention, tensor and low-rank fusion",
           (3,), True),
    Lesson(6, "06_early_late_fusion", "Early, late and hybrid fusion",
           "choose between feature-level fusion, averaging and a product of experts", (2, 3), True),
    Lesson(7, "07_multimodal_classifier", "The multimodal classifier",
           "build, train, evaluate and save the article's classifier, done right", (3, 4), True),
    Lesson(8, "08_attention_interpretation", "Attention fusion and interpretation",
           "read per-sample attention and test whether a model really uses a modality", (3,), True),
    Lesson(9, "09_missing_noisy_modalities", "Missing and noisy modalities",
           "keep a model working when a modality is noisy or absent", (5,), True),
    Lesson(10, "10_multitask", "Multi-task learning",
           "share one fused trunk between several targets and weigh their losses", (2,), True),
    Lesson(11, "11_crossmodal_selfsupervised", "Cross-modal and self-supervised learning",
           "align audio and image without labels and retrieve one from the other", (2,), True),
    Lesson(12, "12_video_and_time", "Video and time",
           "encode moving digits over time and fuse them with sound", (2, 5), True),
    Lesson(13, "13_efficiency_and_scale", "Efficiency and scale",
           "measure what each fusion costs and run the course for a whole class", (5,), False),
    Lesson(14, "14_privacy", "Privacy",
           "train across simulated speakers with federated averaging and noise", (5,), True),
    Lesson(15, "15_article_code_repaired", "The article's code, repaired",
           "run the printed example, read each error and fix it step by step", (4,), True),
    Lesson(16, "16_capstone", "Capstone",
           "build the best model under a parameter budget for an unseen corruption", (3, 4, 5),
           True),
)


def lesson(number: int) -> Lesson:
    """The lesson with this number (``ValueError`` if there is none)."""
    for item in LESSONS:
        if item.number == number:
            return item
    raise ValueError(f"lesson number must be one of 0..{len(LESSONS) - 1}, got {number!r}")


def markdown_table(root: str | Path = ".", link_prefix: str = "") -> str:
    """The syllabus as a Markdown table, linking the notebooks that exist under ``root``.

    ``link_prefix`` is prepended to every link (``"../"`` from inside ``notebooks/``). Lessons not
    written yet are listed with "in preparation" so the map is always complete.
    """
    root = Path(root)

    def link(folder: str, item: Lesson, label: str) -> str | None:
        if (root / folder / item.filename).exists():
            return f"[{label}]({link_prefix}{folder}/{item.filename})"
        return None

    rows = ["| # | lesson | you will be able to … | article part | exercise | solution |",
            "|---|---|---|---|---|---|"]
    for item in LESSONS:
        title = link("notebooks", item, item.title) or f"{item.title} *(in preparation)*"
        exercise = (link("exercises", item, "exercise") or "soon") if item.has_exercise else "—"
        solution = (link("solutions", item, "solution") or "soon") if item.has_exercise else "—"
        rows.append(f"| {item.number:02d} | {title} | {item.promise} | {item.article} "
                    f"| {exercise} | {solution} |")
    return "\n".join(rows)
