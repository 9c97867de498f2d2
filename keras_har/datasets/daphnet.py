"""Daphnet freezing of gait: three accelerometers on Parkinson's patients.

Bächlin, Plotnik, Roggen, Maidan, Hausdorff, Giladi, Tröster. Wearable
Assistant for Parkinson's Disease Patients With the Freezing of Gait Symptom.
IEEE TITB 14(2), 2010.
"""

import re

import numpy as np
from tqdm.auto import tqdm

from keras_har.datasets import _loading
from keras_har.datasets.download import RemoteFileMetadata
from keras_har.datasets.windows import Recording

NAME = "daphnet"
# The UCI archive; its sha256 could not be checked offline.
REMOTE = RemoteFileMetadata(
    filename="dataset_fog_release.zip",
    url="https://archive.ics.uci.edu/ml/machine-learning-databases/00245/dataset_fog_release.zip",
    sha256=None,
)
CLASS_NAMES = ("No freeze", "Freeze")
CHANNEL_NAMES = (
    "acc_x_ankle", "acc_y_ankle", "acc_z_ankle",
    "acc_x_leg", "acc_y_leg", "acc_z_leg",
    "acc_x_trunk", "acc_y_trunk", "acc_z_trunk",
)
_FILE_PATTERN = re.compile(r"^S(\d+)R(\d+)\.txt$")


def _parse(raw, verbose):
    files = sorted(
        (int(m[1]), int(m[2]), path) for path in raw.iterdir() if (m := _FILE_PATTERN.match(path.name))
    )
    recordings = []
    for subject, _, path in tqdm(files, desc=f"Parsing {NAME}", disable=not verbose):
        table = _loading.read_table(path, columns=11, name=NAME)
        _loading.check_finite(table, path, NAME)
        annotation = table[:, 10].astype(np.int64)
        if not np.isin(annotation, (0, 1, 2)).all():
            bad = annotation[~np.isin(annotation, (0, 1, 2))][0]
            raise ValueError(f"{NAME}: {path} has annotation {bad}; expected 0, 1 or 2. Received: annotation={bad}")
        # Annotation 0 ("not part of the experiment") is unlabelled.
        recordings.append(Recording(table[:, 1:10].astype(np.float32), annotation - 1, subject, path.name))
    return recordings


SPEC = _loading.DatasetSpec(
    name=NAME, raw_dir="dataset_fog_release/dataset", sampling_rate_hz=64.0, window_sec=4.0,
    class_names=CLASS_NAMES, channel_names=CHANNEL_NAMES, parse=_parse, remote=REMOTE,
)


def load_daphnet(*, data_home=None, download_if_missing=True, window_sec=None, step_sec=None, cache=True,
                 cache_dir=None, verbose=True):
    """Loads Daphnet FoG as 4 s windows of 9 acceleration channels at 64 Hz.

    Follows the official `dataloader_DG_har.py`: the 17 files
    `dataset_fog_release/dataset/SxxRyy.txt` (subject xx, run yy; each file
    one recording), the ankle, thigh and trunk accelerometers (9 channels,
    mg; the time column is dropped), 2 classes: annotation 1 ("no freeze")
    and 2 ("freeze"); annotation 0 (not part of the experiment) is
    unlabelled and windows that are mostly 0 are dropped. 10 subjects.

    Difference from the reference: a NaN or infinite sample raises (the
    original files have none).

    Args:
        data_home: folder holding `daphnet/dataset_fog_release/dataset/`.
        download_if_missing: download the UCI archive if missing.
        window_sec: window length in seconds (default 4.0, 256 samples).
        step_sec: step between windows in seconds (default half a window).
        cache: keep the parsed recordings in an `.npz` cache.
        cache_dir: where to cache; see `keras_har.datasets.load_hapt`.
        verbose: show progress while parsing.

    Returns:
        A `keras_har.datasets.HARDataset`.

    Example:
        >>> import keras_har
        >>> data = keras_har.datasets.load_daphnet(data_home="/data/har")  # doctest: +SKIP
        >>> data.X.shape[1:], data.num_classes  # doctest: +SKIP
        ((256, 9), 2)
    """
    return _loading.load(
        SPEC, data_home=data_home, download_if_missing=download_if_missing, window_sec=window_sec,
        step_sec=step_sec, cache=cache, cache_dir=cache_dir, verbose=verbose,
    )
