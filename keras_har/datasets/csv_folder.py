"""Your own recordings: a folder of CSV files and one small metadata file.

The layout is the one a phone app or a data logger already produces: one CSV
file per recording, one row per sample, one column per channel, plus a label
column, and the file named after the person who wore the sensor::

    my_recordings/
        dataset.json                 # sampling rate, channel names, class names
        alice_morning.csv            # subject "alice", recording "morning"
        alice_evening.csv
        bob_1.csv
        ...

    dataset.json:
        {"sampling_rate_hz": 50,
         "channel_names": ["acc_x", "acc_y", "acc_z"],
         "class_names": ["sitting", "walking", "running"]}

    alice_morning.csv:
        timestamp,acc_x,acc_y,acc_z,label
        0.00,0.01,-0.98,0.12,sitting
        0.02,0.02,-0.97,0.11,sitting
        ...

Why this layout: every logger writes CSV with a header; a recording is the
unit that is exported (windows must never cross from one recording into the
next); the subject is usually only known from who was recorded, so it goes
into the file name (`SUBJECT_RECORDING.csv`, the part before the first
underscore) or, if the export has one, a `subject` column. What pandas
cannot infer from the files (the rate, which columns are channels, the class
order that fixes label indices) is written once in `dataset.json`; other
columns (timestamps) are ignored.

- Labels are class names from `class_names` (their index there is the
  label); an empty cell marks an unlabelled sample, and a window whose
  samples are mostly unlabelled is dropped, as for the built-in datasets.
  Numeric codes work by listing them as names: `"class_names": ["1", "2"]`.
- Subject ids: names that are all integers are used as they are; other
  names are numbered 1..S in sorted order, and the names are kept in
  `HARDataset.subject_names`.
- Data without subjects: put the recordings in `train/` and `test/`
  sub-folders instead; the windows get `HARDataset.test_mask` and
  `keras_har.evaluation.cross_validate` uses the split (`protocol="split"`).
- Optional keys in `dataset.json`: `window_sec` and `step_sec` (defaults
  4 s and half a window), `label_column` (default `"label"`) and
  `subject_column` (default `"subject"`).
"""

import json
import pathlib

import numpy as np

from keras_har.datasets import windows
from keras_har.datasets.base import HARDataset

METADATA_FILE = "dataset.json"
DEFAULT_WINDOW_SEC = 4.0
SPLITS = ("train", "test")


def is_csv_folder(path):
    """True when `path` is a folder with a `dataset.json`, or that file itself."""
    try:
        path = pathlib.Path(path)
    except TypeError:
        return False
    return (path.is_dir() and (path / METADATA_FILE).is_file()) or (path.name == METADATA_FILE and path.is_file())


def _metadata(folder):
    path = folder / METADATA_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{folder} has no {METADATA_FILE}; a folder of CSV recordings needs one with 'sampling_rate_hz', "
            f"'channel_names' and 'class_names' (see keras_har.datasets.load_csv_folder). Received: path={str(folder)!r}"
        )
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not valid JSON: {error}. Received: path={str(path)!r}") from error
    missing = [key for key in ("sampling_rate_hz", "channel_names", "class_names") if key not in metadata]
    if missing:
        raise ValueError(f"{path} must give {missing}. Received: keys={sorted(metadata)}")
    rate = metadata["sampling_rate_hz"]
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or rate <= 0:
        raise ValueError(f"{path}: 'sampling_rate_hz' must be a positive number. Received: sampling_rate_hz={rate!r}")
    for key in ("channel_names", "class_names"):
        names = metadata[key]
        if not isinstance(names, list) or not names or len(set(map(str, names))) != len(names):
            raise ValueError(f"{path}: {key!r} must be a non-empty list of distinct names. Received: {key}={names!r}")
    return metadata


def _recording_files(folder):
    """`[(path, split or None)]`: the CSV files at the top, or in train/ and test/."""
    top = sorted(folder.glob("*.csv"))
    split_dirs = [folder / split for split in SPLITS if (folder / split).is_dir()]
    if split_dirs and top:
        raise ValueError(
            f"{folder} has CSV files both at the top and in {[d.name for d in split_dirs]}/; use one layout. "
            f"Received: path={str(folder)!r}"
        )
    if split_dirs:
        if len(split_dirs) != 2:
            raise ValueError(f"{folder}: a predefined split needs both train/ and test/ folders. "
                             f"Received: folders={[d.name for d in split_dirs]}")
        files = [(path, split) for split in SPLITS for path in sorted((folder / split).glob("*.csv"))]
    else:
        files = [(path, None) for path in top]
    if not files:
        raise FileNotFoundError(f"No .csv recordings in {folder}. Received: path={str(folder)!r}")
    return files


