"""The label-scarce protocol of "Don't freeze": k windows per class, CV by subject, macro-F1."""


import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from keras_har import atomic
from keras_har.backend import keras, tf
from keras_har.datasets import Standardizer
from keras_har.datasets.splits import k_per_class, subject_kfold
from keras_har.evaluation import make_folds
from keras_har.metrics import model_macro_f1
from keras_har.ssl.finetune import (
    MODES,
    WINDOWS_PER_CLASS,
    PretextRegularizedClassifier,
    _check_mode,
    build_classifier,
)
from keras_har.ssl.pretext_model import PretextModel

# windows_per_class is the k asked for; fewest_windows_per_class is the k the
# smallest class really got (a class with fewer than k windows gives all it has).
RESULT_COLUMNS = [
    "mode", "windows_per_class", "fewest_windows_per_class", "seed", "fold", "train_windows", "test_windows",
    "macro_f1",
]


def copy_pretext(pretext):
    """An independent copy of a pretext model with the same weights."""
    copy = type(pretext).from_config(pretext.get_config())
    copy.set_weights(pretext.get_weights())
    return copy


class _Run:
    """One compiled classifier per (mode, seed), reset to its initial weights for each fit.

    Building and tracing a fresh model per fit costs seconds on a CPU; the
    protocol makes hundreds of fits, so each mode traces once per seed.
    """

    def __init__(self, pretrained, num_classes, mode, *, pretext_weight, learning_rate, seed):
        keras.utils.set_random_seed(seed)
        if pretext_weight > 0:
            self.model = PretextRegularizedClassifier(copy_pretext(pretrained), num_classes, pretext_weight)
            self.model.compile(optimizer=keras.optimizers.Adam(learning_rate))
            self.classifier = self.model.classifier
        else:
            features = pretrained.feature_model() if isinstance(pretrained, PretextModel) else pretrained
            self.model = self.classifier = build_classifier(features, num_classes, mode)
            self.model.compile(
                optimizer=keras.optimizers.Adam(learning_rate),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            )
        self.initial_weights = self.model.get_weights()

    def fit(self, windows, labels, *, epochs, batch_size):
        self.model.set_weights(self.initial_weights)
        for variable in self.model.optimizer.variables():
            variable.assign(tf.zeros_like(variable))
        batch_size = min(batch_size, len(windows))
        self.model.fit(windows, labels, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=0)
        return self.classifier


