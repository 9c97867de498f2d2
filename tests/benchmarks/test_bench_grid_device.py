"""benchmarks/bench_grid_device.py: its table, and a rerun measures only the rows it lacks."""

from helpers import load_benchmark_script

ROWS = [
    {"filters": 2, "gru_units": 8, "recurrence": "fused", "params": 2135, "macs": 246654, "model_kb": 12.5,
     "arena_kb": 9.25, "instructions_m": 3.1, "firmware_flash_kb": 80.0, "int8_ops": 30},
    {"filters": 2, "gru_units": 8, "recurrence": "merged", "params": 2135, "macs": 246654, "model_kb": 100.5,
     "arena_kb": 20.0, "instructions_m": 4.2, "firmware_flash_kb": 190.0, "int8_ops": 590},
    {"filters": 4, "gru_units": 16, "recurrence": "merged", "params": 7483, "macs": 697246, "model_kb": 110.0,
     "arena_kb": 25.5, "instructions_m": 9.87, "firmware_flash_kb": 200.0, "int8_ops": 600},
]


def test_table_pairs_the_fused_and_stock_op_exports_of_each_configuration():
    bench = load_benchmark_script("bench_grid_device")
    lines = bench.table(ROWS).splitlines()
    assert len(lines) == 4
    assert lines[2] == "| 2 | 8 | 2,135 | 246,654 | 12.5 | 9.2 | 80.0 | 3.10 | 100.5 / 20.0 / 4.20 |"
    # A configuration measured only as the stock-op export leaves the fused columns empty.
    assert lines[3] == "| 4 | 16 | 7,483 | 697,246 | - | - | - | - | 110.0 / 25.5 / 9.87 |"
    assert all(line.count("|") == lines[0].count("|") for line in lines)


def test_a_finished_row_is_not_measured_again(tmp_path, capsys, monkeypatch):
    import json

    bench = load_benchmark_script("bench_grid_device")
    output = tmp_path / "grid.json"
    output.write_text(json.dumps(ROWS[:1]))
    measured = []

    def fake_measure(filters, gru_units, recurrence):
        measured.append((filters, gru_units, recurrence))
        return dict(ROWS[0], filters=filters, gru_units=gru_units, recurrence=recurrence)

    monkeypatch.setattr(bench, "measure", fake_measure)
    assert bench.main(["--output", str(output), "--recurrence", "fused"]) == 0
    assert len(measured) == 8 and (2, 8, "fused") not in measured
    rows = json.loads(output.read_text())
    assert [(row["filters"], row["gru_units"]) for row in rows][:2] == [(2, 8), (2, 16)]
    assert len(rows) == 9
