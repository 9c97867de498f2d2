"""The label-scarce protocol of "Don't freeze": k windows per class, CV by subject, macro-F1."""

import os
import tempfile

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from keras_har import atomic, run_settings
from keras_har.datasets import Standardizer
from keras_har.datasets.splits import k_per_class, subject_kfold
from keras_har.evaluation import make_folds, run_fold, select_folds
from keras_har.fold_store import finished_fold
from keras_har.ssl.finetune import (
    MODES,
    WINDOWS_PER_CLASS,
    PretextRegularizedClassifier,
    _check_mode,
    build_classifier,
)
from keras_har.ssl.pretext_model import PretextModel
from keras_har.ssl.pretraining import arrays_fingerprint
from keras_har.training import Recipe

# windows_per_class is the k asked for; fewest_windows_per_class is the k the
# smallest class really got (a class with fewer than k windows gives all it has).
# train_windows are the labelled windows drawn; val_windows those of them held
# out for early stopping (0 when validation ran on the training windows).
RESULT_COLUMNS = [
    "mode", "windows_per_class", "fewest_windows_per_class", "seed", "fold", "train_windows", "val_windows",
    "test_windows", "validation", "epochs_run", "best_epoch", "macro_f1",
]

# Fine-tuning with early stopping on labelled windows only: Adam (AdamW
# without decay) at 1e-3, batches of 64, at most 100 epochs; a fifth of each
# class's labelled windows (at least one when it has two) validate for the
# learning-rate schedule and early stopping (`keras_har.training.fit`:
# patience 7 and 15). With one window per class nothing can be held out, and
# the fit validates on its training windows (it then runs the 100 epochs,
# keeping the epoch with the lowest training loss).
FINETUNE_RECIPE = Recipe(epochs=100, batch_size=64, learning_rate=1e-3, weight_decay=0.0, val_fraction=0.2,
                         val_split="stratified")
SETTINGS_FILE = "study.json"


def copy_pretext(pretext):
    """An independent copy of a pretext model with the same weights."""
    copy = type(pretext).from_config(pretext.get_config())
    copy.set_weights(pretext.get_weights())
    return copy


def weights_fingerprint(model):
    """A short hash of a model's weights: a resumed study refuses another encoder."""
    return arrays_fingerprint(model.get_weights())


def _builder(pretrained, mode, pretext_weight):
    if pretext_weight > 0:
        def build(input_shape, num_classes):
            return PretextRegularizedClassifier(copy_pretext(pretrained), num_classes, pretext_weight)
    else:
        features = pretrained.feature_model() if isinstance(pretrained, PretextModel) else pretrained

        def build(input_shape, num_classes):
            return build_classifier(features, num_classes, mode)
    return build


def cell_dir(output_dir, mode, windows_per_class, seed):
    """The folder of one (mode, k, seed) cell of a study: a `keras_har.evaluation.run_fold` folder, one fold file per fold."""
    return os.path.join(output_dir, mode, f"k{int(windows_per_class):03d}", f"seed{int(seed)}")


