"""Markdown table of finished cross-validation runs, read from their result files.

    python benchmarks/cv_table.py RUN_DIR [RUN_DIR ...]

Each RUN_DIR is an output folder of `keras_har.evaluation.cross_validate` (or of
``benchmarks/bench_cv.py``, one per dataset/model). Only folds that finished are read
(``folds/fold_XX.json``), so a run cut short by a time budget reports what it finished and
says how many folds that is.
"""

import glob
import json
import os
import sys

import numpy as np


def row(run_dir):
    with open(os.path.join(run_dir, "run.json"), encoding="utf-8") as file:
        config = json.load(file)
    folds = []
    for path in sorted(glob.glob(os.path.join(run_dir, "folds", "fold_*.json"))):
        with open(path, encoding="utf-8") as file:
            folds.append(json.load(file))
    if not folds:
        return None
    f1 = np.array([fold["macro_f1"] for fold in folds])
    accuracy = np.array([fold["accuracy"] for fold in folds])
    epochs = [fold["epochs_run"] for fold in folds]
    early = sum(fold["epochs_run"] < config["epochs_max"] for fold in folds)
    label = config["model"] + "".join(f" {k}={v}" for k, v in sorted(config["model_kwargs"].items()))
    return (
        f"| {config['dataset']} | {label} | {len(folds)}/{config['folds_total']} "
        f"| {f1.mean():.4f} ± {f1.std():.4f} | {accuracy.mean():.4f} ± {accuracy.std():.4f} "
        f"| {folds[0]['params']:,} | {folds[0]['macs']:,} | {np.mean(epochs):.0f} ({min(epochs)}-{max(epochs)}), "
        f"{early}/{len(folds)} early-stopped | {np.median([fold['seconds_per_epoch'] for fold in folds]):.1f} "
        f"| {sum(fold['fold_seconds'] for fold in folds) / 60:.1f} min |"
    )


def main(argv=None):
    run_dirs = (argv if argv is not None else sys.argv[1:])
    if not run_dirs:
        print(__doc__, file=sys.stderr)
        return 2
    print("| dataset | model | folds run | macro-F1 (mean ± std) | accuracy | params | MACs "
          "| epochs (mean, range) | s/epoch (median) | wall (sum of folds) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for run_dir in run_dirs:
        line = row(run_dir)
        print(line if line else f"| {run_dir}: no finished fold |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
