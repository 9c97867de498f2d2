"""What a search leaves behind: trials.csv, pareto.csv and pareto.png."""

import json
import os

import numpy as np
import pandas as pd

from keras_har import atomic
from keras_har.tuning.har_tuner import OBJECTIVE, RESULT_FILE

TRIALS_FILE = "trials.csv"
PARETO_FILE = "pareto.csv"
PARETO_PLOT = "pareto.png"
# The paper's default TinierHAR (official configs/model.yaml).
PAPER_DEFAULT = {"filters": 4, "gru_units": 16}
_FOOTPRINT_KEYS = ("params", "macs", "core_macs", "int8_ops", "flash_kb", "arena_kb", "arena_on_cortex_m4")


def collect_trials(tuner):
    """One row per trial of a finished (or interrupted) search.

    Args:
        tuner: the `keras_har.tuning.HARTuner` (on the chief in distributed mode).

    Returns:
        A `pandas.DataFrame` sorted by trial id, with the trial's
        hyperparameters, ``status`` (``completed``, ``over_budget``,
        ``not_measured``, ``failed``, ``running``...), ``val_macro_f1`` and its std over folds,
        the footprint (``params``, ``macs``, ``core_macs``, ``int8_ops``,
        ``flash_kb``, ``arena_kb``), ``fit_seconds`` and ``message``.
    """
    rows = []
    for trial_id, trial in sorted(tuner.oracle.trials.items()):
        row = {"trial_id": trial_id}
        row.update(trial.hyperparameters.values)
        result_path = os.path.join(tuner.project_dir, f"trial_{trial_id}", RESULT_FILE)
        result = {}
        if os.path.exists(result_path):
            with open(result_path, encoding="utf-8") as handle:
                result = json.load(handle)
        status = str(trial.status).lower()
        if status == "failed" and result.get("status") in ("over_budget", "not_measured"):
            status = result["status"]
        row["status"] = status
        for key in (OBJECTIVE, "val_macro_f1_std", *_FOOTPRINT_KEYS, "fit_seconds"):
            if trial.metrics.exists(key):
                row[key] = trial.metrics.get_last_value(key)
            else:
                row[key] = result.get(key, np.nan)
        row["message"] = "; ".join(result.get("violations", [])) or _last_line(trial.message)
        rows.append(row)
    frame = pd.DataFrame(rows)
    for key in ("params", "macs", "core_macs", "int8_ops"):
        if key in frame:
            frame[key] = frame[key].astype("Int64")
    return frame


def _last_line(message):
    return message.strip().splitlines()[-1] if message else ""


def pareto_mask(cost, score):
    """Marks the points no other point beats: lower or equal cost and higher or equal score, one strictly.

    Args:
        cost: array of costs (MACs or params), lower is better.
        score: array of scores (macro-F1), higher is better.

    Returns:
        A boolean array, True on the Pareto front.

    Example:
    >>> from keras_har.tuning.reports import pareto_mask
    >>> pareto_mask([1, 2, 3], [0.5, 0.4, 0.9]).tolist()
    [True, False, True]
    """
    cost, score = np.asarray(cost, dtype=float), np.asarray(score, dtype=float)
    mask = np.ones(len(cost), dtype=bool)
    for i in range(len(cost)):
        better = (cost <= cost[i]) & (score >= score[i]) & ((cost < cost[i]) | (score > score[i]))
        mask[i] = not better.any()
    return mask


def pareto_table(trials):
    """The completed trials with their Pareto flags, sorted by MACs.

    Args:
        trials: the frame from `collect_trials`.

    Returns:
        A frame with ``pareto_macs`` (on the macro-F1 vs MACs front),
        ``pareto_params`` (on the macro-F1 vs params front) and
        ``paper_default`` (M=4, N=16) columns.
    """
    done = trials[trials["status"] == "completed"].copy()
    done["pareto_macs"] = pareto_mask(done["macs"], done[OBJECTIVE])
    done["pareto_params"] = pareto_mask(done["params"], done[OBJECTIVE])
    done["paper_default"] = np.ones(len(done), dtype=bool)
    for key, value in PAPER_DEFAULT.items():
        done["paper_default"] &= done.get(key, pd.Series(np.nan, index=done.index)) == value
    columns = [c for c in ("trial_id", "filters", "gru_units", "conv", "recurrent", "aggregation", "residual",
                           "learning_rate") if c in done]
    columns += ["params", "macs", OBJECTIVE, "val_macro_f1_std", "pareto_macs", "pareto_params", "paper_default"]
    return done[columns].sort_values("macs").reset_index(drop=True)


def plot_pareto(pareto, path, title=""):
    """Plots macro-F1 against MACs and against params, front joined, M=4, N=16 starred.

    Args:
        pareto: the frame from `pareto_table`.
        path: where to write the PNG (through a temporary file).
        title: figure title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for axis, cost, flag, label in (
        (axes[0], "macs", "pareto_macs", "MACs per window"),
        (axes[1], "params", "pareto_params", "trainable parameters"),
    ):
        axis.scatter(pareto[cost], pareto[OBJECTIVE], color="0.6", label="trial")
        front = pareto[pareto[flag]].sort_values(cost)
        axis.plot(front[cost], front[OBJECTIVE], "o-", color="tab:blue", label="Pareto front")
        default = pareto[pareto["paper_default"]]
        if len(default):
            axis.scatter(default[cost], default[OBJECTIVE], marker="*", s=260, color="tab:red", zorder=5,
                         label="paper default M=4, N=16")
        if "filters" in pareto and "gru_units" in pareto:
            for _, row in pareto.iterrows():
                axis.annotate(f"{row['filters']},{row['gru_units']}", (row[cost], row[OBJECTIVE]),
                              textcoords="offset points", xytext=(4, 4), fontsize=7)
        axis.set_xscale("log")
        axis.set_xlabel(label)
        axis.grid(alpha=0.3)
    axes[0].set_ylabel("validation macro-F1")
    axes[0].legend(fontsize=8, loc="lower right")
    figure.suptitle(title or "macro-F1 vs cost (labels: M,N)")
    figure.tight_layout()
    with atomic.atomic_path(path, suffix=".png") as temporary:
        figure.savefig(temporary, dpi=120, format="png")
    plt.close(figure)


def write_reports(tuner, title=""):
    """Writes trials.csv, pareto.csv and pareto.png into the tuner's project directory.

    Returns:
        ``(trials, pareto)`` frames.
    """
    trials = collect_trials(tuner)
    atomic.write_text(os.path.join(tuner.project_dir, TRIALS_FILE), trials.to_csv(index=False))
    pareto = pareto_table(trials)
    atomic.write_text(os.path.join(tuner.project_dir, PARETO_FILE), pareto.to_csv(index=False))
    if len(pareto):
        plot_pareto(pareto, os.path.join(tuner.project_dir, PARETO_PLOT), title=title)
    return trials, pareto
