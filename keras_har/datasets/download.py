"""Downloading and unpacking the original dataset archives.

As in `sklearn.datasets`: each dataset module describes its remote archive
with a `RemoteFileMetadata` (file name, URL, sha256). `fetch_remote` streams
it into a temporary file next to its destination, checks the byte count
against `Content-Length` and the sha256, and only then moves it into place,
so an interrupted or corrupt download never leaves a file behind.
`extract_archive` refuses members that would land outside the target folder
(absolute paths, `..`, links), unpacks into a temporary folder and moves in
only what is missing: a file already in the target folder (a user's partial
copy, their notes) is never replaced or deleted.
"""

import collections
import hashlib
import os
import pathlib
import shutil
import tarfile
import tempfile
import urllib.request
import warnings
import zipfile
import zlib

from tqdm.auto import tqdm

RemoteFileMetadata = collections.namedtuple("RemoteFileMetadata", ["filename", "url", "sha256"])
RemoteFileMetadata.__doc__ = """The archive of a dataset on the web.

Attributes:
    filename: name to save it under.
    url: where to download it from.
    sha256: expected hex digest, or None where no digest could be
        established (the download is then only checked for completeness).
"""

_CHUNK_BYTES = 1 << 16


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_remote(remote, dirname, *, verbose=True, timeout_sec=60):
    """Downloads `remote` into `dirname` and returns the file's path.

    Args:
        remote: a `RemoteFileMetadata`.
        dirname: destination folder (created if missing).
        verbose: show a progress bar.
        timeout_sec: socket timeout.

    Returns:
        The `pathlib.Path` of the verified file.

    Raises:
        OSError: the transfer failed or ended early; nothing is left behind.
        ValueError: the sha256 differs from `remote.sha256`; nothing is left
            behind.

    Example:
        >>> import keras_har
        >>> remote = keras_har.datasets.download.RemoteFileMetadata(
        ...     "USC-HAD.zip", "https://sipi.usc.edu/had/USC-HAD.zip", None)
        >>> keras_har.datasets.download.fetch_remote(remote, "/tmp/har")  # doctest: +SKIP
    """
    dirname = pathlib.Path(dirname)
    dirname.mkdir(parents=True, exist_ok=True)
    destination = dirname / remote.filename
    handle, temp_name = tempfile.mkstemp(prefix=f".{remote.filename}.", suffix=".part", dir=dirname)
    digest = hashlib.sha256()
    received = 0
    try:
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(remote.url, timeout=timeout_sec) as response:
            expected = response.headers.get("Content-Length")
            expected = int(expected) if expected is not None else None
            with tqdm(
                total=expected, unit="B", unit_scale=True, desc=remote.filename, disable=not verbose
            ) as progress:
                while True:
                    chunk = response.read(_CHUNK_BYTES)
                    if not chunk:
                        break
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    progress.update(len(chunk))
        if expected is not None and received != expected:
            raise OSError(
                f"Download of {remote.url} ended early: got {received} of {expected} bytes "
                f"(Content-Length). Nothing was saved; try again."
            )
        if remote.sha256 is not None and digest.hexdigest() != remote.sha256:
            raise ValueError(
                f"The file downloaded from {remote.url} is corrupt or changed: its sha256 is "
                f"{digest.hexdigest()}, expected {remote.sha256}. Nothing was saved. "
                f"Received: sha256={digest.hexdigest()}"
            )
        os.replace(temp_name, destination)
    except BaseException as error:
        if os.path.exists(temp_name):
            os.remove(temp_name)
        if isinstance(error, (ValueError, KeyboardInterrupt)) or (
            isinstance(error, OSError) and str(error).startswith("Download of")
        ):
            raise
        raise OSError(
            f"Download of {remote.url} failed after {received} bytes: {error!r}. Nothing was saved; try again, "
            f"or download {remote.filename} by hand and unpack it into {dirname}."
        ) from error
    return destination


def _check_member_name(name, archive):
    path = pathlib.PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise ValueError(f"Refusing to unpack {archive}: member {name!r} has an absolute path.")
    if ".." in path.parts:
        raise ValueError(f"Refusing to unpack {archive}: member {name!r} would land outside the target folder.")


