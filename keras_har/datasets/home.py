"""Where datasets and their parsed caches live on disk."""

import hashlib
import os
import pathlib
import stat
import warnings

DATA_HOME_ENV = "KERAS_HAR_DATA"
CACHE_ENV = "KERAS_HAR_CACHE"


def get_data_home(data_home=None):
    """Returns the folder that holds one sub-folder per dataset.

    The folder is, in order: the `data_home` argument, the `KERAS_HAR_DATA`
    environment variable, or `~/keras_har_data`. Inside it each dataset keeps
    its original file layout in a folder named after it (`hapt/HAPT Data
    Set/RawData/...`, `usc_had/USC-HAD/Subject1/...`). The folder is not
    created here: a read-only copy of the data works as it is.

    Args:
        data_home: optional path; `~` is expanded.

    Returns:
        A `pathlib.Path`.

    Example:
        >>> import keras_har
        >>> keras_har.datasets.get_data_home("/tmp/har").as_posix()
        '/tmp/har'
    """
    if data_home is None:
        data_home = os.environ.get(DATA_HOME_ENV) or "~/keras_har_data"
    return pathlib.Path(data_home).expanduser()


def _writable_dir(path):
    """Creates `path` if it may be written; False for a read-only location.

    The permission bits of the nearest existing folder are checked as well as
    `os.access`, because `os.access` says yes to root even in a folder whose
    owner marked it read-only (a shared, staged copy of the data).
    """
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir() or not existing.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
        return False
    if not os.access(existing, os.W_OK | os.X_OK):
        return False
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(path, os.W_OK | os.X_OK)


def get_cache_dir(name, dataset_dir, cache_dir=None):
    """Returns the folder for `name`'s parsed cache, or None if none is writable.

    In order: `<cache_dir>/<name>`, `$KERAS_HAR_CACHE/<name>`, then
    `<dataset_dir>/keras_har_cache`. When the dataset folder is read-only
    (a shared copy), the cache moves to `~/.cache/keras_har/<name>/<hash of
    the dataset folder>` so that two copies never share a cache; if that
    fails too, loading works without a cache and warns.
    """
    explicit = cache_dir or os.environ.get(CACHE_ENV)
    if explicit:
        path = pathlib.Path(explicit).expanduser() / name
        if not _writable_dir(path):
            raise ValueError(
                f"The cache folder {path} cannot be created or written. "
                f"Pass a writable `cache_dir` or set {CACHE_ENV}. Received: cache_dir={explicit}"
            )
        return path
    candidates = [pathlib.Path(dataset_dir) / "keras_har_cache"]
    digest = hashlib.sha256(str(pathlib.Path(dataset_dir).resolve()).encode()).hexdigest()[:12]
    candidates.append(pathlib.Path("~/.cache/keras_har").expanduser() / name / digest)
    for path in candidates:
        if _writable_dir(path):
            return path
    warnings.warn(
        f"No writable cache folder for {name} (tried {', '.join(map(str, candidates))}); "
        f"parsing without a cache. Set {CACHE_ENV} to cache elsewhere.",
        stacklevel=3,
    )
    return None
