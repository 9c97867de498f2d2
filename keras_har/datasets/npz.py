"""Pre-windowed data in one `.npz` file: the one reader every command uses.

The documented keys:

- `x`: windows, shape `(N, T, C)`, numbers;
- `y`: class index of each window, integers `0..K-1`;
- `subjects`: integer subject id of each window;
- optional `class_names` (K strings; without it K is `max(y) + 1` and every
  class must occur), `channel_names` (C strings) and `sampling_rate_hz` (a
  number; needed where windows are resampled, as in self-supervised
  pretraining).

`X` (capital, the old key of `keras-har pretrain/finetune`) is still read,
with a DeprecationWarning. Every array goes through
`keras_har.datasets.validation`, so NaN windows, 1-based or text labels and
text subject ids get the same error here as everywhere else.
"""

import os
import warnings

import numpy as np

from keras_har.datasets import validation
from keras_har.datasets.base import HARDataset

REQUIRED_KEYS = ("x", "y", "subjects")
UNLABELLED_CLASS = "unlabelled"


def is_npz_path(dataset):
    """True when `dataset` names an `.npz` file rather than a dataset."""
    return isinstance(dataset, (str, os.PathLike)) and os.fspath(dataset).lower().endswith(".npz")


def load_npz(path, *, labelled=True, argument="dataset"):
    """Reads windows from an `.npz` file as a `keras_har.datasets.HARDataset`.

    Args:
        path: the file.
        labelled: require `y` and `subjects`. With False (unlabelled
            windows for self-supervised pretraining) a file without them
            gets one class named "unlabelled" and subject 0.
        argument: the argument the path came from, for error messages.

    Returns:
        A `HARDataset` named after the file; `sampling_rate_hz` and
        `window_sec` are None when the file does not hold a rate.

    Example:
        >>> import numpy as np, keras_har
        >>> np.savez("/tmp/my_windows.npz", x=np.zeros((4, 8, 3)), y=[0, 1, 0, 1], subjects=[1, 1, 2, 2])
        >>> keras_har.datasets.load_dataset("/tmp/my_windows.npz").num_classes
        2
    """
    arrays = validation.open_npz(path, argument)
    path = os.fspath(path)
    if "x" not in arrays and "X" in arrays:
        warnings.warn(
            f"{path}: the key 'X' is deprecated; save the windows as 'x' (with 'y' and 'subjects').",
            DeprecationWarning,
            stacklevel=2,
        )
        arrays["x"] = arrays.pop("X")
    required = REQUIRED_KEYS if labelled else ("x",)
    missing = [key for key in required if key not in arrays]
    if missing:
        raise ValueError(
            f"The .npz file must hold arrays 'x' (N, T, C), 'y' and 'subjects' (N,); {missing} are missing "
            f"(it has {sorted(arrays)}). Received: {argument}={path!r}"
        )
    x = arrays["x"]
    if x.ndim != 3:
        raise ValueError(f"{path}: 'x' must have shape (N, T, C). Received: x.shape={x.shape}")
    validation.check_finite(x, "x")
    if "y" in arrays:
        y = validation.check_labels(
            arrays["y"], "y", num_classes=len(arrays["class_names"]) if "class_names" in arrays else None
        )
        num_classes = len(arrays["class_names"]) if "class_names" in arrays else int(y.max()) + 1 if len(y) else 1
        class_names = [str(c) for c in arrays["class_names"]] if "class_names" in arrays else [
            str(i) for i in range(num_classes)]
    else:
        y, class_names = np.zeros(len(x), np.int64), [UNLABELLED_CLASS]
    subjects = arrays["subjects"] if "subjects" in arrays else np.zeros(len(x), np.int64)
    channel_names = [str(c) for c in arrays["channel_names"]] if "channel_names" in arrays else [
        f"ch{i}" for i in range(x.shape[2])]
    rate = None
    if "sampling_rate_hz" in arrays:
        rate = float(arrays["sampling_rate_hz"])
        if not np.isfinite(rate) or rate <= 0:
            raise ValueError(f"{path}: 'sampling_rate_hz' must be a positive number. Received: sampling_rate_hz={rate}")
    window_sec = x.shape[1] / rate if rate else None
    return HARDataset(
        name=os.path.splitext(os.path.basename(path))[0], X=x, y=y, subjects=subjects, class_names=class_names,
        channel_names=channel_names, sampling_rate_hz=rate, window_sec=window_sec, step_sec=window_sec,
    )
