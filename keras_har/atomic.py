"""Files written whole or not at all: the one atomic writer of the package.

Every result, cache, checkpoint and export keras_har writes goes through
`atomic_path`: the content is written to a temporary file beside the
destination (same folder, so the final move is a rename on one file
system), flushed to disk, given the usual permissions, and moved into place
with `os.replace`. On any error, Ctrl-C included, the temporary file is
removed and the destination is left as it was. A reader therefore sees the
old file or the new one, never a half-written one, and a killed run leaves
no partial file that a resume would mistake for a finished one.

This module imports neither TensorFlow nor Keras, so scripts that only read
and write result files stay fast.
"""

import contextlib
import json
import os
import tempfile


@contextlib.contextmanager
def atomic_path(path, *, suffix=None):
    """Yields a temporary path beside ``path`` and moves it into place on success.

    Args:
        path: the destination file. Its folder is created if missing.
        suffix: ending of the temporary name; default the destination's own
            extension, because several writers choose the format from it
            (Keras wants ``.keras``, ``np.savez`` appends ``.npz`` to any
            other name, matplotlib picks the image format).

    Example:
    >>> import keras_har.atomic
    >>> with keras_har.atomic.atomic_path("/tmp/keras_har_table.csv") as temporary:
    ...     _ = open(temporary, "w").write("a,b\\n1,2\\n")
    >>> open("/tmp/keras_har_table.csv").read()
    'a,b\\n1,2\\n'
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    if suffix is None:
        suffix = os.path.splitext(path)[1]
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=f".tmp{suffix}")
    os.close(handle)
    try:
        yield temporary
        with open(temporary, "rb+") as file:
            os.fsync(file.fileno())
        # mkstemp makes the file private (0600); give it the permissions of a plain open().
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def write_bytes(path, data):
    """Writes ``data`` (bytes) to ``path`` atomically.

    Example:
    >>> import keras_har.atomic
    >>> keras_har.atomic.write_bytes("/tmp/keras_har_blob.bin", b"\\x00\\x01")
    """
    with atomic_path(path) as temporary, open(temporary, "wb") as file:
        file.write(data)


def write_text(path, text):
    """Writes ``text`` (UTF-8) to ``path`` atomically; bytes are written as they are.

    Example:
    >>> import keras_har.atomic
    >>> keras_har.atomic.write_text("/tmp/keras_har_note.md", "# results\\n")
    """
    write_bytes(path, text if isinstance(text, (bytes, bytearray)) else text.encode("utf-8"))


def write_json(path, obj, **dump_kwargs):
    """Writes ``obj`` as JSON (indent 2 unless given) to ``path`` atomically.

    Example:
    >>> import json, keras_har.atomic
    >>> keras_har.atomic.write_json("/tmp/keras_har_run.json", {"folds": 10})
    >>> json.load(open("/tmp/keras_har_run.json"))
    {'folds': 10}
    """
    dump_kwargs.setdefault("indent", 2)
    write_text(path, json.dumps(obj, **dump_kwargs))


def writable_dir(path, argument="output_dir"):
    """Creates ``path`` if needed and checks that files can be written in it.

    Called before any training, so that a read-only or impossible output
    folder is one clear error naming it, not a traceback after hours of work.

    Args:
        path: the output folder.
        argument: the argument it came from, for the message.

    Returns:
        ``path`` as a string.

    Raises:
        ValueError: the folder cannot be created or written.

    Example:
    >>> import keras_har.atomic
    >>> keras_har.atomic.writable_dir("/tmp/keras_har_runs")
    '/tmp/keras_har_runs'
    """
    path = os.fspath(path)
    try:
        os.makedirs(path, exist_ok=True)
        handle, probe = tempfile.mkstemp(dir=path, prefix=".write-test-")
        os.close(handle)
        os.remove(probe)
    except OSError as error:
        raise ValueError(
            f"Cannot write to the output folder {path}: {error.strerror or error}. Choose a folder you can "
            f"write to. Received: {argument}={path!r}"
        ) from error
    return path