def label_scarce_study(
    pretrained,
    dataset,
    *,
    windows_per_class=WINDOWS_PER_CLASS,
    modes=MODES,
    n_splits=5,
    folds=None,
    fold_indices=None,
    seeds=(0,),
    split_seed=None,
    recipe=None,
    pretext_weight=0.0,
    output_dir=None,
    progress=True,
):
    """Macro-F1 of frozen, finetuned and from-scratch encoders with k labels per class.

    The protocol of Dumbrava et al. (arXiv:2307.01168): for each seed, a
    ``n_splits``-fold split by subject (`keras_har.datasets.splits.subject_kfold`);
    in each fold, windows are standardised with the training subjects'
    statistics (`keras_har.datasets.Standardizer`, fitted on all their
    windows, labels unused), ``k`` labelled windows per class are drawn from
    the training subjects (`keras_har.datasets.splits.k_per_class`), a
    classifier is trained on them, and macro-F1 is measured on all windows of
    the held-out subjects. Data that comes with its own train/test split
    (`keras_har.datasets.HARDataset.test_mask`, a CSV folder with
    ``train/`` and ``test/``) is split that way instead, one fold for every
    seed, as `keras_har.evaluation.make_folds` does for protocol ``"split"``.

    Every fit is one `keras_har.evaluation.run_fold` with ``recipe`` (default
    `FINETUNE_RECIPE`: early stopping on a stratified fifth of the labelled
    windows; with one window per class, on the training windows). Its files
    go to ``output_dir/MODE/kK/seedS/folds/fold_XX.json``, so a study that
    is stopped resumes where it was, and processes given other
    ``fold_indices`` can share the folder. ``study.json`` holds the
    settings, and a resumed study with other settings or another encoder is
    refused.

    Args:
        pretrained: a `keras_har.ssl.PretextModel` or a feature model (window
            -> features, e.g. from `keras_har.ssl.load_encoder`).
        dataset: a `keras_har.datasets.HARDataset` (the labelled target).
        windows_per_class: the k values.
        modes: any of ``"frozen"``, ``"finetune"``, ``"scratch"``.
        n_splits: folds of the subject split (unused with a predefined split).
        folds: run the first ``folds`` folds (all when None), to fit a budget.
        fold_indices: run only these folds (numbers below ``n_splits``).
        seeds: one set of initial weights and labelled draws per seed, and
            one subject split per seed unless ``split_seed`` is given.
        split_seed: the seed of one subject split shared by all ``seeds``
            (None: each seed splits anew). A fixed split lets an encoder be
            pretrained per fold without that fold's test subjects
            (``subject_kfold(dataset.subjects, n_splits, split_seed)``
            gives the same folds).
        recipe: a `keras_har.training.Recipe` (default `FINETUNE_RECIPE`).
        pretext_weight: above 0, the pretext loss keeps running during
            fine-tuning with this weight (needs a PretextModel and only the
            ``"finetune"`` mode).
        output_dir: folder of the fits' files; a temporary folder, removed
            at the end, when None.
        progress: show a tqdm bar over the fits.

    Returns:
        A `pandas.DataFrame` with one row per fit (`RESULT_COLUMNS`):
        ``mode``, ``windows_per_class`` (k asked),
        ``fewest_windows_per_class`` (the windows the smallest class really
        got: a class with fewer than k gives all it has), ``seed``,
        ``fold``, ``train_windows`` (labelled windows), ``val_windows``
        (those of them held out), ``test_windows``, ``validation``,
        ``epochs_run``, ``best_epoch``, ``macro_f1``.

    Raises:
        ValueError: a k above the window count of every class in some
            fold's training subjects (it would train on all of them), or a
            folder holding a study with other settings.

    Example:
    >>> import keras_har
    >>> data = keras_har.datasets.load_dataset("hapt")  # doctest: +SKIP
    >>> encoder = keras_har.ssl.load_encoder("runs/cpc_usc_had")  # doctest: +SKIP
    >>> table = keras_har.ssl.label_scarce_study(encoder, data, folds=1)  # doctest: +SKIP
    """
    modes = list(modes)
    for mode in modes:
        _check_mode(mode)
    recipe = FINETUNE_RECIPE if recipe is None else recipe
    if not isinstance(recipe, Recipe):
        raise ValueError(f"`recipe` must be a keras_har.training.Recipe. Received: recipe={recipe!r}")
    windows_per_class = [int(k) for k in windows_per_class]
    if not windows_per_class or min(windows_per_class) < 1:
        raise ValueError(
            f"`windows_per_class` must be positive integers. Received: windows_per_class={windows_per_class!r}"
        )
    if pretext_weight > 0:
        if not isinstance(pretrained, PretextModel):
            raise ValueError(
                "Keeping the pretext loss during fine-tuning needs the pretext model (pretext.keras), "
                f"not only the encoder. Received: pretrained={type(pretrained).__name__}"
            )
        if modes != ["finetune"]:
            raise ValueError(
                "The pretext loss trains the encoder, so it only fits mode 'finetune'. "
                f"Received: modes={modes!r}, pretext_weight={pretext_weight!r}"
            )
    if isinstance(pretrained, PretextModel):
        window_shape = pretrained.window_shape
    else:
        window_shape = tuple(pretrained.input_shape[1:])
    if tuple(window_shape) != tuple(dataset.X.shape[1:]):
        raise ValueError(
            f"The encoder takes windows of shape {tuple(window_shape)}; the dataset's are "
            f"{tuple(dataset.X.shape[1:])}. Resample and crop the data first (keras_har.ssl.pool_windows). "
            f"Received: dataset={dataset.name!r}"
        )
    seeds = [int(seed) for seed in seeds]
    if dataset.test_mask is not None:
        predefined, _ = make_folds(dataset, "split")
        fold_lists = {seed: predefined for seed in seeds}
    else:
        fold_lists = {seed: subject_kfold(dataset.subjects, n_splits, seed if split_seed is None else split_seed)
                      for seed in seeds}
    total_folds = len(next(iter(fold_lists.values())))
    selected = select_folds(fold_indices, total_folds, first=folds)
    if selected is None:
        selected = list(range(min(folds or total_folds, total_folds)))
    # Checked for every fold before any training: a k above every class's
    # count would train on all windows while reporting k.
    for seed, fold_list in fold_lists.items():
        for fold in selected:
            largest = int(np.bincount(dataset.y[fold_list[fold][0]]).max())
            too_many = [k for k in windows_per_class if k > largest]
            if too_many:
                raise ValueError(
                    f"`windows_per_class` {too_many} is more than any class has in the training subjects of fold "
                    f"{fold} (seed {seed}; the largest class has {largest} windows): that would use every "
                    f"training window, not k per class. Use k <= {largest}. "
                    f"Received: windows_per_class={windows_per_class}"
                )
    if output_dir is None:
        with tempfile.TemporaryDirectory(prefix="keras_har_study_") as temporary:
            return _run_study(pretrained, dataset, fold_lists, selected, windows_per_class, modes, recipe,
                              pretext_weight, temporary, progress)
    output_dir = atomic.writable_dir(output_dir, "output_dir")
    settings = {
        "dataset": dataset.name,
        "windows": int(len(dataset.y)),
        "window_shape": [int(d) for d in dataset.X.shape[1:]],
        "num_classes": int(dataset.num_classes),
        "split": ("predefined" if dataset.test_mask is not None
                  else f"subject_kfold({n_splits})" + ("" if split_seed is None else f", seed {int(split_seed)}")),
        "recipe": recipe.to_dict(),
        "pretext_weight": float(pretext_weight),
        "pretrained": weights_fingerprint(pretrained),
    }
    # Modes, k values, seeds and folds are left out of the check: each cell
    # is the same whichever others are asked for, so a study can grow.
    run_settings.check_or_write(os.path.join(output_dir, SETTINGS_FILE), settings,
                                holds="a label-scarce study with other settings",
                                remedy="use a new folder or the same settings and encoder")
    return _run_study(pretrained, dataset, fold_lists, selected, windows_per_class, modes, recipe,
                      pretext_weight, output_dir, progress)


