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
_FOOTPRINT_KEYS = ("params", "macs", "core_macs", "int8_ops", "flash_kb", "arena_kb", "arena_on_cortex_m4",
                   "instructions_m", "firmware_flash_kb")
# The Pareto fronts of macro-F1 against each cost: (cost column, flag column, axis label).
# The last two are drawn only where the trials have values (arena_kb, or instructions_m measured on the Cortex-M4).
FRONTS = (
    ("macs", "pareto_macs", "MACs per window"),
    ("params", "pareto_params", "trainable parameters"),
    ("arena_kb", "pareto_arena", "TFLM arena (KB)"),
    ("instructions_m", "pareto_instructions", "M instructions per inference (Cortex-M4, CMSIS-NN)"),
)


def collect_trials(tuner):
    """One row per trial of a finished (or interrupted) search.

    Args:
        tuner: the `keras_har.tuning.HARTuner` (on the chief in distributed mode).

    Returns:
        A `pandas.DataFrame` sorted by trial id, with the trial's
        hyperparameters, ``status`` (``completed``, ``over_budget``,
        ``not_measured``, ``failed``, ``running``...), ``val_macro_f1`` and its std over folds,
        the footprint (``params``, ``macs``, ``core_macs``, ``int8_ops``,
        ``flash_kb``, ``arena_kb``, ``arena_on_cortex_m4``, and
        ``instructions_m`` and ``firmware_flash_kb``, NaN unless measured on
        the Cortex-M4), ``fit_seconds`` and ``message``.
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
                # result.json holds None for a value not measured (instructions without the Cortex-M4).
                value = result.get(key)
                row[key] = np.nan if value is None else value
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
        A boolean array, True on the Pareto front. A point whose cost or
        score is NaN (not measured) is never on it and beats no other.

    Example:
    >>> from keras_har.tuning.reports import pareto_mask
    >>> pareto_mask([1, 2, 3], [0.5, 0.4, 0.9]).tolist()
    [True, False, True]
    """
    cost, score = np.asarray(cost, dtype=float), np.asarray(score, dtype=float)
    # Comparisons with NaN are False, so a NaN point already beats nothing; it must not be kept either.
    mask = ~(np.isnan(cost) | np.isnan(score))
    for i in np.flatnonzero(mask):
        better = (cost <= cost[i]) & (score >= score[i]) & ((cost < cost[i]) | (score > score[i]))
        mask[i] = not better.any()
    return mask


def pareto_table(trials):
    """The completed trials with their Pareto flags, sorted by MACs.

    Args:
        trials: the frame from `collect_trials`.

    Returns:
        A frame with ``pareto_macs`` (on the macro-F1 vs MACs front),
        ``pareto_params`` (on the macro-F1 vs params front), where the
        trials have those columns with values, ``pareto_arena`` (vs
        ``arena_kb``) and ``pareto_instructions`` (vs ``instructions_m``), and
        ``paper_default`` (M=4, N=16) columns.
    """
    done = trials[trials["status"] == "completed"].copy()
    flags = []
    for cost, flag, _ in FRONTS:
        if flag in ("pareto_macs", "pareto_params") or (cost in done and done[cost].notna().any()):
            done[flag] = pareto_mask(done[cost], done[OBJECTIVE])
            flags.append(flag)
    done["paper_default"] = np.ones(len(done), dtype=bool)
    for key, value in PAPER_DEFAULT.items():
        done["paper_default"] &= done.get(key, pd.Series(np.nan, index=done.index)) == value
    columns = [c for c in ("trial_id", "filters", "gru_units", "conv", "recurrent", "aggregation", "residual",
                           "learning_rate") if c in done]
    columns += ["params", "macs"] + [c for c in ("arena_kb", "instructions_m", "firmware_flash_kb") if c in done]
    columns += [OBJECTIVE, "val_macro_f1_std", *flags, "paper_default"]
    return done[columns].sort_values("macs").reset_index(drop=True)


def plot_pareto(pareto, path, title=""):
    """Plots macro-F1 against each cost with a front in ``pareto``, front joined, M=4, N=16 starred.

    One panel per front of `pareto_table` (MACs, params, and where present
    arena KB and millions of instructions); every trial carries an error bar
    of its ``val_macro_f1_std`` (the std over folds).

    Args:
        pareto: the frame from `pareto_table`.
        path: where to write the PNG (through a temporary file).
        title: figure title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(cost, flag, label) for cost, flag, label in FRONTS if flag in pareto]
    figure, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.2), sharey=True, squeeze=False)
    std = pareto.get("val_macro_f1_std", pd.Series(0.0, index=pareto.index)).fillna(0.0)
    for axis, (cost, flag, label) in zip(axes[0], panels):
        known = pareto[cost].notna()
        axis.errorbar(pareto.loc[known, cost], pareto.loc[known, OBJECTIVE],
                      yerr=std[known], fmt="o", color="0.6", ecolor="0.75",
                      capsize=3, label="trial (std over folds)")
        front = pareto[pareto[flag]].sort_values(cost)
        axis.plot(front[cost], front[OBJECTIVE], "o-", color="tab:blue", label="Pareto front")
        default = pareto[pareto["paper_default"] & known]
        if len(default):
            axis.scatter(default[cost], default[OBJECTIVE], marker="*", s=260, color="tab:red", zorder=5,
                         label="paper default M=4, N=16")
        if "filters" in pareto and "gru_units" in pareto:
            for _, row in pareto[known].iterrows():
                axis.annotate(f"{row['filters']},{row['gru_units']}", (row[cost], row[OBJECTIVE]),
                              textcoords="offset points", xytext=(4, 4), fontsize=7)
        axis.set_xscale("log")
        axis.set_xlabel(label)
        axis.grid(alpha=0.3)
    axes[0, 0].set_ylabel("validation macro-F1")
    axes[0, 0].legend(fontsize=8, loc="lower right")
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
