"""USC-HAD: the USC human activity dataset.

Zhang, Sawchuk. USC-HAD: A Daily Activity Dataset for Ubiquitous Activity
Recognition Using Wearable Sensors. UbiComp 2012 (SAGAware), 1036-1043.
"""

import re

import numpy as np
import scipy.io
from tqdm.auto import tqdm

from keras_har.datasets import _loading
from keras_har.datasets.download import RemoteFileMetadata
from keras_har.datasets.windows import Recording

NAME = "usc_had"
# The authors' archive; its sha256 could not be checked offline.
REMOTE = RemoteFileMetadata(filename="USC-HAD.zip", url="https://sipi.usc.edu/had/USC-HAD.zip", sha256=None)
CLASS_NAMES = (
    "Walking Forward", "Walking Left", "Walking Right", "Walking Upstairs", "Walking Downstairs",
    "Running Forward", "Jumping Up", "Sitting", "Standing", "Sleeping", "Elevator Up", "Elevator Down",
)
CHANNEL_NAMES = ("acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z")
_SUBJECT_PATTERN = re.compile(r"^Subject(\d+)$")
_TRIAL_PATTERN = re.compile(r"^a(\d+)t(\d+)\.mat$")


def _parse(raw, verbose):
    trials = []
    for folder in raw.iterdir():
        subject = _SUBJECT_PATTERN.match(folder.name)
        if not (subject and folder.is_dir()):
            continue
        for path in folder.iterdir():
            trial = _TRIAL_PATTERN.match(path.name)
            if trial:
                trials.append((int(subject[1]), int(trial[1]), int(trial[2]), path))
    recordings = []
    for subject, activity, _, path in tqdm(sorted(trials), desc=f"Parsing {NAME}", disable=not verbose):
        if not 1 <= activity <= len(CLASS_NAMES):
            raise ValueError(
                f"{NAME}: {path} names activity {activity}; expected a1 to a12. Received: activity={activity}"
            )
        try:
            content = scipy.io.loadmat(path, variable_names=["sensor_readings"])
        except Exception as error:  # scipy raises several types for a damaged file
            raise ValueError(f"{NAME}: cannot read {path} as a MATLAB file: {error!r}") from error
        if "sensor_readings" not in content:
            raise ValueError(f"{NAME}: {path} has no `sensor_readings` field.")
        signal = np.asarray(content["sensor_readings"], dtype=np.float64)
        if signal.ndim != 2 or signal.shape[1] != len(CHANNEL_NAMES):
            raise ValueError(
                f"{NAME}: {path}: `sensor_readings` must have shape (N, 6). Received: shape={signal.shape}"
            )
        _loading.check_finite(signal, path, NAME)
        # The label comes from the file name: some files' `activity_number`
        # field is wrong or misspelt (Subject14/a3t2.mat says 2).
        labels = np.full(len(signal), activity - 1, dtype=np.int64)
        recordings.append(Recording(signal.astype(np.float32), labels, subject, str(path)))
    return recordings


SPEC = _loading.DatasetSpec(
    name=NAME, raw_dir="USC-HAD", sampling_rate_hz=100.0, window_sec=4.0,
    class_names=CLASS_NAMES, channel_names=CHANNEL_NAMES, parse=_parse, remote=REMOTE,
)


def load_usc_had(*, data_home=None, download_if_missing=True, window_sec=None, step_sec=None, cache=True,
                 cache_dir=None, verbose=True):
    """Loads USC-HAD as 4 s windows of 100 Hz accelerometer and gyroscope.

    Follows the official `dataloader_USCHAD_har.py`: every trial
    `USC-HAD/SubjectS/aAtT.mat` is one recording of `sensor_readings`
    (acc x/y/z in g, gyro x/y/z in deg/s), 12 classes, 14 subjects. The label
    is taken from the file name (`aA`), not from the file's fields, which are
    wrong in a few files. No class is dropped and every sample is labelled.

    Differences from the reference: a NaN or infinite sample raises (the
    reference has no rule; the original files have none).

    Args:
        data_home: folder holding `usc_had/USC-HAD/Subject1/...`.
        download_if_missing: download the authors' archive if missing.
        window_sec: window length in seconds (default 4.0, 400 samples).
        step_sec: step between windows in seconds (default half a window).
        cache: keep the parsed recordings in an `.npz` cache.
        cache_dir: where to cache; see `keras_har.datasets.load_hapt`.
        verbose: show progress while parsing.

    Returns:
        A `keras_har.datasets.HARDataset`.

    Example:
        >>> import keras_har
        >>> data = keras_har.datasets.load_usc_had(data_home="/data/har")  # doctest: +SKIP
        >>> data.X.shape[1:], data.num_classes  # doctest: +SKIP
        ((400, 6), 12)
    """
    return _loading.load(
        SPEC, data_home=data_home, download_if_missing=download_if_missing, window_sec=window_sec,
        step_sec=step_sec, cache=cache, cache_dir=cache_dir, verbose=verbose,
    )
