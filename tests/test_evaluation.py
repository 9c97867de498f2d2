"""keras_har.evaluation and the train/evaluate CLI."""

import json
import os

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score

from keras_har import evaluation
from keras_har.backend import keras, tf
from keras_har.cli import main
from helpers import CountingBuilder, FailingBuilder
from helpers import toy_dataset as _toy_dataset


@pytest.mark.slow  # over 5 s: three cross-validation folds
def test_cross_validate_writes_files_that_reload_and_resumes(tmp_path):
    data = _toy_dataset()
    builder = CountingBuilder()
    out = tmp_path / "cv"
    results = evaluation.cross_validate(builder, data, protocol="kfold", folds=2, epochs=2,
                                        output_dir=out, verbose=0)
    assert builder.calls == 2
    assert sorted(os.listdir(out)) == ["checkpoints", "confusion.png", "folds", "folds.csv", "results.json",
                                       "run.json", "tensorboard"]
    assert sorted(os.listdir(out / "folds")) == ["fold_00.json", "fold_00.npz", "fold_01.json", "fold_01.npz"]
    assert (out / "confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    saved = json.loads((out / "results.json").read_text())
    assert saved["macro_f1_mean"] == results["macro_f1_mean"]
    assert (saved["folds_run"], saved["folds_total"], saved["epochs_max"]) == (2, 2, 2)
    assert np.array(saved["confusion"]).sum() == len(data.y)
    table = pd.read_csv(out / "folds.csv")
    assert len(table) == 2
    assert sorted(" ".join(table["test_subjects"].astype(str)).split()) == ["1", "2", "3", "4"]
    # Reported scores are those of the saved test predictions.
    per_fold = []
    for index in range(2):
        arrays = np.load(out / "folds" / f"fold_{index:02d}.npz")
        per_fold.append(f1_score(arrays["y_true"], arrays["y_pred"], average="macro"))
        assert table.loc[index, "macro_f1"] == pytest.approx(per_fold[-1])
        assert table.loc[index, "epochs_run"] == 2
        assert table.loc[index, "n_train"] + table.loc[index, "n_val"] + table.loc[index, "n_test"] == 96
    assert saved["macro_f1_mean"] == pytest.approx(np.mean(per_fold))
    assert saved["macro_f1_std"] == pytest.approx(np.std(per_fold))
    # Each fold's best model reloads in safe mode.
    checkpoint = keras.models.load_model(out / "checkpoints" / "fold_00.keras", safe_mode=True)
    assert checkpoint.output_shape == (None, 3)
    # TensorBoard: epoch scalars, and the test confusion matrix as an image.
    tags = set()
    for event_file in tf.io.gfile.glob(str(out / "tensorboard" / "fold_01" / "test" / "events.*")):
        for event in tf.compat.v1.train.summary_iterator(event_file):
            tags.update(value.tag for value in event.summary.value)
    assert {"confusion_matrix", "macro_f1", "accuracy"} <= tags
    assert os.listdir(out / "tensorboard" / "fold_00" / "train")

    # A rerun skips finished folds; a lost fold (killed run) is the only one redone.
    again = evaluation.cross_validate(builder, data, protocol="kfold", folds=2, epochs=2, output_dir=out, verbose=0)
    assert builder.calls == 2
    assert again["macro_f1_mean"] == results["macro_f1_mean"]
    (out / "folds" / "fold_01.json").unlink()
    evaluation.cross_validate(builder, data, protocol="kfold", folds=2, epochs=2, output_dir=out, verbose=0)
    assert builder.calls == 3


def _imbalanced_dataset():
    """Three subjects of 6 windows whose features give the class away; the majority class differs per fold."""
    from keras_har.datasets import HARDataset

    y = np.array([0, 0, 0, 0, 1, 2,  0, 0, 0, 1, 1, 2,  1, 1, 1, 1, 0, 2])
    x = np.random.default_rng(0).normal(size=(18, 16, 2)) + 10 * y[:, None, None]
    return HARDataset(name="imbalanced", X=x, y=y, subjects=np.repeat([1, 2, 3], 6), class_names=["a", "b", "c"],
                      channel_names=["x", "z"], sampling_rate_hz=50.0, window_sec=0.32, step_sec=0.16)


@pytest.mark.slow  # over 5 s: a cross-validation run
def test_cross_validate_reports_majority_and_feature_baselines_per_fold_and_in_the_summary(tmp_path, capsys):
    data = _imbalanced_dataset()
    builder = CountingBuilder()
    results = evaluation.cross_validate(builder, data, protocol="loso", epochs=1, output_dir=tmp_path, verbose=0)
    # By hand: the training subjects' most frequent class is 1 (4 x a, 6 x b, 2 x c), then a (5 x a, 5 x b: the
    # tie goes to the smaller index), then a (7 x a); predicting it everywhere scores F1 2*hits / (true + predicted)
    # on that class and 0 on the two others present.
    by_hand = [2 * 1 / (1 + 6) / 3, 2 * 3 / (3 + 6) / 3, 2 * 1 / (1 + 6) / 3]
    majority = [fold["baseline_majority_macro_f1"] for fold in results["folds"]]
    np.testing.assert_allclose(majority, by_hand)
    assert results["baseline_majority_macro_f1_mean"] == pytest.approx(np.mean(by_hand))
    assert results["baseline_majority_macro_f1_std"] == pytest.approx(np.std(by_hand))
    # The window means separate the classes: the random forest is perfect on every fold.
    assert [fold["baseline_features_macro_f1"] for fold in results["folds"]] == [1.0, 1.0, 1.0]
    assert results["baseline_features_macro_f1_mean"] == 1.0
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["baseline_majority_macro_f1_mean"] == results["baseline_majority_macro_f1_mean"]
    assert set(saved["baselines"]) == {"majority", "features"}
    table = pd.read_csv(tmp_path / "folds.csv")
    np.testing.assert_allclose(table["baseline_majority_macro_f1"], by_hand)
    assert table["baseline_features_macro_f1"].between(0, 1).all()
    printed = capsys.readouterr().out
    assert f"baselines: majority class {np.mean(by_hand):.4f}, random forest on mean/std/min/max 1.0000" in printed
    if results["macro_f1_mean"] < 1.0:
        assert "(the network is below the feature baseline)" in printed

    # A fold finished without baselines gets them on the next call, without training again.
    fold_path = tmp_path / "folds" / "fold_01.json"
    fold = json.loads(fold_path.read_text())
    fold_path.write_text(json.dumps({k: v for k, v in fold.items() if not k.startswith("baseline_")}))
    again = evaluation.cross_validate(builder, data, protocol="loso", epochs=1, output_dir=tmp_path, verbose=0)
    assert builder.calls == 3
    assert again["folds"][1]["baseline_majority_macro_f1"] == pytest.approx(by_hand[1])


def test_baselines_can_be_turned_off(tmp_path):
    results = evaluation.cross_validate(CountingBuilder(), _imbalanced_dataset(), protocol="loso", folds=1, epochs=1,
                                        output_dir=tmp_path, verbose=0, baselines=False)
    assert not [key for key in results if key.startswith("baseline")]
    assert not [key for key in results["folds"][0] if key.startswith("baseline")]
    from keras_har.cli import build_parser

    arguments = ["evaluate", "--model", "tinierhar", "--dataset", "hapt", "--output", "out"]
    assert build_parser().parse_args(arguments).baselines is True
    assert build_parser().parse_args(arguments + ["--no-baselines"]).baselines is False


def test_window_features_are_per_channel_mean_std_min_max():
    windows = np.array([[[1.0, 10.0], [3.0, 10.0], [5.0, 40.0]]])
    np.testing.assert_allclose(evaluation.window_features(windows),
                               [[3.0, 20.0, np.std([1, 3, 5]), np.std([10, 10, 40]), 1.0, 10.0, 5.0, 40.0]])


def test_a_run_can_be_extended_to_more_folds(tmp_path):
    data = _toy_dataset(subjects_count=3)
    builder = CountingBuilder()
    first = evaluation.cross_validate(builder, data, protocol="loso", folds=1, epochs=1, output_dir=tmp_path,
                                      verbose=0)
    assert (builder.calls, first["folds_run"], first["folds_total"]) == (1, 1, 3)
    second = evaluation.cross_validate(builder, data, protocol="loso", folds=2, epochs=1, output_dir=tmp_path,
                                       verbose=0)
    assert (builder.calls, second["folds_run"]) == (2, 2)
    assert second["folds"][0] == first["folds"][0]
    assert [fold["test_subjects"] for fold in second["folds"]] == [[1], [2]]


@pytest.mark.slow  # over 5 s: three cross-validation folds
def test_fold_indices_split_one_run_over_several_calls(tmp_path):
    # Two "workers" share one folder, each with its own folds; a last call without
    # fold_indices trains nothing and summarises all of them.
    data = _toy_dataset(subjects_count=4)
    builder = CountingBuilder()
    odd = evaluation.cross_validate(builder, data, protocol="loso", fold_indices=[3, 1], epochs=1,
                                    output_dir=tmp_path, verbose=0)
    assert [fold["fold"] for fold in odd["folds"]] == [1, 3]
    assert [fold["test_subjects"] for fold in odd["folds"]] == [[2], [4]]
    assert (builder.calls, odd["folds_run"], odd["folds_total"]) == (2, 2, 4)
    assert sorted(os.listdir(tmp_path / "folds")) == ["fold_01.json", "fold_01.npz", "fold_03.json", "fold_03.npz"]
    evaluation.cross_validate(builder, data, protocol="loso", fold_indices=[0, 2], epochs=1,
                              output_dir=tmp_path, verbose=0)
    assert builder.calls == 4
    every = evaluation.cross_validate(builder, data, protocol="loso", epochs=1, output_dir=tmp_path, verbose=0)
    assert builder.calls == 4
    assert [fold["fold"] for fold in every["folds"]] == [0, 1, 2, 3]
    assert every["folds"][1] == odd["folds"][0]
    assert every["confusion_folds"] == [0, 1, 2, 3]
    assert np.array(every["confusion"]).sum() == len(data.y)
    assert json.loads((tmp_path / "results.json").read_text())["folds_run"] == 4


@pytest.mark.slow  # over 5 s: a cross-validation run
def test_summary_of_restored_folds_sums_only_the_confusions_it_has(tmp_path):
    # A fold restored from an old results.json (benchmarks/restore_run.py) has no confusion matrix.
    data = _toy_dataset(subjects_count=3)
    builder = CountingBuilder()
    evaluation.cross_validate(builder, data, protocol="loso", epochs=1, output_dir=tmp_path, verbose=0)
    fold_path = tmp_path / "folds" / "fold_00.json"
    restored = dict(json.loads(fold_path.read_text()), confusion=None, restored_from="results.json")
    restored.pop("standardizer")
    fold_path.write_text(json.dumps(restored))
    results = evaluation.cross_validate(builder, data, protocol="loso", epochs=1, output_dir=tmp_path, verbose=0)
    assert builder.calls == 3
    assert results["confusion_folds"] == [1, 2]
    assert np.array(results["confusion"]).sum() == int((data.subjects != 1).sum())
    assert results["folds"][0]["restored_from"] == "results.json"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"protocol": "loso", "fold_indices": [4]}, r"in \[0, 4\) .*Received: fold_indices=\[4\]"),
        ({"protocol": "loso", "fold_indices": []}, r"Received: fold_indices=\[\]"),
        ({"protocol": "loso", "fold_indices": [True]}, r"Received: fold_indices=\[True\]"),
        ({"protocol": "loso", "folds": 1, "fold_indices": [0]}, r"either `folds`.*Received: folds=1"),
    ],
)
def test_bad_fold_indices_are_clear_errors(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        evaluation.cross_validate(CountingBuilder(), _toy_dataset(), output_dir=tmp_path, epochs=1, **kwargs)


def test_kfold_takes_fold_indices_beside_the_number_of_groups(tmp_path):
    results = evaluation.cross_validate(CountingBuilder(), _toy_dataset(), protocol="kfold", folds=4,
                                        fold_indices=[2], epochs=1, output_dir=tmp_path, verbose=0)
    assert ([fold["fold"] for fold in results["folds"]], results["folds_total"]) == ([2], 4)


def test_rerun_with_other_settings_is_refused(tmp_path):
    data = _toy_dataset()
    evaluation.cross_validate(CountingBuilder(), data, protocol="kfold", folds=2, epochs=1,
                              output_dir=tmp_path, verbose=0)
    with pytest.raises(ValueError, match=r"different run.*epochs_max.*Received: epochs_max=3"):
        evaluation.cross_validate(CountingBuilder(), data, protocol="kfold", folds=2, epochs=3,
                                  output_dir=tmp_path, verbose=0)


def test_paper_protocol_can_run_only_the_first_folds():
    data = _toy_dataset(subjects_count=6)
    data.name = "hapt"
    folds, total = evaluation.make_folds(data, "paper", folds=1)
    # HAPT's official groups are subjects 1-3, 4-6, ...: two present here.
    assert total == 2
    assert len(folds) == 1
    assert sorted(np.unique(data.subjects[folds[0][1]]).tolist()) == [1, 2, 3]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"protocol": "holdout"}, r"`protocol` must be one of \['paper', 'loso', 'kfold', 'split'\]. Received: protocol='holdout'"),
        ({"folds": 0}, r"Received: folds=0"),
        ({"epochs": 0}, r"Received: epochs=0"),
    ],
)
def test_bad_arguments_are_clear_errors(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        evaluation.cross_validate(CountingBuilder(), _toy_dataset(), output_dir=tmp_path, **kwargs)


def test_unknown_model_name_lists_the_known_ones(tmp_path):
    with pytest.raises(ValueError, match=r"tinierhar.*Received: model='resnet'"):
        evaluation.cross_validate("resnet", _toy_dataset(), output_dir=tmp_path)


@pytest.mark.slow
def test_real_hapt_two_folds_two_epochs(real_data_home, tmp_path):
    from keras_har.datasets import load_dataset

    data = load_dataset("hapt", data_home=real_data_home, download_if_missing=False, verbose=False)
    small = data.subset(np.flatnonzero(data.subjects <= 6))
    results = evaluation.cross_validate("tinierhar", small, protocol="paper", epochs=2, output_dir=tmp_path,
                                        verbose=0)
    # Official HAPT folds: subjects 1-3 then 4-6 held out.
    assert [fold["test_subjects"] for fold in results["folds"]] == [[1, 2, 3], [4, 5, 6]]
    assert (results["params"], results["macs"]) == (7483, 697246)  # the official log's HAPT row
    assert [fold["epochs_run"] for fold in results["folds"]] == [2, 2]
    assert np.array(results["confusion"]).sum() == len(small.y)
    assert json.loads((tmp_path / "results.json").read_text())["folds_run"] == 2


# ----------------------------------------------------------------------------- CLI


def test_cli_rejects_an_unknown_model(capsys, tmp_path):
    assert main(["evaluate", "--model", "resnet", "--dataset", "hapt", "--output", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert "deepconvlstm" in error and "tinierhar" in error and "resnet" in error


def test_cli_rejects_an_unknown_dataset(capsys, tmp_path):
    assert main(["train", "--model", "tinierhar", "--dataset", "imagenet", "--output", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert "hapt" in error and "usc_had" in error and "imagenet" in error


def test_cli_rejects_tinierhar_flags_for_other_models(capsys, tmp_path):
    assert main(["evaluate", "--model", "tinyhar", "--dataset", "hapt", "--no-residual", "--gru-units", "8",
                 "--output", str(tmp_path)]) == 2
    assert "--gru-units, --residual only apply to --model tinierhar" in capsys.readouterr().err


def test_cli_rejects_an_unknown_protocol(capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "--model", "tinierhar", "--dataset", "hapt", "--protocol", "holdout",
              "--output", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "invalid choice: 'holdout'" in capsys.readouterr().err


def test_cli_parses_fold_indices():
    from keras_har.commands.evaluate import parse_fold_indices

    assert parse_fold_indices("3-5") == [3, 4, 5]
    assert parse_fold_indices("0, 4,7-9") == [0, 4, 7, 8, 9]


@pytest.mark.parametrize("text", ["x", "5-3", "-1", "1,,2"])
def test_cli_rejects_bad_fold_indices(capsys, tmp_path, text):
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "--model", "tinierhar", "--dataset", "hapt", f"--fold-indices={text}",
              "--output", str(tmp_path)])
    assert exit_info.value.code == 2
    assert f"Received: --fold-indices={text!r}" in capsys.readouterr().err


def test_cli_flag_choices_match_the_model_module():
    from keras_har.commands import train as train_command
    from keras_har.models import MODELS, tinier_har

    assert set(train_command.MODEL_NAMES) == set(MODELS)
    assert train_command.CONV_TYPES == tinier_har.CONV_TYPES
    assert train_command.RECURRENT_TYPES == tinier_har.RECURRENT_TYPES
    assert train_command.AGGREGATION_TYPES == tinier_har.AGGREGATION_TYPES


@pytest.mark.slow  # over 10 s: fits or CLI runs
def test_cli_train_saves_a_model_and_its_normalisation(monkeypatch, tmp_path, capsys):
    import keras_har.datasets
    from keras_har.datasets import Standardizer

    data = _toy_dataset(t=32)
    monkeypatch.setattr(keras_har.datasets, "load_dataset", lambda name, **kwargs: data)
    out = tmp_path / "run"
    assert main(["train", "--model", "tinierhar", "--dataset", "toy", "--epochs", "1", "--filters", "2",
                 "--gru-units", "4", "--recurrent", "gru", "--aggregation", "mean", "--no-residual",
                 "--output", str(out)]) == 0
    assert "trained tinierhar on toy: 1 epochs" in capsys.readouterr().out
    model = keras.models.load_model(out / "model.keras", safe_mode=True)
    assert (model.filters, model.gru_units, model.recurrent, model.aggregation, model.residual) == (
        2, 4, "gru", "mean", False)
    scaler = Standardizer.load(out / "normalization.json")
    np.testing.assert_allclose(scaler.mean_, data.X.reshape(-1, 3).mean(axis=0), atol=1e-5)
    history = json.loads((out / "history.json").read_text())
    assert (history["n_train"], history["n_val"], history["epochs_run"]) == (86, 10, 1)
    assert history["model_kwargs"] == {"filters": 2, "gru_units": 4, "recurrent": "gru",
                                       "aggregation": "mean", "residual": False}


def _no_data(name, **kwargs):
    raise AssertionError("the dataset must not be loaded when --output is refused")


@pytest.mark.slow  # over 10 s: fits or CLI runs
def test_cli_train_refuses_a_folder_holding_a_model_unless_overwrite(monkeypatch, tmp_path, capsys):
    # Issue 22: train silently overwrote an old model and appended to its TensorBoard runs.
    import keras_har.datasets

    out = tmp_path / "run"
    (out / "tensorboard" / "train").mkdir(parents=True)
    (out / "tensorboard" / "train" / "events.out.tfevents.old").write_bytes(b"old run")
    (out / "model.keras").write_bytes(b"the old model")
    monkeypatch.setattr(keras_har.datasets, "load_dataset", _no_data)
    args = ["train", "--model", "tinierhar", "--dataset", "toy", "--epochs", "1", "--filters", "2",
            "--gru-units", "4", "--output", str(out)]
    assert main(args) == 2
    error = capsys.readouterr().err
    assert error == (f"keras-har train: error: {out} already holds a trained model (model.keras, tensorboard); "
                     f"use a new folder, or pass overwrite=True (--overwrite) to replace it. "
                     f"Received: output_dir={str(out)!r}\n")
    assert (out / "model.keras").read_bytes() == b"the old model"
    monkeypatch.setattr(keras_har.datasets, "load_dataset", lambda name, **kwargs: _toy_dataset(t=32))
    assert main(args + ["--overwrite"]) == 0
    assert not (out / "tensorboard" / "train" / "events.out.tfevents.old").exists()
    assert keras.models.load_model(out / "model.keras", safe_mode=True).filters == 2


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_cli_output_that_cannot_be_written_is_one_line_before_any_work(monkeypatch, tmp_path, capsys, command):
    # A path under a regular file cannot be created, even by root (chmod would not stop root).
    import keras_har.datasets

    monkeypatch.setattr(keras_har.datasets, "load_dataset", _no_data)
    (tmp_path / "file").write_text("not a folder")
    out = tmp_path / "file" / "run"
    assert main([command, "--model", "tinierhar", "--dataset", "toy", "--output", str(out)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert error.startswith(f"keras-har {command}: error: Cannot write to the output folder {out}: Not a directory.")


# --jobs: folds in parallel worker processes.

# Keys of a fold file that depend on the clock, not on the training.
_TIMING_KEYS = ("seconds_per_epoch", "first_epoch_seconds", "epoch_seconds_sum", "fit_seconds", "fold_seconds")


def _fold_outcome(folder, index):
    fold = json.loads((folder / "folds" / f"fold_{index:02d}.json").read_text())
    # The epochs' own time lies within the fit's, which lies within the fold's.
    assert 0 < fold["epoch_seconds_sum"] <= fold["fit_seconds"] <= fold["fold_seconds"]
    arrays = np.load(folder / "folds" / f"fold_{index:02d}.npz")
    return ({key: value for key, value in fold.items() if key not in _TIMING_KEYS},
            arrays["y_true"].tolist(), arrays["y_pred"].tolist())


@pytest.mark.slow
def test_cli_jobs_give_each_fold_the_result_it_gets_alone(tmp_path, capsys):
    # Four subjects, LOSO, folds 1 and 2. --jobs 2 runs each alone in its own worker; --jobs 1 with
    # the same threads runs both in one worker, fold 2 after fold 1, so a result that leaked from
    # the fold before it would differ. Each fold must give the same fold file and predictions.
    data = _toy_dataset(subjects_count=4, per_subject=20, t=16)
    npz = tmp_path / "toy.npz"
    np.savez(npz, x=data.X, y=data.y, subjects=data.subjects)
    common = ["evaluate", "--model", "tinierhar", "--filters", "2", "--gru-units", "2", "--dataset", str(npz),
              "--protocol", "loso", "--fold-indices", "1,2", "--epochs", "2", "--threads-per-job", "1",
              "--no-baselines"]
    assert main(common + ["--jobs", "2", "--output", str(tmp_path / "parallel")]) == 0
    output = capsys.readouterr().out
    assert "2 folds in 2 worker processes, 1 TensorFlow threads each" in output
    assert sorted(line.split(":")[0] for line in output.splitlines() if " done: macro-F1 " in line) == [
        "fold 1 done", "fold 2 done"]
    results = json.loads((tmp_path / "parallel" / "results.json").read_text())
    assert (results["folds_run"], results["jobs"], results["threads_per_job"]) == (2, 2, 1)
    assert main(common + ["--jobs", "1", "--output", str(tmp_path / "alone")]) == 0
    assert "2 folds in 1 worker processes, 1 TensorFlow threads each" in capsys.readouterr().out
    for index in (1, 2):
        fold = json.loads((tmp_path / "parallel" / "folds" / f"fold_{index:02d}.json").read_text())
        assert fold["tensorflow_threads"] == {"intra_op": 1, "inter_op": 1}
        assert _fold_outcome(tmp_path / "parallel", index) == _fold_outcome(tmp_path / "alone", index)


@pytest.mark.slow
def test_jobs_resume_a_partial_run_and_may_exceed_the_folds(tmp_path, capsys):
    data = _toy_dataset(subjects_count=3)
    builder = CountingBuilder()
    first = evaluation.cross_validate(builder, data, protocol="loso", fold_indices=[1], epochs=1,
                                      output_dir=tmp_path, verbose=0)
    kept = (tmp_path / "folds" / "fold_01.json").read_bytes()
    capsys.readouterr()
    results = evaluation.cross_validate(builder, data, protocol="loso", epochs=1, output_dir=tmp_path,
                                        verbose=0, jobs=5, threads_per_job=1)
    # Fold 1 is kept as it was; folds 0 and 2 run in two workers (not five).
    assert "2 folds in 2 worker processes" in capsys.readouterr().out
    assert builder.calls == 1
    assert (tmp_path / "folds" / "fold_01.json").read_bytes() == kept
    assert [fold["fold"] for fold in results["folds"]] == [0, 1, 2]
    assert results["folds"][1] == first["folds"][0]
    assert [fold["test_subjects"] for fold in results["folds"]] == [[1], [2], [3]]
    assert np.array(results["confusion"]).sum() == len(data.y)
    assert sorted(os.listdir(tmp_path / "folds")) == [f"fold_0{i}.{ext}" for i in range(3) for ext in ("json", "npz")]


@pytest.mark.slow
def test_a_fold_that_fails_in_a_worker_is_named(tmp_path):
    with pytest.raises(evaluation.FoldError, match=r"fold 0 failed in its worker process: RuntimeError: this "
                                                   r"builder always fails"):
        evaluation.cross_validate(FailingBuilder(), _toy_dataset(subjects_count=2), protocol="loso", epochs=1,
                                  output_dir=tmp_path, verbose=0, jobs=2, threads_per_job=1, fold_indices=[0])
    assert not (tmp_path / "folds" / "fold_00.json").exists()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"jobs": 0}, r"`jobs` \(--jobs\) must be a positive integer. Received: jobs=0"),
        ({"jobs": -2}, r"Received: jobs=-2"),
        ({"jobs": True}, r"Received: jobs=True"),
        ({"jobs": 2, "threads_per_job": 0}, r"`threads_per_job` \(--threads-per-job\).*Received: threads_per_job=0"),
    ],
)
def test_bad_jobs_are_clear_errors_before_any_work(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        evaluation.cross_validate(CountingBuilder(), _toy_dataset(), protocol="loso", epochs=1,
                                  output_dir=tmp_path / "cv", **kwargs)
    assert not (tmp_path / "cv" / "run.json").exists()


def test_jobs_refuse_a_builder_that_cannot_reach_a_worker(tmp_path):
    def local_builder(input_shape, num_classes):
        return CountingBuilder()(input_shape, num_classes)

    with pytest.raises(ValueError, match=r"must be picklable.*Received: model=.*local_builder"):
        evaluation.cross_validate(local_builder, _toy_dataset(), protocol="loso", epochs=1, output_dir=tmp_path,
                                  jobs=2)


@pytest.mark.parametrize("flag, text", [("--jobs", "0"), ("--jobs", "-1"), ("--threads-per-job", "0"),
                                        ("--jobs", "two")])
def test_cli_rejects_bad_jobs_naming_the_flag(capsys, tmp_path, flag, text):
    with pytest.raises(SystemExit):
        main(["evaluate", "--model", "tinierhar", "--dataset", "hapt", "--output", str(tmp_path), flag, text])
    assert f"must be a positive integer. Received: {flag}='{text}'" in capsys.readouterr().err


@pytest.mark.slow
def test_folds_run_with_other_thread_settings_are_recorded_and_named(tmp_path, capsys, monkeypatch):
    data = _toy_dataset(subjects_count=3, per_subject=20, t=16)
    common = dict(protocol="loso", epochs=1, output_dir=tmp_path, verbose=0, baselines=False)
    here = evaluation._tensorflow_threads()
    other = 2 if here == {"intra_op": 1, "inter_op": 1} else 1
    # Fold 0 in this process; fold 1 in a worker with other thread counts; then the summary of both.
    # Fold 1's worker inherits this process's environment: it also trains the batch norm unfused.
    monkeypatch.delenv("KERAS_HAR_BN_TRAINING", raising=False)
    evaluation.cross_validate(CountingBuilder(), data, fold_indices=[0], **common)
    monkeypatch.setenv("KERAS_HAR_BN_TRAINING", "unfused")
    evaluation.cross_validate(CountingBuilder(), data, fold_indices=[1], threads_per_job=other, **common)
    monkeypatch.delenv("KERAS_HAR_BN_TRAINING")
    capsys.readouterr()
    results = evaluation.cross_validate(CountingBuilder(), data, fold_indices=[0, 1], **common)
    assert [fold["tensorflow_threads"] for fold in results["folds"]] == [
        here, {"intra_op": other, "inter_op": other}]
    assert [fold["batch_norm_training"] for fold in results["folds"]] == ["fused", "unfused"]
    assert results["batch_norm_training"] == ["fused", "unfused"]
    assert len(results["tensorflow_threads"]) == 2 and here in results["tensorflow_threads"]
    assert {"intra_op": other, "inter_op": other} in results["tensorflow_threads"]
    out = capsys.readouterr().out
    assert "note: the folds ran with different TensorFlow thread settings" in out
    assert "note: the folds ran with different batch-norm training routes ['fused', 'unfused']" in out
    # One setting: no note.
    alone = evaluation.cross_validate(CountingBuilder(), data, fold_indices=[0], **common)
    out = capsys.readouterr().out
    assert alone["tensorflow_threads"] == [here] and "different TensorFlow thread" not in out
    assert alone["batch_norm_training"] == ["fused"] and "different batch-norm" not in out
