"""HAPT (SBHAR v2.1): smartphone raw signals with postural transitions.

Reyes-Ortiz, Oneto, Samà, Parra, Anguita. Transition-Aware Human Activity
Recognition Using Smartphones. Neurocomputing 171 (2016) 754-767.
"""

import re

import numpy as np
from tqdm.auto import tqdm

from keras_har.datasets import _loading
from keras_har.datasets.download import RemoteFileMetadata
from keras_har.datasets.windows import Recording

NAME = "hapt"
# The UCI archive; its sha256 could not be checked offline, so only the
# transfer's completeness is verified.
REMOTE = RemoteFileMetadata(
    filename="HAPT Data Set.zip",
    url="https://archive.ics.uci.edu/ml/machine-learning-databases/00341/HAPT%20Data%20Set.zip",
    sha256=None,
)
CLASS_NAMES = (
    "WALKING", "WALKING_UPSTAIRS", "WALKING_DOWNSTAIRS", "SITTING", "STANDING", "LAYING",
    "STAND_TO_SIT", "SIT_TO_STAND", "SIT_TO_LIE", "LIE_TO_SIT", "STAND_TO_LIE", "LIE_TO_STAND",
)
CHANNEL_NAMES = ("acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z")
_FILE_PATTERN = re.compile(r"^acc_exp(\d+)_user(\d+)\.txt(\.gz)?$")


def _signal_file(raw, stem):
    for suffix in (".txt", ".txt.gz"):
        if (raw / (stem + suffix)).is_file():
            return raw / (stem + suffix)
    raise FileNotFoundError(f"{NAME}: file not found: {raw / (stem + '.txt')} (nor .txt.gz)")


def _parse(raw, verbose):
    labels_path = raw / "labels.txt"
    segments = _loading.read_table(labels_path, columns=5, name=NAME).astype(np.int64)
    if not len(segments):
        raise ValueError(
            f"{NAME}: {labels_path} holds no segments; expected one line 'experiment user activity start end' "
            f"per labelled segment (1,214 in the original). Received: rows=0"
        )
    if not np.isin(segments[:, 2], np.arange(1, 13)).all():
        bad = segments[~np.isin(segments[:, 2], np.arange(1, 13)), 2][0]
        raise ValueError(f"{NAME}: {labels_path} has activity {bad}; expected 1 to 12. Received: activity={bad}")
    experiments = sorted(
        (int(match[2]), int(match[1]))
        for match in (_FILE_PATTERN.match(path.name) for path in raw.iterdir())
        if match
    )
    # A segment whose recording is missing means an incomplete copy (deleted
    # or never unpacked files): refuse rather than train on fewer windows.
    labelled = sorted({(int(user), int(experiment)) for experiment, user in segments[:, :2]})
    missing = [
        f"{kind}_exp{experiment:02d}_user{user:02d}.txt"
        for user, experiment in labelled if (user, experiment) not in set(experiments)
        for kind in ("acc", "gyro")
    ]
    if missing:
        shown = ", ".join(missing[:6]) + (f" and {len(missing) - 6} more" if len(missing) > 6 else "")
        raise FileNotFoundError(
            f"{NAME}: the dataset is incomplete: {labels_path} labels segments of "
            f"{len(missing) // 2} experiment(s) whose signal files are missing from {raw}: {shown} "
            f"(plain or .gz). Restore them (or download the dataset again into an empty folder). "
            f"Received: missing={missing[:6]}"
        )
    recordings = []
    for user, experiment in tqdm(experiments, desc=f"Parsing {NAME}", disable=not verbose):
        stem = f"exp{experiment:02d}_user{user:02d}"
        acc_path, gyro_path = _signal_file(raw, "acc_" + stem), _signal_file(raw, "gyro_" + stem)
        acc = _loading.read_table(acc_path, columns=3, name=NAME)
        gyro = _loading.read_table(gyro_path, columns=3, name=NAME)
        if len(acc) != len(gyro):
            raise ValueError(
                f"{NAME}: {acc_path} has {len(acc)} rows but {gyro_path} has {len(gyro)}; "
                f"a truncated file? Received: rows={len(acc)}, {len(gyro)}"
            )
        signal = np.concatenate([acc, gyro], axis=1)
        _loading.check_finite(signal, acc_path if not np.isfinite(acc).all() else gyro_path, NAME)
        labels = np.full(len(signal), -1, dtype=np.int64)
        mine = segments[(segments[:, 0] == experiment) & (segments[:, 1] == user)]
        for _, _, activity, start, end in mine:
            if end >= len(signal) or start > end:
                raise ValueError(
                    f"{NAME}: {labels_path} segment {start}-{end} of experiment {experiment} "
                    f"does not fit its {len(signal)} samples. Received: start={start}, end={end}"
                )
            # As the official loader: `start` used as a 0-based row, `end` inclusive.
            labels[start:end + 1] = activity - 1
        recordings.append(Recording(signal.astype(np.float32), labels, user, acc_path.name))
    return recordings


SPEC = _loading.DatasetSpec(
    name=NAME, raw_dir="HAPT Data Set/RawData", sampling_rate_hz=50.0, window_sec=4.0,
    class_names=CLASS_NAMES, channel_names=CHANNEL_NAMES, parse=_parse, remote=REMOTE,
)


def load_hapt(*, data_home=None, download_if_missing=True, window_sec=None, step_sec=None, cache=True,
              cache_dir=None, verbose=True):
    """Loads HAPT as 4 s windows of raw 50 Hz accelerometer and gyroscope.

    Follows the official TinierHAR `dataloader_HAPT_har.py`: the 61 raw
    recordings (`RawData/acc_expXX_userYY.txt` beside `gyro_...`, plain or
    `.gz`), 6 channels (acc x/y/z in g, gyro x/y/z in rad/s), the 12 classes of
    `labels.txt` (the 6 UCI HAR activities then the 6 postural transitions).
    A segment `start end` of `labels.txt` labels rows `start..end` inclusive,
    counting from 0 as the official loader does (the README does not say; one
    sample off at each end either way). Samples outside every segment are
    unlabelled: a window whose most frequent label is "unlabelled" is dropped,
    as the official loader drops its null class. Windows never cross two
    recordings; subjects are the 30 volunteers (`userYY`).

    Differences from the reference: a NaN or infinite sample raises (the
    reference has no rule; the original files have none).

    Args:
        data_home: folder holding `hapt/HAPT Data Set/RawData/`; see
            `keras_har.datasets.get_data_home`.
        download_if_missing: download the UCI archive if the files are missing.
        window_sec: window length in seconds (default 4.0, 200 samples).
        step_sec: step between windows in seconds (default half a window).
        cache: keep the parsed recordings in an `.npz` cache.
        cache_dir: where to cache (default `$KERAS_HAR_CACHE`, else
            `<data_home>/hapt/keras_har_cache`, else `~/.cache/keras_har`).
        verbose: show progress while parsing.

    Returns:
        A `keras_har.datasets.HARDataset`.

    Example:
        >>> import keras_har
        >>> data = keras_har.datasets.load_hapt(data_home="/data/har")  # doctest: +SKIP
        >>> data.X.shape[1:], data.num_classes  # doctest: +SKIP
        ((200, 6), 12)
    """
    return _loading.load(
        SPEC, data_home=data_home, download_if_missing=download_if_missing, window_sec=window_sec,
        step_sec=step_sec, cache=cache, cache_dir=cache_dir, verbose=verbose,
    )
