"""benchmarks/bench_speed.py on a tiny dataset: it runs, interleaves A and B, and writes its JSON."""

import json
import os

import pytest

from helpers import load_benchmark_script, toy_npz


def test_settings_parse_into_cross_validate_arguments():
    bench = load_benchmark_script("bench_speed")
    assert bench.parse_setting("jobs=2,threads=1") == {"jobs": 2, "threads_per_job": 1}
    assert bench.parse_setting("jobs=2,bn=unfused") == {"jobs": 2, "bn": "unfused"}
    assert bench.parse_setting("jobs=2,autotune=on") == {"jobs": 2, "autotune": "on"}
    for bad in ("cores=2", "bn=fast", "jobs=x", "autotune=1"):
        with pytest.raises(Exception, match=f"Received: '{bad}'"):
            bench.parse_setting(bad)
    # --b none: setting A alone.
    args = bench.parse_args(["--dataset", "hapt", "--output", "x.json", "--a", "jobs=2,bn=fused", "--b", "none"])
    assert args.settings == {"jobs=2,bn=fused": {"jobs": 2, "bn": "fused"}}


def test_the_bn_and_autotune_settings_are_in_the_environment_for_the_run_only(monkeypatch):
    """Workers of `cross_validate` inherit the environment, so the settings reach every fold; they are given back
    after."""
    bench = load_benchmark_script("bench_speed")
    seen = []
    monkeypatch.setattr(bench, "_run_once", lambda dataset, args, setting, output_dir: seen.append(
        (os.environ.get("KERAS_HAR_BN_TRAINING"), os.environ.get("KERAS_HAR_DATA_AUTOTUNE"), setting)) or {})
    monkeypatch.setenv("KERAS_HAR_BN_TRAINING", "fused")
    monkeypatch.delenv("KERAS_HAR_DATA_AUTOTUNE", raising=False)
    bench.run_once(None, None, {"jobs": 2, "bn": "unfused", "autotune": "on"}, "out")
    bench.run_once(None, None, {"jobs": 1}, "out")
    assert seen == [("unfused", "on", {"jobs": 2}), ("fused", None, {"jobs": 1})]
    assert os.environ["KERAS_HAR_BN_TRAINING"] == "fused" and "KERAS_HAR_DATA_AUTOTUNE" not in os.environ
    monkeypatch.delenv("KERAS_HAR_BN_TRAINING")
    monkeypatch.setenv("KERAS_HAR_DATA_AUTOTUNE", "off")
    bench.run_once(None, None, {"bn": "unfused", "autotune": "on"}, "out")
    assert "KERAS_HAR_BN_TRAINING" not in os.environ and os.environ["KERAS_HAR_DATA_AUTOTUNE"] == "off"


