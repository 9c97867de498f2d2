"""UCI HAR: human activity recognition using smartphones.

Anguita, Ghio, Oneto, Parra, Reyes-Ortiz. A Public Domain Dataset for Human
Activity Recognition Using Smartphones. ESANN 2013.
"""

import numpy as np
from tqdm.auto import tqdm

from keras_har.datasets import _loading
from keras_har.datasets.download import RemoteFileMetadata
from keras_har.datasets.windows import Recording

NAME = "uci_har"
# The UCI archive of the original zip; its sha256 could not be checked offline.
REMOTE = RemoteFileMetadata(
    filename="UCI HAR Dataset.zip",
    url="https://archive.ics.uci.edu/ml/machine-learning-databases/00240/UCI%20HAR%20Dataset.zip",
    sha256=None,
)
CLASS_NAMES = ("WALKING", "WALKING_UPSTAIRS", "WALKING_DOWNSTAIRS", "SITTING", "STANDING", "LAYING")
# The official loader's channel order.
CHANNEL_NAMES = (
    "body_acc_x", "body_acc_y", "body_acc_z",
    "body_gyro_x", "body_gyro_y", "body_gyro_z",
    "total_acc_x", "total_acc_y", "total_acc_z",
)
WINDOW_SAMPLES = 128


def _parse(raw, verbose):
    recordings = []
    for split in tqdm(("train", "test"), desc=f"Parsing {NAME}", disable=not verbose):
        subjects_path = raw / split / f"subject_{split}.txt"
        labels_path = raw / split / f"y_{split}.txt"
        subjects = _loading.read_table(subjects_path, columns=1, name=NAME)[:, 0].astype(np.int64)
        labels = _loading.read_table(labels_path, columns=1, name=NAME)[:, 0].astype(np.int64)
        channels = []
        for channel in CHANNEL_NAMES:
            path = raw / split / "Inertial Signals" / f"{channel}_{split}.txt"
            table = _loading.read_table(path, columns=WINDOW_SAMPLES, name=NAME)
            _loading.check_finite(table, path, NAME)
            if len(table) != len(labels):
                raise ValueError(
                    f"{NAME}: {path} has {len(table)} windows but {labels_path} has {len(labels)} labels. "
                    f"Received: rows={len(table)}"
                )
            channels.append(table)
        if len(subjects) != len(labels):
            raise ValueError(
                f"{NAME}: {subjects_path} has {len(subjects)} rows but {labels_path} has {len(labels)}. "
                f"Received: rows={len(subjects)}"
            )
        if len(labels) and (labels.min() < 1 or labels.max() > len(CLASS_NAMES)):
            raise ValueError(
                f"{NAME}: {labels_path} must hold activities 1 to 6. "
                f"Received: min={labels.min()}, max={labels.max()}"
            )
        windows = np.stack(channels, axis=-1).astype(np.float32)  # (N, 128, 9)
        for window, label, subject in zip(windows, labels, subjects):
            recordings.append(
                Recording(window, np.full(WINDOW_SAMPLES, label - 1, dtype=np.int64), int(subject), split)
            )
    return recordings


SPEC = _loading.DatasetSpec(
    name=NAME, raw_dir="UCI HAR Dataset", sampling_rate_hz=50.0, window_sec=2.56,
    class_names=CLASS_NAMES, channel_names=CHANNEL_NAMES, parse=_parse, remote=REMOTE,
)


def load_uci_har(*, data_home=None, download_if_missing=True, window_sec=None, step_sec=None, cache=True,
                 cache_dir=None, verbose=True):
    """Loads UCI HAR's own 2.56 s windows of 9 inertial channels.

    Follows the official `dataloader_UCI_har.py`: the `Inertial Signals` of
    `train/` and `test/` (body_acc, body_gyro, total_acc, each x/y/z; 50 Hz,
    128 samples per window, 50% overlap as distributed), 6 classes, the 30
    subjects of `subject_*.txt`. Each distributed window is its own
    recording, so the default window (2.56 s) gives exactly the 7,352 + 2,947
    original windows; a shorter `window_sec` cuts within them, and a longer
    one raises. The given train/test split is by subject; its 9 test
    subjects are `keras_har.datasets.splits.UCI_HAR_TEST_SUBJECTS`.

    The staged copy in this project lacks `Inertial Signals` (they are too
    large); use `keras_har.datasets.load_hapt`, the raw recordings of the
    same volunteers, or download the original archive.

    Args:
        data_home: folder holding `uci_har/UCI HAR Dataset/`.
        download_if_missing: download the UCI archive if missing.
        window_sec: window length in seconds (default 2.56, 128 samples).
        step_sec: step between windows in seconds (default half a window).
        cache: keep the parsed recordings in an `.npz` cache.
        cache_dir: where to cache; see `keras_har.datasets.load_hapt`.
        verbose: show progress while parsing.

    Returns:
        A `keras_har.datasets.HARDataset`.

    Example:
        >>> import keras_har
        >>> data = keras_har.datasets.load_uci_har(data_home="/data/har")  # doctest: +SKIP
        >>> data.X.shape  # doctest: +SKIP
        (10299, 128, 9)
    """
    return _loading.load(
        SPEC, data_home=data_home, download_if_missing=download_if_missing, window_sec=window_sec,
        step_sec=step_sec, cache=cache, cache_dir=cache_dir, verbose=verbose,
    )
