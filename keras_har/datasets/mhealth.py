"""MHEALTH: mobile health body-sensor recordings of 10 volunteers.

Banos, Garcia, Holgado-Terriza, Damas, Pomares, Rojas, Saez, Villalonga.
mHealthDroid: a novel framework for agile development of mobile health
applications. IWAAL 2014.
"""

import re

import numpy as np
from tqdm.auto import tqdm

from keras_har.datasets import _loading
from keras_har.datasets.download import RemoteFileMetadata
from keras_har.datasets.windows import Recording

NAME = "mhealth"
# The UCI archive; its sha256 could not be checked offline.
REMOTE = RemoteFileMetadata(
    filename="MHEALTHDATASET.zip",
    url="https://archive.ics.uci.edu/ml/machine-learning-databases/00319/MHEALTHDATASET.zip",
    sha256=None,
)
CLASS_NAMES = (
    "Standing still", "Sitting and relaxing", "Lying down", "Walking", "Climbing stairs",
    "Waist bends forward", "Frontal elevation of arms", "Knees bending (crouching)", "Cycling",
    "Jogging", "Running", "Jump front & back",
)
# The 23 signal columns of the README, in file order.
CHANNEL_NAMES = (
    "acc_x_chest", "acc_y_chest", "acc_z_chest", "ecg_lead1", "ecg_lead2",
    "acc_x_ankle", "acc_y_ankle", "acc_z_ankle", "gyro_x_ankle", "gyro_y_ankle", "gyro_z_ankle",
    "mag_x_ankle", "mag_y_ankle", "mag_z_ankle",
    "acc_x_arm", "acc_y_arm", "acc_z_arm", "gyro_x_arm", "gyro_y_arm", "gyro_z_arm",
    "mag_x_arm", "mag_y_arm", "mag_z_arm",
)
_FILE_PATTERN = re.compile(r"^mHealth_subject(\d+)\.log$")


def _parse(raw, verbose):
    files = sorted((int(m[1]), path) for path in raw.iterdir() if (m := _FILE_PATTERN.match(path.name)))
    recordings = []
    for subject, path in tqdm(files, desc=f"Parsing {NAME}", disable=not verbose):
        table = _loading.read_table(path, columns=len(CHANNEL_NAMES) + 1, name=NAME)
        _loading.check_finite(table, path, NAME)
        activity = table[:, -1].astype(np.int64)
        if len(activity) and (activity.min() < 0 or activity.max() > len(CLASS_NAMES)):
            raise ValueError(
                f"{NAME}: {path} has activity labels outside 0..12. "
                f"Received: min={activity.min()}, max={activity.max()}"
            )
        # Activity 0 is the null class: unlabelled here.
        recordings.append(Recording(table[:, :-1].astype(np.float32), activity - 1, subject, path.name))
    return recordings


SPEC = _loading.DatasetSpec(
    name=NAME, raw_dir="MHEALTHDATASET", sampling_rate_hz=50.0, window_sec=4.0,
    class_names=CLASS_NAMES, channel_names=CHANNEL_NAMES, parse=_parse, remote=REMOTE,
)


def load_mhealth(*, data_home=None, download_if_missing=True, window_sec=None, step_sec=None, cache=True,
                 cache_dir=None, verbose=True):
    """Loads MHEALTH as 4 s windows of all 23 channels at 50 Hz.

    The official MHEALTH loader is published only as a compiled `.pyc`; this
    follows its configuration (`configs/data.yaml`: 50 Hz, 23 channels, 12
    classes), the paper's 5 folds of 2 subjects, and the pattern of the other
    official loaders: each `mHealth_subjectN.log` (tab-separated, 23 signals
    then the label) is one recording of subject N, label 0 (null) is
    unlabelled and windows that are mostly null are dropped.

    Difference from the reference: a NaN or infinite sample raises (the
    original files have none).

    Args:
        data_home: folder holding `mhealth/MHEALTHDATASET/`.
        download_if_missing: download the UCI archive if missing.
        window_sec: window length in seconds (default 4.0, 200 samples).
        step_sec: step between windows in seconds (default half a window).
        cache: keep the parsed recordings in an `.npz` cache.
        cache_dir: where to cache; see `keras_har.datasets.load_hapt`.
        verbose: show progress while parsing.

    Returns:
        A `keras_har.datasets.HARDataset`.

    Example:
        >>> import keras_har
        >>> data = keras_har.datasets.load_mhealth(data_home="/data/har")  # doctest: +SKIP
        >>> data.X.shape[1:], data.num_classes  # doctest: +SKIP
        ((200, 23), 12)
    """
    return _loading.load(
        SPEC, data_home=data_home, download_if_missing=download_if_missing, window_sec=window_sec,
        step_sec=step_sec, cache=cache, cache_dir=cache_dir, verbose=verbose,
    )
