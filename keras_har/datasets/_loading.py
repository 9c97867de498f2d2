"""What every dataset loader shares: find or download the files, parse them
once into a cache, then cut windows."""

import dataclasses
import hashlib
import os
import pathlib
import tempfile
import typing
import warnings

import numpy as np

from keras_har import atomic
from keras_har.datasets import download, home, windows
from keras_har.datasets.base import HARDataset


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """How one dataset is laid out on disk and parsed.

    Attributes:
        name: the name `load_dataset` accepts, also the folder name in the
            data home.
        raw_dir: folder inside `<data_home>/<name>/`, in the original archive's
            layout, that holds the files the parser reads.
        sampling_rate_hz: sampling rate of the parsed recordings.
        window_sec: default window length in seconds.
        class_names: names of the kept classes, in label-index order.
        channel_names: names of the channels, in order.
        parse: `parse(raw_dir_path, verbose) -> list[Recording]`.
        remote: the original archive, or None.
        version: bump when parsing changes, so old caches are not reused.
        step_sec: default step in seconds; None means half a window.
    """

    name: str
    raw_dir: str
    sampling_rate_hz: float
    window_sec: float
    class_names: tuple
    channel_names: tuple
    parse: typing.Callable
    remote: typing.Optional[download.RemoteFileMetadata] = None
    version: int = 1
    step_sec: typing.Optional[float] = None


def _dataset_folder_hint(spec, data_home):
    """A hint when `data_home` looks like the dataset's own folder (or one inside it)."""
    data_home = pathlib.Path(data_home)
    levels = [spec.name, *pathlib.PurePosixPath(spec.raw_dir).parts]
    if data_home.name in levels:
        parent = data_home.parents[levels.index(data_home.name)]
    elif any(data_home.joinpath(*levels[i:]).is_dir() for i in range(1, len(levels))):
        parent = data_home.parent
    else:
        return ""
    return (
        f" {data_home} looks like the {spec.name} dataset folder itself (or a folder inside it), but `data_home` "
        f"(--data-home) is the folder that holds '{spec.name}/': pass {parent}."
    )


def missing_file_error(spec, path, data_home, reason=""):
    """The FileNotFoundError for a missing data file, with how to get it."""
    where = f"download it from {spec.remote.url} and unpack it" if spec.remote else "put the original files"
    return FileNotFoundError(
        f"{spec.name}: file not found: {path}.{reason} Call keras_har.datasets.load_{spec.name}("
        f"download_if_missing=True), or {where} under {pathlib.Path(data_home) / spec.name} "
        f"(so that {spec.name}/{spec.raw_dir} exists), or point `data_home` / the "
        f"{home.DATA_HOME_ENV} environment variable at the folder that holds '{spec.name}/'."
        f"{_dataset_folder_hint(spec, data_home)} Received: data_home={data_home}"
    )


def _download(spec, dataset_dir, data_home, verbose):
    # The archive goes to a temporary folder first: nothing is created in the
    # data home unless the download succeeded (a mistyped --data-home must not
    # leave folders behind).
    with tempfile.TemporaryDirectory(prefix=f"keras_har_{spec.name}_") as temporary:
        try:
            archive = download.fetch_remote(spec.remote, temporary, verbose=verbose)
        except OSError as error:
            raise missing_file_error(
                spec, dataset_dir / spec.raw_dir, data_home, reason=f" Downloading {spec.remote.url} failed: {error.__cause__ or error}."
            ) from error
        dataset_dir.mkdir(parents=True, exist_ok=True)
        unpacked = download.extract_archive(archive, dataset_dir)
        # Some archives (UCI's newer ones) wrap the original zip in another zip;
        # only a zip that came out of the archive is unpacked and removed.
        if _find_raw(dataset_dir, spec.raw_dir) is None:
            for name in unpacked:
                inner = dataset_dir / name
                if inner.suffix.lower() == ".zip" and inner.is_file():
                    download.extract_archive(inner, dataset_dir)
                    inner.unlink()
    if _find_raw(dataset_dir, spec.raw_dir) is None:
        raise missing_file_error(spec, dataset_dir / spec.raw_dir, data_home)