def _run_study(pretrained, dataset, fold_lists, selected, windows_per_class, modes, recipe, pretext_weight,
               output_dir, progress):
    builders = {mode: _builder(pretrained, mode, pretext_weight) for mode in modes}
    total = len(fold_lists) * len(selected) * len(windows_per_class) * len(modes)
    rows = []
    with tqdm(total=total, desc="fine-tuning", disable=not progress) as bar:
        for seed, fold_list in fold_lists.items():
            for fold in selected:
                train, test = fold_list[fold]
                standardizer = None
                for k in windows_per_class:
                    chosen = train[k_per_class(dataset.y[train], k, seed=seed + fold)]
                    fewest = int(np.bincount(dataset.y[chosen])[np.unique(dataset.y[chosen])].min())
                    for mode in modes:
                        directory = cell_dir(output_dir, mode, k, seed)
                        result = finished_fold(directory, fold)
                        if result is None:
                            if standardizer is None:
                                standardizer = Standardizer().fit(dataset.X[train])
                            result = run_fold(builders[mode], dataset, (chosen, test), fold, directory,
                                              recipe=recipe, seed=seed, baselines=False,
                                              standardizer=standardizer, checkpoint=False)
                        held_out = result.get("validation") == "held out"
                        rows.append(dict(zip(RESULT_COLUMNS, (
                            mode, k, fewest, seed, fold, len(chosen), result["n_val"] if held_out else 0,
                            result["n_test"], result["validation"], result["epochs_run"], result["best_epoch"],
                            result["macro_f1"],
                        ))))
                        bar.set_postfix(mode=mode, k=k, f1=f"{result['macro_f1']:.3f}")
                        bar.update()
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


