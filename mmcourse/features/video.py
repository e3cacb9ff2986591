"""Video features: clips float32 ``(batch, T, H, W, 1)`` → features ``(batch, feature_dim)``.

Three designs (lesson 12 compares them):

- :func:`build_frame_average_encoder` — the same small CNN on every frame, then the frame
  vectors averaged: a bag of frames, blind to their order;
- :func:`build_timedistributed_lstm_encoder` — the same small CNN applied to every frame
  (``TimeDistributed``), giving one vector per frame ``(batch, T, frame_dim)``, then an LSTM reads
  the sequence: space first, then time;
- :func:`build_conv3d_encoder` — 3-D convolutions over (time, height, width) at once, so motion
  is seen by the very first layer.

The two frame-CNN encoders wrap the CNN in :func:`frames_as_batch` (a ``TimeDistributed`` that
folds time into the batch): the same weights and outputs as ``keras.layers.TimeDistributed``,
which in Keras 3 calls the CNN once per frame (``T`` copies in the traced graph).
"""

from __future__ import annotations

from collections.abc import Sequence

from mmcourse import _validate as check

__all__ = ["build_frame_average_encoder", "build_timedistributed_lstm_encoder", "build_conv3d_encoder",
           "frames_as_batch"]

_FOLDED_CLASS = None


def _folded_time_distributed_class():
    """The ``TimeDistributed`` subclass of :func:`frames_as_batch`, made (and registered) once."""
    global _FOLDED_CLASS
    if _FOLDED_CLASS is not None:
        return _FOLDED_CLASS
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package="mmcourse")
    class FoldedTimeDistributed(keras.layers.TimeDistributed):
        """``TimeDistributed`` that runs the wrapped layer ONCE on ``(batch * T, ...)``.

        inputs ``(batch, T, *frame_shape)`` → ``(batch, T, *output_shape)``: reshape so every frame
        is a sample, apply the layer, reshape back (what Keras 2's ``TimeDistributed`` did). The
        same weights and, up to float rounding, the same outputs as the parent class, which in
        Keras 3 calls the layer ``T`` times — ``T`` copies of it in the traced graph, each on a
        small batch. With a mask, or a frame shape not known when the model is built, it falls
        back to the parent's per-frame loop.
        """

        def call(self, inputs, training=None, mask=None):
            frame_shape = tuple(inputs.shape[2:])
            if mask is not None or inputs.shape[1] is None or None in frame_shape:
                return super().call(inputs, training=training, mask=mask)
            steps = inputs.shape[1]
            kwargs = {"training": training} if self.layer._call_has_training_arg else {}
            outputs = self.layer.call(ops.reshape(inputs, (-1, *frame_shape)), **kwargs)
            return ops.reshape(outputs, (-1, steps, *tuple(outputs.shape[1:])))

    _FOLDED_CLASS = FoldedTimeDistributed
    return _FOLDED_CLASS


def frames_as_batch(layer, **kwargs):
    """``TimeDistributed(layer)`` that folds time into the batch: one call on all frames at once.

    ``kwargs`` go to ``keras.layers.TimeDistributed`` (e.g. ``name``). The result is a
    ``keras.layers.TimeDistributed`` (``isinstance`` holds, ``.layer`` is ``layer``) with the same
    parameters and outputs; only faster to trace and to run.
    """
    import keras

    if not isinstance(layer, keras.layers.Layer):
        raise check.type_error("layer", "a Keras layer or model", layer)
    return _folded_time_distributed_class()(layer, **kwargs)


def _check_clip_shape(input_shape) -> tuple[int, int, int, int]:
    expected = "4 positive ints (frames, height, width, channels)"
    if isinstance(input_shape, str) or not isinstance(input_shape, Sequence):
        raise check.type_error("input_shape", expected, input_shape)
    if len(input_shape) != 4:
        raise check.value_error("input_shape", expected, input_shape)
    return tuple(check.positive_int(size, "input_shape entry") for size in input_shape)


def _check_feature_dim(feature_dim) -> int:
    return check.positive_int(feature_dim, "feature_dim")


def _check_filters(filters) -> tuple[int, ...]:
    expected = "a non-empty sequence of positive ints"
    if isinstance(filters, str) or not isinstance(filters, Sequence):
        raise check.type_error("filters", expected, filters)
    if not filters:
        raise check.value_error("filters", expected, filters)
    return tuple(check.positive_int(count, "filters entry") for count in filters)


def _check_spatial_pooling(spatial_pooling) -> str:
    return check.one_of(spatial_pooling, "spatial_pooling", ("average", "flatten"))


def _frame_cnn(frame_shape, filters, frame_dim, spatial_pooling="average"):
    """``[Conv2D(3, same) → MaxPool(2)] × len(filters) → GlobalAveragePooling (or Flatten) →
    Dense(frame_dim)``."""
    import keras

    frame_input = keras.Input(shape=frame_shape, name="frame")
    x = frame_input
    for index, num_filters in enumerate(filters):
        x = keras.layers.Conv2D(num_filters, 3, padding="same", activation="relu",
                                name=f"conv{index + 1}")(x)
        x = keras.layers.MaxPooling2D(2, padding="same", name=f"pool{index + 1}")(x)
    if spatial_pooling == "flatten":
        x = keras.layers.Flatten(name="flatten")(x)
    else:
        x = keras.layers.GlobalAveragePooling2D(name="average_over_space")(x)
    x = keras.layers.Dense(frame_dim, activation="relu", name="frame_features")(x)
    return keras.Model(frame_input, x, name="frame_encoder")


