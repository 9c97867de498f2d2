import dataclasses
import os
import pathlib
import re

import numpy as np
import pandas as pd
import pytest

import keras_har
from keras_har.datasets import home, windows
import test_datasets_files as fixtures

datasets = keras_har.datasets


def _load(name, data_home, cache_dir, facts, **kwargs):
    return datasets.load_dataset(
        name, data_home=data_home, download_if_missing=False, window_sec=facts["window_sec"],
        step_sec=facts["step_sec"], cache_dir=cache_dir, verbose=False, **kwargs,
    )


# --- the container -----------------------------------------------------------


def _toy():
    return datasets.HARDataset(
        name="toy", X=np.arange(4 * 10 * 3, dtype="float64").reshape(4, 10, 3), y=[0, 1, 0, 1],
        subjects=[7, 7, 8, 8], class_names=["a", "b"], channel_names=["x", "y", "z"],
        sampling_rate_hz=5.0, window_sec=2.0, step_sec=1.0,
    )


def test_hardataset_fields_dtypes_and_properties():
    data = _toy()
    assert data.X.dtype == np.float32 and data.y.dtype == np.int64 and data.subjects.dtype == np.int64
    assert (len(data), data.num_classes, data.window_length, data.num_channels) == (4, 2, 10, 3)
    assert "windows=4" in repr(data)


def test_hardataset_subset_keeps_metadata_with_indices_and_masks():
    data = _toy()
    part = data.subset(np.array([3, 0]))
    assert part.y.tolist() == [1, 0] and part.subjects.tolist() == [8, 7]
    np.testing.assert_array_equal(part.X[0], data.X[3])
    assert (part.class_names, part.channel_names, part.sampling_rate_hz, part.window_sec) == (
        data.class_names, data.channel_names, 5.0, 2.0)
    assert data.subset(data.subjects == 8).y.tolist() == [0, 1]


def test_hardataset_rejects_inconsistent_fields():
    with pytest.raises(ValueError, match=r"one entry per window.*y.shape=\(3,\)"):
        dataclasses.replace(_toy(), y=[0, 1, 0])
    with pytest.raises(ValueError, match=r"class indices in \[0, 2\).*Received: y\[2\]=2"):
        dataclasses.replace(_toy(), y=[0, 1, 2, 1])


# --- windowing ---------------------------------------------------------------


