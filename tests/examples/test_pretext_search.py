"""examples/pretext_search.py on toy data: a learning-rate x width grid scored on validation subjects."""

import json

import numpy as np
import pandas as pd
import pytest

from helpers import EXAMPLES, load_benchmark_script, toy_windows_npz
from keras_har.datasets.splits import subject_kfold

CHANNELS = ["acc_x", "acc_y", "acc_z"]


def _npz(path, seed, subjects=4):
    return toy_windows_npz(path, seed, CHANNELS, subjects=subjects)


def test_search_arguments_are_checked_by_name():
    search = load_benchmark_script("pretext_search", EXAMPLES)
    args = search.parse_args([])
    # The paper preset of dont_freeze.py, with the search's own defaults.
    assert (args.encoder, args.window_sec, args.channels, args.seeds) == ("cnngru-causal", 2.0, "acc_x,acc_y,acc_z",
                                                                          "0,1,2")
    assert (args.learning_rates, args.widths, args.windows_per_class) == ([3e-4, 1e-3, 3e-3], [128, 256], "10")
    for argv in (["--target", "pamap2"], ["--gru-units", "64"], ["--widths", "0,8"], ["--learning-rates", "a"]):
        with pytest.raises(SystemExit):
            search.parse_args(argv)


@pytest.mark.slow  # two pretrainings and four fits, each traced afresh
def test_search_scores_each_configuration_on_validation_subjects_and_resumes(tmp_path, monkeypatch, capsys):
    search = load_benchmark_script("pretext_search", EXAMPLES)
    target, other = _npz(tmp_path / "target.npz", 0), _npz(tmp_path / "other.npz", 1, subjects=3)
    output = tmp_path / "search"
    argv = ["--datasets", f"{target},{other}", "--target", target, "--pretext", "reconstruction",
            "--learning-rates", "1e-3,1e-2", "--widths", "8", "--windows-per-class", "1", "--n-splits", "2",
            "--inner-splits", "2", "--seeds", "0", "--epochs", "1", "--pretrain-epochs", "1", "--window-sec", "1",
            "--sampling-rate-hz", "25", "--output", str(output)]
    search.main(argv)

    results = pd.read_csv(output / "search.csv")
    assert sorted(zip(results["learning_rate"], results["mode"])) == [(1e-3, "finetune"), (1e-3, "frozen"),
                                                                      (1e-2, "finetune"), (1e-2, "frozen")]
    # Fold 0's training subjects only (2 of 4): one trains, the other (6 windows) validates.
    train, test = subject_kfold(np.repeat(np.arange(4), 6), 2, 0)[0]
    assert len(train) == 12 and set(results["test_windows"]) == {6} and set(results["train_windows"]) == {3}
    for learning_rate in ("0.001", "0.01"):
        metadata = json.loads((output / "pretrained" / f"reconstruction_lr{learning_rate}_units8" /
                               "pretrain.json").read_text())
        assert metadata["windows"] == 18 + 12  # the other dataset and fold 0's training subjects
        assert metadata["learning_rate"] == float(learning_rate) and metadata["gru_units"] == 8
    summary = pd.read_csv(output / "summary.csv")
    best = json.loads((output / "best.json").read_text())
    finetune = summary[summary["mode"] == "finetune"].set_index("learning_rate")["macro_f1_mean"]
    assert best["learning_rate"] == finetune.idxmax() and best["macro_f1_mean_over_k"] == finetune.max()
    assert (output / "search.png").stat().st_size > 0
    search.main(["--table", str(output)])
    table = capsys.readouterr().out
    assert "| 0.01 | 8 | " in table and f"learning rate {best['learning_rate']:g}, 8 GRU units" in table

    # A rerun trains nothing; a rerun with other settings is refused by name.
    from keras_har import ssl

    def no_training(*args, **kwargs):
        raise AssertionError("a finished stage was trained again")

    monkeypatch.setattr(ssl, "pretrain", no_training)
    monkeypatch.setattr(ssl.protocol, "run_fold", no_training)
    search.main(argv)
    pd.testing.assert_frame_equal(pd.read_csv(output / "search.csv"), results)
    with pytest.raises(ValueError, match=r"Differs in: \['inner_splits'\]"):
        search.main(argv + ["--inner-splits", "3"])
