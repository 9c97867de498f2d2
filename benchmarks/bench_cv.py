"""Cross-validation benchmark: TinierHAR, TinyHAR and DeepConvLSTM on HAPT and USC-HAD,
plus TinierHAR's ablation variants on HAPT, with the official protocol and recipe.

The full protocol (every paper fold, up to 150 epochs) takes hours per model on
a CPU. This script runs a reduced version within a wall-time budget and says
exactly what it ran: ``--epochs`` caps the epochs per fold (the plateau
schedule and early stopping still apply), ``--folds`` and
``--ablation-folds`` run only the first folds of the official order. Runs go
in priority order and none starts once ``--budget-minutes`` is spent; a rerun
with the same ``--output`` resumes (finished folds are skipped).

Writes ``summary.json``, ``summary.md`` and ``f1_vs_macs.png`` to ``--output``.

Example:
    KERAS_HAR_DATA=/data/har nice -n 10 python benchmarks/bench_cv.py \
        --epochs 20 --folds 2 --usc-had-folds 1 --slow-folds 1 --ablation-folds 1 --budget-minutes 70 --output /tmp/bench_cv
"""

import argparse
import os
import sys
import time

# TinierHAR ablations on HAPT, as in the paper's ablation table, in priority order.
ABLATIONS = {
    "standard-conv": {"conv": "standard"},
    "no-residual": {"residual": False},
    "no-recurrent": {"recurrent": "none"},
    "mean-aggregation": {"aggregation": "mean"},
    "gru": {"recurrent": "gru"},
    "no-conv": {"conv": "none"},
    "bilstm": {"recurrent": "bilstm"},
    "last-aggregation": {"aggregation": "last"},
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-home", default=os.environ.get("KERAS_HAR_DATA"),
                        help="datasets folder (default $KERAS_HAR_DATA)")
    parser.add_argument("--output", default="/tmp/keras_har_bench_cv", help="results folder")
    parser.add_argument("--epochs", type=int, default=20, help="epoch cap per fold (reference: 150)")
    parser.add_argument("--folds", type=int, default=2, help="first K official HAPT folds for the comparison")
    parser.add_argument("--usc-had-folds", type=int, default=1, help="first K official USC-HAD folds")
    parser.add_argument("--slow-folds", type=int, default=1, help="first K official folds for DeepConvLSTM")
    parser.add_argument("--ablation-folds", type=int, default=1, help="first K official folds for the ablations")
    parser.add_argument("--ablations", default=",".join(ABLATIONS),
                        help=f"comma-separated TinierHAR variants, in order (from: {', '.join(ABLATIONS)})")
    parser.add_argument("--budget-minutes", type=float, default=70.0, help="start no run after this")
    parser.add_argument("--skip-ablations", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", default="",
                        help="only these runs, in this order, as comma-separated dataset/label "
                             "(e.g. hapt/tinierhar,usc_had/tinierhar); default: all, in priority order")
    return parser.parse_args(argv)


def planned_runs(args):
    """``(dataset, model, kwargs, label, folds)`` in priority order.

    DeepConvLSTM is by far the slowest, so it runs ``--slow-folds`` folds:
    on HAPT right after the small models, on USC-HAD last. The ablations'
    full-model baseline is not run again: it is the main TinierHAR run's
    first folds.
    """
    unknown = [name for name in args.ablations.split(",") if name and name not in ABLATIONS]
    if unknown:
        raise SystemExit(f"bench_cv: unknown ablations {unknown}; known: {', '.join(ABLATIONS)}")
    ablations = [] if args.skip_ablations else [
        ("hapt", "tinierhar", ABLATIONS[name], name, args.ablation_folds) for name in args.ablations.split(",") if name
    ]
    runs = [
        ("hapt", "tinierhar", {}, "tinierhar", args.folds),
        ("hapt", "tinyhar", {}, "tinyhar", args.folds),
        ("hapt", "deepconvlstm", {}, "deepconvlstm", args.slow_folds),
        ("usc_had", "tinierhar", {}, "tinierhar", args.usc_had_folds),
        ("usc_had", "tinyhar", {}, "tinyhar", args.usc_had_folds),
        *ablations,
        ("usc_had", "deepconvlstm", {}, "deepconvlstm", args.slow_folds),
    ]
    if not args.runs:
        return runs
    by_name = {f"{dataset}/{label}": run for run in runs for dataset, label in [(run[0], run[3])]}
    wanted = [name.strip() for name in args.runs.split(",") if name.strip()]
    missing = [name for name in wanted if name not in by_name]
    if missing:
        raise SystemExit(f"bench_cv: unknown --runs {missing}; known: {', '.join(by_name)}")
    return [by_name[name] for name in wanted]


def run_folder(output, dataset, model, kwargs):
    # No fold count in the name: a run with more folds extends the same folder.
    suffix = "".join(f"_{key}-{value}" for key, value in sorted(kwargs.items()))
    return os.path.join(output, f"{dataset}_{model}{suffix}")


