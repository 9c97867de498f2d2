"""Human activity recognition datasets as labelled windows with subject ids.

Each dataset has a `load_<name>` function and is also reachable through
`load_dataset(name)`. Loaders read the original files (downloading them if
asked), parse them once into an `.npz` cache, and cut sliding windows that
never cross a recording boundary. Splits by subject and the per-channel
`Standardizer` are in `keras_har.datasets.splits`.

Example:
    >>> import keras_har
    >>> data = keras_har.datasets.load_dataset("hapt", data_home="/data/har")  # doctest: +SKIP
    >>> folds = keras_har.datasets.splits.paper_folds("hapt", data.subjects)  # doctest: +SKIP
"""

import os

from keras_har.datasets import splits, validation
from keras_har.datasets.base import HARDataset
from keras_har.datasets.csv_folder import is_csv_folder, load_csv_folder
from keras_har.datasets.daphnet import load_daphnet
from keras_har.datasets.hapt import load_hapt
from keras_har.datasets.home import get_data_home
from keras_har.datasets.mhealth import load_mhealth
from keras_har.datasets.motionsense import load_motionsense
from keras_har.datasets.npz import is_npz_path, load_npz
from keras_har.datasets.pamap2 import load_pamap2
from keras_har.datasets.standardizer import Standardizer
from keras_har.datasets.uci_har import load_uci_har
from keras_har.datasets.usc_had import load_usc_had
from keras_har.datasets.wisdm import load_wisdm

_LOADERS = {
    "uci_har": load_uci_har,
    "hapt": load_hapt,
    "usc_had": load_usc_had,
    "wisdm": load_wisdm,
    "pamap2": load_pamap2,
    "mhealth": load_mhealth,
    "motionsense": load_motionsense,
    "daphnet": load_daphnet,
}
DATASET_NAMES = tuple(_LOADERS)

__all__ = [
    "load_recordings",
    "DATASET_NAMES", "HARDataset", "Standardizer", "get_data_home", "load_csv_folder", "load_dataset", "load_npz",
    "splits",
    "validation",
    *(f"load_{name}" for name in DATASET_NAMES),
]


def load_dataset(name, *, data_home=None, download_if_missing=True, window_sec=None, step_sec=None, cache=True,
                 cache_dir=None, verbose=True):
    """Loads a dataset by name or path as a `keras_har.datasets.HARDataset`.

    Args:
        name: one of `DATASET_NAMES`: "uci_har", "hapt", "usc_had", "wisdm",
            "pamap2", "mhealth", "motionsense", "daphnet"; or the path of
            your own data: a folder of CSV recordings with a
            `dataset.json` (`keras_har.datasets.load_csv_folder`, windowed
            with `window_sec`/`step_sec`), or an `.npz` file of windows
            (`keras_har.datasets.load_npz`).
        data_home: folder with one sub-folder per dataset, in the original
            layout; default `$KERAS_HAR_DATA`, else `~/keras_har_data`.
        download_if_missing: download the original archive if files are missing.
        window_sec: window length in seconds (default: the paper's, 4 s; 2.56 s
            for UCI HAR).
        step_sec: step between window starts (default: half a window).
        cache: keep the parsed recordings in an `.npz` cache.
        cache_dir: cache folder (default `$KERAS_HAR_CACHE`, else inside the
            dataset folder, else `~/.cache/keras_har` if that is read-only).
        verbose: show progress while downloading and parsing.

    Returns:
        A `keras_har.datasets.HARDataset`.

    Example:
        >>> import keras_har
        >>> data = keras_har.datasets.load_dataset("usc_had", data_home="/data/har")  # doctest: +SKIP
        >>> data.sampling_rate_hz, data.num_classes  # doctest: +SKIP
        (100.0, 12)
    """
    if is_npz_path(name):
        return load_npz(name)
    if name not in _LOADERS and is_csv_folder(name):
        return load_csv_folder(name, window_sec=window_sec, step_sec=step_sec)
    if name not in _LOADERS and os.path.isdir(name):
        return load_csv_folder(name)  # raises, naming the missing dataset.json
    if name not in _LOADERS:
        raise ValueError(
            f"Unknown dataset; known datasets: {', '.join(DATASET_NAMES)}, or the path of a folder of CSV "
            f"recordings with a dataset.json, or of an .npz file. Received: name={name!r}"
        )
    return _LOADERS[name](
        data_home=data_home, download_if_missing=download_if_missing, window_sec=window_sec, step_sec=step_sec,
        cache=cache, cache_dir=cache_dir, verbose=verbose,
    )


def load_recordings(name, *, data_home=None, subjects=None, cache=True, cache_dir=None, verbose=False):
    """The continuous recordings of a built-in dataset, before windowing.

    For streaming: feed a recording sample by sample to
    `keras_har.streaming.stream_predict` or to the firmware. Samples are in
    the dataset's units and channel order; labels are per sample (-1:
    unlabelled).

    Args:
        name: one of `DATASET_NAMES`.
        data_home, cache, cache_dir, verbose: as for `load_dataset` (nothing
            is downloaded: load the dataset once first).
        subjects: keep only these subject ids (default: all).

    Returns:
        A list of `keras_har.datasets.windows.Recording`.
    """
    import importlib

    from keras_har.datasets import _loading

    if name not in _LOADERS:
        raise ValueError(f"Unknown dataset; known datasets: {', '.join(DATASET_NAMES)}. Received: name={name!r}")
    spec = importlib.import_module(f"keras_har.datasets.{name}").SPEC
    return _loading.load_recordings(spec, data_home=data_home, subjects=subjects, cache=cache, cache_dir=cache_dir,
                                    verbose=verbose)
