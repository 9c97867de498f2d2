"""Benchmark: measured int8 flash and TFLM arena of the paper's M x N grid, against the estimate.

    nice -n 10 python benchmarks/bench_footprint.py [--trials /path/to/hapt_grid/pareto.csv]

For TinierHAR at HAPT's shape (T=200, C=6, K=12) and each M in {2, 4, 8},
N in {8, 16, 32}: the instant op-count estimate
(`keras_har.tuning.budget.estimate_tflite_footprint`) and the measurement
the search runs under ``--max-flash-kb``/``--max-arena-kb``
(`keras_har.export.footprint.measure_footprint`: int8 conversion and a TFLM
arena search in a child process), side by side, with the time each took.
With ``--trials`` (the ``pareto.csv`` of a grid search, see
``benchmarks/bench_tuning.py``) it also names the best configuration within
a few arena budgets. Writes ``benchmarks/results/tuning_footprint.md`` and
``.json``.
"""

import argparse
import datetime
import json
import os
import platform
import time

from keras_har.atomic import write_text

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
GRID = [(m, n) for m in (2, 4, 8) for n in (8, 16, 32)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input-shape", default="200,6", help="T,C (default HAPT: 200,6)")
    parser.add_argument("--num-classes", type=int, default=12)
    parser.add_argument("--trials", default=None, help="pareto.csv of a grid search, to join macro-F1")
    parser.add_argument("--arena-budgets-kb", default="128,160,192,224", help="arena budgets to report")
    parser.add_argument("--output", default=os.path.join(RESULTS_DIR, "tuning_footprint"))
    args = parser.parse_args(argv)

    import keras_har
    from keras_har.export.footprint import measure_footprint
    from keras_har.tuning.budget import estimate_tflite_footprint

    shape = tuple(int(v) for v in args.input_shape.split(","))
    rows = []
    for filters, gru_units in GRID:
        model = keras_har.TinierHAR(input_shape=shape, num_classes=args.num_classes, filters=filters,
                                    gru_units=gru_units)
        start = time.perf_counter()
        estimate = estimate_tflite_footprint(model)
        estimate_seconds = time.perf_counter() - start
        start = time.perf_counter()
        measured = measure_footprint(model)
        measure_seconds = time.perf_counter() - start
        row = {
            "filters": filters, "gru_units": gru_units, "params": int(model.count_params()),
            "flash_measured": measured["flash_bytes"], "flash_estimate": estimate["flash_bytes"],
            "arena_measured": measured["arena_bytes"], "arena_estimate": estimate["arena_bytes"],
            "ops_measured": measured["ops"], "ops_estimate": estimate["ops"],
            "estimate_seconds": estimate_seconds, "measure_seconds": measure_seconds,
        }
        rows.append(row)
        print(f"M={filters} N={gru_units}: flash {row['flash_measured']:,} B (estimate {row['flash_estimate']:,}), "
              f"arena {row['arena_measured']:,} B (estimate {row['arena_estimate']:,}), "
              f"measured in {measure_seconds:.1f} s", flush=True)

    scores = {}
    if args.trials:
        import pandas as pd

        trials = pd.read_csv(args.trials)
        scores = {(int(r.filters), int(r.gru_units)): float(r.val_macro_f1) for r in trials.itertuples()}
    _write(args, shape, rows, scores)
    return 0


def _ratio(measured, estimate):
    return f"{estimate / measured:.3f}"


def _write(args, shape, rows, scores):
    lines = [
        "## Measured int8 flash and TFLM arena of the M x N grid, against the op-count estimate",
        "",
        f"- command: `nice -n 10 python benchmarks/bench_footprint.py"
        f"{' --trials ' + args.trials if args.trials else ''}`",
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- machine: 2-core x86-64 VM, no GPU, shared with a cross-validation benchmark running at the same "
        f"time (times are inflated); Python {platform.python_version()}",
        f"- models: untrained TinierHAR at T={shape[0]}, C={shape[1]}, K={args.num_classes} (sizes do not depend "
        "on the weights); measured = `measure_footprint` (int8 conversion calibrated on 8 random windows, "
        "stripped `.tflite` length, smallest arena that allocates and runs one window in the TFLM Python "
        "interpreter, each arena probe in its own process)",
        "",
        "| M | N | params | flash measured B | flash estimate B | estimate/measured | arena measured B "
        "| arena estimate B | estimate/measured | ops | measure time s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['filters']} | {r['gru_units']} | {r['params']:,} | {r['flash_measured']:,} | {r['flash_estimate']:,} "
            f"| {_ratio(r['flash_measured'], r['flash_estimate'])} | {r['arena_measured']:,} | {r['arena_estimate']:,} "
            f"| {_ratio(r['arena_measured'], r['arena_estimate'])} | {r['ops_measured']} "
            f"| {r['measure_seconds']:.1f} |"
        )
    if scores:
        lines += ["", f"Best macro-F1 of the grid search in `{args.trials}` within each measured arena budget:", "",
                  "| arena budget KB | configurations within it | best (M, N) | its macro-F1 |", "|---|---|---|---|"]
        for budget_kb in (float(v) for v in args.arena_budgets_kb.split(",")):
            within = [r for r in rows if r["arena_measured"] / 1024 <= budget_kb
                      and (r["filters"], r["gru_units"]) in scores]
            if within:
                best = max(within, key=lambda r: scores[(r["filters"], r["gru_units"])])
                lines.append(f"| {budget_kb:g} | {len(within)} | ({best['filters']}, {best['gru_units']}) "
                             f"| {scores[(best['filters'], best['gru_units'])]:.4f} |")
            else:
                lines.append(f"| {budget_kb:g} | 0 | - | - |")
    for suffix, text in ((".md", "\n".join(lines) + "\n"), (".json", json.dumps(rows, indent=2))):
        write_text(args.output + suffix, text)
    print("\n".join(lines))


if __name__ == "__main__":
    raise SystemExit(main())
