"""``run_search``: the scalability study behind ``tuning/search.py`` and ``keras-har tune``."""

import os

import numpy as np

from keras_har import run_settings
from keras_har.tuning import oracles
from keras_har.tuning._keras_tuner import keras_tuner
from keras_har.tuning._options import DEFAULT_EPOCHS, DEFAULT_MAX_TRIALS, TUNERS
from keras_har.tuning.budget import check_export_recurrence, resolve_footprint_mode
from keras_har.tuning.har_tuner import OBJECTIVE, HARTuner
from keras_har.tuning.reports import write_reports
from keras_har.tuning.tinier_har_hyper_model import TinierHARHyperModel

# The settings of a search, checked on every resume (see keras_har.run_settings).
SETTINGS_FILE = "search.json"
# Over-budget configurations fail by design, so KerasTuner's default stop
# after 3 failures in a row would end a budgeted search early.
_MAX_CONSECUTIVE_FAILURES = 1_000_000


def make_oracle(tuner, *, max_trials=None, epochs=DEFAULT_EPOCHS, seed=0):
    """The KerasTuner oracle for ``tuner``, maximising ``val_macro_f1``.

    Args:
        tuner: ``"grid"``, ``"random"``, ``"bayesian"`` or ``"hyperband"``.
        max_trials: most trials (grid: None walks the whole grid;
            random/bayesian: default 20; hyperband: unused).
        epochs: hyperband's ``max_epochs``.
        seed: the oracle's seed.

    Example:
    >>> from keras_har.tuning import make_oracle
    >>> type(make_oracle("grid")).__name__
    'ResumableGridSearchOracle'
    """
    if tuner not in TUNERS:
        raise ValueError(f"`tuner` must be one of {TUNERS}. Received: tuner={tuner!r}")
    if max_trials is not None and (isinstance(max_trials, bool) or not int(max_trials) >= 1):
        raise ValueError(f"`max_trials` must be a positive integer or None. Received: max_trials={max_trials!r}")
    objective = keras_tuner.Objective(OBJECTIVE, direction="max")
    common = {"objective": objective, "seed": seed, "max_consecutive_failed_trials": _MAX_CONSECUTIVE_FAILURES}
    if tuner == "grid":
        return oracles.ResumableGridSearchOracle(max_trials=max_trials, **common)
    if tuner == "random":
        return oracles.ResumableRandomSearchOracle(max_trials=max_trials or DEFAULT_MAX_TRIALS, **common)
    if tuner == "bayesian":
        return oracles.ResumableBayesianOptimizationOracle(max_trials=max_trials or DEFAULT_MAX_TRIALS, **common)
    return oracles.ResumableHyperbandOracle(max_epochs=epochs, factor=3, **common)


def _budget_settings(budget):
    """The budget as recorded in ``search.json`` (None when no limit is set)."""
    if budget is None or not budget.is_set:
        return None
    config = budget.get_config()
    # Written only when set, so that searches recorded before this limit existed still resume.
    if config["max_instructions"] is None:
        del config["max_instructions"]
    return config


# With folds=1 the search holds out the first of this many subject groups (20% of the subjects).
HOLDOUT_GROUPS = 5


def search_folds(dataset, folds=1, *, protocol=None, seed=0):
    """The folds every trial of a search trains and scores: ``(protocol, [(index, (train, test)), ...])``.

    The folds come from `keras_har.evaluation.make_folds`, as in
    cross-validation, so fold ``i`` of a search is fold ``i`` of
    ``keras-har evaluate`` with the same protocol and seed.

    Args:
        dataset: a `keras_har.datasets.HARDataset`.
        folds: ``"all"``: every fold of ``protocol`` (default: the paper's
            folds where the dataset has them, see
            `keras_har.evaluation.default_protocol`). An integer k: with
            protocol ``"kfold"`` (the default) k subject groups, and k=1
            holds out the first of `HOLDOUT_GROUPS` groups (20% of the
            subjects; at least one subject); with ``"paper"`` or ``"loso"``
            the first k folds.
        protocol: see `keras_har.evaluation.make_folds`.
        seed: seed of the subject grouping.

    Example:
    >>> import numpy as np, keras_har
    >>> from keras_har.tuning.search import search_folds
    >>> data = keras_har.datasets.HARDataset(
    ...     name="toy", X=np.zeros((20, 8, 1)), y=np.arange(20) % 2, subjects=np.repeat(np.arange(10), 2),
    ...     class_names=["a", "b"], channel_names=["x"], sampling_rate_hz=50.0, window_sec=0.16, step_sec=0.16)
    >>> protocol, folds = search_folds(data, 1)
    >>> protocol, len(folds), len(folds[0][1][1])
    ('kfold', 1, 4)
    """
    from keras_har.evaluation import default_protocol, make_folds

    if folds == "all":
        protocol = protocol or default_protocol(dataset)[0]
        fold_list, _ = make_folds(dataset, protocol, seed=seed)
        return protocol, list(enumerate(fold_list))
    if isinstance(folds, bool) or not isinstance(folds, (int, np.integer)) or folds < 1:
        raise ValueError(f"`folds` (--folds) must be a positive integer or 'all'. Received: folds={folds!r}")
    protocol = protocol or "kfold"
    if protocol == "kfold":
        subjects = len(np.unique(dataset.subjects))
        groups = min(HOLDOUT_GROUPS, subjects) if folds == 1 else folds
        if subjects < 2 or groups > subjects:
            raise ValueError(
                f"`folds` (--folds) needs at least max(2, folds) subjects to hold out whole subjects; "
                f"{dataset.name} has {subjects}. Received: folds={folds}"
            )
        fold_list, _ = make_folds(dataset, "kfold", folds=groups, seed=seed)
        return protocol, list(enumerate(fold_list[:folds]))
    fold_list, _ = make_folds(dataset, protocol, folds=folds, seed=seed)
    return protocol, list(enumerate(fold_list))


