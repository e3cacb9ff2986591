"""Audio features: MFCC three ways (librosa, NumPy from scratch, a batched Keras layer), deltas,
and a small encoder on MFCC frames.

The course's defaults, chosen for MM-Digits (8 kHz, 1 s clips of a spoken digit):

==============  =========  ==================================================================
parameter       default    why
==============  =========  ==================================================================
``sr``          8000       the dataset's sample rate
``n_fft``       256        32 ms windows: a few pitch periods, 31.25 Hz frequency resolution
``hop_length``  80         10 ms hop, the speech-recognition standard → 101 frames per second
``n_mels``      40         enough mel bands below 4 kHz without empty (zero-width) filters
``n_mfcc``      13         the classic number of cepstral coefficients
``fmin/fmax``   0 / sr/2   the full band
``top_db``      80         librosa's default dynamic range
==============  =========  ==================================================================

Every convention that must agree between the :class:`MFCC` layer, :func:`mfcc_numpy` and
``librosa.feature.mfcc`` (librosa 0.10/0.11 defaults, which the course keeps):

- **centring**: ``center=True`` pads ``n_fft // 2`` samples on both sides, **with zeros**
  (``pad_mode="constant"``, librosa's default since 0.10; older versions reflected), so there
  are ``1 + samples // hop_length`` frames and frame ``t`` is centred on sample ``t*hop_length``;
- **window**: periodic Hann of length ``n_fft`` (``scipy.signal.get_window("hann", n_fft)`` ==
  ``tf.signal.hann_window(n_fft, periodic=True)``), ``win_length == n_fft``;
- **power spectrum**: ``|STFT|**2`` (``power=2``), no scaling by ``n_fft``;
- **mel filterbank**: the Slaney mel scale (``htk=False``: linear below 1 kHz, logarithmic
  above) with Slaney area normalisation (``norm="slaney"``: each triangle scaled by
  ``2 / (f_right - f_left)``); ``htk=True`` / ``mel_norm=None`` switch both sides alike;
- **log**: ``power_to_db`` with ``ref=1.0``, ``amin=1e-10`` and ``top_db=80`` — values are
  ``10*log10(max(amin, S))`` then floored at ``max - top_db``. The max is **per clip** here
  (librosa given a whole batch at once takes one max over the batch; :func:`mfcc` therefore
  calls librosa clip by clip);
- **DCT**: type II with ``norm="ortho"`` over the mel axis, first ``n_mfcc`` rows, no liftering.

Layout everywhere: MFCC float32 ``(batch, n_mfcc, frames)`` — librosa's (coefficients, time).

Tolerance: the layer computes in float32 with TensorFlow's FFT, librosa with NumPy's. The
largest absolute difference is asserted below ``1e-2`` (``tests/test_features_audio.py``, lesson
04); measured: 1.3e-3 over all 360 clean MM-Digits test clips (coefficients span about 660
units, so < 2e-6 relative) and 3e-5 on clips with the default −6 dB noise.
With ``top_db=None`` bins ~100 dB below the peak keep float32 FFT round-off; the test allows
``5e-2`` there.
"""

from __future__ import annotations

import numpy as np

from mmcourse import _validate as check

__all__ = [
    "DEFAULTS",
    "validate_audio",
    "num_frames",
    "mfcc",
    "hz_to_mel",
    "mel_to_hz",
    "mel_filterbank",
    "dct_matrix",
    "frame_signal",
    "power_spectrogram",
    "power_to_db",
    "mfcc_numpy",
    "deltas",
    "MFCC",
    "build_mfcc_encoder",
]

DEFAULTS = dict(sr=8000, n_fft=256, hop_length=80, n_mels=40, n_mfcc=13, fmin=0.0, fmax=None,
                top_db=80.0)

try:  # the layer class is defined only when Keras is importable (always, in this course)
    import keras
except ImportError:  # pragma: no cover
    keras = None


# ----------------------------------------------------------------------------- validation
def _check_positive_int(value, name: str) -> int:
    return check.positive_int(value, name)


def _check_sample_rate(sr) -> float:
    return check.number(sr, "sr", minimum=0.0, exclusive_minimum=True,
                        expected="a positive sample rate in Hz (a finite number > 0)")