def _fingerprint(raw):
    """Hash of every file's relative path, size and modification time."""
    digest = hashlib.sha256()
    for root, dirs, files in os.walk(raw):
        dirs.sort()
        for file_name in sorted(files):
            path = pathlib.Path(root) / file_name
            stat = path.stat()
            digest.update(f"{path.relative_to(raw)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _save_npz_atomically(path, **arrays):
    with atomic.atomic_path(path) as temporary, open(temporary, "wb") as file:
        np.savez(file, **arrays)


def _parsed_recordings(spec, raw, dataset_dir, cache, cache_dir, verbose):
    cache_path = fingerprint = None
    if cache:
        folder = home.get_cache_dir(spec.name, dataset_dir, cache_dir)
        if folder is not None:
            cache_path = folder / f"{spec.name}_recordings_v{spec.version}.npz"
            fingerprint = _fingerprint(raw)
            if cache_path.exists():
                try:
                    with np.load(cache_path, allow_pickle=False) as stored:
                        if str(stored["fingerprint"]) == fingerprint:
                            return (stored["signal"], stored["labels"].astype(np.int64), stored["offsets"],
                                    stored["subjects"])
                except Exception as error:  # a damaged cache is rebuilt, never trusted
                    warnings.warn(f"Ignoring unreadable cache {cache_path}: {error!r}", stacklevel=4)
    recordings = spec.parse(raw, verbose)
    if not recordings:
        raise FileNotFoundError(f"{spec.name}: no recordings found in {raw}.")
    signal, labels, offsets, subjects = windows.concatenate(recordings)
    if cache_path is not None:
        _save_npz_atomically(
            # Labels are in [-1, K) with K at most a few dozen: int8 keeps the cache small.
            cache_path, signal=signal, labels=labels.astype(np.int8), offsets=offsets, subjects=subjects,
            fingerprint=np.array(fingerprint),
        )
    return signal, labels, offsets, subjects


def _find_raw(dataset_dir, raw_dir):
    """The raw folder, also when the archive had no top-level folder.

    Some archives (HAPT's) unpack their files without the folder that other
    copies have (`HAPT Data Set/`): `<name>/RawData` is accepted as well as
    `<name>/HAPT Data Set/RawData`.
    """
    parts = pathlib.PurePosixPath(raw_dir).parts
    for candidate in (dataset_dir.joinpath(*parts), dataset_dir.joinpath(*parts[1:])):
        if len(candidate.parts) > len(dataset_dir.parts) and candidate.is_dir():
            return candidate
    return None


def load(spec, *, data_home, download_if_missing, window_sec, step_sec, cache, cache_dir, verbose):
    """Loads `spec`'s dataset as windows; see `keras_har.datasets.load_dataset`."""
    data_home = home.get_data_home(data_home)
    dataset_dir = data_home / spec.name
    raw = _find_raw(dataset_dir, spec.raw_dir)
    if raw is None:
        if not (download_if_missing and spec.remote is not None):
            raise missing_file_error(spec, dataset_dir / spec.raw_dir, data_home)
        _download(spec, dataset_dir, data_home, verbose)
        raw = _find_raw(dataset_dir, spec.raw_dir)

    window_sec = spec.window_sec if window_sec is None else window_sec
    step_sec = spec.step_sec if step_sec is None else step_sec
    window_length, step_length = windows.window_length_and_step(spec.sampling_rate_hz, window_sec, step_sec)

    signal, labels, offsets, subjects = _parsed_recordings(spec, raw, dataset_dir, cache, cache_dir, verbose)
    X, y, window_subjects = windows.sliding_windows(
        signal, labels, offsets, subjects, window_length=window_length, step_length=step_length,
        num_classes=len(spec.class_names), name=spec.name,
    )
    return HARDataset(
        name=spec.name, X=X, y=y, subjects=window_subjects,
        class_names=list(spec.class_names), channel_names=list(spec.channel_names),
        sampling_rate_hz=float(spec.sampling_rate_hz),
        window_sec=window_length / spec.sampling_rate_hz,
        step_sec=step_length / spec.sampling_rate_hz,
    )


def read_table(path, *, columns, delimiter=None, skiprows=0, usecols=None, name="dataset"):
    """Reads a numeric text table (plain or .gz) with a clear error on bad rows.

    The default `delimiter=None` splits on any run of white space, which also
    copes with the leading and doubled spaces of UCI HAR's files and with
    trailing tabs.

    Returns a float64 array of shape `(rows, columns)`. A missing file, a row
    with the wrong number of fields or a field that is not a number raises
    with the file's path in the message.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{name}: file not found: {path}")
    try:
        table = np.loadtxt(path, delimiter=delimiter, skiprows=skiprows, usecols=usecols, ndmin=2)
    except ValueError as error:
        raise ValueError(
            f"{name}: cannot parse {path}: expected {columns} numeric columns in every row "
            f"(a truncated or garbled row?). Received: {error}"
        ) from error
    except (OSError, EOFError) as error:  # e.g. a truncated .gz file
        raise ValueError(f"{name}: cannot read {path}: {error}") from error
    if table.shape[1] != columns and len(table):
        raise ValueError(
            f"{name}: {path} has {table.shape[1]} columns per row, expected {columns}. "
            f"Received: columns={table.shape[1]}"
        )
    return table


def check_finite(array, path, name):
    """Raises if `array` holds NaN or infinite values, naming the first row."""
    bad = ~np.isfinite(array)
    if bad.any():
        row = int(np.argwhere(bad)[0][0])
        raise ValueError(
            f"{name}: {path} has a NaN or infinite value at data row {row + 1}. The official "
            f"loader has no rule for missing values in this dataset (its copy has none), so "
            f"keras_har refuses rather than train on NaN; repair or remove the file. "
            f"Received: row={row + 1}"
        )


def load_recordings(spec, *, data_home=None, subjects=None, cache=True, cache_dir=None, verbose=False):
    """The continuous recordings of `spec`'s dataset, before windowing.

    Args:
        spec: a dataset's `DatasetSpec`.
        data_home, cache, cache_dir, verbose: as for `load`; nothing is
            downloaded here.
        subjects: keep only these subject ids (default: all).

    Returns:
        A list of `keras_har.datasets.windows.Recording`, in the order the
        windows of `load` come from.
    """
    data_home = home.get_data_home(data_home)
    dataset_dir = data_home / spec.name
    raw = _find_raw(dataset_dir, spec.raw_dir)
    if raw is None:
        raise missing_file_error(spec, dataset_dir / spec.raw_dir, data_home)
    signal, labels, offsets, recording_subjects = _parsed_recordings(spec, raw, dataset_dir, cache, cache_dir, verbose)
    keep = None if subjects is None else {int(subject) for subject in subjects}
    return [
        windows.Recording(signal[offsets[i]:offsets[i + 1]], labels[offsets[i]:offsets[i + 1]], int(subject),
                          f"{spec.name} recording {i}")
        for i, subject in enumerate(recording_subjects)
        if keep is None or int(subject) in keep
    ]