def extract_archive(archive, target_dir):
    """Unpacks a `.zip`, `.tar`, `.tar.gz` or `.tgz` archive into `target_dir`.

    Every member is checked before anything is written: absolute paths,
    `..` components and (in tar files) links and device files are refused
    with a ValueError naming the member. The archive is unpacked into a
    temporary folder inside `target_dir`, and then only what is missing is
    moved into place: existing folders are merged into and existing files
    are kept (with a warning), never deleted. A failure while unpacking
    leaves no half-unpacked folder.

    Args:
        archive: path of the archive.
        target_dir: folder to unpack into (created if missing).

    Returns:
        The list of top-level names now in `target_dir` from the archive.
    """
    archive = pathlib.Path(archive)
    target_dir = pathlib.Path(target_dir)
    target_dir.mkdir(parents=True, exist_ok=True)
    temp_dir = pathlib.Path(tempfile.mkdtemp(prefix=".extract-", dir=target_dir))
    try:
        try:
            _unpack(archive, temp_dir)
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error) as error:
            raise ValueError(f"{archive} is not a complete, valid archive: {error}") from error
        top_level = [entry for entry in sorted(os.listdir(temp_dir)) if entry != "__MACOSX"]
        kept = []
        for entry in top_level:  # "__MACOSX": resource forks that macOS zip tools add
            _move_missing(temp_dir / entry, target_dir / entry, kept)
        if kept:
            warnings.warn(
                f"Unpacking {archive.name} into {target_dir}: kept {len(kept)} file(s) already there instead "
                f"of the archive's copy (keras_har never overwrites or deletes your files): "
                f"{', '.join(map(str, kept[:5]))}{' ...' if len(kept) > 5 else ''}",
                stacklevel=2,
            )
        return top_level
    finally:
        shutil.rmtree(temp_dir, ignore_errors=True)


def _move_missing(source, destination, kept):
    """Moves `source` to `destination`, adding only what is missing there.

    A folder that already exists is merged into, file by file; a file that
    already exists is left as it is (its path is appended to `kept`). So
    unpacking next to a user's partial copy never deletes or replaces one of
    the user's files.
    """
    if not os.path.lexists(destination):
        os.replace(source, destination)
    elif source.is_dir() and destination.is_dir() and not destination.is_symlink():
        for entry in sorted(os.listdir(source)):
            _move_missing(source / entry, destination / entry, kept)
    else:
        kept.append(destination)


def _extract_tar_data(tarred, temp_dir):
    """Writes a checked tar's folders and files' contents only, for Pythons without extraction filters.

    Python before 3.11.4 (Debian 12's 3.11.2) has no ``filter="data"``. The
    members were already checked (no absolute paths, no ``..``, no links or
    special files); writing only their bytes also leaves out what that filter
    drops: owners, set-id bits and other modes from the archive.
    """
    for member in tarred.getmembers():
        destination = pathlib.Path(temp_dir, *pathlib.PurePosixPath(member.name.replace("\\", "/")).parts)
        if member.isdir():
            destination.mkdir(parents=True, exist_ok=True)
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        with tarred.extractfile(member) as source, open(destination, "wb") as out:
            shutil.copyfileobj(source, out)


def _unpack(archive, temp_dir):
    name = archive.name.lower()
    if name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zipped:
            for member in zipped.namelist():
                _check_member_name(member, archive)
            zipped.extractall(temp_dir)
    elif name.endswith((".tar", ".tar.gz", ".tgz")):
        with tarfile.open(archive) as tarred:
            for member in tarred.getmembers():
                _check_member_name(member.name, archive)
                if not (member.isfile() or member.isdir()):
                    raise ValueError(
                        f"Refusing to unpack {archive}: member {member.name!r} is a link or special file."
                    )
            if hasattr(tarfile, "data_filter"):
                tarred.extractall(temp_dir, filter="data")
            else:
                _extract_tar_data(tarred, temp_dir)
    else:
        raise ValueError(f"Unknown archive type: expected .zip, .tar, .tar.gz or .tgz. Received: archive={archive}")
