"""keras_har.atomic: files are written whole or not at all, and no temporary file survives."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from keras_har import atomic


def test_write_json_replaces_the_file_and_leaves_nothing_else(tmp_path):
    path = tmp_path / "sub" / "results.json"          # the folder is created
    atomic.write_json(path, {"macro_f1": 0.5})
    atomic.write_json(path, {"macro_f1": 0.75}, sort_keys=True)
    assert json.loads(path.read_text()) == {"macro_f1": 0.75}
    assert os.listdir(tmp_path / "sub") == ["results.json"]


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    path = tmp_path / "folds.csv"
    atomic.write_text(path, "fold,macro_f1\n0,0.8\n")
    with pytest.raises(RuntimeError, match="killed"):
        with atomic.atomic_path(path) as temporary:
            with open(temporary, "w") as file:
                file.write("fold,macro_f1\n0,0.")     # half written, then the writer dies
            raise RuntimeError("killed")
    assert path.read_text() == "fold,macro_f1\n0,0.8\n"
    assert os.listdir(tmp_path) == ["folds.csv"]


def test_the_temporary_keeps_the_extension_writers_choose_the_format_from(tmp_path):
    # np.savez appends ".npz" to any other name; the result must still land at `path`.
    path = tmp_path / "cache.npz"
    with atomic.atomic_path(path) as temporary:
        assert temporary.endswith(".npz") and os.path.dirname(temporary) == str(tmp_path)
        np.savez(temporary, x=np.arange(3))
    np.testing.assert_array_equal(np.load(path)["x"], [0, 1, 2])
    assert os.listdir(tmp_path) == ["cache.npz"]


def test_written_files_get_the_permissions_of_a_plain_open(tmp_path):
    umask = os.umask(0o022)
    try:
        atomic.write_bytes(tmp_path / "model.tflite", b"\x1c\x00")
        with open(tmp_path / "plain", "wb"):
            pass
    finally:
        os.umask(umask)
    assert (tmp_path / "model.tflite").read_bytes() == b"\x1c\x00"
    assert (tmp_path / "model.tflite").stat().st_mode & 0o777 == (tmp_path / "plain").stat().st_mode & 0o777 == 0o644


def test_atomic_does_not_import_tensorflow():
    code = "import sys, keras_har.atomic; print('tensorflow' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False"]
