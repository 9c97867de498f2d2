"""Issue 22: bad input gets a clear error (naming the file or argument) instead of a silent wrong result.

Data-side rows: NaN windows, incomplete or inconsistent HAPT copies, downloads that
must not delete user files, a wrong data home, non-.npz files, 1-based and text labels.
"""

import dataclasses
import os
import pathlib
import zipfile

import numpy as np
import pytest

import keras_har
import test_datasets_files as fixtures
from conftest import skip_or_fail
from helpers import zip_folder
from keras_har.datasets import download, hapt, validation

RAW = "hapt/HAPT Data Set/RawData"


def _windows_npz(path, **overrides):
    rng = np.random.default_rng(0)
    arrays = {"x": rng.normal(size=(12, 8, 2)), "y": np.tile([0, 1, 2], 4), "subjects": np.repeat([1, 2, 3], 4)}
    arrays.update(overrides)
    np.savez(path, **arrays)
    return str(path)


# --- NaN / inf windows ---------------------------------------------------------


def test_check_finite_names_the_array_and_the_first_bad_window():
    x = np.zeros((5, 4, 3), "float32")
    x[3, 2, 1] = np.inf
    x[4] = np.nan
    with pytest.raises(ValueError, match=r"`x` holds NaN or infinite values \(13 of 60\), first at index 3 "
                                         r"\(position \(3, 2, 1\)\)"):
        validation.check_finite(x, "x")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_windows_in_a_tuning_npz_are_refused_before_any_trial(tmp_path, bad):
    x = np.random.default_rng(0).normal(size=(12, 8, 2))
    x[7, 0, 0] = bad
    path = _windows_npz(tmp_path / "w.npz", x=x)
    with pytest.raises(ValueError, match=r"`x` holds NaN or infinite values \(1 of 192\), first at index 7"):
        keras_har.datasets.load_dataset(path)
    with pytest.raises(ValueError, match=r"first at index 7"):
        keras_har.tuning.run_search(path, tuner="grid", max_trials=1, epochs=1, directory=str(tmp_path / "t"))
    assert not (tmp_path / "t").exists()


def test_all_nan_windows_in_a_hardataset_are_refused():
    with pytest.raises(ValueError, match=r"`X` holds NaN or infinite values \(24 of 24\), first at index 0"):
        keras_har.datasets.HARDataset(
            name="nan", X=np.full((2, 4, 3), np.nan), y=[0, 1], subjects=[1, 2], class_names=["a", "b"],
            channel_names=["x", "y", "z"], sampling_rate_hz=50.0, window_sec=0.08, step_sec=0.08)


# --- HAPT copies that are incomplete or inconsistent -----------------------------


def _link_real_hapt(real_data_home, home, skip_experiment=None):
    """Links the real RawData files (read-only, never modified) into a fresh data home."""
    source = pathlib.Path(real_data_home) / RAW
    target = pathlib.Path(home) / RAW
    target.mkdir(parents=True)
    for path in source.iterdir():
        if skip_experiment and f"_exp{skip_experiment:02d}_" in path.name:
            continue
        (target / path.name).symlink_to(path)
    return target


def test_hapt_with_an_experiments_files_deleted_is_an_error_naming_them(real_data_home, tmp_path):
    if not (pathlib.Path(real_data_home) / RAW / "labels.txt").is_file():
        skip_or_fail(f"the staged HAPT copy is incomplete: no {RAW}/labels.txt under {real_data_home}")
    _link_real_hapt(real_data_home, tmp_path, skip_experiment=5)
    # Today's loader gave 8,008 windows instead of 8,153 with no warning.
    with pytest.raises(FileNotFoundError, match=r"hapt: the dataset is incomplete: .*labels.txt labels segments of "
                                                r"1 experiment\(s\) whose signal files are missing .*"
                                                r"acc_exp05_user03\.txt, gyro_exp05_user03\.txt"):
        keras_har.datasets.load_hapt(data_home=tmp_path, download_if_missing=False, cache=False, verbose=False)


