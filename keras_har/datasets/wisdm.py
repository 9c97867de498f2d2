"""WISDM v1.1: phone accelerometer in the front pocket, 36 users.

Kwapisz, Weiss, Moore. Activity Recognition using Cell Phone Accelerometers.
SIGKDD Explorations 12(2), 2010.
"""

import numpy as np
from tqdm.auto import tqdm

from keras_har.datasets import _loading
from keras_har.datasets.download import RemoteFileMetadata
from keras_har.datasets.windows import Recording

NAME = "wisdm"
# The WISDM lab's archive; its sha256 could not be checked offline.
REMOTE = RemoteFileMetadata(
    filename="WISDM_ar_latest.tar.gz",
    url="https://www.cis.fordham.edu/wisdm/includes/datasets/latest/WISDM_ar_latest.tar.gz",
    sha256=None,
)
CLASS_NAMES = ("Walking", "Jogging", "Sitting", "Standing", "Upstairs", "Downstairs")
CHANNEL_NAMES = ("acc_x", "acc_y", "acc_z")
RAW_FILE = "WISDM_ar_v1.1_raw.txt"


def _parse_records(path):
    """Yields `(line_number, user, activity, x, y, z)`; NaN for an empty value.

    Records end with ';'. The original file has a few lines that hold two
    records, records with an empty or missing last value, and trailing
    commas; the official code reads a hand-repaired copy of it. Here records
    are split on ';' and new lines, and a record whose values are empty
    yields NaN, which the caller drops as the reference's `dropna` does.
    Anything else that is not a user, a known activity and three numbers is
    an error naming the line.
    """
    with open(path, encoding="utf-8", errors="replace") as file:
        for line_number, line in enumerate(file, start=1):
            for record in line.split(";"):
                record = record.strip()
                if not record:
                    continue
                fields = [field.strip() for field in record.split(",")]
                while len(fields) > 6 and fields[-1] == "":
                    fields.pop()
                if len(fields) < 6:
                    fields += [""] * (6 - len(fields))
                if len(fields) != 6 or fields[1] not in CLASS_NAMES:
                    raise ValueError(
                        f"{NAME}: {path} line {line_number}: expected 'user,activity,timestamp,x,y,z;' with "
                        f"an activity in {CLASS_NAMES}. Received: {record!r}"
                    )
                try:
                    user = int(fields[0])
                    values = [float(field) if field else np.nan for field in fields[3:]]
                except ValueError as error:
                    raise ValueError(
                        f"{NAME}: {path} line {line_number}: a user id or acceleration is not a number. "
                        f"Received: {record!r}"
                    ) from error
                yield line_number, user, CLASS_NAMES.index(fields[1]), *values


def _parse(raw, verbose):
    path = raw / RAW_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{NAME}: file not found: {path}")
    rows = np.array(
        [row[1:] for row in tqdm(_parse_records(path), desc=f"Parsing {NAME}", unit=" rows", disable=not verbose)],
        dtype=np.float64,
    ).reshape(-1, 5)
    rows = rows[np.isfinite(rows[:, 2:]).all(axis=1)]  # the reference's dropna()
    users = rows[:, 0].astype(np.int64)
    # The reference's recordings: runs of consecutive rows of one user.
    starts = np.flatnonzero(np.concatenate([[True], users[1:] != users[:-1]]))
    ends = np.concatenate([starts[1:], [len(rows)]])
    return [
        Recording(rows[a:b, 2:].astype(np.float32), rows[a:b, 1].astype(np.int64), int(users[a]), RAW_FILE)
        for a, b in zip(starts, ends)
    ]


SPEC = _loading.DatasetSpec(
    name=NAME, raw_dir="WISDM_ar_v1.1", sampling_rate_hz=20.0, window_sec=4.0,
    class_names=CLASS_NAMES, channel_names=CHANNEL_NAMES, parse=_parse, remote=REMOTE,
)


def load_wisdm(*, data_home=None, download_if_missing=True, window_sec=None, step_sec=None, cache=True,
               cache_dir=None, verbose=True):
    """Loads WISDM v1.1 as 4 s windows of 20 Hz 3-axis acceleration.

    Follows the official `dataloader_WISDM_har.py`: `WISDM_ar_v1.1_raw.txt`,
    channels x/y/z (timestamps ignored, as there), 6 classes in the order
    Walking, Jogging, Sitting, Standing, Upstairs, Downstairs, 36 users. A
    recording is a run of consecutive rows of one user; rows with a missing
    value are dropped. The window's label is the most frequent row label, and
    windows may span a change of activity inside one user's run, as in the
    reference (its `drop_transition=False`).

    The official `datasets/readme.md` links UCI dataset 507 (the 2019
    smartphone and smartwatch WISDM), but its loader reads the v1.1 file and
    its folds cover users 1 to 36, which is v1.1; so this loads v1.1.

    Difference from the reference: the reference reads a hand-repaired copy
    of the raw file that is not published; this loader repairs the original
    while reading (see `_parse_records`), so row counts can differ slightly.

    Args:
        data_home: folder holding `wisdm/WISDM_ar_v1.1/WISDM_ar_v1.1_raw.txt`.
        download_if_missing: download the lab's archive if missing.
        window_sec: window length in seconds (default 4.0, 80 samples).
        step_sec: step between windows in seconds (default half a window).
        cache: keep the parsed recordings in an `.npz` cache.
        cache_dir: where to cache; see `keras_har.datasets.load_hapt`.
        verbose: show progress while parsing.

    Returns:
        A `keras_har.datasets.HARDataset`.

    Example:
        >>> import keras_har
        >>> data = keras_har.datasets.load_wisdm(data_home="/data/har")  # doctest: +SKIP
        >>> data.X.shape[1:]  # doctest: +SKIP
        (80, 3)
    """
    return _loading.load(
        SPEC, data_home=data_home, download_if_missing=download_if_missing, window_sec=window_sec,
        step_sec=step_sec, cache=cache, cache_dir=cache_dir, verbose=verbose,
    )
