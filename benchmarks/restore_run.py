"""Makes a committed cross-validation run resumable again from its ``results.json``.

    python benchmarks/restore_run.py RUN_DIR [RUN_DIR ...]

Earlier sessions committed only ``results.json``, ``folds.csv`` and ``confusion.png`` of
each full-protocol run in ``benchmarks/results/cv_full``; the per-fold files that
`keras_har.evaluation.cross_validate` resumes from (``run.json``, ``folds/fold_XX.json``)
stayed on the machine that ran them. This writes them back from ``results.json``, so a
rerun into RUN_DIR with the same settings skips those folds and only trains the
missing ones.

What ``results.json`` does not hold cannot be restored: a restored fold has no
confusion matrix of its own (``results.json`` kept only the sum over its folds) and no
standardisation statistics. Each restored fold says so (``"restored_from"``), and
the summary of a run that mixes restored and new folds sums the confusion matrices of
the new folds only and lists them in ``confusion_folds``. Existing fold files are never
overwritten; everything is written atomically.
"""

import argparse
import json
import os
import sys

# TensorFlow-free, like this script.
from keras_har.atomic import write_json

# The settings cross_validate writes to run.json; results.json starts with the same keys.
CONFIG_KEYS = ("model", "model_kwargs", "dataset", "windows", "window_shape", "num_classes", "protocol",
               "folds_total", "epochs_max", "seed", "batch_size", "val_fraction")


def restore(run_dir):
    """Writes ``run.json`` and the missing ``folds/fold_XX.json`` of RUN_DIR; returns the folds written."""
    results_path = os.path.join(run_dir, "results.json")
    if not os.path.isfile(results_path):
        raise SystemExit(f"restore_run: {results_path} not found; expected a cross_validate output folder")
    with open(results_path, encoding="utf-8") as file:
        results = json.load(file)
    missing = [key for key in CONFIG_KEYS + ("folds",) if key not in results]
    if missing:
        raise SystemExit(f"restore_run: {results_path} lacks {missing}; expected a cross_validate results.json")
    config = {key: results[key] for key in CONFIG_KEYS}
    config_path = os.path.join(run_dir, "run.json")
    if os.path.exists(config_path):
        with open(config_path, encoding="utf-8") as file:
            if json.load(file) != config:
                raise SystemExit(f"restore_run: {config_path} differs from the settings in {results_path}")
    else:
        write_json(config_path, config)
    os.makedirs(os.path.join(run_dir, "folds"), exist_ok=True)
    written = []
    for fold in results["folds"]:
        path = os.path.join(run_dir, "folds", f"fold_{fold['fold']:02d}.json")
        if os.path.exists(path):
            continue
        write_json(path, dict(fold, confusion=None, restored_from="results.json"))
        written.append(fold["fold"])
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    args = parser.parse_args(argv)
    for run_dir in args.run_dirs:
        print(f"{run_dir}: restored folds {restore(run_dir)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