def label_scarce_study(
    pretrained,
    dataset,
    *,
    windows_per_class=WINDOWS_PER_CLASS,
    modes=MODES,
    n_splits=5,
    folds=None,
    seeds=(0,),
    epochs=30,
    batch_size=64,
    learning_rate=1e-3,
    pretext_weight=0.0,
    progress=True,
):
    """Macro-F1 of frozen, finetuned and from-scratch encoders with k labels per class.

    The protocol of Dumbrava et al. (arXiv:2307.01168): for each seed, a
    ``n_splits``-fold split by subject (`keras_har.datasets.splits.subject_kfold`);
    in each fold, windows are standardised with the training subjects'
    statistics (`keras_har.datasets.Standardizer`, fitted on all their
    windows, labels unused), ``k`` labelled windows per class are drawn from
    the training subjects (`keras_har.datasets.splits.k_per_class`), a
    classifier is trained for ``epochs`` epochs, and macro-F1 is measured on
    all windows of the held-out subjects. Data that comes with its own
    train/test split (`keras_har.datasets.HARDataset.test_mask`, a CSV
    folder with ``train/`` and ``test/``) is split that way instead, one
    fold for every seed, as `keras_har.evaluation.make_folds` does for
    protocol ``"split"``.

    Args:
        pretrained: a `keras_har.ssl.PretextModel` or a feature model (window
            -> features, e.g. from `keras_har.ssl.load_encoder`).
        dataset: a `keras_har.datasets.HARDataset` (the labelled target).
        windows_per_class: the k values.
        modes: any of ``"frozen"``, ``"finetune"``, ``"scratch"``.
        n_splits: folds of the subject split (unused with a predefined split).
        folds: how many of the folds to run (all when None), to fit a budget.
        seeds: one split and one set of initial weights per seed.
        epochs: training epochs per fit (no early stopping: with one window
            per class there is nothing to validate on).
        batch_size: windows per batch.
        learning_rate: Adam learning rate.
        pretext_weight: above 0, the pretext loss keeps running during
            fine-tuning with this weight (needs a PretextModel and only the
            ``"finetune"`` mode).
        progress: show a tqdm bar over the fits.

    Returns:
        A `pandas.DataFrame` with one row per fit: ``mode``,
        ``windows_per_class`` (k asked), ``fewest_windows_per_class`` (the
        windows the smallest class really got: a class with fewer than k
        gives all it has), ``seed``, ``fold``, ``train_windows``,
        ``test_windows``, ``macro_f1``.

    Raises:
        ValueError: a k above the window count of every class in some
            fold's training subjects (it would train on all of them).

    Example:
    >>> import keras_har
    >>> data = keras_har.datasets.load_dataset("hapt")  # doctest: +SKIP
    >>> encoder = keras_har.ssl.load_encoder("runs/cpc_usc_had")  # doctest: +SKIP
    >>> table = keras_har.ssl.label_scarce_study(encoder, data, folds=1)  # doctest: +SKIP
    """
    modes = list(modes)
    for mode in modes:
        _check_mode(mode)
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
    seeds = list(seeds)
    if dataset.test_mask is not None:
        predefined, _ = make_folds(dataset, "split")
        fold_lists = {seed: predefined for seed in seeds}
    else:
        fold_lists = {seed: subject_kfold(dataset.subjects, n_splits, seed)[: folds or n_splits] for seed in seeds}
    # Checked for every fold before any training: a k above every class's
    # count would train on all windows while reporting k.
    for seed, fold_list in fold_lists.items():
        for fold, (train, _) in enumerate(fold_list):
            largest = int(np.bincount(dataset.y[train]).max())
            too_many = [k for k in windows_per_class if k > largest]
            if too_many:
                raise ValueError(
                    f"`windows_per_class` {too_many} is more than any class has in the training subjects of fold "
                    f"{fold} (seed {seed}; the largest class has {largest} windows): that would use every "
                    f"training window, not k per class. Use k <= {largest}. "
                    f"Received: windows_per_class={windows_per_class}"
                )
    total = sum(len(f) for f in fold_lists.values()) * len(windows_per_class) * len(modes)
    rows = []
    with tqdm(total=total, desc="fine-tuning", disable=not progress) as bar:
        for seed in seeds:
            runs = {
                mode: _Run(
                    pretrained,
                    dataset.num_classes,
                    mode,
                    pretext_weight=pretext_weight,
                    learning_rate=learning_rate,
                    seed=seed,
                )
                for mode in modes
            }
            for fold, (train, test) in enumerate(fold_lists[seed]):
                scaler = Standardizer().fit(dataset.X[train])
                test_windows = scaler.transform(dataset.X[test])
                for k in windows_per_class:
                    chosen = train[k_per_class(dataset.y[train], k, seed=seed + fold)]
                    fewest = int(np.bincount(dataset.y[chosen])[np.unique(dataset.y[chosen])].min())
                    train_windows = scaler.transform(dataset.X[chosen])
                    for mode in modes:
                        classifier = runs[mode].fit(
                            train_windows, dataset.y[chosen], epochs=epochs, batch_size=batch_size
                        )
                        score = model_macro_f1(classifier, test_windows, dataset.y[test])
                        rows.append(
                            dict(zip(RESULT_COLUMNS, (mode, k, fewest, seed, fold, len(chosen), len(test), score)))
                        )
                        bar.set_postfix(mode=mode, k=k, f1=f"{score:.3f}")
                        bar.update()
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


def summarize(results):
    """Mean and standard deviation of macro-F1 per (pretext, mode, k), over folds and seeds."""
    keys = [c for c in ("source", "target", "pretext", "mode", "windows_per_class") if c in results.columns]
    summary = results.groupby(keys)["macro_f1"].agg(["mean", "std", "count"]).reset_index()
    summary = summary.rename(columns={"mean": "macro_f1_mean", "std": "macro_f1_std", "count": "fits"})
    if "fewest_windows_per_class" in results.columns:
        fewest = results.groupby(keys)["fewest_windows_per_class"].min().reset_index(drop=True)
        summary.insert(len(keys), "fewest_windows_per_class", fewest.to_numpy())
    return summary


def save_csv(table, path):
    """Writes a DataFrame as csv through a temporary file."""
    atomic.write_text(path, table.to_csv(index=False))


def plot_study(results, path, title=None):
    """Macro-F1 against windows per class, one line per mode, one panel per pretext (png)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = summarize(results)
    panel_keys = [c for c in ("source", "target", "pretext") if c in summary.columns]
    panels = list(summary.groupby(panel_keys)) if panel_keys else [((), summary)]
    figure, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.6), squeeze=False, sharey=True)
    for axis, (key, panel) in zip(axes[0], panels):
        for mode, lines in panel.groupby("mode"):
            axis.errorbar(lines["windows_per_class"], lines["macro_f1_mean"], yerr=lines["macro_f1_std"].fillna(0),
                          marker="o", capsize=3, label=mode)
        axis.set_xscale("log")
        axis.set_xlabel("labelled windows per class")
        axis.set_title(" / ".join(str(k) for k in (key if isinstance(key, tuple) else (key,))))
        axis.grid(alpha=0.3)
    axes[0][0].set_ylabel("macro-F1")
    axes[0][-1].legend()
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    with atomic.atomic_path(path, suffix=".png") as temporary:
        figure.savefig(temporary, dpi=120, format="png")
    plt.close(figure)