def is_distributed_worker():
    """True in a KerasTuner worker process (KERASTUNER_ORACLE_IP set, tuner id without "chief")."""
    return "KERASTUNER_ORACLE_IP" in os.environ and "chief" not in os.environ.get("KERASTUNER_TUNER_ID", "")


def run_search(
    dataset,
    *,
    data_home=None,
    tuner="grid",
    max_trials=None,
    epochs=DEFAULT_EPOCHS,
    folds=1,
    protocol=None,
    reuse_cv=(),
    directory="tuning_results",
    project_name=None,
    overwrite=False,
    budget=None,
    footprint=None,
    export_recurrence="merged",
    space=None,
    tune_ablations=False,
    seed=0,
    verbose=0,
):
    """Searches TinierHAR's size (M filters x N GRU units) for the best validation macro-F1.

    Trials are scored by macro-F1 on held-out subjects, averaged over the
    folds of `search_folds`; each fold is trained as cross-validation
    trains it (`keras_har.evaluation.run_fold`, the official recipe with
    the trial's training hyperparameters). Results go to ``directory/project_name``:
    ``trials.csv``, ``pareto.csv``, ``pareto.png``, ``fit_log.csv``, one
    ``trial_<id>/result.json`` per trial and TensorBoard HParams logs under
    ``tensorboard/``, and the search's settings in ``search.json``.
    Rerunning with ``overwrite=False`` continues the same project: finished
    trials are kept, an interrupted one is run again. A rerun with other
    training settings (epochs, folds, protocol, seed, space, budget,
    footprint, export recurrence, data) is refused
    rather than mixing trials that are not comparable; ``max_trials`` may
    grow.

    Distributed: set KERASTUNER_TUNER_ID ("chief" in the chief's id),
    KERASTUNER_ORACLE_IP and KERASTUNER_ORACLE_PORT and run the same call in
    every process. The chief serves the oracle, waits for the workers and
    writes the reports; workers train (and never delete the project).

    Args:
        dataset: a `keras_har.datasets.HARDataset`, or a dataset name, CSV
            folder or ``.npz`` path for `keras_har.datasets.load_dataset`.
        data_home: where named datasets live.
        tuner: ``"grid"``, ``"random"``, ``"bayesian"`` or ``"hyperband"``.
        max_trials: most trials (see `make_oracle`).
        epochs: most epochs per training run (the reference recipe: 150).
        folds: the folds of each trial: ``"all"`` (every fold of
            ``protocol``: the paper protocol) or a count (1: hold out 20% of
            the subjects); see `search_folds`.
        protocol: the folds' protocol (`keras_har.evaluation.make_folds`);
            default ``"kfold"`` for a count, `default_protocol`'s choice
            for ``"all"``.
        reuse_cv: ``keras-har evaluate`` output folders of TinierHAR on the
            same data, protocol and seed; a trial with the same
            configuration and recipe copies their finished folds instead of
            training them (`keras_har.tuning.reuse.CrossValidationFolds`).
        directory: parent folder of the project.
        project_name: default ``"<dataset>_<tuner>"``.
        overwrite: start the project afresh.
        budget: a `keras_har.tuning.Budget`; over-budget models are not trained.
        footprint: ``"measure"`` (``"measure-cortex-m4"``, ``"measure-python"``)
            or ``"estimate"`` flash and arena (see
            `keras_har.tuning.budget`); default: measure when the budget
            limits flash, arena or instructions, estimate otherwise. A
            budget with ``max_instructions`` refuses ``"estimate"`` and
            ``"measure-python"``: instructions are counted on the Cortex-M4.
        export_recurrence: the int8 export whose footprint is measured:
            ``"merged"`` (default; a GRU unrolled into stock ops) or
            ``"fused"`` (the ``KERAS_HAR_BIGRU`` op, what
            `keras_har.export.export_model` writes by default).
        space: ``"paper_grid"`` (default for grid search) or ``"wide"``
            (default for the others).
        tune_ablations: also search the ablation switches.
        seed: seed of the folds, the oracle and training.
        verbose: Keras verbosity during training.

    Returns:
        A dict with ``project_dir``, ``trials`` and ``pareto`` (pandas
        frames) and ``best`` (the best completed trial's row, as a dict, or
        None); on a distributed worker only ``project_dir``.

    Example:
    >>> import keras_har.tuning
    >>> result = keras_har.tuning.run_search(  # doctest: +SKIP
    ...     "hapt", data_home="/data", tuner="grid", epochs=20, folds=3, directory="runs")
    >>> result["best"]["val_macro_f1"]  # doctest: +SKIP
    """
    # Refused before anything is loaded or written.
    resolve_footprint_mode(footprint, budget)
    check_export_recurrence(export_recurrence, name="export_recurrence")
    from keras_har.datasets import HARDataset, load_dataset
    from keras_har.tuning.reuse import CrossValidationFolds

    data = dataset if isinstance(dataset, HARDataset) else load_dataset(dataset, data_home=data_home)
    protocol, fold_list = search_folds(data, folds, protocol=protocol, seed=seed)
    reuse = CrossValidationFolds(list(reuse_cv or ()), dataset=data, protocol=protocol, seed=seed, folds=fold_list)
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"`epochs` must be a positive integer. Received: epochs={epochs!r}")
    space = space or ("paper_grid" if tuner == "grid" else "wide")
    worker = is_distributed_worker()
    if worker and overwrite:
        print("distributed worker: ignoring overwrite=True (only the chief may reset the project)")
        overwrite = False
    project_name = project_name or f"{data.name}_{tuner}"
    settings = {
        "dataset": data.name,
        "windows": int(len(data.y)),
        "input_shape": [int(d) for d in data.X.shape[1:]],
        "num_classes": int(data.num_classes),
        "tuner": tuner,
        "space": space,
        "tune_ablations": bool(tune_ablations),
        "epochs": int(epochs),
        "folds": folds if folds == "all" else int(folds),
        "protocol": protocol,
        "seed": int(seed),
        "budget": _budget_settings(budget),
        "footprint": footprint,
    }
    # Searches older than export_recurrence measured the merged export and have no such key:
    # written only when it is not "merged", so that they still resume (and a change still differs).
    if export_recurrence != "merged":
        settings["export_recurrence"] = export_recurrence
    settings_path = os.path.join(directory, project_name, SETTINGS_FILE)
    if not overwrite:
        # Trials trained with other settings are not comparable: refuse to mix them.
        run_settings.check_or_write(
            settings_path, settings, holds="trials of a different search",
            remedy="use the same settings, another --project-name, or --overwrite", write=not worker,
        )
    hypermodel = TinierHARHyperModel(
        input_shape=data.X.shape[1:], num_classes=data.num_classes, space=space, tune_ablations=tune_ablations
    )
    search_tuner = HARTuner(
        make_oracle(tuner, max_trials=max_trials, epochs=epochs, seed=seed),
        hypermodel,
        budget=budget,
        footprint=footprint,
        export_recurrence=export_recurrence,
        reuse=reuse,
        directory=directory,
        project_name=project_name,
        overwrite=overwrite,
    )
    if overwrite:  # the tuner has just emptied the project
        run_settings.check_or_write(settings_path, settings, holds="trials of a different search", remedy="")
    search_tuner.search(dataset=data, folds=fold_list, epochs=epochs, seed=seed, keras_verbose=verbose)
    if worker:
        return {"project_dir": search_tuner.project_dir}
    trials, pareto = write_reports(
        search_tuner, title=f"TinierHAR M x N on {data.name} ({tuner}, {len(fold_list)} {protocol} fold(s), {epochs} epochs)"
    )
    completed = trials[trials["status"] == "completed"]
    best = completed.loc[completed[OBJECTIVE].idxmax()].to_dict() if len(completed) else None
    return {"project_dir": search_tuner.project_dir, "trials": trials, "pareto": pareto, "best": best}
