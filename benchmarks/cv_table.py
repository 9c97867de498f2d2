"""Markdown table of finished cross-validation runs, read from their result files.

    python benchmarks/cv_table.py RUN_DIR [RUN_DIR ...]
    python benchmarks/cv_table.py --baseline BASE_DIR RUN_DIR [RUN_DIR ...]

Each RUN_DIR is an output folder of `keras_har.evaluation.cross_validate` (or of
``benchmarks/bench_cv.py``, one per dataset/model). Only folds that finished are read
(``folds/fold_XX.json``), so a run cut short by a time budget reports what it finished and
says how many folds that is.

With ``--baseline``, each run is compared fold by fold with BASE_DIR (for example
TinierHAR's ablation variants against the full model): only the folds both have
finished are compared, and the table gives both means on those folds, the mean
and std of the per-fold difference, and on how many folds the run beats the
baseline.
"""

import argparse
import glob
import json
import os
import sys

import numpy as np


def load_run(run_dir):
    """``(config, folds)``: the run's ``run.json`` and its finished folds, by fold index."""
    config_path = os.path.join(run_dir, "run.json")
    if not os.path.isfile(config_path):
        raise SystemExit(f"cv_table: {config_path} not found; expected a cross_validate output folder")
    with open(config_path, encoding="utf-8") as file:
        config = json.load(file)
    folds = []
    for path in sorted(glob.glob(os.path.join(run_dir, "folds", "fold_*.json"))):
        with open(path, encoding="utf-8") as file:
            folds.append(json.load(file))
    return config, folds


def _label(config):
    return config["model"] + "".join(f" {k}={v}" for k, v in sorted(config["model_kwargs"].items()))


def paired_row(run_dir, base_folds):
    """One markdown row comparing ``run_dir`` with a baseline's finished folds (``load_run(...)[1]``)
    on the folds both finished."""
    config, folds = load_run(run_dir)
    base = {fold["fold"]: fold for fold in base_folds}
    common = [fold for fold in folds if fold["fold"] in base]
    if not common:
        return f"| {_label(config)} | no fold finished by both |"
    f1 = np.array([fold["macro_f1"] for fold in common])
    base_f1 = np.array([base[fold["fold"]]["macro_f1"] for fold in common])
    diff = f1 - base_f1
    return (
        f"| {_label(config)} | {', '.join(str(fold['fold']) for fold in common)} "
        f"| {f1.mean():.4f} | {base_f1.mean():.4f} | {diff.mean():+.4f} ± {diff.std():.4f} "
        f"| {int((diff > 0).sum())}/{len(common)} | {common[0]['params']:,} | {common[0]['macs']:,} "
        f"| {', '.join(str(fold['epochs_run']) for fold in common)} |"
    )


def row(run_dir):
    config, folds = load_run(run_dir)
    if not folds:
        return None
    f1 = np.array([fold["macro_f1"] for fold in folds])
    accuracy = np.array([fold["accuracy"] for fold in folds])
    epochs = [fold["epochs_run"] for fold in folds]
    early = sum(fold["epochs_run"] < config["epochs_max"] for fold in folds)
    label = _label(config)
    return (
        f"| {config['dataset']} | {label} | {len(folds)}/{config['folds_total']} "
        f"| {f1.mean():.4f} ± {f1.std():.4f} | {accuracy.mean():.4f} ± {accuracy.std():.4f} "
        f"| {folds[0]['params']:,} | {folds[0]['macs']:,} | {np.mean(epochs):.0f} ({min(epochs)}-{max(epochs)}), "
        f"{early}/{len(folds)} early-stopped | {np.median([fold['seconds_per_epoch'] for fold in folds]):.1f} "
        f"| {sum(fold['fold_seconds'] for fold in folds) / 60:.1f} min |"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", metavar="BASE_DIR", help="compare each run fold by fold with this run")
    parser.add_argument("run_dirs", nargs="*", metavar="RUN_DIR")
    args = parser.parse_args(argv)
    if not args.run_dirs:
        print(__doc__, file=sys.stderr)
        return 2
    if args.baseline:
        base_config, base_folds = load_run(args.baseline)
        print(f"| model | folds compared | macro-F1 | baseline ({_label(base_config)}) on the same folds "
              "| difference (mean ± std over folds) | folds better | params | MACs | epochs run |")
        print("|---|---|---|---|---|---|---|---|---|")
        for run_dir in args.run_dirs:
            print(paired_row(run_dir, base_folds))
        return 0
    print("| dataset | model | folds run | macro-F1 (mean ± std) | accuracy | params | MACs "
          "| epochs (mean, range) | s/epoch (median) | wall (sum of folds) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for run_dir in args.run_dirs:
        line = row(run_dir)
        print(line if line else f"| {run_dir}: no finished fold |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