def _check_top_db(top_db):
    return check.number(top_db, "top_db", minimum=0.0, exclusive_minimum=True, allow_none=True)


def _check_mel_options(sr, n_fft, n_mels, n_mfcc, fmin, fmax, htk, mel_norm):
    sr = _check_sample_rate(sr)
    n_fft = _check_positive_int(n_fft, "n_fft")
    n_mels = _check_positive_int(n_mels, "n_mels")
    n_mfcc = _check_positive_int(n_mfcc, "n_mfcc")
    if n_mfcc > n_mels:
        raise check.value_error("n_mfcc", f"<= n_mels ({n_mels})", n_mfcc)
    fmin, fmax = _check_band(sr, fmin, fmax)
    mel_norm = check.one_of(mel_norm, "mel_norm", ("slaney", None))
    return sr, n_fft, n_mels, n_mfcc, fmin, fmax, check.boolean(htk, "htk"), mel_norm


def _check_band(sr, fmin, fmax) -> tuple[float, float]:
    fmin = check.number(fmin, "fmin", minimum=0.0, maximum=sr / 2,
                        expected=f"a frequency in [0, sr/2 = {sr / 2:g}] Hz")
    fmax = sr / 2 if fmax is None else check.number(
        fmax, "fmax", minimum=0.0, maximum=sr / 2,
        expected=f"None or a frequency in (fmin, sr/2 = {sr / 2:g}] Hz")
    if not fmin < fmax:
        raise check.value_error("fmax", f"greater than fmin = {fmin:g} Hz", fmax)
    return fmin, fmax


def validate_audio(audio, n_fft: int = DEFAULTS["n_fft"], name: str = "audio") -> np.ndarray:
    """Check a clip ``(samples,)`` or a batch ``(batch, samples)`` and return it as an array.

    Raises ``TypeError`` for non-float samples and ``ValueError`` for a wrong rank, NaN/inf
    samples, or a clip shorter than one analysis frame (``n_fft`` samples).
    """
    n_fft = _check_positive_int(n_fft, "n_fft")
    if isinstance(audio, (str, bytes)) or audio is None:
        raise check.type_error(name, "floating-point samples in [-1, 1] (float32)", audio)
    array = np.asarray(audio)
    if not np.issubdtype(array.dtype, np.floating):
        raise TypeError(
            f"{name} must hold floating-point samples in [-1, 1] (float32); convert int16 PCM "
            f"with audio.astype('float32') / 32768. Received: {name}={check.describe(array)}"
        )
    if array.ndim not in (1, 2):
        raise check.value_error(name, "of shape (samples,) or (batch, samples)", array)
    if array.shape[-1] < n_fft:
        raise check.value_error(
            name, f"clips no shorter than one frame (n_fft={n_fft} samples)", array,
            f"clips of {array.shape[-1]} samples")
    if not np.isfinite(array).all():
        bad = int(np.size(array) - np.isfinite(array).sum())
        raise check.value_error(name, "finite samples", array,
                                f"{check.describe(array)} with {bad} NaN or infinite samples")
    return array


def num_frames(num_samples: int, hop_length: int = DEFAULTS["hop_length"],
               n_fft: int = DEFAULTS["n_fft"], center: bool = True) -> int:
    """Frames an STFT produces: ``1 + samples // hop`` centred, ``1 + (samples - n_fft) // hop``
    otherwise (8000 samples, hop 80 → 101)."""
    num_samples = check.integer(num_samples, "num_samples", minimum=0)
    hop_length = _check_positive_int(hop_length, "hop_length")
    n_fft = _check_positive_int(n_fft, "n_fft")
    center = check.boolean(center, "center")
    if not center and num_samples < n_fft:
        raise check.value_error("num_samples", f">= n_fft ({n_fft}) when center=False",
                                num_samples)
    if center:
        return 1 + num_samples // hop_length
    return 1 + (num_samples - n_fft) // hop_length


