"""examples/dont_freeze.py end to end on two toy datasets, with the paper preset's per-fold pooled pretraining."""

import json
import platform

import numpy as np
import pandas as pd
import pytest

import keras_har
from helpers import EXAMPLES, load_benchmark_script, toy_windows_npz
from keras_har.datasets.splits import subject_kfold

CHANNELS = ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"]


def _npz(path, seed, subjects=4):
    return toy_windows_npz(path, seed, CHANNELS, subjects=subjects)


def test_paper_preset_refuses_a_pool_without_a_shared_split():
    example = load_benchmark_script("dont_freeze", EXAMPLES)
    args = example.parse_args(["--preset", "paper"])
    assert (args.channels, args.window_sec, args.sampling_rate_hz, args.encoder) == ("acc_x,acc_y,acc_z", 2.0, 50.0,
                                                                                     "cnngru-causal")
    assert (args.pool, args.seeds, args.split_seed, args.pretrain_epochs) == ("all-but-test", "0,1,2", 0, 50)
    assert example.parse_args(["--preset", "paper", "--encoder", "tinierhar"]).encoder == "tinierhar"
    with pytest.raises(SystemExit):
        example.parse_args(["--pool", "all-but-test"])  # the reduced preset has no shared split



def test_a_target_outside_the_datasets_and_a_rerun_with_other_settings_are_refused_by_name(tmp_path):
    example = load_benchmark_script("dont_freeze", EXAMPLES)
    target = _npz(tmp_path / "target.npz", 0)
    argv = ["--preset", "paper", "--datasets", target, "--targets", "hapt", "--window-sec", "1",
            "--sampling-rate-hz", "25", "--output", str(tmp_path / "study")]
    with pytest.raises(SystemExit, match=r"--targets must be among --datasets .*Received: \['hapt'\]"):
        example.main(argv)
    # The first call recorded its settings; the folder's encoders and fits are not reused with another encoder.
    assert json.loads((tmp_path / "study" / "study.json").read_text())["encoder"] == "cnngru-causal"
    with pytest.raises(ValueError, match=r"holds a study run with other settings.*Differs in: \['encoder'\]"):
        example.main(argv + ["--encoder", "cnngru"])


def test_table_prints_each_cell_with_its_interval_and_n(tmp_path, capsys):
    from keras_har import ssl

    example = load_benchmark_script("dont_freeze", EXAMPLES)
    with pytest.raises(SystemExit, match=r"--table: .* lacks summary.csv, differences.csv"):
        example.main(["--table", str(tmp_path)])
    # Two folds x two seeds of frozen and finetune at k=1, one fit of each at k=5.
    rows = [dict(mode=mode, windows_per_class=1, seed=seed, fold=fold, macro_f1=base + 0.1 * fold + 0.01 * seed,
                 source="pool", target="hapt", pretext="cpc")
            for mode, base in (("frozen", 0.2), ("finetune", 0.3)) for seed in (0, 1) for fold in (0, 1)]
    rows += [dict(mode=mode, windows_per_class=5, seed=0, fold=0, macro_f1=f1, source="pool", target="hapt",
                  pretext="cpc") for mode, f1 in (("frozen", 0.5), ("finetune", 0.45))]
    results = pd.DataFrame(rows)
    ssl.save_csv(ssl.summarize(results), tmp_path / "summary.csv")
    plotted = results.assign(source="pool->hapt").drop(columns="target")
    ssl.save_csv(ssl.study_differences(plotted), tmp_path / "differences.csv")
    ssl.save_csv(ssl.difference_trends(plotted), tmp_path / "trends.csv")
    example.main(["--table", str(tmp_path)])
    lines = capsys.readouterr().out.splitlines()
    low, high = ssl.protocol.mean_ci95([0.2, 0.3, 0.21, 0.31])[1:]
    assert lines[:2] == ["| data | pretext | mode | k=1 | k=5 |", "|---|---|---|---|---|"]
    assert f"| pool->hapt | cpc | frozen | 0.255 [{low:.3f}, {high:.3f}] (4) | 0.500 (1) |" in lines
    # Every pair differs by exactly +0.1: an interval of zero width.
    assert "| pool->hapt | cpc | finetune − frozen | +0.100 [+0.100, +0.100] (4) | -0.050 (1) |" in lines
    # Only seed 0 of fold 0 has two k: its difference falls by 0.15 from k=1 to k=5, -0.15 / log10(5) per decade.
    assert f"| pool->hapt | cpc | finetune − frozen | {-0.15 / np.log10(5):+.3f} (1) | 1 of 1 |" in lines


