"""MM-Digits, the course's embedded multimodal dataset (no TensorFlow needed to import it).

>>> from mmcourse.data import load_mmdigits
>>> train = load_mmdigits("train")              # default corruption: fusion matters
>>> clean = load_mmdigits("test", image_noise=0, image_occlusion=0, audio_snr_db=None,
...                       hint_vagueness=0)      # every modality clean
>>> train.image.shape, train.audio.shape, train.text[:2]

See ``docs/data_card.md`` for how the data was made and the measured baselines.
"""

from .corruption import add_image_noise, add_noise_at_snr, measured_snr_db, occlude_images
from .external import DatasetUnavailableError, load_fsdd, load_mnist
from .hints import (
    DIGIT_NAMES,
    HINT_TYPES,
    PARTIAL_FAMILIES,
    text_bayes_accuracy,
    text_bayes_predict,
)
from .mmdigits import (
    DEFAULT_CORRUPTION,
    MODALITIES,
    SPLITS,
    MMDigits,
    load_digit_images,
    load_mmdigits,
    speaker_splits,
    split_indices,
)
from .speech import SPEECH_FILE, SPEECH_SHA256, load_speech_clips
from .video import make_video

__all__ = [
    "DEFAULT_CORRUPTION",
    "DatasetUnavailableError",
    "DIGIT_NAMES",
    "HINT_TYPES",
    "MODALITIES",
    "PARTIAL_FAMILIES",
    "SPEECH_FILE",
    "SPEECH_SHA256",
    "SPLITS",
    "MMDigits",
    "add_image_noise",
    "add_noise_at_snr",
    "load_digit_images",
    "load_fsdd",
    "load_mnist",
    "load_mmdigits",
    "load_speech_clips",
    "make_video",
    "measured_snr_db",
    "occlude_images",
    "speaker_splits",
    "split_indices",
    "text_bayes_accuracy",
    "text_bayes_predict",
]