def test_hapt_labels_line_for_an_experiment_that_does_not_exist_is_named(tmp_path):
    facts = fixtures.write_hapt(tmp_path)
    labels = tmp_path / RAW / "labels.txt"
    labels.write_text(labels.read_text() + "9 4 1 0 40\n")
    with pytest.raises(FileNotFoundError, match=r"acc_exp09_user04\.txt, gyro_exp09_user04\.txt"):
        keras_har.datasets.load_hapt(data_home=tmp_path, download_if_missing=False, cache=False, verbose=False,
                                     window_sec=facts["window_sec"])


def test_empty_hapt_labels_file_is_a_clear_error_naming_it(tmp_path):
    fixtures.write_hapt(tmp_path)
    (tmp_path / RAW / "labels.txt").write_text("")
    with pytest.warns(UserWarning, match="no data"), pytest.raises(ValueError, match=r"labels\.txt holds no segments"):
        keras_har.datasets.load_hapt(data_home=tmp_path, download_if_missing=False, cache=False, verbose=False)


# --- downloads never delete user files; a wrong data home is one clear line --------


def _serve_file(monkeypatch, body, name="HAPT Data Set.zip"):
    """Replaces the network fetch with a copy of `body` (the download code itself is tested in test_download)."""
    calls = []

    def fake_fetch(remote, dirname, *, verbose=True, timeout_sec=60):
        calls.append(pathlib.Path(dirname))
        if body is None:
            raise OSError("Download of x failed") from ConnectionError("network unreachable")
        path = pathlib.Path(dirname) / remote.filename
        path.write_bytes(body)
        return path

    monkeypatch.setattr(download, "fetch_remote", fake_fetch)
    monkeypatch.setattr(hapt, "SPEC", dataclasses.replace(
        hapt.SPEC, remote=download.RemoteFileMetadata(name, "http://127.0.0.1:9/hapt.zip", None)))
    return calls


def test_download_next_to_a_partial_copy_keeps_every_user_file(tmp_path, monkeypatch):
    facts = fixtures.write_hapt(tmp_path / "source")
    (tmp_path / "source" / "hapt" / "HAPT Data Set" / "README.txt").write_text("the archive's README")
    body = zip_folder(tmp_path / "source" / "hapt" / "HAPT Data Set", prefix="HAPT Data Set/")
    home = tmp_path / "home"
    user_folder = home / "hapt" / "HAPT Data Set"
    user_folder.mkdir(parents=True)
    (user_folder / "my_notes.txt").write_text("mine")
    (user_folder / "README.txt").write_text("my own README")
    _serve_file(monkeypatch, body)
    with pytest.warns(UserWarning, match=r"kept 1 file\(s\) already there.*README\.txt"):
        data = keras_har.datasets.load_hapt(data_home=home, window_sec=1.0, step_sec=0.5, cache=False,
                                            verbose=False)
    assert data.y.tolist() == facts["y"]
    assert (user_folder / "my_notes.txt").read_text() == "mine"
    assert (user_folder / "README.txt").read_text() == "my own README"
    assert (user_folder / "RawData" / "labels.txt").is_file()