def _official_windows(recordings, window_length, step_length):
    """The official dataloader_base.py loop, in pandas: null label is 0, classes 1..K."""
    y, subjects = [], []
    for labels, subject in recordings:
        series = pd.Series(labels + 1)
        start = 0
        while start + window_length <= len(series):
            mode = series.iloc[start:start + window_length].mode().loc[0]
            if mode != 0:
                y.append(mode - 1)
                subjects.append(subject)
            start += step_length
    return y, subjects


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sliding_windows_match_the_official_loop_including_ties(seed):
    rng = np.random.default_rng(seed)
    recordings = []
    for subject in range(1, 6):
        length = int(rng.integers(5, 60))
        # Long runs of few labels, so ties and unlabelled majorities happen.
        labels = np.repeat(rng.integers(-1, 3, size=length // 4 + 1), 4)[:length]
        signal = rng.normal(size=(length, 2)).astype(np.float32)
        recordings.append(windows.Recording(signal, labels, subject))
    packed = windows.concatenate(recordings)
    X, y, subjects = windows.sliding_windows(*packed, window_length=8, step_length=4, num_classes=3)
    expected_y, expected_subjects = _official_windows([(r.labels, r.subject) for r in recordings], 8, 4)
    assert y.tolist() == expected_y
    assert subjects.tolist() == expected_subjects
    assert X.shape == (len(expected_y), 8, 2)


def test_sliding_windows_never_cross_recordings_and_copy_the_signal():
    first = windows.Recording(np.arange(10, dtype=np.float32)[:, None], np.zeros(10, np.int64), 1)
    second = windows.Recording(100 + np.arange(7, dtype=np.float32)[:, None], np.ones(7, np.int64), 2)
    X, y, subjects = windows.sliding_windows(
        *windows.concatenate([first, second]), window_length=4, step_length=3, num_classes=2)
    # 10 samples -> starts 0, 3, 6; 7 samples -> starts 0, 3.
    assert X[:, 0, 0].tolist() == [0, 3, 6, 100, 103]
    assert X[2, :, 0].tolist() == [6, 7, 8, 9]
    assert y.tolist() == [0, 0, 0, 1, 1] and subjects.tolist() == [1, 1, 1, 2, 2]


def test_window_and_step_from_seconds_follow_the_reference():
    assert windows.window_length_and_step(50, 4.0, None) == (200, 100)
    assert windows.window_length_and_step(33, 4.0, None) == (132, 66)  # PAMAP2
    assert windows.window_length_and_step(50, 2.56, None) == (128, 64)  # UCI HAR
    assert windows.window_length_and_step(100, 4.0, 1.0) == (400, 100)
    with pytest.raises(ValueError, match=r"Received: step_sec=0"):
        windows.window_length_and_step(50, 4.0, 0)
    with pytest.raises(ValueError, match=r"Received: window_sec=-1"):
        windows.window_length_and_step(50, -1, None)


# --- every loader on tiny files in the original layout -----------------------


@pytest.mark.parametrize("name", sorted(fixtures.WRITERS))
def test_loader_on_fixture_files_gives_exact_windows(name, tmp_path):
    facts = fixtures.WRITERS[name](tmp_path / "data")
    data = _load(name, tmp_path / "data", tmp_path / "cache", facts)
    assert data.name == name
    assert data.X.shape == facts["shape"] and data.X.dtype == np.float32
    assert data.y.tolist() == facts["y"]
    assert data.subjects.tolist() == facts["subjects"]
    assert data.num_classes == facts["num_classes"] == len(data.class_names)
    assert len(data.channel_names) == facts["shape"][2]
    loader = getattr(datasets, f"load_{name}")
    again = loader(data_home=tmp_path / "data", download_if_missing=False, window_sec=facts["window_sec"],
                   step_sec=facts["step_sec"], cache_dir=tmp_path / "cache", verbose=False)
    np.testing.assert_array_equal(again.X, data.X)


def test_hapt_signal_values_channels_and_segment_bounds(tmp_path):
    facts = fixtures.write_hapt(tmp_path)
    data = _load("hapt", tmp_path, tmp_path / "cache", facts)
    assert data.channel_names == ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"]
    assert data.class_names[0] == "WALKING" and data.class_names[11] == "LIE_TO_STAND"
    # Window 5 starts at row 125 of experiment 1 (offset 0.25); acc_y is +1000, gyro_x +3000.
    np.testing.assert_allclose(data.X[5, 0], [125.25, 1125.25, 2125.25, 3125.25, 4125.25, 5125.25])
    assert (data.sampling_rate_hz, data.window_sec, data.step_sec) == (50.0, 1.0, 0.5)


def test_uci_har_channel_order_and_default_window(tmp_path):
    facts = fixtures.write_uci_har(tmp_path)
    data = _load("uci_har", tmp_path, tmp_path / "cache", facts)
    assert data.channel_names[0] == "body_acc_x" and data.channel_names[-1] == "total_acc_z"
    assert data.X[2, 0].tolist() == [100.0 * c + 2 for c in range(9)]  # third train row
    assert data.X[3, 0, 0] == 0.0  # first test row
    assert (data.window_sec, data.step_sec) == (2.56, 1.28)


def test_pamap2_interpolates_missing_samples_and_downsamples(tmp_path):
    facts = fixtures.write_pamap2(tmp_path)
    data = _load("pamap2", tmp_path, tmp_path / "cache", facts)
    subject2 = data.X[data.subjects == 2]
    # Every third raw row; raw row 3 was NaN and is interpolated to 3.
    assert subject2[0, :4, 0].tolist() == [0.0, 3.0, 6.0, 9.0]
    assert data.sampling_rate_hz == 33.0 and data.X.shape[1] == 33


def test_wisdm_drops_rows_with_missing_values(tmp_path):
    facts = fixtures.write_wisdm(tmp_path)
    data = _load("wisdm", tmp_path, tmp_path / "cache", facts)
    assert data.X[0, :3, 0].tolist() == [0.5, 1.5, 2.5]
    assert data.class_names == ["Walking", "Jogging", "Sitting", "Standing", "Upstairs", "Downstairs"]


def test_load_dataset_rejects_unknown_name():
    with pytest.raises(ValueError, match=r"known datasets: uci_har, hapt, usc_had.*Received: name='opportunity'"):
        datasets.load_dataset("opportunity")
    assert datasets.DATASET_NAMES == (
        "uci_har", "hapt", "usc_had", "wisdm", "pamap2", "mhealth", "motionsense", "daphnet")


# --- bad input -----------------------------------------------------------------


def _cache_files(cache_dir):
    return sorted(p.name for p in pathlib.Path(cache_dir).rglob("*") if p.is_file())


def test_missing_files_say_how_to_get_the_data(tmp_path, monkeypatch):
    monkeypatch.delenv("KERAS_HAR_DATA", raising=False)
    with pytest.raises(FileNotFoundError) as error:
        datasets.load_hapt(data_home=tmp_path, download_if_missing=False, verbose=False)
    message = str(error.value)
    assert "HAPT Data Set/RawData" in message and "KERAS_HAR_DATA" in message
    assert "download_if_missing=True" in message and f"Received: data_home={tmp_path}" in message


def test_missing_gyro_file_is_named(tmp_path):
    facts = fixtures.write_hapt(tmp_path)
    (tmp_path / "hapt/HAPT Data Set/RawData/gyro_exp02_user01.txt").unlink()
    with pytest.raises(FileNotFoundError, match=r"gyro_exp02_user01\.txt"):
        _load("hapt", tmp_path, tmp_path / "cache", facts)
    assert _cache_files(tmp_path / "cache") == []


@pytest.mark.parametrize("bad_row, expected", [
    ("1.0 2.0", r"columns changed from 3 to 2"),
    ("1.0 abc 2.0", r"could not convert string 'abc'"),
])
def test_truncated_or_garbled_row_names_the_file(tmp_path, bad_row, expected):
    facts = fixtures.write_hapt(tmp_path)
    path = tmp_path / "hapt/HAPT Data Set/RawData/acc_exp02_user01.txt"
    lines = path.read_text().splitlines()
    lines[5] = bad_row
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"acc_exp02_user01\.txt: expected 3 numeric columns") as error:
        _load("hapt", tmp_path, tmp_path / "cache", facts)
    assert re.search(expected, str(error.value))
    assert _cache_files(tmp_path / "cache") == []


def test_truncated_gz_file_names_the_file(tmp_path):
    facts = fixtures.write_hapt(tmp_path)
    path = tmp_path / "hapt/HAPT Data Set/RawData/gyro_exp01_user01.txt.gz"
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(ValueError, match=r"gyro_exp01_user01\.txt\.gz"):
        _load("hapt", tmp_path, tmp_path / "cache", facts)


def test_acc_and_gyro_of_different_length_are_refused(tmp_path):
    facts = fixtures.write_hapt(tmp_path)
    path = tmp_path / "hapt/HAPT Data Set/RawData/gyro_exp02_user01.txt"
    path.write_text("\n".join(path.read_text().splitlines()[:-1]) + "\n")
    with pytest.raises(ValueError, match=r"has 100 rows but .*gyro_exp02_user01\.txt has 99"):
        _load("hapt", tmp_path, tmp_path / "cache", facts)


def test_nan_sample_is_refused_where_the_reference_has_no_rule(tmp_path):
    facts = fixtures.write_hapt(tmp_path)
    path = tmp_path / "hapt/HAPT Data Set/RawData/acc_exp02_user01.txt"
    lines = path.read_text().splitlines()
    lines[41] = "0.1 nan 0.3"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"acc_exp02_user01\.txt has a NaN .* at data row 42"):
        _load("hapt", tmp_path, tmp_path / "cache", facts)
    assert _cache_files(tmp_path / "cache") == []