def test_merge_builds_one_study_from_folders_of_other_folds_and_refuses_other_settings(tmp_path, capsys):
    from keras_har import ssl

    example = load_benchmark_script("dont_freeze", EXAMPLES)
    settings = {"encoder": "cnngru-causal", "seeds": "0,1"}
    for fold in (0, 1):  # each folder: one fold, both seeds, of frozen, finetune and scratch at k=1
        folder = tmp_path / f"fold{fold}"
        folder.mkdir()
        rows = [dict(source="pool", target="hapt", pretext="none" if mode == "scratch" else "cpc", mode=mode,
                     windows_per_class=1, seed=seed, fold=fold, macro_f1=base + 0.1 * fold + 0.01 * seed)
                for mode, base in (("frozen", 0.2), ("finetune", 0.3), ("scratch", 0.1)) for seed in (0, 1)]
        ssl.save_csv(pd.DataFrame(rows), folder / "results.csv")
        (folder / "study.json").write_text(json.dumps(settings))
    # fold 1's folder also holds fold 0's fits (the same values): merged once.
    both = pd.concat([pd.read_csv(tmp_path / "fold1" / "results.csv"), pd.read_csv(tmp_path / "fold0" / "results.csv")])
    ssl.save_csv(both, tmp_path / "fold1" / "results.csv")
    # Loss curves: fold 0's from its pretrained model, fold 1's from a gathered copy (a committed folder).
    (tmp_path / "fold0" / "pretrained" / "cpc_hapt_fold0").mkdir(parents=True)
    (tmp_path / "fold0" / "pretrained" / "cpc_hapt_fold0" / "pretrain.json").write_text(json.dumps({"loss": [2.0, 1.5]}))
    (tmp_path / "fold1" / "pretrain_cpc_hapt_fold1.json").write_text(json.dumps({"loss": [2.1, 1.4, 1.2]}))
    output = tmp_path / "merged"
    example.main(["--merge", str(tmp_path / "fold0"), str(tmp_path / "fold1"), "--output", str(output)])
    results = pd.read_csv(output / "results.csv")
    assert len(results) == 12 and set(results["fold"]) == {0, 1}
    assert json.loads((output / "pretrain_cpc_hapt_fold0.json").read_text()) == {"loss": [2.0, 1.5]}
    assert json.loads((output / "pretrain_cpc_hapt_fold1.json").read_text()) == {"loss": [2.1, 1.4, 1.2]}
    assert (output / "pretraining_loss.png").stat().st_size > 0
    # Merging the merged folder with a source folder again changes nothing; another curve for a model is refused.
    example.main(["--merge", str(output), str(tmp_path / "fold1"), "--output", str(output)])
    assert len(pd.read_csv(output / "results.csv")) == 12
    (tmp_path / "fold1" / "pretrain_cpc_hapt_fold0.json").write_text(json.dumps({"loss": [2.0, 1.6]}))
    with pytest.raises(ValueError, match=r"--merge: the pretrained model cpc_hapt_fold0 has another loss curve in "
                                         r".*fold1/pretrain_cpc_hapt_fold0\.json than in .*fold0/pretrained"):
        example.main(["--merge", str(tmp_path / "fold0"), str(tmp_path / "fold1"), "--output", str(tmp_path / "m2")])
    assert not (tmp_path / "m2").exists()  # refused before anything was written
    (tmp_path / "fold1" / "pretrain_cpc_hapt_fold0.json").unlink()
    # An --output holding another study is refused, and keeps its files as they were.
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "study.json").write_text(json.dumps(settings | {"seeds": "0"}))
    with pytest.raises(ValueError, match=r"other holds a study run with other settings; give another --output\. "
                                         r"Differs in: \['seeds'\]"):
        example.main(["--merge", str(tmp_path / "fold0"), str(tmp_path / "fold1"), "--output", str(tmp_path / "other")])
    assert [path.name for path in (tmp_path / "other").iterdir()] == ["study.json"]
    assert json.loads((output / "study.json").read_text()) == settings
    example.main(["--table", str(output)])
    assert "| pool->hapt | cpc | finetune − frozen | +0.100 [+0.100, +0.100] (4) |" in capsys.readouterr().out
    assert (output / "dont_freeze.png").stat().st_size > 0
    # A fit with two values, a folder of other settings, and a folder without results are refused by name.
    ssl.save_csv(both.assign(macro_f1=both["macro_f1"] + 0.5), tmp_path / "fold1" / "results.csv")
    # Fold 0's 6 fits now differ between the two folders.
    with pytest.raises(ValueError, match=r"--merge: 6 fits differ between the folders, e\.g\. \{'source': 'pool', "
                                         r"'target': 'hapt', 'pretext': 'cpc', 'mode': 'finetune', "
                                         r"'windows_per_class': 1, 'seed': 0, 'fold': 0\}"):
        example.main(["--merge", str(tmp_path / "fold0"), str(tmp_path / "fold1"), "--output", str(output)])
    (tmp_path / "fold1" / "study.json").write_text(json.dumps(settings | {"encoder": "cnngru"}))
    with pytest.raises(ValueError, match=r"other settings than .*fold1's.*Differs in: \['encoder'\]"):
        example.main(["--merge", str(tmp_path / "fold0"), str(tmp_path / "fold1"), "--output", str(output)])
    with pytest.raises(SystemExit, match=r"--merge: .*none lacks results.csv, study.json"):
        example.main(["--merge", str(tmp_path / "none"), "--output", str(output)])