@pytest.mark.slow
def test_bench_speed_writes_interleaved_trials_and_ratios(tmp_path, capsys):
    bench = load_benchmark_script("bench_speed")
    npz = toy_npz(tmp_path, subjects_count=2, per_subject=20)
    output = tmp_path / "speed.json"
    assert bench.main(["--dataset", str(npz), "--filters", "2", "--gru-units", "2", "--protocol", "loso",
                       "--epochs", "1", "--a", "jobs=1", "--b", "jobs=2,threads=1", "--repeats", "1",
                       "--work-dir", str(tmp_path / "runs"), "--output", str(output)]) == 0
    result = json.loads(output.read_text())
    assert sorted(result) == ["config", "ratio", "settings", "summary", "trials"]
    assert result["settings"] == {"jobs=1": {"jobs": 1}, "jobs=2,threads=1": {"jobs": 2, "threads_per_job": 1}}
    assert [trial["setting"] for trial in result["trials"]] == ["jobs=1", "jobs=2,threads=1"]
    assert all(trial["folds_run"] == 2 for trial in result["trials"])
    summary = result["summary"]
    assert result["ratio"]["wall_seconds"] == pytest.approx(
        summary["jobs=2,threads=1"]["wall_seconds"] / summary["jobs=1"]["wall_seconds"])
    assert sorted(result["ratio"]) == ["seconds_per_epoch", "wall_seconds"]
    assert "ratio B/A" in capsys.readouterr().out
    # Each trial keeps its folds as cross_validate wrote them.
    for index, trial in enumerate(result["trials"]):
        written = [json.loads(path.read_text()) for path in sorted((tmp_path / "runs" / f"run_{index:02d}" / "folds").glob("fold_*.json"))]
        assert trial["folds"] == [{key: fold[key] for key in bench.FOLD_KEYS + bench.FOLD_TIMES} for fold in written]
    # Against the first run's own folder: no difference for it, the second run's fold by fold for the other.
    assert bench.main(["--table", str(output), "--baseline", str(tmp_path / "runs" / "run_00")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[2].startswith("| `jobs=1` | 1 |") and "| +0.0000 ± 0.0000 (+0.0000 to +0.0000) | 0/2 |" in lines[2]
    diff = [b["macro_f1"] - a["macro_f1"] for a, b in zip(*(trial["folds"] for trial in result["trials"]))]
    assert lines[3].endswith(f"| {sum(diff) / 2:+.4f} ± {abs(diff[0] - diff[1]) / 2:.4f} "
                             f"({min(diff):+.4f} to {max(diff):+.4f}) | {sum(d > 0 for d in diff)}/2 |")


def _speed_result(folds_a, folds_b):
    trials = [{"setting": "jobs=1", "repeat": 0, "folds": folds_a, "folds_run": 10, "epochs_run_mean": 100.0,
               "wall_seconds": 600.0},
              {"setting": "jobs=2", "repeat": 0, "folds": folds_b, "folds_run": 10, "epochs_run_mean": 99.0,
               "wall_seconds": 450.0}]
    summary = {"jobs=1": {"wall_seconds": 600.0, "seconds_per_epoch": 3.0, "macro_f1_mean": 0.8, "epochs_run_mean": 100.0,
                          "runs": 1},
               "jobs=2": {"wall_seconds": 450.0, "seconds_per_epoch": 4.0, "macro_f1_mean": 0.81, "epochs_run_mean": 99.0,
                          "runs": 1}}
    return {"settings": {"jobs=1": {"jobs": 1}, "jobs=2": {"jobs": 2}}, "trials": trials, "summary": summary}


def test_speed_table_gives_wall_ratio_and_per_fold_difference_from_a_baseline(tmp_path, capsys):
    bench = load_benchmark_script("bench_speed")
    fold = lambda index, f1: {"fold": index, "macro_f1": f1, "epochs_run": 100}  # noqa: E731
    result = _speed_result([fold(0, 0.80), fold(1, 0.70)], [fold(0, 0.90), fold(1, 0.60), fold(2, 0.5)])
    base = ({}, [fold(0, 0.75), fold(1, 0.70)])  # fold 2 is not in the baseline: not compared
    lines = bench.markdown_table(result, base)
    assert lines[2] == "| `jobs=1` | 1 | 10.0 | 1.00x | 3.00 | 100.0 | 100.0 | 0.8000 | +0.0250 ± 0.0250 (+0.0000 to +0.0500) | 1/2 |"
    assert lines[3] == "| `jobs=2` | 1 | 7.5 | 0.75x | 4.00 | 99.0 | 132.0 | 0.8100 | +0.0250 ± 0.1250 (-0.1000 to +0.1500) | 1/2 |"
    assert len(bench.markdown_table(result)[2].split("|")) == 10  # without a baseline: no difference columns
    # Two result files as one table: the second file's rows follow, timed against the first file's first row.
    alone = {"settings": {"jobs=2,bn=fused": {}}, "trials": [dict(result["trials"][1], setting="jobs=2,bn=fused",
                                                                 wall_seconds=300.0)],
             "summary": {"jobs=2,bn=fused": dict(result["summary"]["jobs=2"], wall_seconds=300.0)}}
    both = bench.markdown_table([result, alone])
    assert both[:4] == bench.markdown_table(result)
    assert both[4].startswith("| `jobs=2,bn=fused` | 1 | 5.0 | 0.50x | 4.00 |") and len(both) == 5
    trial = {"setting": "jobs=2,bn=fused", "wall_seconds": 300.0, "seconds_per_epoch": 4.0, "macro_f1_mean": 0.8,
             "epochs_run_mean": 99.0}
    summary, ratio = bench.summarise([trial], ["jobs=2,bn=fused"])  # one setting: no ratio
    assert ratio is None and summary["jobs=2,bn=fused"]["wall_seconds"] == 300.0
    path = tmp_path / "speed.json"
    del result["trials"][1]["folds"]
    path.write_text(json.dumps(result))
    with pytest.raises(SystemExit, match=r"speed\.json has no per-fold results for \['jobs=2'\]"):
        bench.main(["--table", str(path), "--baseline", str(tmp_path)])
    for argv, message in ((["--dataset", "hapt"], "--output required"), (["--output", "x.json"], "--dataset required"),
                          (["--dataset", "hapt", "--output", "x.json", "--baseline", "d"], "--baseline goes with --table")):
        with pytest.raises(SystemExit):
            bench.main(argv)
        assert message in capsys.readouterr().err


def test_epoch_settings_parse_with_defaults_and_refuse_unknown_keys():
    bench = load_benchmark_script("bench_epoch")
    assert bench.parse_setting("layers=stock,threads=1") == {"layers": "stock", "threads": 1, "procs": 1, "unroll": 0,
                                                             "optimizer": "early", "cudnn": "skip",
                                                             "precision": "float32", "bn": "fused",
                                                             "autotune": "off", "gru_implementation": 2,
                                                             "steps_per_execution": 1}
    assert bench.parse_setting("procs=2,optimizer=lazy,cudnn=register") == {
        "layers": "fast", "threads": 0, "procs": 2, "unroll": 0, "optimizer": "lazy", "cudnn": "register",
        "precision": "float32", "bn": "fused", "autotune": "off", "gru_implementation": 2,
        "steps_per_execution": 1}
    assert bench.parse_setting("precision=mixed_bfloat16")["precision"] == "mixed_bfloat16"
    assert bench.parse_setting("bn=unfused")["bn"] == "unfused"
    assert bench.parse_setting("autotune=on")["autotune"] == "on"
    assert bench.parse_setting("gru_implementation=1")["gru_implementation"] == 1
    assert bench.parse_setting("steps_per_execution=4")["steps_per_execution"] == 4
    for bad in ("layers=slow", "cores=2", "procs=0", "threads=x", "optimizer=late", "cudnn=gpu", "precision=float16",
                "bn=fast", "autotune=yes", "gru_implementation=3", "steps_per_execution=0"):
        with pytest.raises(Exception, match=r"Received: "):
            bench.parse_setting(bad)


def test_bench_epoch_use_layers_forces_the_gru_settings(monkeypatch):
    """``unroll=1`` and ``gru_implementation=1`` reach both directions of TinierHAR's GRU; the default leaves it."""
    bench = load_benchmark_script("bench_epoch")
    import keras_har
    from keras_har.backend import keras
    from keras_har.layers import time_conv
    from keras_har.models import tinier_har

    monkeypatch.setattr(keras.layers, "GRU", keras.layers.GRU)  # given back after the test
    for fast in time_conv.STOCK_CLASSES:
        monkeypatch.setattr(tinier_har, fast.__name__, getattr(tinier_har, fast.__name__))
    for unroll, implementation in ((False, 2), (True, 1)):
        bench.use_layers("fast", unroll=unroll, gru_implementation=implementation)
        recurrent = keras_har.TinierHAR(input_shape=(20, 3), num_classes=2, filters=2, gru_units=2).get_layer(
            "recurrent")
        for gru in (recurrent.forward_layer, recurrent.backward_layer):
            assert (gru.unroll, gru.implementation) == (unroll, implementation)


@pytest.mark.slow
def test_bench_epoch_times_each_setting_in_child_processes(tmp_path, capsys):
    bench = load_benchmark_script("bench_epoch")
    npz = toy_npz(tmp_path, subjects_count=3, per_subject=20)
    output = tmp_path / "epoch.json"
    bf16 = "layers=fast,procs=2,threads=1,precision=mixed_bfloat16,bn=unfused,autotune=on,steps_per_execution=2"
    assert bench.main(["--dataset", str(npz), "--epochs", "2", "--repeats", "1", "--setting",
                       "layers=stock,cudnn=register", "--setting", bf16, "--output", str(output)]) == 0
    result = json.loads(output.read_text())
    assert [trial["setting"] for trial in result["trials"]] == ["layers=stock,cudnn=register", bf16]
    # The worker built the model under the setting's policy: its logits are computed in bfloat16.
    assert [trial["logits_dtype"] for trial in result["trials"]] == ["float32", "bfloat16"]
    # ... and read the batch-norm route from the environment the setting gave it.
    assert [trial["bn"] for trial in result["trials"]] == ["fused", "unfused"]
    # ... and built its input pipeline with tf.data's autotuning as the setting asked (off by default).
    assert [trial["autotune"] for trial in result["trials"]] == [False, True]
    assert [trial["steps_per_execution"] for trial in result["trials"]] == [1, 2]
    summary = result["summary"]
    fast, stock = summary[bf16], summary["layers=stock,cudnn=register"]
    assert fast["epochs_per_minute"] == pytest.approx(2 * 60.0 / fast["seconds_per_epoch"])
    assert fast["throughput_ratio"] == pytest.approx(fast["epochs_per_minute"] / stock["epochs_per_minute"])
    # The wall columns: start to next start, so never shorter than the timer's epoch.
    assert fast["wall_epochs_per_minute"] == pytest.approx(2 * 60.0 / fast["wall_seconds_per_epoch"])
    assert fast["wall_throughput_ratio"] == pytest.approx(
        fast["wall_epochs_per_minute"] / stock["wall_epochs_per_minute"])
    for trial in result["trials"]:
        assert trial["wall_seconds_per_epoch"] >= trial["seconds_per_epoch"] * 0.99
    capsys.readouterr()
    assert bench.main(["--table", str(output)]) == 0
    table = capsys.readouterr().out
    assert f"| `{bf16}` |" in table and "wall s/epoch, start to next start" in table
    # A result file from before the wall columns still gives its table, without them.
    for trial in result["trials"]:
        del trial["wall_seconds_per_epoch"], trial["wall_epochs_per_minute"]
    old = bench.summarise(result["trials"], list(summary))
    assert "wall_throughput_ratio" not in old[bf16]
    assert "wall s/epoch" not in bench.table(dict(result, summary=old))


@pytest.mark.slow
def test_bench_epoch_profile_splits_the_step_and_the_epoch(tmp_path, capsys):
    bench = load_benchmark_script("bench_epoch")
    npz = toy_npz(tmp_path, subjects_count=3, per_subject=20)
    output = tmp_path / "profile.json"
    route = os.environ.get("KERAS_HAR_BN_TRAINING")
    assert bench.main(["--dataset", str(npz), "--profile", "--epochs", "2", "--steps", "1",
                       "--output", str(output)]) == 0
    result = json.loads(output.read_text())
    cuts = [row["up_to"] for row in result["rows"]]
    assert cuts[:2] == ["block1_add", "block2_add"] and cuts[-3:] == ["recurrent", "pooling", "logits"]
    assert all(row["stock_ms"] > 0 and row["fast_ms"] > 0 and row["unfused_ms"] > 0 for row in result["rows"])
    # Each fast-training layer alone, at each input shape it has in the model (T halves in the pooled blocks).
    layers = result["layers"]
    assert {row["layer"] for row in layers} == {"DepthwiseConv2D", "MaxPooling2D", "BatchNormalization"}
    assert all(row["stock_ms"] > 0 and row["fast_ms"] > 0 and row["input"][0] == 256 for row in layers)
    depthwise = [row["input"] for row in layers if row["layer"] == "DepthwiseConv2D"]
    assert len(depthwise) == len({tuple(shape) for shape in depthwise}) >= 2
    # The profile sets the batch-norm route for each layer set while tracing, and gives the environment back.
    assert os.environ.get("KERAS_HAR_BN_TRAINING") == route
    epoch = result["epoch"]
    # The first improvement is written at once, the best again at the end unless it was the first.
    assert 1 <= epoch["checkpoint_writes"] <= 2 and epoch["checkpoint_write_seconds"] > 0
    assert epoch["other_seconds"] == pytest.approx(
        epoch["epoch_seconds"] - epoch["train_steps_seconds"] - epoch["validation_seconds"])
    assert "| whole epoch |" in capsys.readouterr().out
