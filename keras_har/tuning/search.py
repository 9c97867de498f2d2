"""``run_search``: the scalability study behind ``tuning/search.py`` and ``keras-har tune``."""

import os

from keras_har import run_settings
from keras_har.tuning import oracles
from keras_har.tuning._keras_tuner import keras_tuner
from keras_har.tuning._options import DEFAULT_EPOCHS, DEFAULT_MAX_TRIALS, TUNERS
from keras_har.tuning.budget import check_export_recurrence, resolve_footprint_mode
from keras_har.tuning.data import SearchData, load_search_data, subject_folds
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

    Trials are scored by macro-F1 on held-out subjects (averaged over
    ``folds`` subject folds). Results go to ``directory/project_name``:
    ``trials.csv``, ``pareto.csv``, ``pareto.png``, ``fit_log.csv``, one
    ``trial_<id>/result.json`` per trial and TensorBoard HParams logs under
    ``tensorboard/``, and the search's settings in ``search.json``.
    Rerunning with ``overwrite=False`` continues the same project: finished
    trials are kept, an interrupted one is run again. A rerun with other
    training settings (epochs, folds, seed, space, budget, footprint,
    export recurrence, data) is refused
    rather than mixing trials that are not comparable; ``max_trials`` may
    grow.

    Distributed: set KERASTUNER_TUNER_ID ("chief" in the chief's id),
    KERASTUNER_ORACLE_IP and KERASTUNER_ORACLE_PORT and run the same call in
    every process. The chief serves the oracle, waits for the workers and
    writes the reports; workers train (and never delete the project).

    Args:
        dataset: a `keras_har.tuning.data.SearchData`, a dataset name for
            `keras_har.datasets.load_dataset`, or an ``.npz`` path with ``x``,
            ``y`` and ``subjects``.
        data_home: where named datasets live.
        tuner: ``"grid"``, ``"random"``, ``"bayesian"`` or ``"hyperband"``.
        max_trials: most trials (see `make_oracle`).
        epochs: most epochs per training run (the reference recipe: 150).
        folds: subject folds per trial (1: hold out 20% of the subjects).
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
    data = dataset if isinstance(dataset, SearchData) else load_search_data(dataset, data_home=data_home)
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
        "input_shape": list(data.input_shape),
        "num_classes": int(data.num_classes),
        "tuner": tuner,
        "space": space,
        "tune_ablations": bool(tune_ablations),
        "epochs": int(epochs),
        "folds": int(folds),
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
        input_shape=data.input_shape, num_classes=data.num_classes, space=space, tune_ablations=tune_ablations
    )
    search_tuner = HARTuner(
        make_oracle(tuner, max_trials=max_trials, epochs=epochs, seed=seed),
        hypermodel,
        budget=budget,
        footprint=footprint,
        export_recurrence=export_recurrence,
        directory=directory,
        project_name=project_name,
        overwrite=overwrite,
    )
    if overwrite:  # the tuner has just emptied the project
        run_settings.check_or_write(settings_path, settings, holds="trials of a different search", remedy="")
    search_tuner.search(
        data=data, fold_indices=subject_folds(data.subjects, folds, seed), epochs=epochs, seed=seed, keras_verbose=verbose
    )
    if worker:
        return {"project_dir": search_tuner.project_dir}
    trials, pareto = write_reports(
        search_tuner, title=f"TinierHAR M x N on {data.name} ({tuner}, {folds} fold(s), {epochs} epochs)"
    )
    completed = trials[trials["status"] == "completed"]
    best = completed.loc[completed[OBJECTIVE].idxmax()].to_dict() if len(completed) else None
    return {"project_dir": search_tuner.project_dir, "trials": trials, "pareto": pareto, "best": best}
