"""Recordings and the sliding windows cut from them.

A `Recording` is one continuous stretch of signal (a HAPT experiment, a
USC-HAD trial, a PAMAP2 subject file): windows never cross from one recording
into the next. Sample labels of -1 mark samples that belong to no kept class
(HAPT's unlabelled gaps, PAMAP2's and MHEALTH's null class 0, Daphnet's
"not part of the experiment").

The windowing follows the official TinierHAR `dataloader_base.py` with its
default `drop_transition=False`:

- each recording is cut from its first sample into windows of `T` samples
  whose starts are `step` samples apart; a window must end inside the
  recording, so a recording of `L >= T` samples gives `(L - T) // step + 1`
  windows and a shorter one gives none;
- a window's label is the most frequent sample label in it; a tie goes to
  the smallest label (pandas `mode()` sorts), and -1 is the smallest, so a
  window that is at least half unlabelled is dropped, as the reference drops
  windows whose mode is its null class.
"""

import dataclasses

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


@dataclasses.dataclass
class Recording:
    """One continuous recording.

    Attributes:
        signal: samples, shape `(L, C)`, float32.
        labels: class index per sample, shape `(L,)`, int64; -1 for
            unlabelled samples.
        subject: subject id.
        source: where it came from (file name), for error messages.
    """

    signal: np.ndarray
    labels: np.ndarray
    subject: int
    source: str = ""


def concatenate(recordings):
    """Packs recordings into flat arrays: `(signal, labels, offsets, subjects)`.

    `offsets` has one entry more than there are recordings: recording `i`
    is `signal[offsets[i]:offsets[i + 1]]`.
    """
    lengths = np.array([len(r.signal) for r in recordings], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    signal = np.concatenate([r.signal for r in recordings]).astype(np.float32, copy=False)
    labels = np.concatenate([r.labels for r in recordings]).astype(np.int64, copy=False)
    subjects = np.array([r.subject for r in recordings], dtype=np.int64)
    return signal, labels, offsets, subjects


def window_length_and_step(sampling_rate_hz, window_sec, step_sec):
    """Converts window and step from seconds to samples.

    The window is `int(round(window_sec * rate))` (the reference writes
    `int(window_seconds * sampling_freq)`, which gives the same numbers for
    every dataset here). A step of None is half a window,
    `int(0.5 * window)`, as in the reference.
    """
    if not window_sec or window_sec <= 0:
        raise ValueError(f"`window_sec` must be a positive number of seconds. Received: window_sec={window_sec}")
    window_length = int(round(window_sec * sampling_rate_hz))
    if window_length < 1:
        raise ValueError(
            f"`window_sec` is shorter than one sample at {sampling_rate_hz} Hz. "
            f"Received: window_sec={window_sec}"
        )
    if step_sec is None:
        step_length = max(1, int(0.5 * window_length))
    else:
        if step_sec <= 0:
            raise ValueError(f"`step_sec` must be a positive number of seconds. Received: step_sec={step_sec}")
        step_length = int(round(step_sec * sampling_rate_hz))
        if step_length < 1:
            raise ValueError(
                f"`step_sec` is shorter than one sample at {sampling_rate_hz} Hz. Received: step_sec={step_sec}"
            )
    return window_length, step_length


def sliding_windows(signal, labels, offsets, subjects, *, window_length, step_length, num_classes, name="dataset"):
    """Cuts every recording into labelled windows.

    Args:
        signal, labels, offsets, subjects: as returned by `concatenate`.
        window_length: samples per window `T`.
        step_length: samples between consecutive window starts.
        num_classes: number of kept classes `K`; labels are in `[-1, K)`.
        name: dataset name, for the error message.

    Returns:
        `(X, y, window_subjects)`: `X` of shape `(N, T, C)` float32, `y` and
        `window_subjects` of shape `(N,)` int64, in recording order.

    Raises:
        ValueError: if the window is longer than every recording.
    """
    lengths = np.diff(offsets)
    if len(lengths) == 0 or lengths.max() < window_length:
        longest = int(lengths.max()) if len(lengths) else 0
        raise ValueError(
            f"The window of {window_length} samples is longer than every recording of {name} "
            f"(the longest has {longest} samples): no window fits. Use a shorter `window_sec`. "
            f"Received: window_length={window_length}"
        )
    per_recording = np.where(lengths >= window_length, (lengths - window_length) // step_length + 1, 0)
    recording_of_window = np.repeat(np.arange(len(lengths)), per_recording)
    first_window = np.cumsum(per_recording) - per_recording
    position = np.arange(len(recording_of_window)) - first_window[recording_of_window]
    starts = offsets[recording_of_window] + position * step_length

    # Count each label inside every window from running sums: one pass per
    # class instead of one per window. Column 0 counts the unlabelled (-1).
    counts = np.empty((len(starts), num_classes + 1), dtype=np.int64)
    for column, label in enumerate(range(-1, num_classes)):
        running = np.concatenate([[0], np.cumsum(labels == label, dtype=np.int64)])
        counts[:, column] = running[starts + window_length] - running[starts]
    window_labels = counts.argmax(axis=1) - 1  # argmax takes the first maximum: the smallest label
    keep = window_labels >= 0

    views = sliding_window_view(signal, window_length, axis=0)  # (L - T + 1, C, T), no copy
    X = np.ascontiguousarray(views[starts[keep]].transpose(0, 2, 1))
    return X, window_labels[keep], subjects[recording_of_window[keep]]
