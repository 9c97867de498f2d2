"""PAMAP2: physical activity monitoring with three IMUs.

Reiss, Stricker. Introducing a New Benchmarked Dataset for Activity
Monitoring. ISWC 2012.
"""

import re

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from keras_har.datasets import _loading
from keras_har.datasets.download import RemoteFileMetadata
from keras_har.datasets.windows import Recording

NAME = "pamap2"
# The UCI archive; its sha256 could not be checked offline.
REMOTE = RemoteFileMetadata(
    filename="PAMAP2_Dataset.zip",
    url="https://archive.ics.uci.edu/ml/machine-learning-databases/00231/PAMAP2_Dataset.zip",
    sha256=None,
)
# Original activity id -> class name, in the official label order; 0 ("other")
# is the null class and is dropped.
ACTIVITIES = {
    1: "lying", 2: "sitting", 3: "standing", 4: "walking", 5: "running", 6: "cycling",
    7: "nordic walking", 12: "ascending stairs", 13: "descending stairs", 16: "vacuum cleaning",
    17: "ironing", 24: "rope jumping",
}
CLASS_NAMES = tuple(ACTIVITIES.values())
CHANNEL_NAMES = tuple(
    f"{sensor}_{axis}_{place}"
    for place in ("hand", "chest", "ankle") for sensor in ("acc", "gyro") for axis in "xyz"
)
# Columns of the 54-column files: the ±16 g accelerometer and the gyroscope
# of the hand, chest and ankle IMUs, as the official loader picks them.
_SIGNAL_COLUMNS = [4, 5, 6, 10, 11, 12, 21, 22, 23, 27, 28, 29, 38, 39, 40, 44, 45, 46]
_LABEL_COLUMN = 1
_FILE_PATTERN = re.compile(r"^subject10(\d)\.dat$")
DOWNSAMPLE = 3  # 100 Hz -> 33.3 Hz, the official "33 Hz"


def _parse(raw, verbose):
    files = sorted((int(m[1]), path) for path in raw.iterdir() if (m := _FILE_PATTERN.match(path.name)))
    label_of_activity = {activity: index for index, activity in enumerate(ACTIVITIES)}
    recordings = []
    for subject, path in tqdm(files, desc=f"Parsing {NAME}", disable=not verbose):
        table = _loading.read_table(path, columns=54, name=NAME)
        activity = table[:, _LABEL_COLUMN]
        unknown = sorted(set(np.unique(activity[np.isfinite(activity)]).astype(int).tolist())
                         - set(ACTIVITIES) - {0})
        if unknown or not np.isfinite(activity).all():
            raise ValueError(
                f"{NAME}: {path} has activity ids {unknown or 'NaN'}; expected 0 or one of {list(ACTIVITIES)}."
            )
        # As the reference: missing samples (NaN, dropped wireless packets)
        # are filled by linear interpolation along time, extended flat at
        # either end.
        signal = pd.DataFrame(table[:, _SIGNAL_COLUMNS]).interpolate(method="linear", limit_direction="both")
        signal = signal.to_numpy(dtype=np.float64)
        if np.isnan(signal).any():
            column = CHANNEL_NAMES[int(np.argwhere(np.isnan(signal))[0][1])]
            raise ValueError(f"{NAME}: {path}: channel {column} has no value at all to interpolate from.")
        labels = np.array([label_of_activity.get(int(a), -1) for a in activity], dtype=np.int64)
        recordings.append(
            Recording(signal[::DOWNSAMPLE].astype(np.float32), labels[::DOWNSAMPLE], subject, path.name)
        )
    return recordings


SPEC = _loading.DatasetSpec(
    name=NAME, raw_dir="PAMAP2_Dataset/Protocol", sampling_rate_hz=33.0, window_sec=4.0,
    class_names=CLASS_NAMES, channel_names=CHANNEL_NAMES, parse=_parse, remote=REMOTE,
)


def load_pamap2(*, data_home=None, download_if_missing=True, window_sec=None, step_sec=None, cache=True,
                cache_dir=None, verbose=True):
    """Loads PAMAP2 (Protocol) as 4 s windows of 18 channels at 33 Hz.

    Follows the official `dataloader_PAMAP_har.py`: the nine
    `Protocol/subject10N.dat` files (subject N), acc (±16 g) and gyro x/y/z of
    the hand, chest and ankle IMUs (18 channels), NaN samples filled by
    linear interpolation per file, every third sample kept (100 Hz to 33.3 Hz,
    treated as 33 Hz so a 4 s window is 132 samples), 12 classes; activity 0
    ("other") is unlabelled and windows that are mostly "other" are dropped.
    Each subject file is one recording.

    Difference from the reference: it keeps every third row of all subjects
    concatenated (so where a subject starts depends on the lengths of the
    files before it); here every file starts at its own first row.

    Args:
        data_home: folder holding `pamap2/PAMAP2_Dataset/Protocol/`.
        download_if_missing: download the UCI archive if missing.
        window_sec: window length in seconds (default 4.0, 132 samples).
        step_sec: step between windows in seconds (default half a window).
        cache: keep the parsed recordings in an `.npz` cache.
        cache_dir: where to cache; see `keras_har.datasets.load_hapt`.
        verbose: show progress while parsing.

    Returns:
        A `keras_har.datasets.HARDataset`.

    Example:
        >>> import keras_har
        >>> data = keras_har.datasets.load_pamap2(data_home="/data/har")  # doctest: +SKIP
        >>> data.X.shape[1:], data.num_classes  # doctest: +SKIP
        ((132, 18), 12)
    """
    return _loading.load(
        SPEC, data_home=data_home, download_if_missing=download_if_missing, window_sec=window_sec,
        step_sec=step_sec, cache=cache, cache_dir=cache_dir, verbose=verbose,
    )