def main(argv=None):
    args = parse_args(argv)
    if not args.data_home:
        raise SystemExit("bench_cv: give --data-home or set KERAS_HAR_DATA")
    from keras_har.datasets import load_dataset
    from keras_har.evaluation import cross_validate

    os.makedirs(args.output, exist_ok=True)
    start = time.perf_counter()
    datasets, rows = {}, []
    for dataset, model, kwargs, label, folds in planned_runs(args):
        spent_minutes = (time.perf_counter() - start) / 60
        if spent_minutes > args.budget_minutes:
            print(f"[bench_cv] budget spent ({spent_minutes:.1f} min): not starting {dataset}/{label}", flush=True)
            continue
        if dataset not in datasets:
            datasets[dataset] = load_dataset(dataset, data_home=args.data_home, download_if_missing=False)
        print(f"[bench_cv] {dataset} / {label} {kwargs or ''}: {folds} folds, <= {args.epochs} epochs "
              f"(at {spent_minutes:.1f} min)", flush=True)
        run_start = time.perf_counter()
        # One fold more per call: cross_validate resumes the finished folds, so the budget is
        # checked before every fold and a run cut short still reports the folds it finished.
        for count in range(1, folds + 1):
            if count > 1 and (time.perf_counter() - start) / 60 > args.budget_minutes:
                print(f"[bench_cv] budget spent: {dataset}/{label} stops after {count - 1} of {folds} folds",
                      flush=True)
                break
            results = cross_validate(model, datasets[dataset], protocol="paper", folds=count, epochs=args.epochs,
                                     seed=args.seed, model_kwargs=kwargs,
                                     output_dir=run_folder(args.output, dataset, model, kwargs))
        rows.append({
            "dataset": dataset,
            "label": label,
            "model": model,
            "model_kwargs": kwargs,
            "folds": f"{results['folds_run']}/{results['folds_total']}",
            "test_subjects": [fold["test_subjects"] for fold in results["folds"]],
            "macro_f1_mean": results["macro_f1_mean"],
            "macro_f1_std": results["macro_f1_std"],
            "accuracy_mean": results["accuracy_mean"],
            "accuracy_std": results["accuracy_std"],
            "params": results["params"],
            "macs": results["macs"],
            "epochs_run": [fold["epochs_run"] for fold in results["folds"]],
            "seconds_per_epoch": results["seconds_per_epoch_mean"],
            "wall_seconds": results["wall_seconds"],
            "wall_seconds_this_run": time.perf_counter() - run_start,
        })
        if (dataset, model, kwargs) == ("hapt", "tinierhar", {}) and not args.skip_ablations:
            rows.append(_first_folds_row(rows[-1], results, args.ablation_folds, "full (ablation baseline)"))
        _write_summary(args, rows)
    print(f"[bench_cv] done in {(time.perf_counter() - start) / 60:.1f} min", flush=True)
    return 0


def _first_folds_row(row, results, count, label):
    import numpy as np

    folds = results["folds"][:count]
    f1 = np.array([fold["macro_f1"] for fold in folds])
    accuracy = np.array([fold["accuracy"] for fold in folds])
    return dict(
        row, label=label, folds=f"{len(folds)}/{results['folds_total']}",
        test_subjects=[fold["test_subjects"] for fold in folds],
        macro_f1_mean=float(f1.mean()), macro_f1_std=float(f1.std()),
        accuracy_mean=float(accuracy.mean()), accuracy_std=float(accuracy.std()),
        epochs_run=[fold["epochs_run"] for fold in folds],
        seconds_per_epoch=float(np.mean([fold["seconds_per_epoch"] for fold in folds])),
        wall_seconds=float(sum(fold["fold_seconds"] for fold in folds)), wall_seconds_this_run=0.0,
    )


def _write_summary(args, rows):
    from keras_har import atomic

    atomic.write_json(os.path.join(args.output, "summary.json"), {"args": vars(args), "rows": rows})
    lines = [
        "| dataset | model | folds (test subjects) | macro-F1 | accuracy | params | MACs | epochs run | s/epoch | wall |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        subjects = "; ".join(",".join(str(s) for s in group) for group in row["test_subjects"])
        lines.append(
            f"| {row['dataset']} | {row['label']} | {row['folds']} ({subjects}) "
            f"| {row['macro_f1_mean']:.3f} ± {row['macro_f1_std']:.3f} "
            f"| {row['accuracy_mean']:.3f} ± {row['accuracy_std']:.3f} | {row['params']:,} | {row['macs']:,} "
            f"| {', '.join(str(e) for e in row['epochs_run'])} | {row['seconds_per_epoch']:.1f} "
            f"| {row['wall_seconds'] / 60:.1f} min |"
        )
    atomic.write_bytes(os.path.join(args.output, "summary.md"), ("\n".join(lines) + "\n").encode("utf-8"))
    atomic.write_bytes(os.path.join(args.output, "f1_vs_macs.png"), _plot(rows))


def _plot(rows):
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    markers = {"hapt": "o", "usc_had": "s"}
    for row in rows:
        ax.errorbar(row["macs"], row["macro_f1_mean"], yerr=row["macro_f1_std"],
                    marker=markers.get(row["dataset"], "^"), capsize=3, linestyle="none")
        ax.annotate(f"{row['label']} ({row['dataset']})", (row["macs"], row["macro_f1_mean"]),
                    fontsize=7, xytext=(4, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("MACs per window (log)")
    ax.set_ylabel("macro-F1 (mean ± std over the folds run)")
    ax.set_title("Reduced paper protocol (see summary.md for folds and epoch cap)", fontsize=9)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


if __name__ == "__main__":
    sys.exit(main())
