"""Where a run's fold files live, and how they are read, written and summarised.

A run folder (`keras_har.evaluation.cross_validate`, a tuner trial, the
cells of `keras_har.ssl.label_scarce_study`, ``export --train``) holds:

- ``run.json``: the settings; a resume with other ones is refused
  (`check_settings`);
- ``folds/fold_XX.npz`` (test labels and predictions) and
  ``folds/fold_XX.json`` (scores and facts), the json written last and
  atomically, so that its presence marks the fold as finished
  (`write_fold`, `finished_fold`);
- ``checkpoints/fold_XX.keras``: the fold's best model (`fold_checkpoint`);
- ``results.json``, ``folds.csv`` and ``confusion.png`` once the asked folds
  are done (`summarise`, `write_summary`).

`keras_har.evaluation.run_fold` trains a fold; this module only stores it.
"""

import io
import json
import os

import numpy as np

from keras_har import atomic, run_settings


def fold_file(output_dir, index):
    """The json file of fold ``index`` in a `cross_validate` (or tuner trial) folder; its ``.npz`` sits beside it."""
    return os.path.join(output_dir, "folds", f"fold_{index:02d}.json")


def fold_checkpoint(output_dir, index):
    """The best model of fold ``index`` in a `cross_validate` (or tuner trial, or ``export --train``) folder."""
    return os.path.join(output_dir, "checkpoints", f"fold_{index:02d}.keras")


def finished_fold(output_dir, index):
    """The result of fold ``index`` if its json is written (the fold finished), else None."""
    path = fold_file(output_dir, index)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as file:
        return json.load(file)


def write_fold(output_dir, index, result, *, y_true, y_pred):
    """Writes fold ``index``: its ``.npz`` first, then its json, each atomically."""
    path = fold_file(output_dir, index)
    _write_npz_atomic(path[: -len(".json")] + ".npz", y_true=y_true, y_pred=y_pred)
    atomic.write_json(path, result)


def check_settings(output_dir, config):
    """Writes the run's ``run.json``, or refuses a resume with other settings (`keras_har.run_settings`)."""
    run_settings.check_or_write(os.path.join(output_dir, "run.json"), config,
                                holds="folds of a different run (`output_dir`)",
                                remedy="use a new folder or the same settings")


def _write_npz_atomic(path, **arrays):
    with atomic.atomic_path(path) as temporary, open(temporary, "wb") as file:
        np.savez_compressed(file, **arrays)


def baseline_summary(results):
    """One line comparing the model's mean macro-F1 with the baselines' (from `cross_validate`'s results).

    Example:
    >>> import keras_har.fold_store
    >>> print(keras_har.fold_store.baseline_summary({
    ...     "macro_f1_mean": 0.5, "baseline_majority_macro_f1_mean": 0.1, "baseline_features_macro_f1_mean": 0.6}))
    ... # doctest: +NORMALIZE_WHITESPACE
    macro-F1 0.5000; baselines: majority class 0.1000, random forest on mean/std/min/max 0.6000
    (the network is below the feature baseline)
    """
    line = (f"macro-F1 {results['macro_f1_mean']:.4f}; baselines: majority class "
            f"{results['baseline_majority_macro_f1_mean']:.4f}, random forest on mean/std/min/max "
            f"{results['baseline_features_macro_f1_mean']:.4f}")
    if results["macro_f1_mean"] < results["baseline_features_macro_f1_mean"]:
        line += " (the network is below the feature baseline)"
    return line