_GROUP_KEYS = ("source", "target", "pretext", "mode", "windows_per_class")


def mean_ci95(values):
    """Mean, and the two-sided 95% confidence interval of the mean from Student's t.

    ``mean +- t(0.975, n - 1) * std / sqrt(n)``, with the sample standard
    deviation (ddof=1). With one value the interval is undefined: NaN.

    Example:
    >>> from keras_har.ssl.protocol import mean_ci95
    >>> [round(v, 4) for v in mean_ci95([0.5, 0.6, 0.7])]
    [0.6, 0.3516, 0.8484]
    """
    from scipy import stats

    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or values.size == 0 or not np.isfinite(values).all():
        raise ValueError(f"`values` must be a non-empty 1-D array of finite numbers. Received: {values!r}")
    mean = float(values.mean())
    if values.size < 2:
        return mean, float("nan"), float("nan")
    half = float(stats.t.ppf(0.975, values.size - 1) * values.std(ddof=1) / np.sqrt(values.size))
    return mean, mean - half, mean + half


def summarize(results):
    """Macro-F1 per (pretext, mode, k) over folds and seeds: mean, std, 95% CI of the mean and n.

    The confidence interval treats the fits of a cell (folds x seeds) as
    independent draws (`mean_ci95`); ``fits`` is n. A cell of one fit has
    no interval (NaN).
    """
    keys = [c for c in _GROUP_KEYS if c in results.columns]
    rows = []
    for key, cell in results.groupby(keys, sort=True):
        scores = cell["macro_f1"].to_numpy()
        mean, low, high = mean_ci95(scores)
        row = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        if "fewest_windows_per_class" in cell.columns:
            row["fewest_windows_per_class"] = int(cell["fewest_windows_per_class"].min())
        row.update(macro_f1_mean=mean, macro_f1_std=float(np.std(scores, ddof=1)) if len(scores) > 1 else float("nan"),
                   macro_f1_ci95_low=low, macro_f1_ci95_high=high, fits=len(scores))
        rows.append(row)
    return pd.DataFrame(rows)


def paired_differences(results, mode="finetune", baseline="frozen"):
    """``mode`` minus ``baseline`` macro-F1 per (pretext, k), paired by seed and fold, with a 95% CI.

    The two fits of a pair share the encoder, the labelled windows and the
    test subjects, so their difference is free of the fold-to-fold spread;
    the interval is Student's t over the pairs (`mean_ci95`). Fits without
    a partner are left out and counted in ``unpaired``.

    Returns:
        A `pandas.DataFrame`: the grouping columns present (``source``,
        ``target``, ``pretext``) and ``windows_per_class``, then ``pairs``,
        ``difference_mean``, ``difference_ci95_low``,
        ``difference_ci95_high``, ``pairs_better`` (pairs where ``mode``
        scored higher) and ``unpaired``.

    Raises:
        ValueError: the table has no fit of ``mode`` or of ``baseline``.
    """
    keys = _difference_keys(results)
    pairs = _pairs(results, mode, baseline)
    rows = []
    for key, cell in pairs.groupby(keys, sort=True):
        both = cell[cell["_merge"] == "both"]
        row = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        if len(both):
            differences = (both["macro_f1"] - both["macro_f1_baseline"]).to_numpy()
            mean, low, high = mean_ci95(differences)
            better = int((differences > 0).sum())
        else:
            mean = low = high = float("nan")
            better = 0
        row.update(zip(_DIFFERENCE_COLUMNS, (len(both), mean, low, high, better, int(len(cell) - len(both)))))
        rows.append(row)
    return pd.DataFrame(rows)


