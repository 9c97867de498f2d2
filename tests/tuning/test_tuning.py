"""keras_har.tuning: search space, budgets, folds, reports, and one tiny in-process search."""

import os
import sys

import numpy as np
import pandas as pd
import pytest

import keras_har
from keras_har.backend import keras
from keras_har.tuning import (
    Budget,
    TinierHARHyperModel,
    estimate_tflite_footprint,
    keras_tuner,
    make_oracle,
    pareto_mask,
    run_search,
    search_folds,
)
from keras_har.tuning.budget import count_int8_ops

# Parameter counts of TinierHAR on (T=8, C=2), K=3 (keras_har.profile).
TINY_PARAMS = {(2, 8): 1214, (4, 8): 2034, (2, 16): 2910, (4, 16): 4114}


def tiny_data(windows=72, steps=8, channels=2, classes=3, subjects=6, seed=0):
    rng = np.random.default_rng(seed)
    y = np.tile(np.arange(classes), windows // classes)
    x = rng.normal(size=(windows, steps, channels)).astype("float32")
    x[:, :, 0] += 2.0 * y[:, None]
    return keras_har.datasets.HARDataset(
        name="tiny", X=x, y=y, subjects=np.repeat(np.arange(subjects), windows // subjects),
        class_names=[f"c{k}" for k in range(classes)], channel_names=[f"ch{c}" for c in range(channels)],
        sampling_rate_hz=50.0, window_sec=steps / 50, step_sec=steps / 50)


def test_keras_tuner_is_bound_to_tf_keras_and_keras_is_restored():
    from keras_tuner.src.backend import config

    assert not config.multi_backend()
    assert keras_tuner.HyperModel.__module__.startswith("keras_tuner")
    # `import keras` elsewhere in the process still gives Keras 3.
    assert sys.modules.get("keras") is not keras
    hypermodel = TinierHARHyperModel(input_shape=(8, 2), num_classes=3)
    model = hypermodel.build(keras_tuner.HyperParameters())
    assert isinstance(model, keras.Model)


def test_build_defaults_are_the_paper_model():
    hp = keras_tuner.HyperParameters()
    model = TinierHARHyperModel(input_shape=(128, 9), num_classes=6).build(hp)
    assert hp.values == {"filters": 4, "gru_units": 16, "dropout": 0.3}
    assert keras_har.profile(model)["params"] == 9589


def test_paper_grid_space_is_three_by_three_with_fixed_training():
    hp = keras_tuner.HyperParameters()
    TinierHARHyperModel(input_shape=(8, 2), num_classes=3).declare_hyperparameters(hp)
    space = {p.name: p for p in hp.space}
    assert list(space["filters"].values) == [2, 4, 8]
    assert list(space["gru_units"].values) == [8, 16, 32]
    assert hp.values["learning_rate"] == 1e-3
    assert hp.values["weight_decay"] == 1e-2
    assert hp.values["batch_size"] == 256
    assert type(space["learning_rate"]).__name__ == "Fixed"


def test_wide_space_and_ablation_switches():
    hp = keras_tuner.HyperParameters()
    TinierHARHyperModel(input_shape=(8, 2), num_classes=3, space="wide", tune_ablations=True).declare_hyperparameters(hp)
    space = {p.name: p for p in hp.space}
    assert min(space["filters"].values) == 2 and max(space["filters"].values) == 32
    assert min(space["gru_units"].values) == 4 and max(space["gru_units"].values) == 64
    assert list(space["learning_rate"].values) == [3e-4, 1e-3, 3e-3]
    assert hp.values["conv"] == "separable"
    assert hp.values["recurrent"] == "bigru"
    assert hp.values["aggregation"] == "attention"
    assert hp.values["residual"] is True


def test_bad_space_names_the_argument():
    with pytest.raises(ValueError, match=r"Received: space='huge'"):
        TinierHARHyperModel(input_shape=(8, 2), num_classes=3, space="huge")


def _grid_oracle(directory):
    oracle = make_oracle("grid")
    oracle._set_project_dir(str(directory), "grid")
    hp = keras_tuner.HyperParameters()
    TinierHARHyperModel(input_shape=(8, 2), num_classes=3).declare_hyperparameters(hp)
    oracle.update_space(hp)
    return oracle


def _run_trials(oracle, count=None):
    """Completes trials until the oracle stops (or ``count`` are done); their (filters, gru_units)."""
    seen = []
    while count is None or len(seen) < count:
        trial = oracle.create_trial("tuner0")
        if trial.status == "STOPPED":
            break
        seen.append((trial.hyperparameters.values["filters"], trial.hyperparameters.values["gru_units"]))
        oracle.update_trial(trial.trial_id, {"val_macro_f1": 0.5})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
    return seen


def test_grid_oracle_walks_exactly_the_nine_paper_configurations(tmp_path):
    seen = _run_trials(_grid_oracle(tmp_path))
    assert sorted(seen) == [(m, n) for m in (2, 4, 8) for n in (8, 16, 32)]


def test_grid_oracle_resumes_after_reload(tmp_path):
    first = _run_trials(_grid_oracle(tmp_path), count=4)
    # KerasTuner's own GridSearchOracle raises KeyError here after a reload,
    # or (with its grid state restored) runs the fourth trial again.
    resumed = _grid_oracle(tmp_path)
    resumed.reload()
    rest = _run_trials(resumed)
    assert sorted(first + rest) == [(m, n) for m in (2, 4, 8) for n in (8, 16, 32)]


@pytest.mark.parametrize("tuner", ["random", "bayesian"])
def test_finished_search_reloads_with_nothing_left_to_run(tmp_path, tuner):
    def start():
        oracle = make_oracle(tuner, max_trials=3)
        oracle._set_project_dir(str(tmp_path), tuner)
        hp = keras_tuner.HyperParameters()
        TinierHARHyperModel(input_shape=(8, 2), num_classes=3, space="wide").declare_hyperparameters(hp)
        oracle.update_space(hp)
        return oracle

    oracle = start()
    for _ in range(3):
        trial = oracle.create_trial("tuner0")
        oracle.update_trial(trial.trial_id, {"val_macro_f1": 0.5})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
    reloaded = start()
    reloaded.reload()
    assert reloaded.create_trial("tuner0").status == "STOPPED"


def test_make_oracle_rejects_unknown_tuner():
    with pytest.raises(ValueError, match=r"Received: tuner='annealing'"):
        make_oracle("annealing")


def test_budget_reports_each_exceeded_limit():
    budget = Budget(max_params=5000, max_macs=10**6, max_flash_kb=100)
    footprint = {"params": 9589, "macs": 637414, "flash_kb": 259.16, "arena_kb": 285.78}
    assert budget.violations(footprint) == ["params 9589 > max_params 5000", "flash_kb 259.16 > max_flash_kb 100"]
    assert Budget().violations(footprint) == []
    assert not Budget().is_set and budget.is_set


def test_budget_rejects_non_positive_limits():
    with pytest.raises(ValueError, match=r"Received: max_params=0"):
        Budget(max_params=0)


def test_instruction_budget_is_checked_in_whole_instructions():
    for bad in (0, -8e6, "8e6", True):
        with pytest.raises(ValueError, match=rf"`max_instructions` must be a positive number or None\. "
                                             rf"Received: max_instructions={bad!r}"):
            Budget(max_instructions=bad)
    budget = Budget(max_instructions=8e6)
    assert budget.is_set and budget.needs_tflite and budget.get_config()["max_instructions"] == 8e6
    assert budget.violations({"instructions_m": 9.5}) == ["instructions_m 9.5 > max_instructions 8000000 (8 M)"]
    assert budget.violations({"instructions_m": 8.0}) == []
    assert budget.violations({"instructions_m": 8.000001}) == [
        "instructions_m 8.000001 > max_instructions 8000000 (8 M)"]
    # 7.190123 * 1e6 is 7190123.000000001 in floating point: exactly at the limit is within it.
    assert Budget(max_instructions=7_190_123).violations({"instructions_m": 7.190123}) == []
    # Not measured (no Cortex-M4): the model cannot be shown to fit.
    for missing in (None, float("nan")):
        assert Budget(max_instructions=8e6, max_params=5000).violations({"params": 100, "instructions_m": missing}) == [
            "instructions_m not measured, needed by max_instructions (it is measured on the Cortex-M4 only)"]


@pytest.mark.parametrize("footprint", ["estimate", "measure-python"])
def test_instruction_budget_refuses_footprints_without_the_cortex_m4(tmp_path, capsys, footprint):
    from keras_har.commands.tune import main
    from keras_har.tuning.budget import resolve_footprint_mode

    assert resolve_footprint_mode(None, Budget(max_instructions=8e6)) == "measure"
    assert resolve_footprint_mode("measure-cortex-m4", Budget(max_instructions=8e6)) == "measure-cortex-m4"
    assert resolve_footprint_mode(footprint, Budget(max_arena_kb=64)) == footprint
    message = (r"`max_instructions` \(--max-instructions\) needs the instructions per inference measured on the "
               r"emulated Cortex-M4: use footprint 'measure' .*or 'measure-cortex-m4' \(--footprint measure / "
               rf"measure-cortex-m4\)\. Received: footprint='{footprint}'")
    with pytest.raises(ValueError, match=message):
        run_search(tiny_data(), max_trials=1, epochs=1, directory=str(tmp_path), project_name="p",
                   budget=Budget(max_instructions=8e6), footprint=footprint)
    assert not (tmp_path / "p").exists()  # refused before anything was written
    # The command line refuses it before reading the data.
    assert main(["--dataset", str(tmp_path / "none.npz"), "--directory", str(tmp_path), "--max-instructions", "8e6",
                 "--footprint", footprint]) == 2
    assert "--max-instructions" in capsys.readouterr().err


def test_search_with_another_export_recurrence_is_refused(tmp_path):
    import json

    from keras_har.tuning.search import SETTINGS_FILE

    # Every configuration is over budget, so nothing trains: only the settings matter here.
    over = Budget(max_params=1)
    first = run_search(tiny_data(), max_trials=1, epochs=1, directory=str(tmp_path), project_name="merged",
                       budget=over)
    assert first["trials"]["status"].tolist() == ["over_budget"]
    stored = json.loads((tmp_path / "merged" / SETTINGS_FILE).read_text())
    # A merged search records neither the recurrence nor an unset max_instructions: the settings
    # of searches from before these options stay the same, and those searches still resume.
    assert "export_recurrence" not in stored and "max_instructions" not in stored["budget"]
    with pytest.raises(ValueError, match=r"Differs in: \['export_recurrence'\] \(stored: export_recurrence=\(absent\)\)\. "
                                         r"Received: export_recurrence='fused'"):
        run_search(tiny_data(), max_trials=1, epochs=1, directory=str(tmp_path), project_name="merged", budget=over,
                   export_recurrence="fused")
    run_search(tiny_data(), max_trials=1, epochs=1, directory=str(tmp_path), project_name="fused", budget=over,
               export_recurrence="fused")
    assert json.loads((tmp_path / "fused" / SETTINGS_FILE).read_text())["export_recurrence"] == "fused"
    with pytest.raises(ValueError, match=r"Differs in: \['export_recurrence'\] \(stored: export_recurrence='fused'\)"):
        run_search(tiny_data(), max_trials=1, epochs=1, directory=str(tmp_path), project_name="fused", budget=over)
    with pytest.raises(ValueError, match=r"`export_recurrence` must be one of \['merged', 'fused'\]\. "
                                         r"Received: export_recurrence='unrolled'"):
        run_search(tiny_data(), max_trials=1, epochs=1, directory=str(tmp_path), project_name="bad",
                   export_recurrence="unrolled")


def test_footprint_estimate_of_the_paper_model():
    model = keras_har.TinierHAR(input_shape=(128, 9), num_classes=6)
    # 6 blocks (24 conv/pool/add ops) and 2 reshapes, attention pooling (6)
    # and logits, and the merged BiGRU: 11 ops per step for 32 steps, plus 9.
    assert count_int8_ops(model) == 26 + 7 + 11 * 32 + 9 == 394
    estimate = estimate_tflite_footprint(model)
    assert estimate["flash_bytes"] == round(2.14 * 9589 + 173 * 394)
    # The largest activation is block 1's output, 128 x 9 x 4 int8 values;
    # the BiGRU runs 32 steps of N=16 units.
    assert estimate["arena_bytes"] == 128 * 9 * 4 + 394 * 246 + 50 * 32 * 16
    lstm = keras_har.TinierHAR(input_shape=(128, 9), num_classes=6, recurrent="bilstm")
    assert count_int8_ops(lstm) == 26 + 7 + 2


# Measured by benchmarks/bench_footprint.py (2026-11-23): the default export (with the offline
# memory plan) of the untrained BiGRU TinierHAR at HAPT's shape, 592 ops each.
MEASURED_HAPT_FOOTPRINTS = [  # (M, N, flash bytes, arena bytes)
    (2, 8, 106_352, 168_208), (2, 16, 112_360, 188_208), (2, 32, 128_928, 228_208),
    (4, 8, 110_112, 168_528), (4, 16, 118_384, 188_528), (4, 32, 139_608, 228_528),
    (8, 8, 118_152, 169_264), (8, 16, 131_008, 189_264), (8, 32, 161_376, 229_264),
]


@pytest.mark.parametrize("filters, gru_units, flash_bytes, arena_bytes", MEASURED_HAPT_FOOTPRINTS)
def test_footprint_estimate_is_close_to_measured_exports_at_hapt_shape(filters, gru_units, flash_bytes, arena_bytes):
    model = keras_har.TinierHAR(input_shape=(200, 6), num_classes=12, filters=filters, gru_units=gru_units)
    estimate = estimate_tflite_footprint(model)
    assert estimate["ops"] == 592
    assert abs(estimate["flash_bytes"] - flash_bytes) / flash_bytes < 0.01
    assert abs(estimate["arena_bytes"] - arena_bytes) / arena_bytes < 0.04


def test_search_folds_are_cross_validation_folds_and_never_share_a_subject():
    from keras_har.evaluation import make_folds

    data = tiny_data(windows=60, subjects=10)
    protocol, folds = search_folds(data, folds=5, seed=1)
    assert protocol == "kfold" and [index for index, _ in folds] == [0, 1, 2, 3, 4]
    scored = np.concatenate([test for _, (_, test) in folds])
    assert sorted(scored.tolist()) == list(range(60))
    for _, (train, test) in folds:
        assert not set(data.subjects[train]) & set(data.subjects[test])
    # The folds of `keras-har evaluate --protocol kfold --folds 5 --seed 1`, fold for fold.
    for (_, (train, test)), (cv_train, cv_test) in zip(folds, make_folds(data, "kfold", folds=5, seed=1)[0]):
        assert train.tolist() == cv_train.tolist() and test.tolist() == cv_test.tolist()
    # One fold: the first of 5 subject groups, 20% of the subjects.
    protocol, [(index, (train, test))] = search_folds(data, folds=1)
    assert index == 0 and len(set(data.subjects[test])) == 2 and not set(data.subjects[train]) & set(data.subjects[test])
    # "all": every fold of the protocol; the first k folds of LOSO with a count.
    protocol, folds = search_folds(data, folds="all", protocol="loso")
    assert protocol == "loso" and len(folds) == 10
    assert [index for index, _ in search_folds(data, folds=3, protocol="loso")[1]] == [0, 1, 2]


def test_search_folds_refuse_bad_counts_by_name():
    data = tiny_data(windows=30, subjects=3)
    with pytest.raises(ValueError, match=r"needs at least max\(2, folds\) subjects.*tiny has 3\. Received: folds=4"):
        search_folds(data, folds=4)
    for bad in (0, -1, "some", True):
        with pytest.raises(ValueError, match=rf"must be a positive integer or 'all'\. Received: folds={bad!r}"):
            search_folds(data, folds=bad)
    # With 3 subjects one held-out fold is one subject (the first of 3 groups).
    assert len(set(data.subjects[search_folds(data, folds=1)[1][0][1][1]])) == 1


def test_pareto_mask():
    assert pareto_mask([1, 2, 3, 3], [0.5, 0.4, 0.9, 0.8]).tolist() == [True, False, True, False]
    # A cost that was not measured puts a point on no front, and it beats nothing.
    assert pareto_mask([1, np.nan, 3], [0.5, 0.9, 0.8]).tolist() == [True, False, True]


def _synthetic_trials(instructions_m):
    #  trial  M, N  macro-F1  std   params  MACs  arena KB
    rows = [
        ("a", 2, 8, 0.70, 0.02, 1000, 100, 10.0),
        ("b", 4, 8, 0.75, 0.01, 2000, 200, 12.0),
        ("c", 4, 16, 0.80, 0.03, 4000, 150, 11.0),
        ("d", 8, 8, 0.78, 0.00, 3000, 400, 9.0),
        ("e", 8, 32, 0.72, 0.05, 8000, 300, 20.0),
        ("f", 2, 32, np.nan, np.nan, 2500, 50, 5.0),  # over budget: on no front
    ]
    frame = pd.DataFrame(rows, columns=["trial_id", "filters", "gru_units", "val_macro_f1", "val_macro_f1_std",
                                        "params", "macs", "arena_kb"])
    frame["status"] = ["completed"] * 5 + ["over_budget"]
    frame["instructions_m"] = instructions_m
    frame["firmware_flash_kb"] = [v * 20 for v in instructions_m]
    return frame


def test_pareto_fronts_on_arena_and_instructions(tmp_path, monkeypatch):
    import matplotlib.axes

    from keras_har.tuning.reports import plot_pareto, pareto_table

    # c's instructions were not measured; f is over budget.
    pareto = pareto_table(_synthetic_trials([3.0, 2.5, np.nan, 5.0, 4.0, 1.0]))
    assert pareto["trial_id"].tolist() == ["a", "c", "b", "e", "d"]  # by MACs
    fronts = {flag: sorted(pareto.loc[pareto[flag], "trial_id"])
              for flag in ("pareto_macs", "pareto_params", "pareto_arena", "pareto_instructions")}
    # By hand: MACs a(100) c(150, best F1); params a b d c rising in both; arena d(9) c(11, best F1);
    # instructions b(2.5) d(5.0), a and e below b's F1 at more instructions.
    assert fronts == {"pareto_macs": ["a", "c"], "pareto_params": ["a", "b", "c", "d"],
                      "pareto_arena": ["c", "d"], "pareto_instructions": ["b", "d"]}
    assert {"arena_kb", "instructions_m", "firmware_flash_kb"} <= set(pareto.columns)

    errorbars = []
    original = matplotlib.axes.Axes.errorbar

    def recording_errorbar(self, x, y, *args, **kwargs):
        errorbars.append((self.get_xlabel(), list(x), list(kwargs["yerr"])))
        return original(self, x, y, *args, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "errorbar", recording_errorbar)
    plot_pareto(pareto, tmp_path / "four.png")
    # One panel per front, each 5.5 in at 120 dpi: the PNG's width (bytes 16-19 of its header) counts them.
    header = (tmp_path / "four.png").read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(header[16:20], "big") == 4 * 660
    assert len(errorbars) == 4
    # Every point with a cost has its std over folds as error bar; c has no instruction count.
    assert errorbars[0][2] == [0.02, 0.03, 0.01, 0.05, 0.0]
    assert errorbars[3][1] == [3.0, 2.5, 4.0, 5.0] and errorbars[3][2] == [0.02, 0.01, 0.05, 0.0]

    # Without the Cortex-M4 no instructions were measured: no such front, three panels.
    errorbars.clear()
    nothing = pareto_table(_synthetic_trials([np.nan] * 6))
    assert "pareto_instructions" not in nothing and nothing["pareto_arena"].sum() == 2
    plot_pareto(nothing, tmp_path / "three.png")
    assert int.from_bytes((tmp_path / "three.png").read_bytes()[16:20], "big") == 3 * 660
    assert len(errorbars) == 3


def test_search_data_errors_name_the_file_before_anything_is_written(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"Received: dataset="):
        run_search(str(tmp_path / "missing.npz"), directory=str(tmp_path / "runs"))
    path = tmp_path / "bad.npz"
    np.savez(path, x=np.zeros((2, 8, 2)), y=np.zeros(2))
    with pytest.raises(ValueError, match=r"\['subjects'\] are missing"):
        run_search(str(path), directory=str(tmp_path / "runs"))
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_search_within_budget_trains_only_in_budget_models(tmp_path, monkeypatch):
    import keras_har.training

    fitted, fitted_windows, recipes = [], [], []
    original_fit = keras_har.training.fit

    def counting_fit(model, train_data, val_data, **kwargs):
        fitted.append(keras_har.profile(model)["params"])
        fitted_windows.append(np.concatenate([train_data[0], val_data[0]]))
        recipes.append(kwargs)
        return original_fit(model, train_data, val_data, **kwargs)

    monkeypatch.setattr(keras_har.training, "fit", counting_fit)
    # The grid starts at the defaults: (4,16), (4,8), (4,32).
    result = run_search(
        tiny_data(), tuner="grid", max_trials=3, epochs=1, folds=1, directory=str(tmp_path),
        project_name="budget", budget=Budget(max_params=3000),
    )
    trials = result["trials"]
    assert fitted == [TINY_PARAMS[(4, 8)]]
    # The fold is trained as cross-validation trains it: the official recipe (with the trial's epochs).
    assert {key: recipes[0][key] for key in ("epochs", "batch_size", "learning_rate", "weight_decay", "seed")} == {
        "epochs": 1, "batch_size": 256, "learning_rate": 1e-3, "weight_decay": 1e-2, "seed": 0}
    # Standardised by keras_har.datasets.Standardizer, as in cross-validation:
    # the sample std (ddof=1) of every channel is 1; the population std is not.
    samples = fitted_windows[0].reshape(-1, fitted_windows[0].shape[-1])
    np.testing.assert_allclose(samples.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(samples.std(axis=0, ddof=1), 1.0, rtol=1e-5)
    assert not np.allclose(samples.std(axis=0, ddof=0), 1.0, rtol=1e-5)
    over = trials[trials["status"] == "over_budget"]
    assert sorted(zip(over["filters"], over["gru_units"])) == [(4, 16), (4, 32)]
    assert set(over["message"]) == {"params 4114 > max_params 3000", "params 10578 > max_params 3000"}
    assert result["best"]["params"] <= 3000

    project = tmp_path / "budget"
    saved = pd.read_csv(project / "trials.csv")
    assert len(saved) == 3
    done = saved[saved["status"] == "completed"]
    assert len(done) == 1
    for _, row in done.iterrows():
        assert row["params"] == TINY_PARAMS[(row["filters"], row["gru_units"])]
        assert 0.0 <= row["val_macro_f1"] <= 1.0
    pareto = pd.read_csv(project / "pareto.csv")
    assert len(pareto) == 1 and pareto["pareto_macs"].all()
    assert (project / "pareto.png").stat().st_size > 10_000
    assert pd.read_csv(project / "fit_log.csv")["params"].tolist() == [TINY_PARAMS[(4, 8)]]
    hparams_events = [name for _, _, files in os.walk(project / "tensorboard") for name in files]
    assert any(name.startswith("events.out.tfevents") for name in hparams_events)


def test_cli_tune_is_registered_and_reports_a_missing_file(tmp_path, capsys):
    from keras_har import cli
    from keras_har.commands.tune import main

    args = cli.build_parser().parse_args(["tune", "--dataset", "d.npz", "--max-flash-kb", "64"])
    assert args.func.__module__ == "keras_har.commands.tune" and args.max_flash_kb == 64.0
    args = cli.build_parser().parse_args(["tune", "--dataset", "hapt", "--folds", "all", "--protocol", "paper",
                                          "--reuse-cv", "runs/a", "--reuse-cv", "runs/b"])
    assert (args.folds, args.protocol, args.reuse_cv) == ("all", "paper", ["runs/a", "runs/b"])
    assert cli.build_parser().parse_args(["tune", "--dataset", "hapt", "--folds", "3"]).folds == 3
    for bad in ("0", "most"):
        with pytest.raises(SystemExit):
            cli.build_parser().parse_args(["tune", "--dataset", "hapt", "--folds", bad])
        assert f"must be a positive integer. Received: --folds ('all' or a count)={bad!r}" in capsys.readouterr().err
    missing = str(tmp_path / "none.npz")
    assert main(["--dataset", missing, "--directory", str(tmp_path)]) == 2
    assert f"Received: dataset={missing!r}" in capsys.readouterr().err


@pytest.mark.slow
def test_resuming_a_search_with_other_training_settings_is_refused(tmp_path, capsys):
    # Issue 22: a resume with other --epochs silently mixed 1-epoch and 2-epoch trials.
    first = run_search(tiny_data(), tuner="grid", max_trials=1, epochs=1, folds=1, directory=str(tmp_path),
                       project_name="p")
    assert len(first["trials"]) == 1
    project = tmp_path / "p"
    stored = __import__("json").loads((project / "search.json").read_text())
    assert stored["epochs"] == 1 and stored["folds"] == 1 and stored["input_shape"] == [8, 2]
    trials_before = (project / "trials.csv").read_bytes()
    with pytest.raises(ValueError, match=r"holds trials of a different search; .*Differs in: \['epochs'\] "
                                         r"\(stored: epochs=1\)\. Received: epochs=2"):
        run_search(tiny_data(), tuner="grid", max_trials=2, epochs=2, folds=1, directory=str(tmp_path),
                   project_name="p")
    assert (project / "trials.csv").read_bytes() == trials_before
    # --overwrite starts afresh and records the new settings.
    from keras_har.tuning.search import SETTINGS_FILE

    run_search(tiny_data(), tuner="grid", max_trials=1, epochs=2, folds=1, directory=str(tmp_path),
               project_name="p", overwrite=True)
    assert __import__("json").loads((project / SETTINGS_FILE).read_text())["epochs"] == 2


@pytest.mark.slow
def test_a_search_fold_is_the_cross_validation_fold_and_reuses_it(tmp_path, monkeypatch, capsys):
    import json

    import keras_har.training
    from keras_har.evaluation import cross_validate

    data = tiny_data()
    # TinierHAR with its defaults (M=4, N=16, the grid's first trial), 2 LOSO folds of 1 epoch.
    cv = cross_validate("tinierhar", data, protocol="loso", folds=2, epochs=1, output_dir=tmp_path / "cv",
                        verbose=0, baselines=False)
    common = dict(tuner="grid", max_trials=1, epochs=1, folds=2, protocol="loso", directory=str(tmp_path))
    trained = run_search(data, project_name="trained", **common)
    trial = json.loads((tmp_path / "trained" / "trial_0" / "result.json").read_text())
    assert (trained["best"]["filters"], trained["best"]["gru_units"]) == (4, 16)
    assert (trial["folds"], trial["reused_folds"], trial["recipe"]["epochs"]) == ([0, 1], [], 1)
    # Each fold of the trial is the fold `keras-har evaluate` ran: same split, recipe, seed, predictions.
    for index in range(2):
        name = f"folds/fold_{index:02d}"
        ours, theirs = (json.loads((folder / f"{name}.json").read_text())
                        for folder in (tmp_path / "trained" / "trial_0", tmp_path / "cv"))
        assert ours["test_subjects"] == theirs["test_subjects"] and ours["macro_f1"] == theirs["macro_f1"]
        assert (np.load(tmp_path / "trained" / "trial_0" / f"{name}.npz")["y_pred"].tolist()
                == np.load(tmp_path / "cv" / f"{name}.npz")["y_pred"].tolist())
    assert trial["fold_macro_f1"] == [fold["macro_f1"] for fold in cv["folds"]]
    assert trained["best"]["val_macro_f1"] == pytest.approx(cv["macro_f1_mean"])

    # With --reuse-cv the same trial copies the two folds and trains nothing.
    fits = []
    monkeypatch.setattr(keras_har.training, "fit", lambda *args, **kwargs: fits.append(1))
    capsys.readouterr()
    reused = run_search(data, project_name="reused", reuse_cv=[str(tmp_path / "cv")], **common)
    assert fits == [] and "(reused from cross-validation)" in capsys.readouterr().out
    trial = json.loads((tmp_path / "reused" / "trial_0" / "result.json").read_text())
    assert trial["reused_folds"] == [0, 1] and trial["fold_macro_f1"] == [f["macro_f1"] for f in cv["folds"]]
    fold = json.loads((tmp_path / "reused" / "trial_0" / "folds" / "fold_01.json").read_text())
    assert fold["reused_from"] == str(tmp_path / "cv")
    assert (tmp_path / "reused" / "trial_0" / "checkpoints" / "fold_01.keras").exists()
    assert reused["best"]["val_macro_f1"] == trained["best"]["val_macro_f1"]

    # A cross-validation of other folds cannot stand in: refused, naming what differs.
    with pytest.raises(ValueError, match=r"did not run the folds of this search \(seed: 0 there, 1 here\)"):
        run_search(data, project_name="other_seed", reuse_cv=[str(tmp_path / "cv")], **common, seed=1)
    with pytest.raises(FileNotFoundError, match=r"has no run\.json"):
        run_search(data, project_name="none", reuse_cv=[str(tmp_path)], **common)

    # A folder whose run.json matches but whose fold tested other subjects (edited, or written by other code).
    import shutil

    edited = tmp_path / "cv_edited"
    shutil.copytree(tmp_path / "cv", edited)
    fold_path = edited / "folds" / "fold_01.json"
    fold_path.write_text(json.dumps(dict(json.loads(fold_path.read_text()), test_subjects=[99])))
    with pytest.raises(ValueError, match=r"fold_01\.json holds fold 1 with test subjects \[99\], but this search's "
                                         r"fold 1 tests subjects \[1\]"):
        run_search(data, project_name="edited", reuse_cv=[str(edited)], **common)