def summarise(config, fold_results, class_names, *, baseline_keys=(), baselines=None):
    """The ``results.json`` of a run: ``config``, means and std over ``fold_results``, the summed confusion.

    ``baseline_keys`` are the fold keys of baseline scores, summarised when
    every fold has them, and ``baselines`` describes how they were scored.
    """
    def mean_std(key):
        values = np.array([fold[key] for fold in fold_results], dtype="float64")
        return float(values.mean()), float(values.std())

    results = dict(config)
    results["class_names"] = list(class_names)
    results["params"] = fold_results[0]["params"]
    results["macs"] = fold_results[0]["macs"]
    for key in ("macro_f1", "accuracy", "weighted_f1", "epochs_run", "seconds_per_epoch"):
        results[f"{key}_mean"], results[f"{key}_std"] = mean_std(key)
    if baseline_keys and all(key in fold for fold in fold_results for key in baseline_keys):
        for key in baseline_keys:
            results[f"{key}_mean"], results[f"{key}_std"] = mean_std(key)
        results["baselines"] = dict(baselines or {})
    results["wall_seconds"] = float(sum(fold["fold_seconds"] for fold in fold_results))
    # The distinct TensorFlow thread settings of the folds (None: a fold from before they were recorded).
    settings = {json.dumps(fold.get("tensorflow_threads"), sort_keys=True) for fold in fold_results}
    results["tensorflow_threads"] = [json.loads(setting) for setting in sorted(settings)]
    # ... and their batch-norm training routes (None: not recorded).
    results["batch_norm_training"] = sorted({fold.get("batch_norm_training") for fold in fold_results}, key=str)
    # A fold file may lack its confusion matrix (one rebuilt from a summary
    # holds only scores); the summed matrix says which folds it covers.
    with_confusion = [fold for fold in fold_results if fold.get("confusion") is not None]
    num_classes = len(class_names)
    results["confusion"] = np.sum([np.zeros((num_classes, num_classes), dtype="int64")]
                                  + [fold["confusion"] for fold in with_confusion], axis=0).tolist()
    results["confusion_folds"] = [fold["fold"] for fold in with_confusion]
    results["folds"] = [
        {key: value for key, value in fold.items() if key not in ("confusion", "standardizer")}
        for fold in fold_results
    ]
    return results


def write_summary(output_dir, results, class_names):
    """Writes ``results.json``, ``folds.csv`` and ``confusion.png`` (each atomically)."""
    import pandas as pd

    atomic.write_json(os.path.join(output_dir, "results.json"), results)
    table = pd.DataFrame(results["folds"])
    table["test_subjects"] = table["test_subjects"].map(lambda s: " ".join(str(v) for v in s))
    atomic.write_bytes(os.path.join(output_dir, "folds.csv"), table.to_csv(index=False).encode("utf-8"))
    title = (
        f"{results['model']} on {results['dataset']} ({results['protocol']}, "
        f"{results['folds_run']}/{results['folds_total']} folds): "
        f"macro-F1 {results['macro_f1_mean']:.3f} ± {results['macro_f1_std']:.3f}"
    )
    if len(results["confusion_folds"]) < len(results["folds"]):
        title += "\nconfusion of folds " + ", ".join(str(index) for index in results["confusion_folds"])
    png = confusion_matrix_png(np.array(results["confusion"]), class_names, title=title)
    atomic.write_bytes(os.path.join(output_dir, "confusion.png"), png)


def confusion_matrix_png(confusion, class_names, *, title=None):
    """Draws a row-normalised confusion matrix with counts and returns PNG bytes.

    Example:
    >>> import numpy as np, keras_har.fold_store
    >>> png = keras_har.fold_store.confusion_matrix_png(np.eye(2, dtype=int), ["sit", "walk"])
    >>> png[:4]
    b'\\x89PNG'
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    confusion = np.asarray(confusion)
    rows = confusion.sum(axis=1, keepdims=True)
    share = np.divide(confusion, rows, out=np.zeros(confusion.shape), where=rows > 0)
    size = max(4.0, 0.55 * len(class_names) + 2.0)
    fig, ax = plt.subplots(figsize=(size + 1.0, size))
    image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of true class")
    ticks = np.arange(len(class_names))
    ax.set_xticks(ticks, labels=class_names, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(ticks, labels=class_names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(confusion.shape[0]):
        for j in range(confusion.shape[1]):
            if confusion[i, j]:
                color = "white" if share[i, j] > 0.5 else "black"
                ax.text(j, i, str(confusion[i, j]), ha="center", va="center", fontsize=7, color=color)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def log_confusion_matrix(log_dir, confusion, class_names, *, scores=None, step=0):
    """Writes a confusion-matrix image (and test scores) to TensorBoard under ``log_dir/test``.

    Example:
    >>> import numpy as np, keras_har.fold_store
    >>> keras_har.fold_store.log_confusion_matrix("/tmp/tb", np.eye(2, dtype=int), ["a", "b"])
    """
    from keras_har.backend import tf

    png = confusion_matrix_png(confusion, class_names)
    image = tf.expand_dims(tf.io.decode_png(png, channels=4), 0)
    writer = tf.summary.create_file_writer(os.path.join(os.fspath(log_dir), "test"))
    with writer.as_default():
        tf.summary.image("confusion_matrix", image, step=step)
        for key in ("accuracy", "macro_f1", "weighted_f1"):
            if scores is not None:
                tf.summary.scalar(key, scores[key], step=step)
    writer.close()