@pytest.mark.slow  # pretraining and three fits, each traced afresh
def test_paper_preset_pretrains_per_fold_without_the_test_subjects_and_resumes(tmp_path, monkeypatch, capsys):
    example = load_benchmark_script("dont_freeze", EXAMPLES)
    target, other = _npz(tmp_path / "target.npz", 0), _npz(tmp_path / "other.npz", 1, subjects=3)
    output = tmp_path / "study"
    argv = ["--preset", "paper", "--datasets", f"{target},{other}", "--targets", target,
            "--pretexts", "reconstruction", "--windows-per-class", "1", "--n-splits", "2", "--fold-indices", "1",
            "--seeds", "0", "--epochs", "1", "--pretrain-epochs", "2", "--window-sec", "1",
            "--sampling-rate-hz", "25", "--output", str(output)]
    example.main(argv)

    # Fold 1's pool: every window of the other dataset and the target's training subjects of fold 1 only.
    metadata = json.loads((output / "pretrained" / "reconstruction_target_fold1" / "pretrain.json").read_text())
    train, _ = subject_kfold(np.repeat(np.arange(4), 6), 2, 0)[1]
    assert metadata["windows"] == 18 + len(train) == 30
    assert metadata["channel_names"] == ["acc_x", "acc_y", "acc_z"] and metadata["window_length"] == 25
    assert len(metadata["loss"]) == 2
    # The per-epoch resume state is gone once the pretext is saved.
    assert not list((output / "pretrained").glob("*.npz"))
    results = pd.read_csv(output / "results.csv")
    assert sorted(results["mode"]) == ["finetune", "frozen", "scratch"]
    assert set(results["fold"]) == {1} and set(results["seed"]) == {0} and set(results["target"]) == {"target"}
    assert sorted(p.name for p in (output / "fits").iterdir()) == ["reconstruction_target_fold1", "scratch_target"]
    differences = pd.read_csv(output / "differences.csv")
    assert differences[["mode", "baseline"]].values.tolist() == [["finetune", "frozen"], ["finetune", "scratch"],
                                                                 ["frozen", "scratch"]]
    assert (differences["pairs"] == 1).all()
    for name in ("summary.csv", "dont_freeze.png", "pretraining_loss.png"):
        assert (output / name).stat().st_size > 0
    # The loss curve is gathered beside the tables, where a committed study folder keeps it.
    assert json.loads((output / "pretrain_reconstruction_target_fold1.json").read_text()) == metadata
    assert json.loads((output / "versions.json").read_text())["keras_har"] == keras_har.__version__
    example.main(["--table", str(output)])
    table = capsys.readouterr().out
    assert "| pool->target | reconstruction | finetune − frozen | " in table
    assert f"Versions: python {platform.python_version()}, tensorflow " in table

    # A rerun finds the pretrained model and every fit, and trains nothing (nor builds the pool).
    from keras_har import ssl
    from keras_har.datasets import Standardizer

    def no_training(*args, **kwargs):
        raise AssertionError("a finished stage was trained again")

    monkeypatch.setattr(ssl, "pretrain", no_training)
    monkeypatch.setattr(Standardizer, "fit_transform", no_training)
    monkeypatch.setattr(ssl.protocol, "run_fold", no_training)
    example.main(argv)
    pd.testing.assert_frame_equal(pd.read_csv(output / "results.csv"), results)