def test_window_longer_than_every_recording_is_refused(tmp_path):
    facts = fixtures.write_hapt(tmp_path)
    with pytest.raises(ValueError, match=r"window of 500 samples is longer than every recording of hapt "
                                         r"\(the longest has 200 samples\)"):
        datasets.load_hapt(data_home=tmp_path, download_if_missing=False, window_sec=10.0,
                           cache_dir=tmp_path / "cache", verbose=False)
    fixtures.write_uci_har(tmp_path)
    with pytest.raises(ValueError, match=r"longer than every recording of uci_har"):
        datasets.load_uci_har(data_home=tmp_path, download_if_missing=False, window_sec=3.0,
                              cache_dir=tmp_path / "cache", verbose=False)


def test_bad_usc_had_file_is_named(tmp_path):
    facts = fixtures.write_usc_had(tmp_path)
    (tmp_path / "usc_had/USC-HAD/Subject2/a3t1.mat").write_bytes(b"not a mat file")
    with pytest.raises(ValueError, match=r"Subject2/a3t1\.mat as a MATLAB file"):
        _load("usc_had", tmp_path, tmp_path / "cache", facts)


# --- the parsed cache ----------------------------------------------------------


def test_second_load_reads_the_cache_without_parsing(tmp_path, monkeypatch):
    facts = fixtures.write_hapt(tmp_path)
    first = _load("hapt", tmp_path, tmp_path / "cache", facts)
    assert _cache_files(tmp_path / "cache") == ["hapt_recordings_v1.npz"]

    def no_parsing(*args, **kwargs):
        raise AssertionError("parsed again although the cache is valid")

    monkeypatch.setattr(np, "loadtxt", no_parsing)
    second = _load("hapt", tmp_path, tmp_path / "cache", {**facts, "window_sec": 0.5, "step_sec": 0.5})
    assert second.X.shape[1] == 25  # another window length cut from the same cache
    third = _load("hapt", tmp_path, tmp_path / "cache", facts)
    np.testing.assert_array_equal(third.X, first.X)


