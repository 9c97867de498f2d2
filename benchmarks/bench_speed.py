"""Training speed of the cross-validation protocol: two settings side by side, interleaved.

Runs the same cross-validation (model, dataset, folds, epochs) under setting A
and setting B, ``--repeats`` times each, in the order A B, B A, A B, ... so
that a drift in machine load hits both alike. Every run starts in a fresh
folder (nothing is resumed). Per setting it reports the median wall time of
the whole protocol and the median seconds per epoch (each fold's median
epoch, the first epoch's tracing left out, averaged over folds; with
``jobs > 1`` this is an epoch in one worker while others train beside it),
and the ratio B / A. Numbers are only meaningful on quiet cores. Each trial
also keeps its folds' macro-F1, epochs run, median epoch and wall seconds
(``FOLD_KEYS``), and their first epoch, the sum of their epochs and their
whole fit (``FOLD_TIMES``): the fold's time outside its epochs is
``fold_seconds - epoch_seconds_sum``.

``--table RESULT.json [--baseline CV_DIR]`` prints the markdown table of a
finished comparison; with ``--baseline`` (a cross-validation output folder,
such as the committed run of the same protocol) it adds each setting's
per-fold macro-F1 difference from it, on the folds both ran.

A setting is ``key=value`` pairs joined by commas: ``jobs`` (folds at once),
``threads`` (TensorFlow threads per worker, `cross_validate`'s
``threads_per_job``), ``bn`` (``fused`` or ``unfused``: the training route
of `keras_har.layers.TimeBatchNormalization`, set as ``KERAS_HAR_BN_TRAINING``
for the run and its workers; left out, the environment's) and ``autotune``
(``off`` or ``on``: tf.data's autotuning of the input pipelines, set as
``KERAS_HAR_DATA_AUTOTUNE`` likewise). ``--b none`` times
setting A alone (no ratio), for a protocol too long to run twice. Prints a
table and writes a JSON with the keys ``config``, ``settings``, ``trials``,
``summary`` and ``ratio``.

``--table`` may be given several times: the tables of several result files
as one, each setting's wall time against the first file's first setting.

Example:
    KERAS_HAR_DATA=/data/har python benchmarks/bench_speed.py --dataset hapt --protocol paper \
        --a jobs=1 --b jobs=2,threads=1 --repeats 2 --output benchmarks/results/speed_jobs.json
    python benchmarks/bench_speed.py --table benchmarks/results/speed_jobs.json \
        --baseline benchmarks/results/cv_full/hapt_tinierhar
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from unittest import mock

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cv_table import common_folds, load_run  # noqa: E402  (TensorFlow-free)

SETTING_KEYS = {"jobs": "jobs", "threads": "threads_per_job", "bn": "bn", "autotune": "autotune"}
# The values of the text keys (the rest are counts).
TEXT_VALUES = {"bn": ("fused", "unfused"), "autotune": ("off", "on")}
FOLD_KEYS = ("fold", "macro_f1", "epochs_run", "seconds_per_epoch", "fold_seconds")
# Kept too where the fold records them (folds run before they existed lack them).
FOLD_TIMES = ("first_epoch_seconds", "epoch_seconds_sum", "fit_seconds")


def parse_setting(text):
    """``"jobs=2,threads=1,bn=fused"`` -> ``{"jobs": 2, "threads_per_job": 1, "bn": "fused"}`` (`cross_validate`
    arguments, and the batch-norm route `run_once` puts in the environment)."""
    setting = {}
    for part in filter(None, (part.strip() for part in text.split(","))):
        key, _, value = part.partition("=")
        valid = value in TEXT_VALUES[key] if key in TEXT_VALUES else value.isdigit()
        if key not in SETTING_KEYS or not valid:
            raise argparse.ArgumentTypeError(
                f"expected key=value pairs: jobs=N, threads=N, bn=fused|unfused, autotune=off|on, "
                f"e.g. 'jobs=2,threads=1'. Received: {text!r}"
            )
        setting[SETTING_KEYS[key]] = value if key in TEXT_VALUES else int(value)
    return setting


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--table", action="append", default=None, metavar="RESULT_JSON",
                        help="print the markdown table of a finished comparison and exit (repeatable: one table)")
    parser.add_argument("--baseline", default=None, metavar="CV_DIR",
                        help="with --table: a cross-validation output folder to compare each fold's macro-F1 with")
    parser.add_argument("--dataset", help="dataset name or .npz file")
    parser.add_argument("--data-home", default=os.environ.get("KERAS_HAR_DATA"),
                        help="datasets folder (default $KERAS_HAR_DATA)")
    parser.add_argument("--model", default="tinierhar")
    parser.add_argument("--filters", type=int, default=None, help="TinierHAR filters M")
    parser.add_argument("--gru-units", type=int, default=None, help="TinierHAR GRU units N")
    parser.add_argument("--protocol", default=None, choices=("paper", "loso", "kfold", "split"))
    parser.add_argument("--folds", type=int, default=None, help="first K folds (default all)")
    parser.add_argument("--epochs", type=int, default=None, help="epoch cap per fold (default the reference's 150)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--a", dest="setting_a", default="jobs=1", help="the old setting (default jobs=1)")
    parser.add_argument("--b", dest="setting_b", default="jobs=2",
                        help="the new setting (default jobs=2; 'none': time --a alone)")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each setting")
    parser.add_argument("--work-dir", default=None, help="folder for the runs' outputs (default a temporary one)")
    parser.add_argument("--output", help="results JSON")
    args = parser.parse_args(argv)
    if args.table:
        return args
    if args.baseline:
        parser.error("--baseline goes with --table")
    missing = [flag for flag, value in (("--dataset", args.dataset), ("--output", args.output)) if not value]
    if missing:
        parser.error(f"{' and '.join(missing)} required to run a comparison (or give --table RESULT_JSON)")
    labels = [args.setting_a] + ([] if args.setting_b == "none" else [args.setting_b])
    try:
        args.settings = {label: parse_setting(label) for label in labels}
    except argparse.ArgumentTypeError as error:
        parser.error(f"--a/--b: {error}")
    if len(args.settings) != len(labels):
        parser.error(f"--a and --b must differ. Received: --a={args.setting_a!r}, --b={args.setting_b!r}")
    if args.repeats < 1:
        parser.error(f"--repeats must be a positive integer. Received: --repeats={args.repeats}")
    return args


def run_once(dataset, args, setting, output_dir):
    """One cross-validation under a setting (its ``bn`` and ``autotune`` put in the environment for the run), timed."""
    from keras_har.layers import time_conv
    from keras_har.training import DATA_AUTOTUNE_VARIABLE

    setting = dict(setting)
    variables = {"bn": time_conv.BN_TRAINING_VARIABLE, "autotune": DATA_AUTOTUNE_VARIABLE}
    environment = {variables[key]: setting.pop(key) for key in variables if key in setting}
    with mock.patch.dict(os.environ, environment):  # read here and in the workers, which inherit them
        return _run_once(dataset, args, setting, output_dir)


def _run_once(dataset, args, setting, output_dir):
    from keras_har.evaluation import cross_validate

    model_kwargs = {key: value for key, value in (("filters", args.filters), ("gru_units", args.gru_units))
                    if value is not None}
    start = time.perf_counter()
    results = cross_validate(args.model, dataset, output_dir=output_dir, protocol=args.protocol, folds=args.folds,
                             epochs=args.epochs, seed=args.seed, model_kwargs=model_kwargs, verbose=0,
                             baselines=False, **setting)
    return {
        "wall_seconds": time.perf_counter() - start,
        "seconds_per_epoch": results["seconds_per_epoch_mean"],
        "fold_seconds_sum": results["wall_seconds"],
        "epochs_run_mean": results["epochs_run_mean"],
        "macro_f1_mean": results["macro_f1_mean"],
        "folds_run": results["folds_run"],
        "folds": fold_records(results),
    }


def fold_records(results):
    """Each fold's index, macro-F1, epochs run, median epoch and wall seconds, and where recorded its first epoch,
    the sum of its epochs and its whole fit, from `cross_validate`'s results."""
    return [{key: fold[key] for key in FOLD_KEYS + FOLD_TIMES if key in fold} for fold in results["folds"]]