def _read_recording(path, metadata, label_column, subject_column):
    import pandas as pd

    try:
        table = pd.read_csv(path, dtype={label_column: str, subject_column: str}, keep_default_na=False,
                            na_values=[""])
    except (ValueError, OSError, pd.errors.ParserError) as error:
        raise ValueError(f"cannot read {path} as CSV: {error}") from error
    channels = [str(c) for c in metadata["channel_names"]]
    missing = [c for c in channels + [label_column] if c not in table.columns]
    if missing:
        raise ValueError(
            f"{path} lacks the column(s) {missing} (dataset.json's channel_names and the label column "
            f"{label_column!r}). Received: columns={list(table.columns)}"
        )
    try:
        signal = table[channels].to_numpy(dtype=np.float64)
    except ValueError as error:
        raise ValueError(f"{path}: every channel column must hold numbers: {error}") from error
    bad = ~np.isfinite(signal)
    if bad.any():
        row, column = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{path} row {row + 2} has an empty or non-finite value in channel {channels[column]!r}; fill the gap "
            f"or split the recording there. Received: {channels[column]}={signal[row, column]}"
        )
    class_index = {str(name): index for index, name in enumerate(metadata["class_names"])}
    raw_labels = table[label_column]
    unknown = sorted(set(raw_labels.dropna()) - set(class_index))
    if unknown:
        row = int(np.flatnonzero(raw_labels.isin(unknown))[0])
        raise ValueError(
            f"{path} row {row + 2} has label {unknown[0]!r}, which is not in dataset.json's class_names "
            f"{list(class_index)} (leave the cell empty for an unlabelled sample). Received: labels {unknown[:5]}"
        )
    labels = raw_labels.map(class_index).fillna(-1).to_numpy(dtype=np.int64)
    subject = None
    if subject_column in table.columns:
        values = table[subject_column].dropna().unique()
        if len(values) != 1:
            raise ValueError(
                f"{path}: one recording must hold one subject; its {subject_column!r} column has "
                f"{len(values)}. Received: subjects={list(values)[:5]}"
            )
        subject = str(values[0])
    elif "_" in path.stem:
        subject = path.stem.split("_", 1)[0]
    return signal.astype(np.float32), labels, subject


def _subject_ids(names):
    """`(ids, subject_names)`: integer names kept, other names numbered 1..S."""
    if all(name.strip().lstrip("-").isdigit() for name in names):
        return [int(name) for name in names], None
    numbering = {name: index + 1 for index, name in enumerate(sorted(set(names)))}
    return [numbering[name] for name in names], {index: name for name, index in numbering.items()}


def load_csv_folder(path, *, window_sec=None, step_sec=None):
    """Loads a folder of CSV recordings (see the module docstring) as windows.

    Args:
        path: the folder, or its `dataset.json`.
        window_sec: window length in seconds (default: `dataset.json`'s
            `window_sec`, else 4 s).
        step_sec: step between window starts (default: `dataset.json`'s
            `step_sec`, else half a window).

    Returns:
        A `keras_har.datasets.HARDataset` named after the folder, cut with
        `keras_har.datasets.windows` like every built-in dataset: windows
        never cross two recordings.

    Example:
        >>> import keras_har
        >>> data = keras_har.datasets.load_dataset("my_recordings/")  # doctest: +SKIP
        >>> data.subject_names  # doctest: +SKIP
        {1: 'alice', 2: 'bob'}
    """
    folder = pathlib.Path(path)
    if folder.name == METADATA_FILE:
        folder = folder.parent
    if not folder.is_dir():
        raise FileNotFoundError(f"No such folder of CSV recordings: {folder}. Received: path={str(path)!r}")
    metadata = _metadata(folder)
    label_column = str(metadata.get("label_column", "label"))
    subject_column = str(metadata.get("subject_column", "subject"))
    rate = float(metadata["sampling_rate_hz"])
    files = _recording_files(folder)
    has_split = files[0][1] is not None
    recordings, names, is_test = [], [], []
    for file_path, split in files:
        signal, labels, subject = _read_recording(file_path, metadata, label_column, subject_column)
        if subject is None:
            if not has_split:
                raise ValueError(
                    f"Cannot tell whose recording {file_path} is: name it SUBJECT_RECORDING.csv (e.g. "
                    f"alice_walk.csv), add a {subject_column!r} column, or put the recordings in train/ and "
                    f"test/ folders for a predefined split. Received: file={file_path.name!r}"
                )
            subject = "0"
        recordings.append(windows.Recording(signal, labels, 0, str(file_path)))
        names.append(subject)
        is_test.append(split == "test")
    window_sec = metadata.get("window_sec", DEFAULT_WINDOW_SEC) if window_sec is None else window_sec
    step_sec = metadata.get("step_sec") if step_sec is None else step_sec
    window_length, step_length = windows.window_length_and_step(rate, window_sec, step_sec)
    for index, recording in enumerate(recordings):
        recording.subject = index  # the recording's index: mapped back to subject and split below
    signal, labels, offsets, recording_ids = windows.concatenate(recordings)
    X, y, window_recording = windows.sliding_windows(
        signal, labels, offsets, recording_ids, window_length=window_length, step_length=step_length,
        num_classes=len(metadata["class_names"]), name=folder.name,
    )
    ids, subject_names = _subject_ids(names)
    if not len(y):
        raise ValueError(
            f"{folder}: no window of {window_length} samples is mostly labelled; check the label column "
            f"{label_column!r} or use a shorter window. Received: window_sec={window_sec}"
        )
    test_mask = np.asarray(is_test)[window_recording] if has_split else None
    if has_split and (test_mask.all() or not test_mask.any()):
        raise ValueError(f"{folder}: the train/ or the test/ recordings give no window. "
                         f"Received: test windows={int(test_mask.sum())} of {len(test_mask)}")
    return HARDataset(
        name=folder.resolve().name, X=X, y=y, subjects=np.asarray(ids, dtype=np.int64)[window_recording],
        class_names=[str(c) for c in metadata["class_names"]], channel_names=[str(c) for c in metadata["channel_names"]],
        sampling_rate_hz=rate, window_sec=window_length / rate, step_sec=step_length / rate,
        subject_names=subject_names, test_mask=test_mask,
    )