# ----------------------------------------------------------------------------- librosa wrapper
def mfcc(audio, *, sr: float = DEFAULTS["sr"], n_mfcc: int = DEFAULTS["n_mfcc"],
         n_fft: int = DEFAULTS["n_fft"], hop_length: int = DEFAULTS["hop_length"],
         n_mels: int = DEFAULTS["n_mels"], fmin: float = DEFAULTS["fmin"], fmax=DEFAULTS["fmax"],
         top_db: float | None = DEFAULTS["top_db"], htk: bool = False, mel_norm="slaney",
         center: bool = True) -> np.ndarray:
    """MFCC with ``librosa.feature.mfcc`` and the course's defaults (see the module docstring).

    audio: float, shape ``(samples,)`` → ``(n_mfcc, frames)``, or ``(batch, samples)`` →
    float32 ``(batch, n_mfcc, frames)``. Each clip gets its own ``top_db`` floor.
    """
    import librosa

    sr, n_fft, n_mels, n_mfcc, fmin, fmax, htk, mel_norm = _check_mel_options(
        sr, n_fft, n_mels, n_mfcc, fmin, fmax, htk, mel_norm)
    hop_length = _check_positive_int(hop_length, "hop_length")
    top_db = _check_top_db(top_db)
    center = check.boolean(center, "center")
    array = validate_audio(audio, n_fft).astype(np.float32, copy=False)
    clips = array[None] if array.ndim == 1 else array
    out = []
    for start in range(0, len(clips), 512):  # librosa works on a batch (..., samples) at once
        mel_power = librosa.feature.melspectrogram(
            y=clips[start:start + 512], sr=sr, n_fft=n_fft, hop_length=hop_length,
            window="hann", center=center, pad_mode="constant", power=2.0, n_mels=n_mels,
            fmin=fmin, fmax=fmax, htk=htk, norm=mel_norm,
        )
        log_mel = librosa.power_to_db(mel_power, ref=1.0, amin=1e-10, top_db=None)
        if top_db is not None:  # librosa's top_db floor, per clip: below each clip's own max
            log_mel = np.maximum(log_mel, log_mel.max(axis=(-2, -1), keepdims=True) - top_db)
        out.append(librosa.feature.mfcc(S=log_mel, n_mfcc=n_mfcc, dct_type=2, norm="ortho",
                                        lifter=0))
    out = np.concatenate(out).astype(np.float32)
    return out[0] if array.ndim == 1 else out


# ----------------------------------------------------------------------------- NumPy, step by step
def hz_to_mel(frequencies, htk: bool = False):
    """Hz → mel. Slaney (``htk=False``): ``f / (200/3)`` below 1 kHz, logarithmic above;
    HTK: ``2595 * log10(1 + f / 700)``."""
    f = np.asarray(frequencies, dtype=np.float64)
    if htk:
        return 2595.0 * np.log10(1.0 + f / 700.0)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    linear = f / f_sp
    return np.where(f >= min_log_hz,
                    min_log_mel + np.log(np.maximum(f, min_log_hz) / min_log_hz) / logstep,
                    linear)


def mel_to_hz(mels, htk: bool = False):
    """mel → Hz, the inverse of :func:`hz_to_mel`."""
    m = np.asarray(mels, dtype=np.float64)
    if htk:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def mel_filterbank(sr: float = DEFAULTS["sr"], n_fft: int = DEFAULTS["n_fft"],
                   n_mels: int = DEFAULTS["n_mels"], fmin: float = 0.0, fmax=None,
                   htk: bool = False, norm="slaney") -> np.ndarray:
    """Triangular mel filters, float32 ``(n_mels, 1 + n_fft // 2)`` — same as
    ``librosa.filters.mel`` (tested): ``n_mels + 2`` points evenly spaced in mel, triangle ``i``
    rising from point ``i`` to ``i+1`` and falling to ``i+2``; ``norm="slaney"`` divides each by
    its width in Hz over 2 so every filter has the same area."""
    sr = _check_sample_rate(sr)
    n_fft = _check_positive_int(n_fft, "n_fft")
    n_mels = _check_positive_int(n_mels, "n_mels")
    fmin, fmax = _check_band(sr, fmin, fmax)
    htk = check.boolean(htk, "htk")
    norm = check.one_of(norm, "norm", ("slaney", None))
    fft_frequencies = np.fft.rfftfreq(n_fft, d=1.0 / sr)
    edges_hz = mel_to_hz(np.linspace(hz_to_mel(fmin, htk), hz_to_mel(fmax, htk), n_mels + 2), htk)
    widths = np.diff(edges_hz)
    ramps = edges_hz[:, None] - fft_frequencies[None, :]
    weights = np.zeros((n_mels, len(fft_frequencies)))
    for i in range(n_mels):
        rising = -ramps[i] / widths[i]
        falling = ramps[i + 2] / widths[i + 1]
        weights[i] = np.maximum(0.0, np.minimum(rising, falling))
    if norm == "slaney":
        weights *= (2.0 / (edges_hz[2:n_mels + 2] - edges_hz[:n_mels]))[:, None]
    return weights.astype(np.float32)


