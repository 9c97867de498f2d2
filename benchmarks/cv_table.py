"""Markdown table of finished cross-validation runs, read from their result files.

    python benchmarks/cv_table.py RUN_DIR [RUN_DIR ...]
    python benchmarks/cv_table.py --baseline BASE_DIR RUN_DIR [RUN_DIR ...]
    python benchmarks/cv_table.py [--baseline BASE_DIR] RUN_DIR ... --plot FIGURE.png
    python benchmarks/cv_table.py --per-fold RUN_DIR [RUN_DIR ...]

Each RUN_DIR is an output folder of `keras_har.evaluation.cross_validate` (or of
``benchmarks/bench_cv.py``, one per dataset/model). Only folds that finished are read
(``folds/fold_XX.json``), so a run cut short by a time budget reports what it finished and
says how many folds that is.

With ``--baseline``, each run is compared fold by fold with BASE_DIR (for example
TinierHAR's ablation variants against the full model): only the folds both have
finished are compared, and the table gives both means on those folds, the mean
and std of the per-fold difference, and on how many folds the run beats the
baseline.

``--plot`` also draws the table as a figure: without ``--baseline``, macro-F1 fold by
fold for each run (one panel per dataset, the dashed line is the run's mean over its
folds); with it, each run's per-fold difference from the baseline (dots) and their
mean (bar).
"""

import argparse
import glob
import json
import os
import sys

import numpy as np

# TensorFlow-free: this script only reads and writes result files.
from keras_har.atomic import atomic_path


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
    """The model and its keyword arguments, plus the seed where it is not the default 0."""
    seed = config.get("seed", 0)
    return (config["model"] + "".join(f" {k}={v}" for k, v in sorted(config["model_kwargs"].items()))
            + (f" seed={seed}" if seed else ""))


def common_folds(folds, base_folds):
    """``(common, f1, base_f1)``: the run's folds the baseline also finished, with both macro-F1s."""
    base = {fold["fold"]: fold["macro_f1"] for fold in base_folds}
    common = [fold for fold in folds if fold["fold"] in base]
    f1 = np.array([fold["macro_f1"] for fold in common])
    base_f1 = np.array([base[fold["fold"]] for fold in common])
    return common, f1, base_f1


def paired_row(run, base_folds):
    """One markdown row comparing a run (``load_run(...)``) with a baseline's finished folds
    (``load_run(...)[1]``) on the folds both finished."""
    config, folds = run
    common, f1, base_f1 = common_folds(folds, base_folds)
    if not common:
        return f"| {_label(config)} | no fold finished by both |"
    diff = f1 - base_f1
    return (
        f"| {_label(config)} | {', '.join(str(fold['fold']) for fold in common)} "
        f"| {f1.mean():.4f} | {base_f1.mean():.4f} | {diff.mean():+.4f} ± {diff.std():.4f} "
        f"| {int((diff > 0).sum())}/{len(common)} | {common[0]['params']:,} | {common[0]['macs']:,} "
        f"| {', '.join(str(fold['epochs_run']) for fold in common)} |"
    )


def row(run):
    """One markdown row summarising a run (``load_run(...)``); None if no fold finished."""
    config, folds = run
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


def per_fold_table(loaded_runs):
    """Markdown lines: one row per dataset and fold, one column per run (``load_run(...)``); each
    cell is the fold's macro-F1 with its epochs run and best epoch, or "not run"."""
    datasets = []
    for config, _ in loaded_runs:
        if config["dataset"] not in datasets:
            datasets.append(config["dataset"])
    lines = ["| dataset | fold (test subjects) | " + " | ".join(_label(config) for config, _ in loaded_runs) + " |",
             "|---|---|" + "---|" * len(loaded_runs)]
    for dataset in datasets:
        runs = [(config, {fold["fold"]: fold for fold in folds}) for config, folds in loaded_runs]
        total = max(config["folds_total"] for config, _ in runs if config["dataset"] == dataset)
        for index in range(total):
            subjects = next((by_fold[index]["test_subjects"] for config, by_fold in runs
                             if config["dataset"] == dataset and index in by_fold), None)
            cells = []
            for config, by_fold in runs:
                fold = by_fold.get(index) if config["dataset"] == dataset else None
                cells.append(f"{fold['macro_f1']:.4f} ({fold['epochs_run']}, {fold['best_epoch']})" if fold
                             else ("not run" if config["dataset"] == dataset else "-"))
            where = f"{index} ({', '.join(str(s) for s in subjects)})" if subjects else str(index)
            lines.append(f"| {dataset} | {where} | " + " | ".join(cells) + " |")
    return lines