def _pairs(results, mode, baseline):
    """The fits of ``mode`` and ``baseline`` joined on their cell, seed and fold (an outer join: ``_merge`` is
    "both" for a pair); the baseline's score is ``macro_f1_baseline``."""
    for name in (mode, baseline):
        if not (results["mode"] == name).any():
            raise ValueError(
                f"The results have no fit of mode {name!r}; their modes are {sorted(set(results['mode']))}. "
                f"Received: mode={mode!r}, baseline={baseline!r}"
            )
    pair_keys = _difference_keys(results) + ["seed", "fold"]
    left = results[results["mode"] == mode][pair_keys + ["macro_f1"]]
    right = results[results["mode"] == baseline][pair_keys + ["macro_f1"]]
    for name, side in ((mode, left), (baseline, right)):
        if side.duplicated(pair_keys).any():
            raise ValueError(f"The results hold mode {name!r} twice for one seed and fold; pairs would be ambiguous.")
    return left.merge(right, on=pair_keys, how="outer", suffixes=("", "_baseline"), indicator=True)


# The columns of a paired difference, after its grouping columns (`_difference_keys`).
_DIFFERENCE_COLUMNS = ("pairs", "difference_mean", "difference_ci95_low", "difference_ci95_high", "pairs_better",
                       "unpaired")


def _difference_keys(results):
    """The columns a paired difference is reported by: those of source, target, pretext present, and k."""
    return [c for c in ("source", "target", "pretext") if c in results.columns] + ["windows_per_class"]


#: The comparisons of the study, each ``(mode, baseline)``: does fine-tuning
#: beat freezing, and does pretraining (either way) beat training from scratch.
COMPARISONS = (("finetune", "frozen"), ("finetune", "scratch"), ("frozen", "scratch"))


def _comparisons_run(results, comparisons):
    """The ``(mode, baseline)`` pairs of ``comparisons`` whose two modes the results hold."""
    present = set(results["mode"])
    return [(mode, baseline) for mode, baseline in comparisons if mode in present and baseline in present]


def study_differences(results, comparisons=COMPARISONS):
    """`paired_differences` for every comparison whose two modes the results hold, in one table.

    Each row names its ``mode`` and ``baseline``; an empty table (with those
    columns) when no comparison has both modes.
    """
    tables = [paired_differences(results, mode, baseline).assign(mode=mode, baseline=baseline)
              for mode, baseline in _comparisons_run(results, comparisons)]
    if not tables:
        return pd.DataFrame(columns=["mode", "baseline", *_difference_keys(results), *_DIFFERENCE_COLUMNS])
    table = pd.concat(tables, ignore_index=True)
    first = ["mode", "baseline"]
    return table[first + [c for c in table.columns if c not in first]]