def dct_matrix(n_mfcc: int, n_mels: int) -> np.ndarray:
    """Orthonormal DCT-II matrix float64 ``(n_mfcc, n_mels)``:
    ``D[k, n] = sqrt(2/N) cos(pi k (2n+1) / 2N)``, row 0 scaled by ``1/sqrt(2)`` — equal to
    ``scipy.fft.dct(x, type=2, norm="ortho")[:n_mfcc]`` applied to a length-``N`` vector."""
    n_mfcc = _check_positive_int(n_mfcc, "n_mfcc")
    n_mels = _check_positive_int(n_mels, "n_mels")
    if n_mfcc > n_mels:
        raise check.value_error("n_mfcc", f"<= n_mels ({n_mels})", n_mfcc)
    n = np.arange(n_mels)
    k = np.arange(n_mfcc)[:, None]
    matrix = np.sqrt(2.0 / n_mels) * np.cos(np.pi * k * (2 * n + 1) / (2 * n_mels))
    matrix[0] /= np.sqrt(2.0)
    return matrix


def frame_signal(clip, n_fft: int = DEFAULTS["n_fft"], hop_length: int = DEFAULTS["hop_length"],
                 center: bool = True) -> np.ndarray:
    """Cut a clip ``(samples,)`` into overlapping frames ``(frames, n_fft)`` (zero-padded by
    ``n_fft // 2`` at both ends when ``center``)."""
    n_fft = _check_positive_int(n_fft, "n_fft")
    hop_length = _check_positive_int(hop_length, "hop_length")
    center = check.boolean(center, "center")
    clip = validate_audio(clip, n_fft, "clip")
    if clip.ndim != 1:
        raise check.value_error("clip", "one clip of shape (samples,)", clip)
    if center:
        clip = np.pad(clip, n_fft // 2, mode="constant")
    count = 1 + (len(clip) - n_fft) // hop_length
    index = np.arange(n_fft)[None, :] + hop_length * np.arange(count)[:, None]
    return clip[index]


def power_spectrogram(frames, n_fft: int = DEFAULTS["n_fft"]) -> np.ndarray:
    """Periodic-Hann-windowed ``|rFFT|**2`` of frames ``(frames, n_fft)`` →
    ``(1 + n_fft // 2, frames)`` (librosa's frequency × time layout)."""
    n_fft = _check_positive_int(n_fft, "n_fft")
    frames = check.array(frames, "frames", ndim=2, kind="numeric", finite=True,
                         what="frames (frames, n_fft)")
    if frames.shape[1] != n_fft:
        raise check.value_error("frames", f"frames of shape (frames, n_fft={n_fft})", frames)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)  # periodic Hann
    return (np.abs(np.fft.rfft(frames * window, n=n_fft, axis=-1)) ** 2).T


def power_to_db(power, amin: float = 1e-10, top_db: float | None = 80.0) -> np.ndarray:
    """``10 log10(max(amin, S))`` floored at ``max - top_db`` (``ref=1``), like librosa's."""
    power = check.array(power, "power", kind="numeric", finite=True, what="a power spectrogram")
    if power.size == 0:
        raise check.value_error("power", "a non-empty power spectrogram", power)
    if np.any(power < 0):
        raise check.value_error("power", "a power spectrogram of values >= 0", power,
                                f"values down to {power.min():g}")
    amin = check.number(amin, "amin", minimum=0.0, exclusive_minimum=True)
    top_db = _check_top_db(top_db)
    db = 10.0 * np.log10(np.maximum(amin, power))
    if top_db is not None:
        db = np.maximum(db, db.max() - top_db)
    return db


