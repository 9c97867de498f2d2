"""Your own data: a folder of CSV recordings with dataset.json, loaded and evaluated like a built-in dataset."""

import dataclasses
import json

import numpy as np
import pytest

import keras_har
from keras_har.cli import main
from keras_har.evaluation import default_protocol, make_folds

CHANNELS = ["acc_x", "acc_y", "acc_z"]
CLASSES = ["sitting", "walking", "running"]


def _write_recording(path, labels, offset=0.0, extra=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    header = ["timestamp", *CHANNELS, "label", *(extra or {})]
    lines = [",".join(header)]
    for row, label in enumerate(labels):
        values = [f"{row / 10:.1f}"] + [f"{row + 1000 * c + offset:.1f}" for c in range(3)] + [label]
        values += [str(v) for v in (extra or {}).values()]
        lines.append(",".join(values))
    path.write_text("\n".join(lines) + "\n")


def write_folder(root, **metadata):
    """Three subjects at 10 Hz; with 1 s windows and 0.5 s steps: y [0,0,0,1,1,2,1], subjects [1]*5 + [2, 3]."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "dataset.json").write_text(json.dumps(
        {"sampling_rate_hz": 10, "channel_names": CHANNELS, "class_names": CLASSES, "window_sec": 1.0,
         "step_sec": 0.5, **metadata}))
    # Windows start at 0, 5, 10, ...; the 5/5 tie at rows 10-19 goes to the smaller label, as in the reference.
    _write_recording(root / "alice_morning.csv", ["sitting"] * 15 + ["walking"] * 15, offset=0)
    # 12 unlabelled rows: only the window at rows 10-19 is mostly labelled.
    _write_recording(root / "bob_1.csv", [""] * 12 + ["running"] * 8, offset=100)
    _write_recording(root / "carol_walk.csv", ["walking"] * 10, offset=200)
    return root


def test_csv_folder_gives_exact_windows_labels_and_named_subjects(tmp_path):
    data = keras_har.datasets.load_dataset(str(write_folder(tmp_path / "phone")))
    assert data.name == "phone"
    assert data.y.tolist() == [0, 0, 0, 1, 1, 2, 1]
    assert data.subjects.tolist() == [1, 1, 1, 1, 1, 2, 3]
    assert data.subject_names == {1: "alice", 2: "bob", 3: "carol"}
    assert data.X.shape == (7, 10, 3) and data.channel_names == CHANNELS and data.class_names == CLASSES
    np.testing.assert_array_equal(data.X[1, :, 0], np.arange(5, 15))  # second window starts at row 5
    np.testing.assert_array_equal(data.X[5, :, 2], 2100 + np.arange(10, 20))  # bob's rows 10-19, channel z
    assert (data.sampling_rate_hz, data.window_sec, data.step_sec) == (10.0, 1.0, 0.5)
    assert data.test_mask is None


def test_window_settings_override_the_metadata_and_windows_never_cross_recordings(tmp_path):
    folder = write_folder(tmp_path / "phone")
    data = keras_har.datasets.load_dataset(str(folder / "dataset.json"), window_sec=2.0, step_sec=1.0)
    # 20-sample windows: alice's 30 rows give starts 0 and 10; bob's 20 rows are 12 unlabelled; carol is too short.
    assert data.y.tolist() == [0, 1] and data.subjects.tolist() == [1, 1]


def test_integer_subject_ids_in_a_subject_column_are_kept(tmp_path):
    folder = tmp_path / "logger"
    write_folder(folder)
    for path in folder.glob("*.csv"):
        path.unlink()
    _write_recording(folder / "session1.csv", ["sitting"] * 10, extra={"subject": 12})
    _write_recording(folder / "session2.csv", ["walking"] * 10, extra={"subject": 4})
    data = keras_har.datasets.load_csv_folder(folder)
    assert data.subjects.tolist() == [12, 4] and data.subject_names is None


@pytest.mark.parametrize("damage, expected", [
    (lambda f: (f / "dataset.json").unlink(), r"has no dataset\.json"),
    (lambda f: _write_recording(f / "dave_x.csv", ["sitting", "jogging"]),
     r"dave_x\.csv row 3 has label 'jogging', which is not in dataset\.json's class_names"),
    (lambda f: (f / "erin_x.csv").write_text("acc_x,acc_y,label\n1,2,sitting\n"),
     r"erin_x\.csv lacks the column\(s\) \['acc_z'\]"),
    (lambda f: (f / "fred_x.csv").write_text("acc_x,acc_y,acc_z,label\n1,2,3,sitting\n1,,3,sitting\n"),
     r"fred_x\.csv row 3 has an empty or non-finite value in channel 'acc_y'"),
    (lambda f: _write_recording(f / "nosubject.csv", ["sitting"] * 10),
     r"Cannot tell whose recording .*nosubject\.csv is: name it SUBJECT_RECORDING\.csv"),
    (lambda f: (f / "dataset.json").write_text('{"sampling_rate_hz": 10, "channel_names": ["acc_x"]}'),
     r"must give \['class_names'\]"),
])
def test_bad_csv_folders_name_the_file_and_what_was_expected(tmp_path, damage, expected):
    folder = write_folder(tmp_path / "phone")
    damage(folder)
    with pytest.raises((ValueError, FileNotFoundError), match=expected):
        keras_har.datasets.load_dataset(str(folder))


def test_train_and_test_folders_give_a_predefined_split(tmp_path):
    folder = tmp_path / "no_subjects"
    write_folder(folder)
    for path in folder.glob("*.csv"):
        path.unlink()
    _write_recording(folder / "train" / "morning.csv", ["sitting"] * 10 + ["walking"] * 10)
    _write_recording(folder / "train" / "evening.csv", ["running"] * 10)
    _write_recording(folder / "test" / "later.csv", ["walking"] * 15)
    data = keras_har.datasets.load_dataset(str(folder))
    assert data.test_mask.tolist() == [False, False, False, False, True, True]
    assert default_protocol(data)[0] == "split"
    ((train, test),), total = make_folds(data)
    assert train.tolist() == [0, 1, 2, 3] and test.tolist() == [4, 5] and total == 1
    assert data.subset(test).test_mask.all()
    with pytest.raises(ValueError, match=r"Protocol 'split' needs a predefined test split"):
        make_folds(dataclasses.replace(data, test_mask=None), "split")


def test_default_protocol_is_paper_loso_or_kfold_and_says_why(tmp_path):
    data = keras_har.datasets.load_dataset(str(write_folder(tmp_path / "phone")))
    assert default_protocol(data) == ("loso", "phone has no official folds; 3 subjects, one left out per fold")
    many = data.subset(np.arange(7).repeat(2))
    many.subjects = np.arange(14)
    assert default_protocol(many)[0] == "kfold"
    many.name = "hapt"
    assert default_protocol(many) == ("paper", "the official folds of hapt")


@pytest.mark.slow
def test_evaluate_and_train_accept_a_csv_folder(tmp_path, capsys):
    folder = write_folder(tmp_path / "phone")
    for index in range(4):  # more windows, so that a fold can train on something
        _write_recording(folder / f"alice_extra{index}.csv", ["sitting"] * 20 + ["walking"] * 20 + ["running"] * 20)
        _write_recording(folder / f"bob_extra{index}.csv", ["running"] * 20 + ["sitting"] * 20 + ["walking"] * 20)
    out = tmp_path / "cv"
    assert main(["evaluate", "--model", "tinierhar", "--dataset", str(folder), "--filters", "2", "--gru-units", "4",
                 "--epochs", "1", "--folds", "1", "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "protocol: loso (phone has no official folds; 3 subjects, one left out per fold)" in printed
    results = json.loads((out / "results.json").read_text())
    assert results["protocol"] == "loso" and results["folds_total"] == 3 and results["folds_run"] == 1
    assert main(["train", "--model", "tinierhar", "--dataset", str(folder), "--filters", "2", "--gru-units", "4",
                 "--epochs", "1", "--window-sec", "2", "--output", str(tmp_path / "model")]) == 0
    history = json.loads((tmp_path / "model" / "history.json").read_text())
    assert history["window_shape"] == [20, 3] and history["class_names"] == CLASSES


def test_npz_windows_load_through_load_dataset_with_the_documented_keys(tmp_path):
    path = tmp_path / "windows.npz"
    np.savez(path, x=np.zeros((4, 8, 2)), y=[0, 1, 1, 0], subjects=[3, 3, 5, 5], class_names=["rest", "move"])
    data = keras_har.datasets.load_dataset(str(path))
    assert (data.name, data.class_names, data.subjects.tolist()) == ("windows", ["rest", "move"], [3, 3, 5, 5])
    assert data.sampling_rate_hz is None



@pytest.mark.slow  # over 10 s: fits or CLI runs
def test_train_accepts_npz_windows_without_a_sampling_rate(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "windows.npz"
    np.savez(path, x=rng.normal(size=(40, 16, 2)), y=np.arange(40) % 2, subjects=np.arange(40) % 4)
    assert main(["train", "--model", "tinierhar", "--dataset", str(path), "--filters", "2", "--gru-units", "4",
                 "--epochs", "1", "--output", str(tmp_path / "model")]) == 0
    history = json.loads((tmp_path / "model" / "history.json").read_text())
    assert history["sampling_rate_hz"] is None and history["window_shape"] == [16, 2]


def write_training_folder(root, rows_per_label=20, **metadata):
    """`write_folder` plus two longer recordings per subject, every class in each: enough to train on."""
    folder = write_folder(root, **metadata)
    for index in range(2):
        for offset, subject in enumerate(("alice", "bob", "carol")):
            labels = [name for name in np.roll(CLASSES, offset + index) for _ in range(rows_per_label)]
            _write_recording(folder / f"{subject}_extra{index}.csv", labels, offset=10 * offset)
    return folder


def write_split_folder(root, rows_per_label=20, **metadata):
    """Recordings without subjects, in train/ and test/ folders."""
    folder = write_folder(root, **metadata)
    for path in folder.glob("*.csv"):
        path.unlink()
    for index in range(3):
        labels = [name for name in np.roll(CLASSES, index) for _ in range(rows_per_label)]
        _write_recording(folder / "train" / f"session{index}.csv", labels, offset=index)
    _write_recording(folder / "test" / "later.csv", [name for name in CLASSES for _ in range(rows_per_label)])
    return folder


@pytest.mark.slow
def test_export_trains_and_exports_int8_for_a_csv_folder_with_the_test_subjects_named(tmp_path, capsys):
    from keras_har import export
    from keras_har.commands.export import main as export_main

    folder = write_training_folder(tmp_path / "phone")
    data = keras_har.datasets.load_dataset(str(folder))
    output = tmp_path / "tflm"
    assert export_main(["--train", "--dataset", str(folder), "--test-subjects", "carol", "--output", str(output),
                        "--epochs", "1", "--filters", "2", "--gru-units", "4", "--recurrent", "lstm",
                        "--representative-windows", "8"]) == 0
    assert "test split: test subjects 3 (carol), held out as named" in capsys.readouterr().out
    report = json.loads((output / "report.json").read_text())
    assert report["test_split"] == "test subjects 3 (carol), held out as named"
    assert report["test_windows"] == int((data.subjects == 3).sum()) == 1 + 2 * 11  # carol_walk + 2 x 60 rows
    assert set(report["macro_f1"]) == {"float_keras", "litert_int8", "tflm_int8"}
    assert all(0.0 <= value <= 1.0 for value in report["macro_f1"].values())
    # --train ran the split as cross-validation runs a fold, with export's own recipe; the float
    # model it exported is that fold's best model, scored on the same test windows.
    fold = json.loads((output / "training" / "folds" / "fold_00.json").read_text())
    assert fold["test_subjects"] == [3] and fold["n_test"] == report["test_windows"] and fold["epochs_run"] == 1
    assert fold["macro_f1"] == pytest.approx(report["macro_f1"]["float_keras"], abs=1e-12)
    assert (output / "training" / "checkpoints" / "fold_00.keras").exists()
    assert export.describe((output / "model.tflite").read_bytes())["float_tensors"] == 0
    settings = export.parse_model_settings((output / "model_settings.h").read_text())
    assert (settings["kWindowLength"], settings["kChannelCount"], settings["kStepLength"]) == (10, 3, 5)
    # Standardised with the statistics of alice's and bob's windows only: carol's are the test windows.
    train = data.X[data.subjects != 3]
    np.testing.assert_allclose(settings["kChannelMean"], train.mean(axis=(0, 1)), rtol=1e-5)
    assert not np.allclose(settings["kChannelMean"], data.X.mean(axis=(0, 1)), rtol=1e-5)
    assert (output / "model_float.keras").is_file()
    # keras-har firmware's inputs for the same export: the first LOSO fold's (alice's) windows, standardised as
    # the export says; no recording to stream.
    from keras_har.firmware import verify

    windows, recording = verify.dataset_inputs(output, str(folder), windows=5)
    assert recording is None
    first = data.X[verify.spread(np.flatnonzero(data.subjects == 1), 5)]
    np.testing.assert_allclose(windows, (first - settings["kChannelMean"]) / settings["kChannelStd"], rtol=1e-5)


@pytest.mark.parametrize("arguments, expected", [
    (["--test-subjects", "9"], r"Subjects \[9\] are not in the data; its subjects are \[1, 2, 3\]\. "
                               r"Received: test_subjects=\[9\]"),
    (["--test-subjects", "dave"], r"Subject 'dave' is neither a subject id nor a subject name of phone \(its "
                                  r"subjects: 1 \(alice\), 2 \(bob\), 3 \(carol\)\)"),
    (["--test-subjects", "1,2,3"], r"Holding out every subject \(\[1, 2, 3\]\) leaves none to train on"),
    (["--test-subjects", "1", "--fold", "0"], r"Give `test_subjects` \(--test-subjects\) or a protocol's fold"),
    (["--fold", "3"], r"`fold` \(--fold\) must be a fold number in \[0, 3\) of protocol 'loso' on phone\. "
                      r"Received: fold=3"),
    (["--protocol", "split"], r"Protocol 'split' needs a predefined test split"),
])
def test_export_refuses_a_test_split_that_does_not_fit_the_data_before_writing(tmp_path, arguments, expected):
    from keras_har.commands.export import main as export_main

    folder = write_training_folder(tmp_path / "phone")
    output = tmp_path / "tflm"
    with pytest.raises(ValueError, match=expected):
        export_main(["--train", "--dataset", str(folder), "--output", str(output), *arguments])
    assert not output.exists()


def test_export_names_the_predefined_split_and_refuses_subjects_on_data_without_them(tmp_path):
    from keras_har.evaluation import holdout_split
    from keras_har.commands.export import main as export_main

    folder = write_split_folder(tmp_path / "no_subjects")
    data = keras_har.datasets.load_dataset(str(folder))
    train, test, text = holdout_split(data)
    assert test.tolist() == np.flatnonzero(data.test_mask).tolist() and len(train) == int((~data.test_mask).sum())
    assert text == ("fold 0 of protocol split: the predefined test split (protocol chosen because no_subjects has "
                    "no official folds and a predefined train/test split)")
    with pytest.raises(ValueError, match=r"Holding out subjects needs data from several subjects; no_subjects has "
                                         r"only subject id 0\. It has a predefined train/test split: use protocol "
                                         r"'split' \(--protocol split\)\. Received: test_subjects=\['1'\]"):
        export_main(["--train", "--dataset", str(folder), "--test-subjects", "1", "--output", str(tmp_path / "o")])
    assert not (tmp_path / "o").exists()


def test_export_refuses_npz_windows_without_a_sampling_rate(tmp_path):
    from keras_har.commands.export import main as export_main

    path = tmp_path / "windows.npz"
    np.savez(path, x=np.zeros((8, 16, 2)), y=np.arange(8) % 2, subjects=np.arange(8) % 4)
    with pytest.raises(ValueError, match=r"save 'sampling_rate_hz' in the \.npz file\. Received: dataset='.*windows"):
        export_main(["--train", "--dataset", str(path), "--output", str(tmp_path / "o")])
    assert not (tmp_path / "o").exists()


def test_firmware_check_of_your_own_data_has_no_recording_to_stream(tmp_path):
    from keras_har.firmware.verify import first_recording

    assert first_recording(str(write_folder(tmp_path / "phone")), [1]) is None


@pytest.mark.slow
def test_pretrain_and_finetune_accept_csv_folders(tmp_path):
    from keras_har import ssl

    # 3.2 s windows at 10 Hz: 32 samples, as the other self-supervised tests use.
    folder = write_training_folder(tmp_path / "phone", rows_per_label=40, window_sec=3.2, step_sec=1.6)
    data = keras_har.datasets.load_dataset(str(folder))
    run = tmp_path / "pretrained"
    assert main(["pretrain", "--pretext", "reconstruction", "--dataset", str(folder), "--output", str(run),
                 "--epochs", "1", "--fraction", "0.5", "--batch-size", "8"]) == 0
    metadata = ssl.load_metadata(run)
    assert sorted(p.name for p in run.iterdir()) == ["encoder.keras", "pretext.keras", "pretrain.json",
                                                     "standardizer.json"]  # no checkpoint.npz left
    assert (metadata["sampling_rate_hz"], metadata["window_length"], metadata["channel_names"]) == (10.0, 32, CHANNELS)
    assert main(["finetune", "--encoder", str(run), "--dataset", str(folder), "--mode", "frozen",
                 "--windows-per-class", "1", "--n-splits", "3", "--folds", "1", "--epochs", "1",
                 "--output", str(tmp_path / "study")]) == 0
    table = __import__("pandas").read_csv(tmp_path / "study" / "results.csv")
    held_out = keras_har.datasets.splits.subject_kfold(data.subjects, 3, 0)[0][1]
    assert table[["train_windows", "test_windows"]].values.tolist() == [[3, len(held_out)]]

    # Recordings without subjects, in train/ and test/: fine-tuning is scored on the test/ windows.
    split = write_split_folder(tmp_path / "no_subjects", rows_per_label=40, window_sec=3.2, step_sec=1.6)
    assert main(["finetune", "--encoder", str(run), "--dataset", str(split), "--mode", "frozen",
                 "--windows-per-class", "1", "--epochs", "1", "--output", str(tmp_path / "split_study")]) == 0
    table = __import__("pandas").read_csv(tmp_path / "split_study" / "results.csv")
    test_mask = keras_har.datasets.load_dataset(str(split)).test_mask
    assert table[["fold", "train_windows", "test_windows"]].values.tolist() == [[0, 3, int(test_mask.sum())]]
