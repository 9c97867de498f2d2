"""Unlabelled windows for pretraining: variance-weighted sampling and pooling datasets."""

import fractions
import math

import numpy as np
from scipy.signal import resample_poly

from keras_har.backend import keras

__all__ = [
    "VarianceSampler", "load_windows", "pool_windows", "resample_dataset", "resample_windows",
    "variance_sampling_probabilities",
]


def _check_windows(windows, name="windows"):
    windows = np.asarray(windows)
    if windows.ndim != 3 or windows.shape[0] == 0:
        raise ValueError(
            f"`{name}` must be a non-empty array (batch, time, channels). Received: {name}.shape={windows.shape}"
        )
    return windows


def variance_sampling_probabilities(windows, acceleration_channels=None):
    """Each window's probability of being drawn: proportional to its summed variance.

    As Dumbrava et al. (arXiv:2307.01168) do for Capture-24: the score of a
    window is the sum over acceleration channels of the variance over time,
    so still windows (a device on a table) are rarely drawn.

    Args:
        windows: ``(N, T, C)``.
        acceleration_channels: indices of the acceleration channels; all
            channels when None.

    Returns:
        ``(N,)`` float64 probabilities summing to 1 (uniform when every window
        is constant).

    Example:
    >>> import numpy as np
    >>> import keras_har
    >>> x = np.stack([np.zeros((4, 1)), np.arange(4.0)[:, None]])
    >>> keras_har.ssl.variance_sampling_probabilities(x).tolist()
    [0.0, 1.0]
    """
    windows = _check_windows(windows)
    if acceleration_channels is not None:
        channels = list(acceleration_channels)
        if not channels or not all(-windows.shape[2] <= c < windows.shape[2] for c in channels):
            raise ValueError(
                f"`acceleration_channels` must be channel indices below {windows.shape[2]}. "
                f"Received: acceleration_channels={acceleration_channels!r}"
            )
        windows = windows[:, :, channels]
    scores = windows.astype(np.float64).var(axis=1).sum(axis=1)
    total = scores.sum()
    if total <= 0:
        return np.full(len(scores), 1.0 / len(scores))
    return scores / total