def test_changed_source_file_invalidates_the_cache(tmp_path):
    facts = fixtures.write_hapt(tmp_path)
    _load("hapt", tmp_path, tmp_path / "cache", facts)
    path = tmp_path / "hapt/HAPT Data Set/RawData/acc_exp02_user01.txt"
    lines = path.read_text().splitlines()
    lines[0] = "9.0 9.0 9.0"
    path.write_text("\n".join(lines) + "\n")
    data = _load("hapt", tmp_path, tmp_path / "cache", facts)
    assert data.X[7, 0, :3].tolist() == [9.0, 9.0, 9.0]  # the first window of experiment 2


def test_damaged_cache_is_rebuilt(tmp_path):
    facts = fixtures.write_hapt(tmp_path)
    _load("hapt", tmp_path, tmp_path / "cache", facts)
    cache_file = tmp_path / "cache" / "hapt" / "hapt_recordings_v1.npz"
    cache_file.write_bytes(cache_file.read_bytes()[:100])
    with pytest.warns(UserWarning, match="unreadable cache"):
        data = _load("hapt", tmp_path, tmp_path / "cache", facts)
    assert data.y.tolist() == facts["y"]
    assert _cache_files(tmp_path / "cache") == ["hapt_recordings_v1.npz"]


def test_cache_location_argument_env_and_default(tmp_path, monkeypatch):
    monkeypatch.delenv("KERAS_HAR_CACHE", raising=False)
    fixtures.write_hapt(tmp_path)
    datasets.load_hapt(data_home=tmp_path, download_if_missing=False, window_sec=1.0, verbose=False)
    assert (tmp_path / "hapt" / "keras_har_cache" / "hapt_recordings_v1.npz").is_file()
    monkeypatch.setenv("KERAS_HAR_CACHE", str(tmp_path / "elsewhere"))
    datasets.load_hapt(data_home=tmp_path, download_if_missing=False, window_sec=1.0, verbose=False)
    assert (tmp_path / "elsewhere" / "hapt" / "hapt_recordings_v1.npz").is_file()
    no_cache = tmp_path / "no_cache"
    datasets.load_hapt(data_home=tmp_path, download_if_missing=False, window_sec=1.0, cache=False,
                       cache_dir=no_cache, verbose=False)
    assert not no_cache.exists()


def test_read_only_dataset_folder_falls_back_to_the_user_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("KERAS_HAR_CACHE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")  # nothing can be created under it, like a read-only share
    path = home.get_cache_dir("hapt", not_a_folder)
    assert path.parent == tmp_path / "home" / ".cache" / "keras_har" / "hapt"


