"""Modality dropout (Neverova et al., ModDrop, 2015): train a fused model to live without a modality.

:class:`ModalityDropout` acts on the **presence mask**, not on the features: during training
each present modality of each sample is marked missing with probability ``rate`` (seeded), but
never all of them — a sample keeps at least one of the modalities it had. The fusion layers of
:mod:`mmcourse.fusion.layers` and :class:`mmcourse.fusion.late_layer.LateFusion` already handle a missing
modality through the mask, so putting this layer in front of the ``present`` input is all it
takes. At inference (``training`` false or unset) it returns the mask unchanged.
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["ModalityDropout"]


@keras.saving.register_keras_serializable(package="mmcourse")
class ModalityDropout(keras.layers.Layer):
    """presence float ``(batch, num_modalities)`` (1 present, 0 missing) → the same, with
    modalities randomly dropped while training.

    Args:
        rate: probability in ``[0, 1)`` that a present modality is dropped (per sample).
        seed: int seed of the layer's own random stream (``None``: unseeded), so two runs with
            the same seed drop the same modalities.

    When every present modality of a sample would be dropped, one of them (chosen at random)
    is kept; a sample that had none stays so. No weights. ``training=True`` only (as Keras's ``Dropout``): at inference the mask passes
    through untouched, so evaluation sees the data's real presence.
    """

    def __init__(self, rate: float = 0.3, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)):
            raise TypeError(f"ModalityDropout: rate must be a float in [0, 1). Received: "
                            f"rate={rate!r}")
        if not 0.0 <= float(rate) < 1.0:
            raise ValueError(f"ModalityDropout: rate must be a float in [0, 1). Received: "
                             f"rate={rate!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError(f"ModalityDropout: seed must be an int or None. Received: "
                            f"seed={seed!r}")
        if seed is not None and seed < 0:
            raise ValueError(f"ModalityDropout: seed must be a non-negative int or None. "
                             f"Received: seed={seed!r}")
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def build(self, input_shape):
        shape = tuple(input_shape)
        if len(shape) != 2:
            raise ValueError(f"ModalityDropout expects a presence mask of shape (batch, "
                             f"num_modalities). Received: input_shape={shape}")
        self.built = True

    def call(self, presence, training=None):
        presence = ops.cast(presence, self.compute_dtype)
        if not training or self.rate == 0.0:
            return presence
        shape = ops.shape(presence)
        draws = keras.random.uniform(shape, seed=self.seed_generator)
        kept = presence * ops.cast(draws >= self.rate, presence.dtype)
        # a sample that lost every modality keeps one of its present ones, picked at random
        ties = keras.random.uniform(shape, seed=self.seed_generator) * presence
        rescue = ops.one_hot(ops.argmax(ties - (1.0 - presence), axis=-1), shape[-1],
                             dtype=presence.dtype) * presence
        emptied = ops.sum(kept, axis=-1, keepdims=True) == 0
        return ops.where(emptied, rescue, kept)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}