def summarise(trials, labels):
    summary = {}
    for label in labels:
        runs = [trial for trial in trials if trial["setting"] == label]
        summary[label] = {key: statistics.median(run[key] for run in runs)
                          for key in ("wall_seconds", "seconds_per_epoch", "macro_f1_mean", "epochs_run_mean")}
        summary[label]["runs"] = len(runs)
    if len(labels) == 1:
        return summary, None
    old, new = (summary[label] for label in labels)
    ratio = {key: new[key] / old[key] for key in ("wall_seconds", "seconds_per_epoch")}
    return summary, ratio


def table(summary, ratio, labels):
    lines = [f"{'setting':<24} {'wall s':>9} {'s/epoch':>9} {'macro-F1':>9} {'epochs':>7} {'runs':>5}"]
    for label in labels:
        row = summary[label]
        lines.append(f"{label:<24} {row['wall_seconds']:>9.1f} {row['seconds_per_epoch']:>9.3f} "
                     f"{row['macro_f1_mean']:>9.4f} {row['epochs_run_mean']:>7.1f} {row['runs']:>5}")
    if ratio is not None:
        lines.append(f"{'ratio B/A':<24} {ratio['wall_seconds']:>9.3f} {ratio['seconds_per_epoch']:>9.3f}")
    return "\n".join(lines)


