"""Helpers shared by several test modules (the tests folder is on sys.path under pytest)."""

import importlib.util
import io
import pathlib
import zipfile

import numpy as np

from keras_har.backend import keras
from keras_har.datasets import HARDataset

BENCHMARKS = pathlib.Path(__file__).resolve().parents[1] / "benchmarks"
EXAMPLES = BENCHMARKS.parent / "examples"


def load_benchmark_script(name, folder=BENCHMARKS):
    """Imports ``benchmarks/<name>.py`` (not a package; or ``folder/<name>.py``) as a module."""
    spec = importlib.util.spec_from_file_location(name, pathlib.Path(folder) / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def zip_folder(folder, prefix=""):
    """The bytes of a zip archive of every file under ``folder``, member names starting with ``prefix``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(pathlib.Path(folder).rglob("*")):
            if path.is_file():
                archive.write(path, prefix + path.relative_to(folder).as_posix())
    return buffer.getvalue()


def toy_dataset(subjects_count=4, per_subject=24, t=16, c=3, k=3, seed=0):
    rng = np.random.default_rng(seed)
    subjects = np.repeat(np.arange(1, subjects_count + 1), per_subject)
    y = np.arange(len(subjects)) % k
    x = rng.normal(size=(len(subjects), t, c)) + y[:, None, None]
    return HARDataset(
        name="toy", X=x, y=y, subjects=subjects, class_names=[f"class{i}" for i in range(k)],
        channel_names=[f"ch{i}" for i in range(c)], sampling_rate_hz=50.0, window_sec=t / 50, step_sec=t / 100,
    )


def toy_npz(folder, **kwargs):
    """`toy_dataset` (same arguments) saved as ``folder/toy.npz`` with x, y and subjects; returns its path."""
    data = toy_dataset(**kwargs)
    path = pathlib.Path(folder) / "toy.npz"
    np.savez(path, x=data.X, y=data.y, subjects=data.subjects)
    return path


class CountingBuilder:
    """A small logits model (fast to trace) that counts how often it is built."""

    def __init__(self):
        self.calls = 0

    def __call__(self, input_shape, num_classes):
        self.calls += 1
        inputs = keras.Input(input_shape)
        x = keras.layers.Conv1D(4, 3, padding="same")(inputs)
        x = keras.layers.BatchNormalization(momentum=0.9)(x)
        x = keras.layers.GlobalAveragePooling1D()(x)
        return keras.Model(inputs, keras.layers.Dense(num_classes)(x))


class FailingBuilder:
    """A builder that always raises (picklable, for worker processes)."""

    def __call__(self, input_shape, num_classes):
        raise RuntimeError("this builder always fails")


def toy_windows_npz(path, seed, channels, subjects=4, per_subject=6, classes=3, window_length=64):
    """An .npz of labelled windows at 50 Hz whose scale grows with the class, ``subjects`` x ``per_subject`` of them."""
    rng = np.random.default_rng(seed)
    count = subjects * per_subject
    y = np.arange(count) % classes
    x = rng.normal(size=(count, window_length, len(channels))) * (1 + y[:, None, None])
    np.savez(path, x=x.astype("float32"), y=y, subjects=np.repeat(np.arange(subjects), per_subject),
             sampling_rate_hz=50.0, channel_names=np.array(channels))
    return str(path)