def mfcc_numpy(clip, *, sr: float = DEFAULTS["sr"], n_mfcc: int = DEFAULTS["n_mfcc"],
               n_fft: int = DEFAULTS["n_fft"], hop_length: int = DEFAULTS["hop_length"],
               n_mels: int = DEFAULTS["n_mels"], fmin: float = 0.0, fmax=None,
               top_db: float | None = 80.0) -> np.ndarray:
    """MFCC of one clip ``(samples,)`` from scratch in NumPy (float64 inside) →
    ``(n_mfcc, frames)``: frames → window → ``|STFT|²`` → mel → dB → DCT-II (ortho).
    The reference for lesson 04's exercise; matches :func:`mfcc` (tested)."""
    sr, n_fft, n_mels, n_mfcc, fmin, fmax, _, _ = _check_mel_options(
        sr, n_fft, n_mels, n_mfcc, fmin, fmax, False, "slaney")
    hop_length = _check_positive_int(hop_length, "hop_length")
    top_db = _check_top_db(top_db)
    frames = frame_signal(clip, n_fft, hop_length)
    power = power_spectrogram(frames.astype(np.float64), n_fft)
    mel = mel_filterbank(sr, n_fft, n_mels, fmin, fmax).astype(np.float64) @ power
    return dct_matrix(n_mfcc, n_mels) @ power_to_db(mel, top_db=top_db)


def deltas(features, order: int = 1, width: int = 9) -> np.ndarray:
    """librosa-compatible deltas along the last (time) axis (``librosa.feature.delta``,
    Savitzky–Golay with ``mode="interp"``).

    features: ``(..., n_mfcc, frames)`` → same shape. ``order=1`` velocity, ``2`` acceleration;
    ``width`` odd, ``3 <= width <= frames``.
    """
    import librosa

    array = check.array(features, "features", kind="float", finite=True,
                        what="MFCC features (..., n_mfcc, frames)")
    order = check.one_of(order, "order", (1, 2))
    width = check.integer(width, "width", minimum=3, expected="an odd int >= 3")
    if width % 2 == 0:
        raise check.value_error("width", "an odd int >= 3", width)
    if array.ndim < 1 or array.shape[-1] < width:
        raise check.value_error("features", f"at least width={width} frames on the last axis",
                                array)
    return librosa.feature.delta(array, width=width, order=order, axis=-1).astype(array.dtype)