class VarianceSampler(keras.utils.Sequence):
    """Batches of unlabelled windows, a fresh variance-weighted draw every epoch.

    Each epoch draws ``round(fraction * N)`` windows without replacement,
    each with probability proportional to its summed acceleration variance
    (`variance_sampling_probabilities`). Without replacement, the inclusion
    probability of a window is only approximately proportional to its score
    once ``fraction`` is large; the paper's 10% keeps it close.

    Args:
        windows: ``(N, T, C)`` unlabelled windows.
        batch_size: windows per batch.
        fraction: share of the windows drawn each epoch, in (0, 1].
        acceleration_channels: channel indices scored; all when None.
        weighted: False draws uniformly (for comparison).
        seed: seed of the sampler's generator.

    Example:
    >>> import numpy as np
    >>> import keras_har
    >>> sampler = keras_har.ssl.VarianceSampler(np.random.rand(100, 8, 3), batch_size=4, fraction=0.1, seed=0)
    >>> len(sampler), sampler[0].shape
    (3, (4, 8, 3))
    """

    def __init__(self, windows, batch_size=64, fraction=0.1, acceleration_channels=None, weighted=True, seed=None):
        super().__init__()
        self.windows = _check_windows(windows).astype(np.float32, copy=False)
        if not 0.0 < float(fraction) <= 1.0:
            raise ValueError(f"`fraction` must be in (0, 1]. Received: fraction={fraction!r}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"`batch_size` must be a positive integer. Received: batch_size={batch_size!r}")
        self.batch_size = batch_size
        self.fraction = float(fraction)
        self.num_drawn = max(1, int(round(self.fraction * len(self.windows))))
        if weighted:
            self.probabilities = variance_sampling_probabilities(self.windows, acceleration_channels)
            # Without replacement, numpy needs at least num_drawn windows with p > 0.
            if np.count_nonzero(self.probabilities) < self.num_drawn:
                self.probabilities = self.probabilities + 1e-12
                self.probabilities /= self.probabilities.sum()
        else:
            self.probabilities = np.full(len(self.windows), 1.0 / len(self.windows))
        self.rng = np.random.default_rng(seed)
        self.indices = None
        self.on_epoch_end()

    def on_epoch_end(self):
        self.indices = self.rng.choice(len(self.windows), size=self.num_drawn, replace=False, p=self.probabilities)

    def __len__(self):
        return math.ceil(self.num_drawn / self.batch_size)

    def __getitem__(self, index):
        batch = self.indices[index * self.batch_size : (index + 1) * self.batch_size]
        return self.windows[batch]


def resample_windows(windows, from_rate_hz, to_rate_hz):
    """Resamples windows along time with a polyphase filter (`scipy.signal.resample_poly`).

    Example:
    >>> import numpy as np
    >>> import keras_har
    >>> keras_har.ssl.resample_windows(np.zeros((2, 100, 3)), 100, 50).shape
    (2, 50, 3)
    """
    windows = _check_windows(windows)
    for arg, value in (("from_rate_hz", from_rate_hz), ("to_rate_hz", to_rate_hz)):
        if not float(value) > 0:
            raise ValueError(f"`{arg}` must be > 0. Received: {arg}={value!r}")
    to_rate = fractions.Fraction(to_rate_hz).limit_denominator(1000)
    ratio = to_rate / fractions.Fraction(from_rate_hz).limit_denominator(1000)
    if ratio == 1:
        return windows.astype(np.float32)
    return resample_poly(windows, ratio.numerator, ratio.denominator, axis=1).astype(np.float32)


def _crop_center(windows, window_length, dataset_name):
    steps = windows.shape[1]
    if steps < window_length:
        raise ValueError(
            f"Dataset {dataset_name!r} has windows of {steps} samples after resampling, shorter than "
            f"the common window. Received: window_length={window_length}"
        )
    start = (steps - window_length) // 2
    return windows[:, start : start + window_length]


def pool_windows(datasets, sampling_rate_hz, window_length, channels=None):
    """Unlabelled windows from several datasets on one rate, length and channel set.

    Each dataset's windows are resampled to ``sampling_rate_hz``
    (`resample_windows`), centre-cropped to ``window_length`` samples, and
    reduced to ``channels``, then all are concatenated.

    Args:
        datasets: `keras_har.datasets.HARDataset` objects (anything with
            ``name``, ``X``, ``sampling_rate_hz`` and ``channel_names``).
        sampling_rate_hz: the common rate.
        window_length: the common window length in samples.
        channels: channel names present in every dataset, in the order
            wanted, or None to keep all channels (the datasets must then have
            the same channel count, matched by position).

    Returns:
        float32 array ``(sum of N, window_length, C)``.

    Example:
    >>> import keras_har
    >>> hapt = keras_har.datasets.load_dataset("hapt")  # doctest: +SKIP
    >>> usc = keras_har.datasets.load_dataset("usc_had")  # doctest: +SKIP
    >>> keras_har.ssl.pool_windows([hapt, usc], 50, 128).shape  # doctest: +SKIP
    """
    datasets = list(datasets)
    if not datasets:
        raise ValueError("`datasets` must hold at least one dataset. Received: datasets=[]")
    pooled = []
    for dataset in datasets:
        windows = np.asarray(dataset.X)
        if channels is not None:
            names = list(dataset.channel_names)
            missing = [c for c in channels if c not in names]
            if missing:
                raise ValueError(
                    f"Dataset {dataset.name!r} has no channels {missing}; it has {names}. "
                    f"Received: channels={list(channels)!r}"
                )
            windows = windows[:, :, [names.index(c) for c in channels]]
        elif windows.shape[2] != np.asarray(datasets[0].X).shape[2]:
            raise ValueError(
                "Datasets with different channel counts need `channels` (names common to all). "
                f"Received: channels=None with {[np.asarray(d.X).shape[2] for d in datasets]} channels"
            )
        windows = resample_windows(windows, dataset.sampling_rate_hz, sampling_rate_hz)
        pooled.append(_crop_center(windows, window_length, dataset.name))
    return np.concatenate(pooled, axis=0).astype(np.float32)


def resample_dataset(dataset, sampling_rate_hz, window_length, channels=None):
    """A `keras_har.datasets.HARDataset` moved to another rate and window length.

    Windows are resampled and centre-cropped as in `pool_windows`; labels,
    subjects and names are kept, ``sampling_rate_hz`` and ``window_sec``
    updated.

    Example:
    >>> import keras_har
    >>> usc = keras_har.datasets.load_dataset("usc_had")  # doctest: +SKIP
    >>> keras_har.ssl.resample_dataset(usc, 50, 200).X.shape  # doctest: +SKIP
    (13024, 200, 6)
    """
    import dataclasses

    names = list(dataset.channel_names) if channels is None else list(channels)
    return dataclasses.replace(
        dataset,
        X=pool_windows([dataset], sampling_rate_hz, window_length, channels=channels),
        channel_names=names,
        sampling_rate_hz=float(sampling_rate_hz),
        window_sec=window_length / float(sampling_rate_hz),
    )


def load_windows(name_or_path, *, data_home=None, labelled=True):
    """A dataset by name or path (`keras_har.datasets.load_dataset`), with a sampling rate.

    An ``.npz`` file is read by `keras_har.datasets.load_npz` (keys ``x``,
    ``y``, ``subjects``, and here also ``sampling_rate_hz``, which
    resampling needs); with ``labelled=False`` (pretraining) ``y`` and
    ``subjects`` may be left out.
    """
    from keras_har.datasets import is_npz_path, load_dataset, load_npz

    if is_npz_path(name_or_path):
        dataset = load_npz(name_or_path, labelled=labelled)
    else:
        dataset = load_dataset(str(name_or_path), data_home=data_home, verbose=False)
    if dataset.sampling_rate_hz is None:
        raise ValueError(
            f"Self-supervised training resamples windows, so it needs their sampling rate: save "
            f"'sampling_rate_hz' in the .npz file. Received: dataset={str(name_or_path)!r}"
        )
    return dataset
