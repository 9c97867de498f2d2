"""Streaming classification over a continuous recording, as the firmware does it.

The firmware core (``HarClassifier::PushSample``) keeps the last
``window_length`` samples in a ring buffer and classifies them every
``step_length`` samples, starting as soon as the first window is full. So
over a recording of ``L`` samples it classifies the windows that end at
samples ``window_length - 1 + k * step_length`` (``k = 0, 1, ...``, while
inside the recording): the same windows as `keras_har.datasets.windows`
cuts, one result per window, with no label needed.

Example:
    >>> import numpy as np
    >>> from keras_har.streaming import stream_predict
    >>> signal = np.zeros((10, 2), "float32")
    >>> result = stream_predict(signal, lambda w: np.zeros((len(w), 3)), window_length=4, step_length=3)
    >>> result.sample_index.tolist()
    [3, 6, 9]
"""

import dataclasses

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


@dataclasses.dataclass
class StreamResult:
    """One entry per classified window.

    Attributes:
        sample_index: index of the sample that completed the window.
        labels: arg-max class (the first one on a tie, as the firmware).
        scores: what ``predict`` returned, ``(R, K)``.
    """

    sample_index: np.ndarray
    labels: np.ndarray
    scores: np.ndarray


def stream_windows(signal, *, window_length, step_length):
    """The windows a streaming classifier sees: ``(sample_index, windows (R, T, C))``."""
    signal = np.asarray(signal)
    if signal.ndim != 2:
        raise ValueError(f"`signal` must be (samples, channels). Received: signal.shape={signal.shape}")
    if window_length < 1 or step_length < 1:
        raise ValueError(f"`window_length` and `step_length` must be positive. "
                         f"Received: window_length={window_length}, step_length={step_length}")
    if len(signal) < window_length:
        return np.zeros(0, np.int64), np.zeros((0, window_length, signal.shape[1]), signal.dtype)
    starts = np.arange(0, len(signal) - window_length + 1, step_length)
    windows = sliding_window_view(signal, window_length, axis=0)[starts].transpose(0, 2, 1)
    return starts + window_length - 1, np.ascontiguousarray(windows)


def stream_predict(signal, predict, *, window_length, step_length):
    """Classifies a continuous recording the way the firmware streams it.

    Args:
        signal: raw samples ``(L, C)``, in the units the model's
            standardiser expects.
        predict: maps windows ``(R, T, C)`` to scores ``(R, K)``: a Keras
            model's ``predict`` on standardised windows, or
            `keras_har.export.tflm_stream_predictor` for the int8 model.
        window_length, step_length: in samples (``kWindowLength``,
            ``kStepLength`` of ``model_settings.h``).

    Returns:
        A `StreamResult`.
    """
    sample_index, windows = stream_windows(signal, window_length=window_length, step_length=step_length)
    scores = np.asarray(predict(windows)) if len(windows) else np.zeros((0, 0))
    labels = scores.argmax(-1) if len(windows) else np.zeros(0, np.int64)
    return StreamResult(sample_index=sample_index, labels=labels, scores=scores)