def difference_trends(results, comparisons=COMPARISONS):
    """How each comparison's paired difference changes with the labels: its slope per tenfold more windows per class.

    For each seed and fold, the differences ``mode - baseline`` (paired as in
    `paired_differences`) at the windows per class it has are fitted by
    least squares against log10 of the windows per class; the slope is the
    change of the difference for ten times the labels. The table gives the
    mean slope over the (seed, fold) units with its 95% CI (`mean_ci95`).
    A gain that shrinks as labels grow, the "Don't freeze" paper's claim for
    finetune - frozen, has a negative slope. Units with fewer than two
    windows-per-class values are left out.

    Args:
        results: the study's table (`label_scarce_study`).
        comparisons: ``(mode, baseline)`` pairs; those whose two modes the
            results hold are reported.

    Returns:
        A `pandas.DataFrame`: ``mode``, ``baseline``, the grouping columns
        present (``source``, ``target``, ``pretext``), ``units``,
        ``slope_mean``, ``slope_ci95_low``, ``slope_ci95_high``,
        ``units_falling`` (units with a negative slope) and
        ``windows_per_class`` (the values fitted, e.g. "1,5,10,100").

    Example:
    >>> import pandas as pd
    >>> from keras_har.ssl import difference_trends
    >>> gain = {1: 0.2, 10: 0.1, 100: 0.0}  # finetune - frozen: 0.1 less per tenfold more labels
    >>> results = pd.DataFrame([dict(pretext="cpc", mode=mode, windows_per_class=k, seed=seed, fold=0,
    ...                              macro_f1=0.5 + (gain[k] if mode == "finetune" else 0.0))
    ...                         for mode in ("finetune", "frozen") for k in gain for seed in (0, 1)])
    >>> row = difference_trends(results).iloc[0]
    >>> int(row["units"]), round(float(row["slope_mean"]), 6), row["windows_per_class"]
    (2, -0.1, '1,10,100')
    """
    groups = [c for c in _difference_keys(results) if c != "windows_per_class"]
    rows = []
    for mode, baseline in _comparisons_run(results, comparisons):
        pairs = _pairs(results, mode, baseline)
        pairs = pairs[pairs["_merge"] == "both"].assign(difference=lambda t: t["macro_f1"] - t["macro_f1_baseline"])
        for key, cell in (pairs.groupby(groups, sort=True) if groups else [((), pairs)]):
            slopes = [np.polyfit(np.log10(unit["windows_per_class"].to_numpy(np.float64)),
                                 unit["difference"].to_numpy(), 1)[0]
                      for _, unit in cell.groupby(["seed", "fold"]) if unit["windows_per_class"].nunique() > 1]
            if not slopes:
                continue
            mean, low, high = mean_ci95(slopes)
            row = dict(mode=mode, baseline=baseline, **dict(zip(groups, key if isinstance(key, tuple) else (key,))))
            row.update(units=len(slopes), slope_mean=mean, slope_ci95_low=low, slope_ci95_high=high,
                       units_falling=int((np.asarray(slopes) < 0).sum()),
                       windows_per_class=",".join(str(k) for k in sorted(set(cell["windows_per_class"]))))
            rows.append(row)
    columns = ["mode", "baseline", *groups, "units", "slope_mean", "slope_ci95_low", "slope_ci95_high",
               "units_falling", "windows_per_class"]
    return pd.DataFrame(rows, columns=columns)


def save_csv(table, path):
    """Writes a DataFrame as csv through a temporary file."""
    atomic.write_text(path, table.to_csv(index=False))


def plot_study(results, path, title=None):
    """Macro-F1 against windows per class, one line per mode, one panel per pretext (png).

    The paper's Figure 2 layout: log-scaled k on x, the mean macro-F1 over
    folds and seeds on y, the 95% confidence interval of the mean as error
    bars (`summarize`).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = summarize(results)
    panel_keys = [c for c in ("source", "target", "pretext") if c in summary.columns]
    panels = list(summary.groupby(panel_keys)) if panel_keys else [((), summary)]
    figure, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.6), squeeze=False, sharey=True)
    for axis, (key, panel) in zip(axes[0], panels):
        for mode, lines in panel.groupby("mode"):
            # Error bars: the 95% CI of the mean (none for a cell of one fit).
            low = (lines["macro_f1_mean"] - lines["macro_f1_ci95_low"]).fillna(0)
            high = (lines["macro_f1_ci95_high"] - lines["macro_f1_mean"]).fillna(0)
            axis.errorbar(lines["windows_per_class"], lines["macro_f1_mean"], yerr=[low, high],
                          marker="o", capsize=3, label=mode)
        axis.set_xscale("log")
        axis.set_xlabel("labelled windows per class")
        axis.set_title(" / ".join(str(k) for k in (key if isinstance(key, tuple) else (key,))))
        axis.grid(alpha=0.3)
    axes[0][0].set_ylabel("macro-F1")
    axes[0][-1].legend()
    if title:
        figure.suptitle(title, wrap=True)  # wrapped: one panel is narrower than a long title
    figure.tight_layout()
    with atomic.atomic_path(path, suffix=".png") as temporary:
        figure.savefig(temporary, dpi=120, format="png", bbox_inches="tight")
    plt.close(figure)
