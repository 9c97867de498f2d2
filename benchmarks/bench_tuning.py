"""Benchmark: the paper's M x N scalability grid on HAPT (real data), with KerasTuner.

    KERAS_HAR_DATA=/path/to/datasets nice -n 10 python benchmarks/bench_tuning.py --epochs 15 --folds 1

Runs `keras_har.tuning.run_search` over filters M in {2, 4, 8} x GRU units
N in {8, 16, 32}, then writes ``benchmarks/results/tuning.md`` (command,
date, machine, wall time, the trials table, whether M=4, N=16 is on the
Pareto front) and ``benchmarks/results/tuning_pareto_hapt.png``. The search
resumes if rerun without ``--overwrite``.
"""

import argparse
import datetime
import os
import platform
import shutil
import sys
import time

from keras_har.atomic import write_text
from keras_har.commands.tune import parse_folds
from keras_har.tuning.reports import PARETO_PLOT
from keras_har.tuning.search import run_search

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def _markdown(result, args, wall_seconds, command):
    pareto = result["pareto"]
    trials = result["trials"]
    lines = [
        "## TinierHAR M x N scalability grid on HAPT (KerasTuner grid search)",
        "",
        f"- command: `{command}`",
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- machine: 2-core x86-64 VM, no GPU (shared with other jobs; run under `nice -n 10`); "
        f"Python {platform.python_version()}",
        f"- protocol: {args.folds} subject fold(s) per trial "
        f"({'20% of the 30 subjects held out' if args.folds == 1 else f'{args.folds}-fold GroupKFold'}), "
        f"at most {args.epochs} epochs (the paper trains up to 150 with early stopping, and scores "
        "leave-one-subject-out): reduced to fit the CPU budget, so absolute F1 is below the paper's",
        f"- objective: macro-F1 on the held-out subjects (scikit-learn); wall time of the whole search: "
        f"{wall_seconds / 60:.1f} min",
        "",
        "| M | N | params | MACs | macro-F1 | on front (MACs) | on front (params) |",
        "|---|---|---|---|---|---|---|",
    ]
    for _, row in pareto.sort_values(["filters", "gru_units"]).iterrows():
        star = " (paper default)" if row["paper_default"] else ""
        lines.append(
            f"| {row['filters']} | {row['gru_units']}{star} | {int(row['params']):,} | {int(row['macs']):,} "
            f"| {row['val_macro_f1']:.4f} | {'yes' if row['pareto_macs'] else 'no'} "
            f"| {'yes' if row['pareto_params'] else 'no'} |"
        )
    default = pareto[pareto["paper_default"]]
    if len(default):
        on_macs, on_params = bool(default["pareto_macs"].iloc[0]), bool(default["pareto_params"].iloc[0])
        verdict = (
            f"M=4, N=16 is {'on' if on_macs else 'not on'} the macro-F1 vs MACs front and "
            f"{'on' if on_params else 'not on'} the macro-F1 vs params front."
        )
    else:
        verdict = "M=4, N=16 did not complete."
    best = result["best"]
    lines += [
        "",
        f"Best: M={best['filters']}, N={best['gru_units']}, macro-F1 {best['val_macro_f1']:.4f}. {verdict}",
        f"Trial statuses: {trials['status'].value_counts().to_dict()}.",
        "",
        "![macro-F1 vs MACs and params](tuning_pareto_hapt.png)",
        "",
    ]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--folds", type=parse_folds, default=1, help="as `tuning/search.py --folds`: a count or 'all'")
    parser.add_argument("--directory", default="bench_tuning_runs")
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--data-home", default=os.environ.get("KERAS_HAR_DATA"))
    args = parser.parse_args(argv)
    if not args.data_home:
        parser.error("set KERAS_HAR_DATA or pass --data-home (the folder holding hapt/)")
    started = time.time()
    result = run_search(
        "hapt",
        data_home=args.data_home,
        tuner="grid",
        epochs=args.epochs,
        folds=args.folds,
        directory=args.directory,
        project_name="hapt_paper_grid",
        overwrite=args.overwrite,
    )
    wall_seconds = time.time() - started
    os.makedirs(RESULTS_DIR, exist_ok=True)
    shutil.copyfile(os.path.join(result["project_dir"], PARETO_PLOT), os.path.join(RESULTS_DIR, "tuning_pareto_hapt.png"))
    text = _markdown(result, args, wall_seconds, "python " + " ".join([sys.argv[0], *(argv or sys.argv[1:])]))
    path = os.path.join(RESULTS_DIR, "tuning.md")
    write_text(path, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