def test_get_data_home_order(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HAR_DATA", str(tmp_path / "env"))
    assert datasets.get_data_home(tmp_path / "arg") == tmp_path / "arg"
    assert datasets.get_data_home() == tmp_path / "env"
    monkeypatch.delenv("KERAS_HAR_DATA")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert datasets.get_data_home() == tmp_path / "keras_har_data"


# --- the staged real data --------------------------------------------------------


@pytest.fixture(scope="module")
def real_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("real_cache")


def test_real_hapt_has_30_subjects_12_classes_and_uci_test_subjects(real_data_home, real_cache):
    data = datasets.load_hapt(data_home=real_data_home, download_if_missing=False, cache_dir=real_cache,
                              verbose=False)
    assert data.X.shape[1:] == (200, 6) and data.sampling_rate_hz == 50.0
    assert sorted(np.unique(data.subjects).tolist()) == list(range(1, 31))
    assert sorted(np.unique(data.y).tolist()) == list(range(12))
    assert len(data) == 8153
    uci = pathlib.Path(real_data_home) / "uci_har" / "UCI HAR Dataset"
    uci_test = np.unique(np.loadtxt(uci / "test" / "subject_test.txt", dtype=int)).tolist()
    hapt_test = np.unique(np.loadtxt(pathlib.Path(real_data_home) / "hapt" / "HAPT Data Set" / "Test" /
                                     "subject_id_test.txt", dtype=int)).tolist()
    assert uci_test == hapt_test == list(datasets.splits.UCI_HAR_TEST_SUBJECTS)
    # The 6 UCI activities are HAPT's first 6 classes, and every subject has them.
    uci_names = [line.split()[1] for line in (uci / "activity_labels.txt").read_text().splitlines()]
    assert data.class_names[:6] == uci_names
    activities = data.subset(data.y < 6)
    assert sorted(np.unique(activities.subjects).tolist()) == list(range(1, 31))
    folds = datasets.splits.paper_folds("hapt", data.subjects)
    assert len(folds) == 10 and sum(len(test) for _, test in folds) == len(data)


def test_real_usc_had_has_14_subjects_12_classes_at_100_hz(real_data_home, real_cache):
    data = datasets.load_usc_had(data_home=real_data_home, download_if_missing=False, cache_dir=real_cache,
                                 verbose=False)
    assert data.X.shape == (13024, 400, 6) and data.sampling_rate_hz == 100.0
    assert sorted(np.unique(data.subjects).tolist()) == list(range(1, 15))
    assert np.bincount(data.y, minlength=12).min() > 0 and data.num_classes == 12
    assert len(datasets.splits.paper_folds("usc_had", data.subjects)) == 7


def test_real_uci_har_staged_copy_lacks_inertial_signals(real_data_home, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"UCI HAR Dataset"):
        # The staged folder exists but has no Inertial Signals: parsing names the first missing file.
        datasets.load_uci_har(data_home=real_data_home, download_if_missing=False, cache_dir=tmp_path,
                              verbose=False)


def test_interrupted_cache_write_leaves_no_file(tmp_path, monkeypatch):
    facts = fixtures.write_hapt(tmp_path)

    def failing_savez(file, **arrays):
        file.write(b"half of an npz")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", failing_savez)
    with pytest.raises(KeyboardInterrupt):
        _load("hapt", tmp_path, tmp_path / "cache", facts)
    assert _cache_files(tmp_path / "cache") == []


def test_verbose_load_shows_parsing_progress(tmp_path, capsys):
    facts = fixtures.write_daphnet(tmp_path)
    data = datasets.load_daphnet(data_home=tmp_path, download_if_missing=False, window_sec=1.0,
                                 step_sec=0.5, cache_dir=tmp_path / "cache", verbose=True)
    assert data.y.tolist() == facts["y"]
    assert "Parsing daphnet" in capsys.readouterr().err


def test_real_hapt_windows_of_three_subjects_match_the_official_pandas_loop(real_data_home, real_cache):
    """Labels as the official loader writes them (`iloc[start:end + 1]`, null 0), then its window loop."""
    raw = pathlib.Path(real_data_home) / "hapt" / "HAPT Data Set" / "RawData"
    segments = pd.read_csv(raw / "labels.txt", sep=" ", header=None, names=["exp", "user", "act", "start", "end"])
    recordings = []
    for user in (1, 2, 3):
        for experiment in sorted(segments[segments.user == user].exp.unique()):
            rows = len(pd.read_csv(raw / f"acc_exp{experiment:02d}_user{user:02d}.txt.gz", sep=" ", header=None))
            activity = pd.Series(np.zeros(rows, dtype=int))
            for row in segments[(segments.exp == experiment) & (segments.user == user)].itertuples():
                activity.iloc[row.start:row.end + 1] = row.act
            recordings.append((activity.to_numpy() - 1, user))
    expected_y, expected_subjects = _official_windows(recordings, 200, 100)
    data = datasets.load_hapt(data_home=real_data_home, download_if_missing=False, cache_dir=real_cache,
                              verbose=False)
    mine = data.subset(data.subjects <= 3)
    assert len(expected_y) > 700 and len(set(expected_y)) == 12
    assert mine.y.tolist() == expected_y
    assert mine.subjects.tolist() == expected_subjects


def test_read_only_data_folder_is_never_written_even_by_root(tmp_path, monkeypatch):
    monkeypatch.delenv("KERAS_HAR_CACHE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    facts = fixtures.write_hapt(tmp_path / "share")
    for path in [tmp_path / "share", *(tmp_path / "share").rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)  # root can still write here: the bits must decide
    try:
        data = datasets.load_hapt(data_home=tmp_path / "share", download_if_missing=False, window_sec=1.0,
                                  step_sec=0.5, verbose=False)
        assert data.y.tolist() == facts["y"]
        assert not (tmp_path / "share" / "hapt" / "keras_har_cache").exists()
        cached = list((tmp_path / "home" / ".cache" / "keras_har" / "hapt").rglob("*.npz"))
        umask = os.umask(0)
        os.umask(umask)
        assert len(cached) == 1 and cached[0].stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600
    finally:
        for path in [tmp_path / "share", *(tmp_path / "share").rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
