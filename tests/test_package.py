"""Package-level promises: lazy import, one Keras import, the public API."""

import pathlib
import re
import subprocess
import sys

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "keras_har"
KERAS_IMPORT = re.compile(r"^\s*(import (tf_keras|keras)\b|from (tf_keras|keras)\b|from tensorflow import keras)", re.M)


def test_import_keras_har_does_not_import_tensorflow():
    code = "import sys, keras_har; print('tensorflow' in sys.modules, keras_har.__version__)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "0.1.0"]


def test_keras_is_imported_in_exactly_one_module():
    importers = sorted(
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if KERAS_IMPORT.search(path.read_text(encoding="utf-8"))
    )
    assert importers == ["backend.py"]


def test_backend_keras_is_tf_keras_and_tf_keras_is_tf_dot_keras():
    from keras_har.backend import keras, tf

    assert keras.__name__ == "tf_keras"
    assert tf.keras.Model is keras.Model


def test_public_names():
    import keras_har

    for name in ("TinierHAR", "TinierHARBackbone", "TinyHAR", "DeepConvLSTM", "profile", "get_model_class"):
        assert getattr(keras_har, name) is not None
