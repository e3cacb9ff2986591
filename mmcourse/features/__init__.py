"""Feature extractors, one module per modality.

- :mod:`mmcourse.features.image` — the article's CNN and the linear extractor ``f(x) = W x + b``;
- :mod:`mmcourse.features.text` — ``TextVectorization`` vocabulary, one-hot / embedding inputs,
  SimpleRNN and LSTM encoders;
- :mod:`mmcourse.features.audio` — MFCC (librosa wrapper and a batched ``tf.signal`` Keras layer),
  deltas and an MFCC encoder;
- :mod:`mmcourse.features.video` — TimeDistributed CNN + LSTM and Conv3D clip encoders.

Importing this package is cheap; each submodule imports TensorFlow / librosa itself.
"""

from __future__ import annotations

import importlib

_SUBMODULES = ("audio", "image", "text", "video")
__all__ = list(_SUBMODULES)


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'mmcourse.features' has no attribute {name!r}")