def markdown_table(results, baseline=None):
    """The comparison as markdown lines: per setting the median wall time, s/epoch, epochs and macro-F1 over
    its runs, the wall-time ratio to the first setting and, with ``baseline`` (`cv_table.load_run`), the
    per-fold macro-F1 difference from it (every run's folds pooled). ``results``: one result or a list of them,
    whose rows follow one another (a setting label in two files gets two rows)."""
    results = [results] if isinstance(results, dict) else list(results)
    header = ("| setting | runs | wall, all folds (min) | wall / first | s/epoch (one worker) | epochs run (mean) "
              "| epochs per wall minute | macro-F1 |")
    rule = "|---|---|---|---|---|---|---|---|"
    if baseline is not None:
        header += " macro-F1 − baseline per fold (mean ± std, range) | folds better |"
        rule += "---|---|"
    lines = [header, rule]
    first = results[0]["summary"][next(iter(results[0]["settings"]))]["wall_seconds"]
    for result, label in ((result, label) for result in results for label in result["settings"]):
        row = result["summary"][label]
        # All folds' epochs over the whole wall time: what the hardware delivers, tracing and checkpoints included.
        throughput = statistics.median(60.0 * trial["folds_run"] * trial["epochs_run_mean"] / trial["wall_seconds"]
                                       for trial in result["trials"] if trial["setting"] == label)
        line = (f"| `{label}` | {row['runs']} | {row['wall_seconds'] / 60:.1f} | {row['wall_seconds'] / first:.2f}x "
                f"| {row['seconds_per_epoch']:.2f} | {row['epochs_run_mean']:.1f} | {throughput:.1f} "
                f"| {row['macro_f1_mean']:.4f} |")
        if baseline is not None:
            folds = [fold for trial in result["trials"] if trial["setting"] == label for fold in trial["folds"]]
            _, f1, base_f1 = common_folds(folds, baseline[1])
            if not len(f1):
                line += " no fold in common | |"
            else:
                diff = f1 - base_f1
                line += (f" {diff.mean():+.4f} ± {diff.std():.4f} ({diff.min():+.4f} to {diff.max():+.4f}) "
                         f"| {int((diff > 0).sum())}/{len(diff)} |")
        lines.append(line)
    return lines


def print_table(paths, baseline_dir=None):
    results = []
    for path in [paths] if isinstance(paths, str) else paths:
        with open(path, encoding="utf-8") as file:
            results.append(json.load(file))
        missing = [trial["setting"] for trial in results[-1]["trials"] if "folds" not in trial]
        if baseline_dir and missing:
            raise SystemExit(f"bench_speed: {path} has no per-fold results for {missing}; it cannot be compared "
                             f"with --baseline {baseline_dir}")
    print("\n".join(markdown_table(results, load_run(baseline_dir) if baseline_dir else None)))
    return 0


def main(argv=None):
    args = parse_args(argv)
    if args.table:
        return print_table(args.table, args.baseline)
    import keras_har
    from keras_har import atomic
    from keras_har.backend import software_versions

    dataset = keras_har.datasets.load_dataset(args.dataset, data_home=args.data_home)
    labels = list(args.settings)
    work_dir = args.work_dir or tempfile.mkdtemp(prefix="keras_har_bench_speed_")
    trials = []
    for repeat in range(args.repeats):
        # A B, then B A: a load that drifts over the run is shared by both settings.
        for label in labels if repeat % 2 == 0 else labels[::-1]:
            output_dir = os.path.join(work_dir, f"run_{len(trials):02d}")
            trial = dict(setting=label, repeat=repeat, **run_once(dataset, args, args.settings[label], output_dir))
            trials.append(trial)
            print(f"{label} (repeat {repeat}): {trial['wall_seconds']:.1f} s wall, "
                  f"{trial['seconds_per_epoch']:.3f} s/epoch", flush=True)
    summary, ratio = summarise(trials, labels)
    print(table(summary, ratio, labels))
    result = {
        "config": {
            "dataset": dataset.name, "model": args.model, "filters": args.filters, "gru_units": args.gru_units,
            "protocol": args.protocol, "folds": args.folds, "epochs": args.epochs, "seed": args.seed,
            "repeats": args.repeats, "cpu_count": os.cpu_count(), **software_versions(),
        },
        "settings": {label: args.settings[label] for label in labels},
        "trials": trials,
        "summary": summary,
        "ratio": ratio,
    }
    atomic.write_json(args.output, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
