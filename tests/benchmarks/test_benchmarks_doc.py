"""BENCHMARKS.md's generated tables equal what the scripts make from the committed result files."""

import re

import pytest

from helpers import BENCHMARKS, EXAMPLES, load_benchmark_script

DOC = (BENCHMARKS.parent / "BENCHMARKS.md").read_text(encoding="utf-8")
CV = BENCHMARKS / "results" / "cv_full"


def _runs(*names):
    return [str(CV / name) for name in names]


def _grid_runs():
    """The grid's folders in (M, N) order, as `ls -v` lists them for BENCHMARKS.md's command."""
    def filters_and_units(path):
        return tuple(int(number) for number in re.fullmatch(r"hapt_tinierhar_m(\d+)_n(\d+)", path.name).groups())
    return [str(p) for p in sorted(CV.glob("hapt_tinierhar_m?_n*"), key=filters_and_units)]


CV_TABLES = {
    "summary": _runs("hapt_tinierhar", "usc_had_tinierhar", "hapt_tinyhar", "usc_had_tinyhar",
                     "hapt_deepconvlstm", "usc_had_deepconvlstm"),
    "hapt per fold": ["--per-fold"] + _runs("hapt_tinierhar", "hapt_tinyhar", "hapt_deepconvlstm"),
    "ablations": ["--baseline"] + _runs("hapt_tinierhar") + sorted(str(p) for p in CV.glob("hapt_tinierhar_*-*")),
    "seeds": ["--baseline"] + _runs("hapt_tinierhar") + sorted(str(p) for p in CV.glob("hapt_tinierhar_seed?")),
    "fast-training layers": ["--baseline"] + _runs("hapt_tinierhar", "hapt_tinierhar_timelayers"),
    "M x N grid": ["--baseline"] + _runs("hapt_tinierhar") + _grid_runs(),
}


@pytest.mark.parametrize("name", sorted(CV_TABLES))
def test_cross_validation_tables_are_the_cv_table_output(name, capsys):
    cv_table = load_benchmark_script("cv_table")
    assert cv_table.main(CV_TABLES[name]) in (0, None)
    table = capsys.readouterr().out.strip()
    assert table.count("\n") >= 2  # a header, its rule and at least one row
    assert table in DOC


def test_usc_had_per_fold_rows_are_the_cv_table_output(capsys):
    cv_table = load_benchmark_script("cv_table")
    cv_table.main(["--per-fold"] + _runs("usc_had_tinierhar", "usc_had_tinyhar", "usc_had_deepconvlstm"))
    rows = capsys.readouterr().out.strip().splitlines()[2:]
    assert len(rows) == 7
    assert "\n".join(rows) in DOC


@pytest.mark.parametrize("script, result, min_lines", [
    ("bench_firmware", "firmware.json", 4),
    ("bench_fused_gru", "fused_gru.json", 3),
    ("bench_epoch", "epoch_profile.json", 15),
    ("bench_epoch", "epoch_speed.json", 4),
    ("bench_epoch", "epoch_optimizer.json", 2),
    ("bench_epoch", "epoch_cudnn.json", 2),
    ("bench_epoch", "epoch_bfloat16.json", 2),
    ("bench_epoch", "epoch_autotune.json", 4),
    ("bench_epoch", "epoch_gru.json", 4),
    ("bench_grid_device", "grid_device.json", 11),
])
def test_benchmark_tables_are_the_scripts_output(script, result, min_lines, capsys):
    bench = load_benchmark_script(script)
    assert bench.main(["--table", str(BENCHMARKS / "results" / result)]) == 0
    table = capsys.readouterr().out.strip()
    assert table.count("\n") >= min_lines - 1
    assert table in DOC


@pytest.mark.parametrize("folder", ["dont_freeze_paper", "dont_freeze_paper_bigru"])
def test_dont_freeze_paper_tables_are_the_examples_output(folder, capsys):
    example = load_benchmark_script("dont_freeze", EXAMPLES)
    example.main(["--table", str(BENCHMARKS / "results" / folder)])
    table = capsys.readouterr().out.strip()
    assert "| pool->hapt | cpc | finetune − frozen |" in table
    assert table in DOC


def test_pretext_search_table_is_the_examples_output(capsys):
    example = load_benchmark_script("pretext_search", EXAMPLES)
    example.main(["--table", str(BENCHMARKS / "results" / "pretext_search")])
    table = capsys.readouterr().out.strip()
    # 3 learning rates x 2 widths, frozen and finetuned.
    assert table.count("| finetune |") == table.count("| frozen |") == 6 and "Best by finetune" in table
    assert table in DOC


def test_official_checkpoint_table_is_the_committed_one():
    table = (BENCHMARKS / "results" / "official_checkpoint.md").read_text(encoding="utf-8").strip()
    assert table in DOC


@pytest.mark.slow
def test_model_size_table_is_the_profile_command_output(capsys):
    from keras_har.cli import main

    assert main(["profile"]) == 0
    table = capsys.readouterr().out.strip()
    assert table.count("\n") >= 16
    assert table in DOC


def test_no_machine_paths_or_run_diary():
    for word in ("/work/", "/home/", "/tmp/", "session", " UTC"):
        assert word not in DOC, word


def test_ten_fold_speed_table_is_the_scripts_output(capsys):
    bench = load_benchmark_script("bench_speed")
    assert bench.main(["--table", str(BENCHMARKS / "results" / "speed_10fold.json"),
                       "--table", str(BENCHMARKS / "results" / "speed_10fold_fused.json"),
                       "--table", str(BENCHMARKS / "results" / "speed_10fold_autotune.json"),
                       "--baseline", str(CV / "hapt_tinierhar")]) == 0
    table = capsys.readouterr().out.strip()
    assert table.count("\n") == 5  # a header, its rule, the two settings of the first file, one of each other
    assert table in DOC
