"""The container that every keras_har dataset loader returns."""

import dataclasses
import typing

import numpy as np

from keras_har.datasets import validation


@dataclasses.dataclass(repr=False)
class HARDataset:
    """Windows of a human activity recognition dataset, with labels and subjects.

    Every loader in `keras_har.datasets` returns one of these: the windows,
    their labels and the subject each window came from travel together, so a
    split by subject can never lose track of which window is whose.

    Attributes:
        name: dataset name as accepted by `keras_har.datasets.load_dataset`.
        X: windows, shape `(N, T, C)`, float32.
        y: zero-based class index of each window, shape `(N,)`, int64.
        subjects: subject id of each window (the dataset's own numbering),
            shape `(N,)`, int64.
        class_names: name of each class; `y == i` means `class_names[i]`.
        channel_names: name of each of the `C` channels.
        sampling_rate_hz: samples per second of the windows (None for
            windows of an `.npz` file that does not state it).
        window_sec: window length in seconds (`T / sampling_rate_hz`; None
            without a rate).
        step_sec: distance between the starts of two consecutive windows of
            one recording, in seconds.
        subject_names: optional `{subject id: name}` when the data named its
            subjects (a CSV folder with `alice_walk.csv`); ids are then
            1..S in the names' sorted order.
        test_mask: optional boolean per window, True for the windows of a
            predefined test split (a CSV folder's `test/` recordings);
            `keras_har.evaluation.cross_validate(protocol="split")` uses it.

    Example:
        >>> import numpy as np
        >>> import keras_har
        >>> data = keras_har.datasets.HARDataset(
        ...     name="toy", X=np.zeros((4, 100, 3), "float32"),
        ...     y=np.array([0, 1, 0, 1]), subjects=np.array([1, 1, 2, 2]),
        ...     class_names=["sit", "walk"], channel_names=["x", "y", "z"],
        ...     sampling_rate_hz=50.0, window_sec=2.0, step_sec=1.0)
        >>> data.subset(np.where(data.subjects == 2)[0]).y.tolist()
        [0, 1]
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    subjects: np.ndarray
    class_names: list
    channel_names: list
    sampling_rate_hz: float
    window_sec: float
    step_sec: float
    subject_names: typing.Optional[dict] = None
    test_mask: typing.Optional[np.ndarray] = None

    def __post_init__(self):
        self.X = np.asarray(self.X)
        if self.X.ndim != 3:
            raise ValueError(f"`X` must have shape (N, T, C). Received: X.shape={self.X.shape}")
        # One rule for every route into training: keras_har.datasets.validation.
        validation.check_finite(self.X, "X")
        self.X = self.X.astype(np.float32, copy=False)
        self.class_names = list(self.class_names)
        self.channel_names = list(self.channel_names)
        self.y = validation.check_labels(self.y, "y", num_classes=len(self.class_names))
        self.subjects = validation.check_subjects(self.subjects, "subjects")
        if self.y.shape != (len(self.X),) or self.subjects.shape != (len(self.X),):
            raise ValueError(
                "`y` and `subjects` must have one entry per window of `X`. "
                f"Received: X.shape={self.X.shape}, y.shape={self.y.shape}, "
                f"subjects.shape={self.subjects.shape}"
            )
        if self.test_mask is not None:
            self.test_mask = np.asarray(self.test_mask)
            if self.test_mask.dtype != bool or self.test_mask.shape != (len(self.X),):
                raise ValueError(
                    f"`test_mask` must be a boolean per window, shape ({len(self.X)},). "
                    f"Received: test_mask.dtype={self.test_mask.dtype}, test_mask.shape={self.test_mask.shape}"
                )
        if self.X.shape[2] != len(self.channel_names):
            raise ValueError(
                f"`channel_names` must name each of the {self.X.shape[2]} channels of `X`. "
                f"Received: channel_names={self.channel_names}"
            )

    def __len__(self):
        return len(self.X)

    def __repr__(self):
        return (
            f"HARDataset(name={self.name!r}, windows={len(self)}, "
            f"window_length={self.window_length}, num_channels={self.num_channels}, "
            f"num_classes={self.num_classes}, subjects={len(np.unique(self.subjects))}, "
            f"sampling_rate_hz={self.sampling_rate_hz}, window_sec={self.window_sec}, "
            f"step_sec={self.step_sec})"
        )

    @property
    def num_classes(self):
        """Number of classes `K` (from `class_names`, even if some are absent)."""
        return len(self.class_names)

    @property
    def window_length(self):
        """Samples per window `T`."""
        return self.X.shape[1]

    @property
    def num_channels(self):
        """Channels per sample `C`."""
        return self.X.shape[2]

    def subset(self, indices):
        """Returns the windows at `indices`, with the same metadata.

        Args:
            indices: integer indices or a boolean mask over the windows.

        Returns:
            A new `HARDataset`; its arrays are copies.
        """
        indices = np.asarray(indices)
        if indices.dtype == bool:
            if indices.shape != (len(self),):
                raise ValueError(
                    f"A boolean `indices` mask needs one entry per window ({len(self)}). "
                    f"Received: indices.shape={indices.shape}"
                )
            indices = np.flatnonzero(indices)
        return dataclasses.replace(
            self, X=self.X[indices], y=self.y[indices], subjects=self.subjects[indices],
            test_mask=None if self.test_mask is None else self.test_mask[indices],
        )
