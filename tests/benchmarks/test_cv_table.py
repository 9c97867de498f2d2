"""benchmarks/cv_table.py: tables read back from cross-validation result files."""

import json

import pytest
from helpers import load_benchmark_script


@pytest.fixture(scope="module")
def cv_table():
    return load_benchmark_script("cv_table")


def _write_run(root, name, f1_by_fold, model_kwargs=None, seed=0):
    run_dir = root / name
    (run_dir / "folds").mkdir(parents=True)
    (run_dir / "run.json").write_text(json.dumps({
        "model": "tinierhar", "model_kwargs": model_kwargs or {}, "dataset": "hapt",
        "folds_total": 10, "epochs_max": 150, "seed": seed,
    }))
    for fold, f1 in f1_by_fold.items():
        (run_dir / "folds" / f"fold_{fold:02d}.json").write_text(json.dumps({
            "fold": fold, "macro_f1": f1, "accuracy": 0.9, "epochs_run": 100 + fold, "params": 7483,
            "macs": 697246, "seconds_per_epoch": 2.0, "fold_seconds": 200.0, "best_epoch": 85 + fold,
            "test_subjects": [3 * fold + 1, 3 * fold + 2, 3 * fold + 3],
        }))
    return str(run_dir)


def test_paired_row_compares_only_common_folds(cv_table, tmp_path):
    base = _write_run(tmp_path, "base", {0: 0.80, 1: 0.70, 2: 0.90})
    variant = _write_run(tmp_path, "variant", {0: 0.85, 1: 0.60, 5: 0.99}, {"residual": False})
    line = cv_table.paired_row(cv_table.load_run(variant), cv_table.load_run(base)[1])
    cells = [cell.strip() for cell in line.strip("|").split("|")]
    assert cells[0] == "tinierhar residual=False"
    assert cells[1] == "0, 1"                      # fold 2 (base only) and 5 (variant only) left out
    assert cells[2] == "0.7250"                    # (0.85 + 0.60) / 2
    assert cells[3] == "0.7500"                    # (0.80 + 0.70) / 2
    assert cells[4] == "-0.0250 ± 0.0750"          # diffs +0.05, -0.10
    assert cells[5] == "1/2"
    assert cells[8] == "100, 101"


def test_row_summarises_finished_folds(cv_table, tmp_path):
    run = _write_run(tmp_path, "run", {0: 0.8, 1: 0.6})
    cells = [cell.strip() for cell in cv_table.row(cv_table.load_run(run)).strip("|").split("|")]
    assert cells[2] == "2/10"
    assert cells[3] == "0.7000 ± 0.1000"
    assert cells[7] == "100 (100-101), 2/2 early-stopped"  # 150 is the cap; both stopped before it


def test_missing_run_folder_is_a_clear_error(cv_table, tmp_path):
    with pytest.raises(SystemExit, match="run.json not found"):
        cv_table.load_run(str(tmp_path / "nothing"))


def test_plot_writes_png_for_both_modes(cv_table, tmp_path, capsys):
    base = _write_run(tmp_path, "base", {0: 0.80, 1: 0.70})
    variant = _write_run(tmp_path, "variant", {0: 0.85, 1: 0.60}, {"residual": False})
    folds_png = tmp_path / "figures" / "folds.png"
    paired_png = tmp_path / "paired.png"
    assert cv_table.main([base, variant, "--plot", str(folds_png)]) == 0
    assert cv_table.main(["--baseline", base, variant, "--plot", str(paired_png)]) == 0
    for png in (folds_png, paired_png):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Only the figures are left behind, no temporary files.
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == ["folds.png"]
    assert "tinierhar residual=False" in capsys.readouterr().out


def test_plot_without_common_folds_is_a_clear_error(cv_table, tmp_path):
    base = _write_run(tmp_path, "base", {0: 0.80})
    variant = _write_run(tmp_path, "variant", {3: 0.85})
    with pytest.raises(SystemExit, match="no run shares a finished fold with the baseline"):
        cv_table.plot_paired(cv_table.load_run(base), [cv_table.load_run(variant)], str(tmp_path / "paired.png"))
    assert not (tmp_path / "paired.png").exists()


def test_label_names_a_seed_other_than_zero(cv_table, tmp_path):
    base = _write_run(tmp_path, "base", {0: 0.80})
    reseeded = _write_run(tmp_path, "reseeded", {0: 0.78}, seed=2)
    line = cv_table.paired_row(cv_table.load_run(reseeded), cv_table.load_run(base)[1])
    assert line.startswith("| tinierhar seed=2 | 0 | 0.7800 | 0.8000 | -0.0200 ± 0.0000 | 0/1 |")
    assert cv_table.row(cv_table.load_run(base)).startswith("| hapt | tinierhar | 1/10 |")


def test_per_fold_table_has_a_column_per_run_and_marks_missing_folds(cv_table, tmp_path):
    base = _write_run(tmp_path, "base", {0: 0.80, 1: 0.70})
    variant = _write_run(tmp_path, "variant", {1: 0.65}, {"conv": "none"})
    lines = cv_table.per_fold_table([cv_table.load_run(base), cv_table.load_run(variant)])
    assert lines[0] == "| dataset | fold (test subjects) | tinierhar | tinierhar conv=none |"
    assert lines[2] == "| hapt | 0 (1, 2, 3) | 0.8000 (100, 85) | not run |"
    assert lines[3] == "| hapt | 1 (4, 5, 6) | 0.7000 (101, 86) | 0.6500 (101, 86) |"
    assert lines[4] == "| hapt | 2 | not run | not run |"
    assert len(lines) == 2 + 10                        # folds_total rows