# ----------------------------------------------------------------------------- Keras layer
if keras is not None:

    @keras.saving.register_keras_serializable(package="mmcourse")
    class MFCC(keras.layers.Layer):
        """Batched MFCC on ``tf.signal``: audio float32 ``(batch, samples)`` →
        ``(batch, n_mfcc, frames)``, matching ``librosa.feature.mfcc`` configured alike (see the
        module docstring for the conventions; ``frames = 1 + samples // hop_length``).

        No trainable weights. The mel filterbank (:func:`mel_filterbank`, tested equal to
        ``librosa.filters.mel``) and the DCT matrix are rebuilt from the config in ``build()``,
        so the saved file holds no arrays and the layer loads without librosa. Works inside a
        model, in ``tf.data`` (``dataset.map(layer)``) and on GPU. NaN/inf samples raise a
        ``ValueError`` on eager calls and ``tf.errors.InvalidArgumentError`` (same message) inside
        a traced ``fit``/``predict``.
        """

        def __init__(self, sr=DEFAULTS["sr"], n_mfcc=DEFAULTS["n_mfcc"], n_fft=DEFAULTS["n_fft"],
                     hop_length=DEFAULTS["hop_length"], n_mels=DEFAULTS["n_mels"],
                     fmin=DEFAULTS["fmin"], fmax=DEFAULTS["fmax"], top_db=DEFAULTS["top_db"],
                     htk=False, mel_norm="slaney", amin=1e-10, **kwargs):
            super().__init__(**kwargs)
            (self.sr, self.n_fft, self.n_mels, self.n_mfcc, self.fmin, self.fmax, self.htk,
             self.mel_norm) = _check_mel_options(sr, n_fft, n_mels, n_mfcc, fmin, fmax, htk,
                                                 mel_norm)
            self.hop_length = _check_positive_int(hop_length, "hop_length")
            self.top_db = _check_top_db(top_db)
            self.amin = check.number(amin, "amin", minimum=0.0, exclusive_minimum=True)
            self.supports_masking = False
            self._mel_matrix = None
            self._dct_matrix = None

        def build(self, input_shape):
            if len(input_shape) != 2:
                raise ValueError("MFCC: audio must be of shape (batch, samples). Received: audio "
                                 f"of shape {tuple(input_shape)}")
            samples = input_shape[-1]
            if samples is not None and samples < self.n_fft:
                raise ValueError(
                    f"MFCC: audio must be clips no shorter than one frame (n_fft={self.n_fft} "
                    f"samples). Received: audio clips of {samples} samples"
                )
            # (n_freq, n_mels): power (batch, frames, n_freq) @ this → (batch, frames, n_mels)
            self._mel_matrix = mel_filterbank(self.sr, self.n_fft, self.n_mels, self.fmin,
                                              self.fmax, self.htk, self.mel_norm).T.copy()
            # (n_mels, n_mfcc): log-mel (batch, frames, n_mels) @ this → (batch, frames, n_mfcc)
            self._dct_matrix = dct_matrix(self.n_mfcc, self.n_mels).T.astype(np.float32)

        def call(self, audio):
            import tensorflow as tf

            audio = tf.convert_to_tensor(audio)
            if not audio.dtype.is_floating:
                raise check.type_error("MFCC: audio", "floating-point samples (float32)", audio)
            if audio.shape.rank != 2:
                raise check.value_error("MFCC: audio", "of shape (batch, samples)", audio)
            if audio.shape[-1] is not None and audio.shape[-1] < self.n_fft:
                raise check.value_error(
                    "audio", f"clips no shorter than one frame (n_fft={self.n_fft} samples)",
                    audio, f"clips of {audio.shape[-1]} samples")
            if tf.executing_eagerly() and not isinstance(audio, keras.KerasTensor):
                if not bool(tf.reduce_all(tf.math.is_finite(audio))):
                    raise check.value_error("audio", "finite samples", audio,
                                            f"{check.describe(audio)} with NaN or infinite samples")
            elif not isinstance(audio, keras.KerasTensor):
                # Traced (inside model.fit / predict): the same check as a graph op, which raises
                # tf.errors.InvalidArgumentError with this message when a batch has NaN/inf.
                audio = tf.debugging.assert_all_finite(
                    audio, "MFCC: audio must be finite samples. Received: audio with NaN or "
                    "infinite samples")
            audio = tf.cast(audio, "float32")
            half = self.n_fft // 2
            padded = tf.pad(audio, [[0, 0], [half, half]], mode="CONSTANT")
            stft = tf.signal.stft(padded, frame_length=self.n_fft, frame_step=self.hop_length,
                                  fft_length=self.n_fft, window_fn=tf.signal.hann_window,
                                  pad_end=False)
            power = tf.math.square(tf.math.real(stft)) + tf.math.square(tf.math.imag(stft))
            mel = keras.ops.matmul(power, keras.ops.convert_to_tensor(self._mel_matrix))
            log_mel = 10.0 * keras.ops.log10(keras.ops.maximum(mel, self.amin))
            if self.top_db is not None:
                peak = keras.ops.max(log_mel, axis=(1, 2), keepdims=True)
                log_mel = keras.ops.maximum(log_mel, peak - self.top_db)
            coefficients = keras.ops.matmul(log_mel,
                                            keras.ops.convert_to_tensor(self._dct_matrix))
            return keras.ops.cast(keras.ops.transpose(coefficients, (0, 2, 1)),
                                  self.compute_dtype)

        def compute_output_shape(self, input_shape):
            samples = input_shape[-1]
            frames = None if samples is None else num_frames(samples, self.hop_length)
            return (input_shape[0], self.n_mfcc, frames)

        def get_config(self):
            return {
                **super().get_config(),
                "sr": self.sr, "n_mfcc": self.n_mfcc, "n_fft": self.n_fft,
                "hop_length": self.hop_length, "n_mels": self.n_mels, "fmin": self.fmin,
                "fmax": self.fmax, "top_db": self.top_db, "htk": self.htk,
                "mel_norm": self.mel_norm, "amin": self.amin,
            }