def test_failed_download_into_a_missing_data_home_creates_nothing_and_says_where(tmp_path, monkeypatch, capsys):
    calls = _serve_file(monkeypatch, None)
    home = tmp_path / "no" / "such" / "home"
    with pytest.raises(FileNotFoundError) as error:
        keras_har.datasets.load_hapt(data_home=home, verbose=False)
    message = str(error.value)
    assert "\n" not in message
    assert f"file not found: {home / 'hapt' / 'HAPT Data Set' / 'RawData'}" in message
    assert "failed: network unreachable" in message
    assert not (tmp_path / "no").exists()
    assert calls and not str(calls[0]).startswith(str(tmp_path))  # the archive went to a temporary folder
    # From the command line: one line on stderr, exit 2, no traceback.
    from keras_har import cli

    assert cli.main(["train", "--model", "tinierhar", "--dataset", "hapt", "--data-home", str(home),
                     "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("keras-har train: error: hapt: file not found:")
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize("inside", ["hapt", "hapt/HAPT Data Set"])
def test_data_home_pointing_at_the_dataset_folder_gets_a_hint(tmp_path, monkeypatch, inside):
    fixtures.write_hapt(tmp_path)
    _serve_file(monkeypatch, None)
    wrong = tmp_path / inside
    with pytest.raises(FileNotFoundError, match=rf"looks like the hapt dataset folder itself.*pass {tmp_path}\."):
        keras_har.datasets.load_hapt(data_home=wrong, verbose=False)
    assert sorted(os.listdir(wrong)) == sorted(os.listdir(tmp_path / inside))  # nothing created there
    assert not (wrong / "hapt").exists()


# --- .npz files: format, labels, subjects ----------------------------------------


def test_a_file_that_is_not_an_npz_is_named(tmp_path):
    path = tmp_path / "windows.npz"
    path.write_text("subject,label\n1,walk\n")
    for load in (keras_har.datasets.load_dataset, keras_har.ssl.load_windows):
        with pytest.raises(ValueError, match=rf"not an \.npz archive: {path}"):
            load(str(path))


def test_object_arrays_in_an_npz_are_named(tmp_path):
    path = tmp_path / "objects.npz"
    np.savez(path, x=np.zeros((2, 4, 1)), y=np.array([0, 1], dtype=object), subjects=[1, 2])
    with pytest.raises(ValueError, match=r"array 'y' holds Python objects"):
        keras_har.datasets.load_dataset(str(path))


def test_one_based_labels_are_refused_in_every_route(tmp_path):
    path = _windows_npz(tmp_path / "w.npz", y=np.tile([1, 2, 3], 4))
    expected = r"class indices \[0\] have no window, so a 4-class model would be trained .*look 1-based"
    with pytest.raises(ValueError, match=expected):
        keras_har.datasets.load_dataset(path)
    with pytest.raises(ValueError, match=r"class indices in \[0, 3\) .*Received: y\[2\]=3"):
        keras_har.datasets.HARDataset(
            name="t", X=np.zeros((3, 4, 1)), y=[1, 2, 3], subjects=[1, 1, 2], class_names=["a", "b", "c"],
            channel_names=["x"], sampling_rate_hz=50.0, window_sec=0.08, step_sec=0.08)


@pytest.mark.parametrize("key, values, expected", [
    ("y", np.array(["walk", "sit", "walk"] * 4), r"`y` must hold integer class indices 0..K-1, not text"),
    ("y", np.array(["0", "1", "2"] * 4), r"`y` must hold integer class indices 0..K-1, not text"),
    ("subjects", np.array(["alice"] * 6 + ["bob"] * 6), r"`subjects` must hold integer subject ids, not text"),
])
def test_text_labels_and_subjects_get_one_rule_in_every_route(tmp_path, key, values, expected):
    path = _windows_npz(tmp_path / "w.npz", **{key: values}, sampling_rate_hz=50.0)
    for load in (keras_har.datasets.load_dataset, keras_har.ssl.load_windows):
        with pytest.raises(ValueError, match=expected):
            load(path)
    arrays = dict(np.load(path))
    with pytest.raises(ValueError, match=expected):
        keras_har.datasets.HARDataset(
            name="w", X=arrays["x"], y=arrays["y"], subjects=arrays["subjects"], class_names=["a", "b", "c"],
            channel_names=[f"c{i}" for i in range(arrays["x"].shape[2])], sampling_rate_hz=50.0, window_sec=0.08,
            step_sec=0.08)


def test_old_capital_x_key_still_loads_with_a_deprecation_message(tmp_path):
    path = tmp_path / "old.npz"
    np.savez(path, X=np.zeros((4, 8, 2)), y=[0, 1, 0, 1], subjects=[1, 1, 2, 2], sampling_rate_hz=25.0)
    with pytest.warns(DeprecationWarning, match=r"the key 'X' is deprecated; save the windows as 'x'"):
        data = keras_har.ssl.load_windows(str(path))
    assert data.X.shape == (4, 8, 2) and data.sampling_rate_hz == 25.0 and data.window_sec == pytest.approx(0.32)
    assert data.class_names == ["0", "1"]


# --- model files and exports -----------------------------------------------------


@pytest.fixture()
def bad_keras_files(tmp_path):
    from keras_har.training import save_model_atomic

    good = tmp_path / "good.keras"
    save_model_atomic(keras_har.TinierHAR(input_shape=(16, 3), num_classes=2, filters=2, gru_units=4), good)
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    h5 = tmp_path / "legacy.h5"
    h5.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    other_zip = tmp_path / "other.keras"
    with zipfile.ZipFile(other_zip, "w") as archive:
        archive.writestr("notes.txt", "not a model")
    return {"good": good, "bad": [truncated, h5, other_zip]}


def test_loading_a_file_that_is_not_a_keras_archive_names_it(bad_keras_files, tmp_path, capsys):
    from keras_har.commands.export import main as export_main
    from keras_har.training import load_model

    assert load_model(bad_keras_files["good"]).output_shape == (None, 2)
    for path in bad_keras_files["bad"]:
        with pytest.raises(ValueError, match=rf"not a Keras \.keras archive: {path} .*Received: model="):
            load_model(path)
        # tflite/export.py --model: refused before the data is loaded or anything is written.
        with pytest.raises(ValueError, match=rf"not a Keras \.keras archive: {path} .*Received: model="):
            export_main(["--model", str(path), "--dataset", "no_such_dataset", "--output", str(tmp_path / "x")])
        assert not (tmp_path / "x").exists()
    encoder_dir = tmp_path / "pretrained"
    encoder_dir.mkdir()
    (encoder_dir / "encoder.keras").write_bytes(bad_keras_files["bad"][0].read_bytes())
    with pytest.raises(ValueError, match=rf"not a Keras \.keras archive: {encoder_dir / 'encoder.keras'}"):
        keras_har.ssl.load_encoder(encoder_dir)


@pytest.mark.parametrize("case, expected", [
    ("nan_representative", r"`representative_windows` holds NaN or infinite values \(1 of 480\), first at index 4"),
    ("nan_test", r"`test_windows` holds NaN or infinite values \(48 of 192\), first at index 2"),
    ("text_labels", r"`test_labels` must hold integer class indices 0..K-1, not text"),
    ("labels_out_of_range", r"`test_labels` must hold class indices in \[0, 2\).*Received: test_labels\[1\]=2"),
    ("labels_missing", r"Give both `test_windows` and `test_labels`, or neither"),
])
def test_export_validates_every_input_before_writing_anything(tmp_path, monkeypatch, case, expected):
    from keras_har.export import pipeline

    def no_conversion(*args, **kwargs):
        raise AssertionError("nothing may be converted or written")

    monkeypatch.setattr(pipeline, "convert_int8", no_conversion)
    monkeypatch.setattr(pipeline, "write_firmware", no_conversion)
    model = keras_har.TinierHAR(input_shape=(16, 3), num_classes=2, filters=2, gru_units=4)
    representative = np.zeros((10, 16, 3), "float32")
    test_windows, test_labels = np.zeros((4, 16, 3), "float32"), np.array([0, 1, 0, 1])
    if case == "nan_representative":
        representative[4, 15, 2] = np.nan
    elif case == "nan_test":
        test_windows[2] = np.nan
    elif case == "text_labels":
        test_labels = np.array(["rest", "walk", "rest", "walk"])
    elif case == "labels_out_of_range":
        test_labels = np.array([0, 2, 0, 1])
    else:
        test_labels = None
    output = tmp_path / "export"
    with pytest.raises(ValueError, match=expected):
        pipeline.export_model(
            model, output, representative_windows=representative, sampling_rate_hz=50.0,
            channel_names=["x", "y", "z"], label_names=["rest", "walk"], channel_mean=[0, 0, 0],
            channel_std=[1, 1, 1], test_windows=test_windows, test_labels=test_labels, progress=False)
    assert not output.exists()
