"""MotionSense: iPhone 6s Device Motion in the front trouser pocket.

Malekzadeh, Clegg, Cavallaro, Haddadi. Mobile Sensor Data Anonymization.
IoTDI 2019.
"""

import re

import numpy as np
from tqdm.auto import tqdm

from keras_har.datasets import _loading
from keras_har.datasets.download import RemoteFileMetadata
from keras_har.datasets.windows import Recording

NAME = "motionsense"
# The authors' GitHub copy; its sha256 could not be checked offline.
REMOTE = RemoteFileMetadata(
    filename="A_DeviceMotion_data.zip",
    url="https://github.com/mmalekzadeh/motion-sense/raw/master/data/A_DeviceMotion_data.zip",
    sha256=None,
)
# Official label order and file codes.
CLASS_CODES = ("dws", "ups", "sit", "std", "wlk", "jog")
CLASS_NAMES = ("downstairs", "upstairs", "sitting", "standing", "walking", "jogging")
TRIALS = {"dws": (1, 2, 11), "ups": (3, 4, 12), "wlk": (7, 8, 15), "jog": (9, 16), "sit": (5, 13), "std": (6, 14)}
CHANNEL_NAMES = (
    "attitude.roll", "attitude.pitch", "attitude.yaw", "gravity.x", "gravity.y", "gravity.z",
    "rotationRate.x", "rotationRate.y", "rotationRate.z",
    "userAcceleration.x", "userAcceleration.y", "userAcceleration.z",
)


_FOLDER_PATTERN = re.compile(r"^(dws|ups|wlk|jog|sit|std)_(\d+)$")
_FILE_PATTERN = re.compile(r"^sub_(\d+)\.csv$")


def _parse(raw, verbose):
    jobs = []
    for folder in raw.iterdir():
        trial = _FOLDER_PATTERN.match(folder.name)
        if not (trial and folder.is_dir() and int(trial[2]) in TRIALS[trial[1]]):
            continue
        for path in folder.iterdir():
            subject = _FILE_PATTERN.match(path.name)
            if subject:
                jobs.append((int(subject[1]), CLASS_CODES.index(trial[1]), int(trial[2]), path))
    recordings = []
    for subject, label, _, path in tqdm(sorted(jobs), desc=f"Parsing {NAME}", disable=not verbose):
        with open(path) as file:
            header = [name.strip().strip('"') for name in file.readline().strip().split(",")]
        if tuple(header[1:]) != CHANNEL_NAMES:
            raise ValueError(
                f"{NAME}: {path}: expected the header ',{','.join(CHANNEL_NAMES)}'. Received: {header}"
            )
        table = _loading.read_table(path, columns=len(CHANNEL_NAMES), delimiter=",", skiprows=1,
                                    usecols=range(1, 13), name=NAME)
        _loading.check_finite(table, path, NAME)
        labels = np.full(len(table), label, dtype=np.int64)
        recordings.append(Recording(table.astype(np.float32), labels, subject, str(path)))
    return recordings


SPEC = _loading.DatasetSpec(
    name=NAME, raw_dir="A_DeviceMotion_data", sampling_rate_hz=50.0, window_sec=4.0,
    class_names=CLASS_NAMES, channel_names=CHANNEL_NAMES, parse=_parse, remote=REMOTE,
)


def load_motionsense(*, data_home=None, download_if_missing=True, window_sec=None, step_sec=None, cache=True,
                     cache_dir=None, verbose=True):
    """Loads MotionSense (Device Motion) as 4 s windows of 12 channels at 50 Hz.

    Follows the official `dataloader_MOTIONSENSE_har.py`: the
    `A_DeviceMotion_data/<activity>_<trial>/sub_<n>.csv` files (24 subjects)
    of the official trial codes (other folders are ignored), all 12 columns (attitude, gravity,
    rotation rate, user acceleration), 6 classes in the order downstairs,
    upstairs, sitting, standing, walking, jogging. Each file is one recording
    with one label.

    Args:
        data_home: folder holding `motionsense/A_DeviceMotion_data/`.
        download_if_missing: download the authors' archive if missing.
        window_sec: window length in seconds (default 4.0, 200 samples).
        step_sec: step between windows in seconds (default half a window).
        cache: keep the parsed recordings in an `.npz` cache.
        cache_dir: where to cache; see `keras_har.datasets.load_hapt`.
        verbose: show progress while parsing.

    Returns:
        A `keras_har.datasets.HARDataset`.

    Example:
        >>> import keras_har
        >>> data = keras_har.datasets.load_motionsense(data_home="/data/har")  # doctest: +SKIP
        >>> data.X.shape[1:]  # doctest: +SKIP
        (200, 12)
    """
    return _loading.load(
        SPEC, data_home=data_home, download_if_missing=download_if_missing, window_sec=window_sec,
        step_sec=step_sec, cache=cache, cache_dir=cache_dir, verbose=verbose,
    )