def _save_figure(fig, path):
    """Writes ``fig`` to ``path`` atomically, so a failed run leaves no half-written PNG."""
    with atomic_path(path, suffix=".png") as temporary:
        fig.savefig(temporary, format="png", dpi=110)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_folds(loaded_runs, path):
    """Macro-F1 fold by fold for each run (``load_run(...)``), one panel per dataset, as a PNG at ``path``."""
    plt = _pyplot()
    runs = {}
    for config, folds in loaded_runs:
        if folds:
            runs.setdefault(config["dataset"], []).append((config, folds))
    if not runs:
        raise SystemExit("cv_table: --plot: none of the runs has a finished fold")
    fig, axes = plt.subplots(1, len(runs), figsize=(5.5 * len(runs), 4.0), squeeze=False)
    for ax, (dataset, dataset_runs) in zip(axes[0], runs.items()):
        for index, (config, folds) in enumerate(dataset_runs):
            x = [fold["fold"] for fold in folds]
            f1 = [fold["macro_f1"] for fold in folds]
            color = f"C{index}"
            ax.plot(x, f1, "o-", color=color, markersize=4, linewidth=1,
                    label=f"{_label(config)}: {np.mean(f1):.3f} ({len(folds)}/{config['folds_total']} folds)")
            ax.hlines(np.mean(f1), min(x), max(x), colors=color, linestyles="dashed", linewidth=0.8)
        total = max(config["folds_total"] for config, _ in dataset_runs)
        ax.set_xticks(range(total))
        ax.set_xlabel("fold (official order)")
        ax.set_ylabel("macro-F1")
        ax.set_title(dataset)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    _save_figure(fig, path)
    plt.close(fig)


def plot_paired(base_run, loaded_runs, path):
    """Each run's macro-F1 minus the baseline's (all ``load_run(...)``), fold by fold on the folds
    both finished, as a PNG at ``path``."""
    plt = _pyplot()
    base_config, base_folds = base_run
    rows = []
    for config, folds in loaded_runs:
        common, f1, base_f1 = common_folds(folds, base_folds)
        if common:
            rows.append((_label(config), 100.0 * (f1 - base_f1)))
    if not rows:
        raise SystemExit("cv_table: --plot: no run shares a finished fold with the baseline "
                         f"(--baseline, {_label(base_config)})")
    rows.sort(key=lambda item: item[1].mean())
    fig, ax = plt.subplots(figsize=(7.0, 0.45 * len(rows) + 1.4))
    for y, (_, diffs) in enumerate(rows):
        mean = diffs.mean()
        ax.barh(y, mean, color="C2" if mean > 0 else "C3", alpha=0.5, height=0.6)
        ax.plot(diffs, np.full(len(diffs), y), "k.", markersize=5)
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_yticks(range(len(rows)), labels=[f"{label} ({len(diffs)} folds)" for label, diffs in rows], fontsize=8)
    ax.set_xlabel(f"macro-F1 minus {_label(base_config)} on the same folds (points)")
    ax.set_title("bar: mean over the folds compared; dots: single folds", fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    _save_figure(fig, path)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", metavar="BASE_DIR", help="compare each run fold by fold with this run")
    parser.add_argument("--plot", metavar="FIGURE", help="also draw the comparison as a PNG here")
    parser.add_argument("--per-fold", action="store_true",
                        help="one row per fold, one column per run (macro-F1, epochs run, best epoch)")
    parser.add_argument("run_dirs", nargs="*", metavar="RUN_DIR")
    args = parser.parse_args(argv)
    if not args.run_dirs:
        print(__doc__, file=sys.stderr)
        return 2
    runs = [load_run(run_dir) for run_dir in args.run_dirs]
    if args.per_fold:
        print("\n".join(per_fold_table(runs)))
        return 0
    if args.baseline:
        base_run = load_run(args.baseline)
        print(f"| model | folds compared | macro-F1 | baseline ({_label(base_run[0])}) on the same folds "
              "| difference (mean ± std over folds) | folds better | params | MACs | epochs run |")
        print("|---|---|---|---|---|---|---|---|---|")
        for run in runs:
            print(paired_row(run, base_run[1]))
        if args.plot:
            plot_paired(base_run, runs, args.plot)
        return 0
    print("| dataset | model | folds run | macro-F1 (mean ± std) | accuracy | params | MACs "
          "| epochs (mean, range) | s/epoch (median) | wall (sum of folds) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for run_dir, run in zip(args.run_dirs, runs):
        line = row(run)
        print(line if line else f"| {run_dir}: no finished fold |")
    if args.plot:
        plot_folds(runs, args.plot)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