@pytest.mark.slow  # one pretraining epoch
def test_reduced_preset_pretrains_once_on_the_source(tmp_path, monkeypatch):
    from keras_har import ssl

    example = load_benchmark_script("dont_freeze", EXAMPLES)
    target, other = _npz(tmp_path / "target.npz", 0), _npz(tmp_path / "other.npz", 1, subjects=3)
    studies = []

    def study(pretrained, dataset, *, modes, seeds, fold_indices, folds, **kwargs):
        # The fits are tested above; here only what each study is given, and the tables built from it.
        studies.append((dataset.name, tuple(modes), folds, kwargs["split_seed"], kwargs.get("pretext_weight", 0.0),
                        kwargs["output_dir"].name))
        rows = [dict.fromkeys(ssl.protocol.RESULT_COLUMNS, 1) | dict(mode=mode, seed=0, fold=0, macro_f1=0.5)
                for mode in modes]
        return pd.DataFrame(rows)

    monkeypatch.setattr(ssl, "label_scarce_study", study)
    output = tmp_path / "study"
    example.main(["--directions", f"{other}:{target}", "--pretexts", "reconstruction", "--encoder", "tinierhar",
                  "--windows-per-class", "1", "--n-splits", "2", "--folds", "1", "--epochs", "1",
                  "--pretrain-epochs", "1", "--window-sec", "1", "--sampling-rate-hz", "25", "--pretext-weight", "0.5",
                  "--output", str(output)])
    # The continued-pretext-loss row: finetune fits that keep the pretext loss, in a folder of their own.
    assert studies == [("target", ("scratch",), 1, None, 0.0, "scratch_target"),
                       ("target", ("frozen", "finetune"), 1, None, 0.0, "reconstruction_other_to_target"),
                       ("target", ("finetune",), 1, None, 0.5, "reconstruction_other_to_target_pretext0.5")]
    metadata = json.loads((output / "pretrained" / "reconstruction_other" / "pretrain.json").read_text())
    assert metadata["windows"] == 18 and metadata["channel_names"] == CHANNELS  # the source alone, all 6 channels
    results = pd.read_csv(output / "results.csv")
    assert sorted(results["mode"]) == ["finetune", "finetune+pretext", "frozen", "scratch"]
    assert set(results["source"]) == {"other"}
    differences = pd.read_csv(output / "differences.csv")
    assert differences[["mode", "baseline"]].values.tolist()[-1] == ["finetune+pretext", "finetune"]
    assert len(differences) == 4