def build_mfcc_encoder(feature_dim: int = 32, n_mfcc: int = DEFAULTS["n_mfcc"],
                       num_frames: int = 101, kind: str = "conv1d",
                       filters=(32, 64), kernel_size: int = 5, audio_samples: int | None = None,
                       mfcc_options: dict | None = None, dropout: float = 0.0,
                       name: str = "mfcc_encoder"):
    """A small CNN on MFCC frames → features float32 ``(batch, feature_dim)``.

    Input: MFCC ``(batch, n_mfcc, num_frames)``, or raw audio ``(batch, audio_samples)`` when
    ``audio_samples`` is given (an :class:`MFCC` layer, configured by ``mfcc_options``, then comes
    first, so the model goes from waveform to features and saves as one ``.keras`` file).
    ``kind="conv1d"``: time is the sequence axis, coefficients the channels;
    ``kind="conv2d"``: the MFCC matrix as a one-channel image. Each conv block is
    Conv → BatchNorm-free ReLU → MaxPool(2), then global average pooling and a Dense projection.
    """
    import keras

    feature_dim = _check_positive_int(feature_dim, "feature_dim")
    kind = check.one_of(kind, "kind", ("conv1d", "conv2d"))
    kernel_size = _check_positive_int(kernel_size, "kernel_size")
    if isinstance(filters, str) or not isinstance(filters, (list, tuple)) or not filters:
        raise check.type_error("filters", "a non-empty list of positive ints", filters)
    filters = [_check_positive_int(count, "filters entry") for count in filters]
    dropout = check.number(dropout, "dropout", minimum=0.0, maximum=1.0,
                           expected="a rate in [0, 1)")
    if dropout >= 1.0:
        raise check.value_error("dropout", "a rate in [0, 1)", dropout)
    if mfcc_options is not None and not isinstance(mfcc_options, dict):
        raise check.type_error("mfcc_options", "None or a dict of MFCC options", mfcc_options)
    if audio_samples is not None:
        inputs = keras.Input(shape=(_check_positive_int(audio_samples, "audio_samples"),),
                             name="audio")
        layer = MFCC(**{"n_mfcc": n_mfcc, **(mfcc_options or {})}, name="mfcc")
        x = layer(inputs)
        n_mfcc, num_frames = layer.n_mfcc, x.shape[-1]
    else:
        inputs = keras.Input(shape=(_check_positive_int(n_mfcc, "n_mfcc"),
                                    _check_positive_int(num_frames, "num_frames")), name="mfcc")
        x = inputs
    if kind == "conv1d":
        x = keras.layers.Permute((2, 1), name="time_major")(x)  # (frames, n_mfcc)
        for index, num_filters in enumerate(filters):
            x = keras.layers.Conv1D(num_filters, kernel_size, padding="same", activation="relu",
                                    name=f"conv{index + 1}")(x)
            x = keras.layers.MaxPooling1D(2, padding="same", name=f"pool{index + 1}")(x)
        x = keras.layers.GlobalAveragePooling1D(name="average_over_time")(x)
    else:
        x = keras.layers.Reshape((n_mfcc, num_frames, 1), name="as_image")(x)
        for index, num_filters in enumerate(filters):
            x = keras.layers.Conv2D(num_filters, 3, padding="same", activation="relu",
                                    name=f"conv{index + 1}")(x)
            x = keras.layers.MaxPooling2D(2, padding="same", name=f"pool{index + 1}")(x)
        x = keras.layers.GlobalAveragePooling2D(name="average_over_time")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    outputs = keras.layers.Dense(feature_dim, activation="relu", name="features")(x)
    return keras.Model(inputs, outputs, name=name)