def _per_frame_sequence(input_shape, filters, frame_dim, spatial_pooling):
    """The clip input and the per-frame CNN's ``(batch, T, frame_dim)`` output (validated)."""
    import keras

    frames, height, width, channels = _check_clip_shape(input_shape)
    filters = _check_filters(filters)
    frame_dim = check.positive_int(frame_dim, "frame_dim")
    frame_encoder = _frame_cnn((height, width, channels), filters, frame_dim,
                               _check_spatial_pooling(spatial_pooling))
    inputs = keras.Input(shape=(frames, height, width, channels), name="clip")
    return inputs, frames_as_batch(frame_encoder, name="per_frame_cnn")(inputs)


def build_frame_average_encoder(feature_dim: int = 32, input_shape=(8, 16, 16, 1),
                                filters: Sequence[int] = (8, 16), frame_dim: int = 32,
                                name: str = "frame_average_encoder", *,
                                spatial_pooling: str = "average"):
    """The per-frame CNN of :func:`build_timedistributed_lstm_encoder`, frame vectors averaged.

    clips float32 ``(batch, T, H, W, C)`` → ``(batch, feature_dim)``: ``TimeDistributed`` frame
    CNN → ``(batch, T, frame_dim)`` → mean over time (``GlobalAveragePooling1D``) → Dense. The
    mean forgets the order of the frames: reversing a clip gives the same features.
    """
    import keras

    feature_dim = _check_feature_dim(feature_dim)
    inputs, sequence = _per_frame_sequence(input_shape, filters, frame_dim, spatial_pooling)
    summary = keras.layers.GlobalAveragePooling1D(name="average_over_time")(sequence)
    outputs = keras.layers.Dense(feature_dim, activation="relu", name="features")(summary)
    return keras.Model(inputs, outputs, name=name)


def build_timedistributed_lstm_encoder(feature_dim: int = 32, input_shape=(8, 16, 16, 1),
                                       filters: Sequence[int] = (8, 16), frame_dim: int = 32,
                                       lstm_units: int = 32,
                                       name: str = "timedistributed_lstm_encoder", *,
                                       spatial_pooling: str = "average"):
    """TimeDistributed CNN per frame + LSTM over frames.

    clips float32 ``(batch, T, H, W, C)`` → ``(batch, feature_dim)``. Per frame:
    ``[Conv2D(3, same) → MaxPool(2)] × len(filters) → GlobalAveragePooling → Dense(frame_dim)``,
    so any H, W ≥ 1 work; then ``LSTM(lstm_units)`` and a Dense projection.
    ``spatial_pooling="flatten"`` keeps the layout of the last feature map (``Flatten``) instead of
    averaging it away (fixed H, W; learns digits in far fewer epochs — lesson 12 uses it).
    """
    import keras

    feature_dim = _check_feature_dim(feature_dim)
    lstm_units = check.positive_int(lstm_units, "lstm_units")
    inputs, sequence = _per_frame_sequence(input_shape, filters, frame_dim, spatial_pooling)
    summary = keras.layers.LSTM(lstm_units, name="lstm")(sequence)
    outputs = keras.layers.Dense(feature_dim, activation="relu", name="features")(summary)
    return keras.Model(inputs, outputs, name=name)


def build_conv3d_encoder(feature_dim: int = 32, input_shape=(8, 16, 16, 1),
                         filters: Sequence[int] = (8, 16), kernel_size: int = 3,
                         name: str = "conv3d_encoder", *, spatial_pooling: str = "average"):
    """Conv3D clip encoder.

    clips float32 ``(batch, T, H, W, C)`` → ``(batch, feature_dim)``:
    ``[Conv3D(kernel_size, same) → MaxPool3D(2, same)] × len(filters) → GlobalAveragePooling3D →
    Dense(feature_dim)``; ``spatial_pooling="flatten"``: ``Flatten`` instead of the global average.
    """
    import keras

    clip_shape = _check_clip_shape(input_shape)
    feature_dim = _check_feature_dim(feature_dim)
    filters = _check_filters(filters)
    kernel_size = check.positive_int(kernel_size, "kernel_size")
    spatial_pooling = _check_spatial_pooling(spatial_pooling)
    inputs = keras.Input(shape=clip_shape, name="clip")
    x = inputs
    for index, num_filters in enumerate(filters):
        x = keras.layers.Conv3D(num_filters, kernel_size, padding="same", activation="relu",
                                name=f"conv{index + 1}")(x)
        x = keras.layers.MaxPooling3D(2, padding="same", name=f"pool{index + 1}")(x)
    if spatial_pooling == "flatten":
        x = keras.layers.Flatten(name="flatten")(x)
    else:
        x = keras.layers.GlobalAveragePooling3D(name="average_over_space_time")(x)
    outputs = keras.layers.Dense(feature_dim, activation="relu", name="features")(x)
    return keras.Model(inputs, outputs, name=name)
