"""Subject-wise cross-validation with the official TinierHAR protocol.

`cross_validate` trains one model per fold with `keras_har.training.fit`
(the reference recipe) and reports per-fold and mean +- std macro-F1 and
accuracy, the summed confusion matrix, params, MACs, epochs run and seconds
per epoch. Everything lands in ``output_dir`` (the files are
`keras_har.fold_store`'s):

- ``run.json``: the configuration; a rerun with another one is refused;
- ``folds/fold_XX.json`` (+ ``.npz`` with the test labels and predictions),
  written atomically as each fold finishes, so a killed run resumes where it
  stopped: a rerun into the same folder skips finished folds (and a rerun
  with a larger ``folds`` under ``"paper"``/``"loso"`` only adds folds);
  ``fold_indices`` runs chosen folds, so several processes or machines can
  share one folder, each with its own folds; ``jobs`` runs several folds
  at once in worker processes, each fold exactly as it runs alone;
- ``checkpoints/fold_XX.keras``: the best-validation model of each fold;
- ``tensorboard/fold_XX``: loss, accuracy and learning rate per epoch, and the
  fold's test confusion matrix as an image;
- ``results.json``, ``folds.csv`` and ``confusion.png`` once all folds are done.

Per fold, as in the official code: the test subjects are held out, the
remaining windows are standardised per channel with statistics fitted on
them alone, and 10% of them, drawn at random, are kept for validation.
Standard deviations over folds are population standard deviations (ddof=0).
"""

import os
import time

import numpy as np

from keras_har import atomic, training
from keras_har.fold_store import (
    baseline_summary,
    check_settings,
    finished_fold,
    fold_checkpoint,
    log_confusion_matrix,
    summarise,
    write_fold,
    write_summary,
)
from keras_har.metrics import classification_scores
from keras_har.models.registry import resolve_builder

PROTOCOLS = ("paper", "loso", "kfold", "split")
DEFAULT_KFOLD_SPLITS = 5
# Without official folds: leave-one-subject-out up to this many subjects,
# subject k-fold above it (LOSO would cost one training per subject).
LOSO_MAX_SUBJECTS = 10


def default_protocol(dataset):
    """The protocol `cross_validate` uses when none is given, and why.

    The paper's folds for a dataset that has official ones; the predefined
    train/test split of data without subjects (`HARDataset.test_mask`);
    otherwise leave-one-subject-out for up to 10 subjects and subject
    k-fold (5 groups) above.

    Returns:
        ``(protocol, reason)``.

    Example:
    >>> import keras_har, keras_har.evaluation
    >>> data = keras_har.datasets.load_dataset("my_recordings/")  # doctest: +SKIP
    >>> keras_har.evaluation.default_protocol(data)  # doctest: +SKIP
    ('loso', 'my_recordings has no official folds; 4 subjects, one left out per fold')
    """
    from keras_har.datasets import splits

    if dataset.name in splits.PAPER_SUBJECT_GROUPS:
        return "paper", f"the official folds of {dataset.name}"
    if dataset.test_mask is not None:
        return "split", f"{dataset.name} has no official folds and a predefined train/test split"
    subjects = len(np.unique(dataset.subjects))
    if subjects <= LOSO_MAX_SUBJECTS:
        return "loso", f"{dataset.name} has no official folds; {subjects} subjects, one left out per fold"
    return "kfold", (f"{dataset.name} has no official folds; {subjects} subjects in "
                     f"{DEFAULT_KFOLD_SPLITS} groups (over {LOSO_MAX_SUBJECTS} subjects)")


BASELINE_TREES = 100
BASELINE_KEYS = ("baseline_majority_macro_f1", "baseline_features_macro_f1")
BASELINE_DESCRIPTIONS = {
    "majority": "every test window gets the most frequent class of the fold's training windows",
    "features": f"RandomForestClassifier(n_estimators={BASELINE_TREES}) on per-channel "
                f"mean/std/min/max of each window, trained on the fold's training windows",
}


def window_features(windows):
    """Per-channel mean, standard deviation, minimum and maximum of every window.

    The features of the feature baseline (`baseline_scores`).

    Args:
        windows: ``(N, T, C)`` array.

    Returns:
        ``(N, 4 * C)`` float64 array: the C means, then the C standard
        deviations, the C minima and the C maxima.

    Example:
    >>> import numpy as np, keras_har.evaluation
    >>> keras_har.evaluation.window_features(np.array([[[1.0], [3.0]]])).tolist()
    [[2.0, 1.0, 1.0, 3.0]]
    """
    windows = np.asarray(windows, dtype="float64")
    if windows.ndim != 3:
        raise ValueError(f"`windows` must have shape (N, T, C). Received: windows.shape={windows.shape}")
    return np.concatenate([windows.mean(1), windows.std(1), windows.min(1), windows.max(1)], axis=1)


def baseline_scores(dataset, train_idx, test_idx, *, seed=0):
    """Macro-F1 of two baselines trained and scored on one fold: the floor a model must clear.

    - majority: every test window gets the class most frequent among the
      fold's training windows (the smallest class index on a tie);
    - features: scikit-learn's ``RandomForestClassifier`` (100 trees, one
      job, ``random_state=seed``) on `window_features` of the training
      windows.

    Both are scored with `classification_scores`, as the model is.

    Args:
        dataset: a `keras_har.datasets.HARDataset`.
        train_idx, test_idx: the fold's training and test windows.
        seed: the random forest's seed.

    Returns:
        ``{"baseline_majority_macro_f1": ..., "baseline_features_macro_f1": ...}``.

    Example:
    >>> import numpy as np, keras_har, keras_har.evaluation
    >>> data = keras_har.datasets.HARDataset(
    ...     name="toy", X=np.arange(24.0).reshape(6, 4, 1), y=[0, 0, 1, 0, 0, 1], subjects=[1, 1, 1, 2, 2, 2],
    ...     class_names=["rest", "walk"], channel_names=["x"], sampling_rate_hz=50.0, window_sec=0.08, step_sec=0.08)
    >>> keras_har.evaluation.baseline_scores(data, [0, 1, 2], [3, 4, 5])["baseline_majority_macro_f1"]
    0.4
    """
    from sklearn.ensemble import RandomForestClassifier

    train_idx, test_idx = np.asarray(train_idx), np.asarray(test_idx)
    y_train, y_test = dataset.y[train_idx], dataset.y[test_idx]
    majority = int(np.bincount(y_train, minlength=dataset.num_classes).argmax())
    forest = RandomForestClassifier(n_estimators=BASELINE_TREES, n_jobs=1, random_state=seed)
    forest.fit(window_features(dataset.X[train_idx]), y_train)
    predicted = forest.predict(window_features(dataset.X[test_idx]))
    scores = [classification_scores(y_test, np.full(len(y_test), majority), dataset.num_classes),
              classification_scores(y_test, predicted, dataset.num_classes)]
    return {key: score["macro_f1"] for key, score in zip(BASELINE_KEYS, scores)}


def make_folds(dataset, protocol=None, *, folds=None, seed=0):
    """The ``(train_idx, test_idx)`` folds of a protocol, split by subject.

    Args:
        dataset: a `keras_har.datasets.HARDataset`.
        protocol: ``"paper"`` (the official code's folds for this dataset),
            ``"loso"`` (leave one subject out), ``"kfold"`` (subject groups)
            or ``"split"`` (the dataset's predefined train/test split, one
            fold); None chooses with `default_protocol`.
        folds: for ``"kfold"``, the number of subject groups (default 5);
            for ``"paper"`` and ``"loso"``, run only the first ``folds`` folds
            (to fit a compute budget; default all).
        seed: seed of the subject grouping for ``"kfold"``.

    Returns:
        ``(fold_list, folds_total)``.

    Example:
    >>> import keras_har, keras_har.evaluation
    >>> data = keras_har.datasets.load_dataset("hapt", data_home="DATA")  # doctest: +SKIP
    >>> folds, total = keras_har.evaluation.make_folds(data, "loso", folds=3)  # doctest: +SKIP
    """
    from keras_har.datasets import splits

    if protocol is None:
        protocol, _ = default_protocol(dataset)
    if protocol not in PROTOCOLS:
        raise ValueError(f"`protocol` must be one of {list(PROTOCOLS)}. Received: protocol={protocol!r}")
    if protocol == "split":
        if dataset.test_mask is None:
            raise ValueError(
                f"Protocol 'split' needs a predefined test split (a CSV folder with train/ and test/ recordings); "
                f"{dataset.name} has none. Received: protocol='split'"
            )
        return [(np.flatnonzero(~dataset.test_mask), np.flatnonzero(dataset.test_mask))], 1
    if folds is not None and (not isinstance(folds, (int, np.integer)) or isinstance(folds, bool) or folds < 1):
        raise ValueError(f"`folds` must be a positive integer or None. Received: folds={folds!r}")
    if protocol == "kfold":
        all_folds = splits.subject_kfold(dataset.subjects, n_splits=folds or DEFAULT_KFOLD_SPLITS, seed=seed)
        return list(all_folds), len(all_folds)
    if protocol == "paper":
        all_folds = splits.paper_folds(dataset.name, dataset.subjects)
    else:
        all_folds = splits.leave_one_subject_out(dataset.subjects)
    all_folds = list(all_folds)
    return all_folds[: folds or len(all_folds)], len(all_folds)


def holdout_split(dataset, *, protocol=None, fold=None, test_subjects=None, seed=0):
    """One train/test split, for a model that is trained once and deployed.

    Either one fold of a cross-validation protocol (`make_folds`; for a
    built-in dataset the paper's folds, for your own data the predefined
    split, else LOSO or subject k-fold, as `default_protocol` chooses), or
    the subjects named in ``test_subjects``.

    Args:
        dataset: a `keras_har.datasets.HARDataset`.
        protocol: ``"paper"``, ``"loso"``, ``"kfold"`` or ``"split"``;
            default `default_protocol`'s choice.
        fold: index of the protocol's fold to hold out (default 0).
        test_subjects: hold out these subjects instead, and train on all
            others: integer ids, or the names of a CSV folder's subjects
            (`HARDataset.subject_names`). Not together with ``protocol`` or
            ``fold``.
        seed: seed of the subject grouping for ``"kfold"``.

    Returns:
        ``(train_idx, test_idx, description)``; the description says which
        split was held out and why, for printing and for reports.

    Example:
    >>> import keras_har, keras_har.evaluation
    >>> data = keras_har.datasets.load_dataset("my_recordings/")  # doctest: +SKIP
    >>> train, test, text = keras_har.evaluation.holdout_split(data, test_subjects=["carol"])  # doctest: +SKIP
    >>> text  # doctest: +SKIP
    'test subjects 3 (carol), held out as named'
    """
    from keras_har.datasets import splits

    if test_subjects is not None:
        if protocol is not None or fold is not None:
            raise ValueError(
                "Give `test_subjects` (--test-subjects) or a protocol's fold (--protocol, --fold), not both. "
                f"Received: test_subjects={test_subjects!r}, protocol={protocol!r}, fold={fold!r}"
            )
        ids = _subject_ids(dataset, test_subjects)
        [(train_idx, test_idx)] = splits.held_out_subjects(dataset.subjects, ids)
        return train_idx, test_idx, f"test subjects {_describe_subjects(dataset, ids)}, held out as named"
    reason = None
    if protocol is None:
        protocol, reason = default_protocol(dataset)
    fold = 0 if fold is None else fold
    fold_list, folds_total = make_folds(dataset, protocol, seed=seed)
    if not isinstance(fold, (int, np.integer)) or isinstance(fold, bool) or not 0 <= fold < folds_total:
        raise ValueError(
            f"`fold` (--fold) must be a fold number in [0, {folds_total}) of protocol {protocol!r} on "
            f"{dataset.name}. Received: fold={fold!r}"
        )
    train_idx, test_idx = fold_list[fold]
    ids = np.unique(dataset.subjects[test_idx]).tolist()
    if protocol == "split":
        held_out = "the predefined test split"
    else:
        held_out = f"test subjects {_describe_subjects(dataset, ids)}"
    description = f"fold {fold} of protocol {protocol}: {held_out}"
    if reason:
        description += f" (protocol chosen because {reason})"
    return train_idx, test_idx, description


def _subject_ids(dataset, test_subjects):
    """Subject ids from ids or `dataset.subject_names` names, refused by name when neither."""
    subjects = np.unique(dataset.subjects)
    if len(subjects) < 2:
        hint = " It has a predefined train/test split: use protocol 'split' (--protocol split)." if (
            dataset.test_mask is not None) else ""
        raise ValueError(
            f"Holding out subjects needs data from several subjects; {dataset.name} has only subject id "
            f"{int(subjects[0])}.{hint} Received: test_subjects={test_subjects!r}"
        )
    by_name = {str(name): subject for subject, name in (dataset.subject_names or {}).items()}
    ids = []
    for subject in test_subjects:
        text = str(subject).strip()
        if text in by_name:
            ids.append(by_name[text])
        elif text.lstrip("-").isdigit():
            ids.append(int(text))
        else:
            raise ValueError(
                f"Subject {text!r} is neither a subject id nor a subject name of {dataset.name} (its subjects: "
                f"{_describe_subjects(dataset, subjects.tolist())}). Received: test_subjects={test_subjects!r}"
            )
    return ids


def _describe_subjects(dataset, ids):
    names = dataset.subject_names or {}
    return ", ".join(f"{subject} ({names[subject]})" if subject in names else str(subject) for subject in ids)


def cross_validate(
    model_builder_or_name,
    dataset,
    *,
    output_dir,
    protocol=None,
    folds=None,
    epochs=None,
    seed=0,
    model_kwargs=None,
    batch_size=training.BATCH_SIZE,
    val_fraction=training.VAL_FRACTION,
    jit_compile=training.JIT_COMPILE,
    verbose=2,
    fold_indices=None,
    baselines=True,
    jobs=1,
    threads_per_job=None,
):
    """Cross-validates a model by subject and writes the results to ``output_dir``.

    Args:
        model_builder_or_name: a model name (``"tinierhar"``, ``"tinyhar"``,
            ``"deepconvlstm"``) or ``build(input_shape, num_classes)``.
        dataset: a `keras_har.datasets.HARDataset`.
        output_dir: folder for results, checkpoints and TensorBoard logs. A
            rerun into the same folder with the same settings skips the folds
            already finished.
        protocol: ``"paper"``, ``"loso"``, ``"kfold"`` or ``"split"`` (see
            `make_folds`); default None: the paper's folds where the dataset
            has official ones, else the choice of `default_protocol`, which
            is printed and recorded in ``results.json``.
        folds: see `make_folds`.
        epochs: most epochs per fold; default the reference's 150.
        seed: seed for weights, shuffling, the validation draw and k-fold
            grouping; reset at the start of every fold.
        model_kwargs: constructor arguments for a named model, e.g.
            ``{"filters": 8, "recurrent": "gru"}``.
        batch_size: windows per batch.
        val_fraction: share of the training windows kept for validation.
        jit_compile: compile the train step with XLA.
        verbose: Keras progress per fold (0 silent, 1 bar, 2 a line an epoch).
        fold_indices: run only these folds (0-based, in the protocol's
            order) instead of the first ``folds``; e.g. ``[3, 4, 5]``. Fold
            files are per fold and written atomically, so several processes
            or machines can share one ``output_dir``, each with its own
            indices; a last call without ``fold_indices`` then finds every
            fold finished and writes the summary of all of them.
        baselines: also score a majority-class baseline and a random forest
            on per-channel mean/std/min/max on every fold (`baseline_scores`):
            per fold and as ``baseline_*_macro_f1_mean``/``_std`` in
            ``results.json``. A network below them has learnt less than the
            simple features; the summary then says so.
        jobs: folds run at once, each in its own worker process (started
            with "spawn"). A fold runs the same code with the same seed and
            data as in the sequential run and writes the same fold files, so
            its result depends only on the thread settings, not on ``jobs``.
            A model given as a builder must then be picklable (a module-level
            function or class instance); Keras progress is off (``verbose``
            0) when ``jobs > 1``.
        threads_per_job: TensorFlow's intra-op and inter-op thread counts in
            each worker, set before TensorFlow does any work; default
            ``max(1, os.cpu_count() // jobs)``. Given with ``jobs=1``, the
            folds also run in one worker process, so that the threads can be
            set (TensorFlow fixes them at its first operation). With
            ``jobs=1`` and no ``threads_per_job``, folds run in this process
            with TensorFlow's default threads, as before.

    Returns:
        The dict written to ``results.json`` (the folds of this call).

    Example:
    >>> import keras_har, keras_har.evaluation
    >>> data = keras_har.datasets.load_dataset("hapt", data_home="DATA")  # doctest: +SKIP
    >>> results = keras_har.evaluation.cross_validate(
    ...     "tinierhar", data, protocol="paper", output_dir="runs/hapt")  # doctest: +SKIP
    >>> results["macro_f1_mean"]  # doctest: +SKIP
    """
    from tqdm.auto import tqdm

    build, model_name = resolve_builder(model_builder_or_name, model_kwargs)
    parallel = _check_jobs(jobs, threads_per_job)
    if parallel:
        threads_per_job = threads_per_job or max(1, (os.cpu_count() or 1) // jobs)
        if isinstance(model_builder_or_name, str):
            builder_spec = (model_builder_or_name, dict(model_kwargs or {}))
        else:
            builder_spec = (_picklable_builder(build), None)
    epochs = training.EPOCHS if epochs is None else epochs
    if not isinstance(epochs, (int, np.integer)) or isinstance(epochs, bool) or epochs < 1:
        raise ValueError(f"`epochs` must be a positive integer or None. Received: epochs={epochs!r}")
    recipe = training.Recipe(epochs=int(epochs), batch_size=batch_size, val_fraction=val_fraction,
                             jit_compile=jit_compile)
    if protocol is None:
        protocol, reason = default_protocol(dataset)
        print(f"protocol: {protocol} ({reason})")
    fold_list, folds_total = make_folds(dataset, protocol, folds=folds, seed=seed)
    # Under kfold, `folds` is the number of subject groups, not a count of folds to run.
    selected = select_folds(fold_indices, folds_total, first=None if protocol == "kfold" else folds)
    if selected is None:
        selected = list(range(len(fold_list)))
    output_dir = atomic.writable_dir(output_dir, "output_dir")
    os.makedirs(os.path.join(output_dir, "folds"), exist_ok=True)
    config = {
        "model": model_name,
        "model_kwargs": dict(model_kwargs or {}),
        "dataset": dataset.name,
        "windows": int(len(dataset.y)),
        "window_shape": [int(dataset.X.shape[1]), int(dataset.X.shape[2])],
        "num_classes": int(dataset.num_classes),
        "protocol": protocol,
        "folds_total": folds_total,
        "epochs_max": int(epochs),
        "seed": int(seed),
        "batch_size": int(batch_size),
        "val_fraction": float(val_fraction),
    }
    # The number of folds run is left out of the check: fold i is the same
    # whichever count is asked for, so a run can be extended to more folds.
    check_settings(output_dir, config)

    fold_args = dict(recipe=recipe, seed=seed, verbose=verbose if jobs == 1 else 0, baselines=baselines)
    by_index = {}
    pending = []
    start = time.perf_counter()
    progress = tqdm(total=len(selected), desc=f"{model_name} on {dataset.name} ({protocol})", unit="fold")
    for index in selected:
        train_idx, test_idx = fold_list[index]
        result = finished_fold(output_dir, index)
        if result is not None:
            if baselines and not all(key in result for key in BASELINE_KEYS):
                # A fold finished without baselines (an older run, or --no-baselines): they are cheap.
                result.update(baseline_scores(dataset, train_idx, test_idx, seed=seed))
            by_index[index] = result
            progress.set_postfix(skipped=f"fold {index}")
            progress.update(1)
        elif parallel:
            pending.append(index)
        else:
            by_index[index] = run_fold(build, dataset, fold_list[index], index, output_dir, **fold_args)
            progress.set_postfix(macro_f1=f"{by_index[index]['macro_f1']:.3f}")
            progress.update(1)
    if pending:
        by_index.update(_run_folds_in_workers(
            builder_spec, dataset, fold_list, pending, output_dir, fold_args,
            jobs=jobs, threads_per_job=threads_per_job, progress=progress,
        ))
    fold_results = [by_index[index] for index in selected]
    progress.close()
    results = summarise(dict(config, folds_run=len(selected)), fold_results, dataset.class_names,
                        baseline_keys=BASELINE_KEYS, baselines=BASELINE_DESCRIPTIONS)
    results["wall_seconds_this_run"] = time.perf_counter() - start
    results["jobs"] = int(jobs)
    results["threads_per_job"] = threads_per_job
    write_summary(output_dir, results, dataset.class_names)
    if len(results["tensorflow_threads"]) > 1:
        print(f"note: the folds ran with different TensorFlow thread settings {results['tensorflow_threads']} "
              f"(None: not recorded); each fold's are in its fold file. A fold's floats depend on them, so "
              f"these folds are not bit-for-bit what one setting gives")
    if len(results["batch_norm_training"]) > 1:
        print(f"note: the folds ran with different batch-norm training routes {results['batch_norm_training']} "
              f"(KERAS_HAR_BN_TRAINING; None: not recorded); each fold's is in its fold file. They compute the same "
              f"function, but not bit for bit")
    if "baseline_features_macro_f1_mean" in results:
        print(baseline_summary(results))
    return results


def run_fold(build, dataset, fold, index, output_dir, *, recipe=None, seed=0, verbose=0, baselines=True,
             standardizer=None, checkpoint=True):
    """Trains and scores one fold and writes its files.

    The one fold runner: `cross_validate` runs it for every fold, in this
    process (``jobs=1``) or in worker processes (``jobs > 1``), and the
    tuner (`keras_har.tuning.HARTuner`) for every fold of a trial. So a
    fold's seed, data and recipe do not depend on who runs it or how many
    run at once. The fold's ``.npz`` is written first and its ``.json``
    last, each atomically: the json's presence marks the fold as finished.

    Args:
        build: ``build(input_shape, num_classes)`` returning a logits model.
        dataset: a `keras_har.datasets.HARDataset`.
        fold: ``(train_idx, test_idx)``.
        index: the fold's number in its protocol.
        output_dir: the run's folder.
        recipe: a `keras_har.training.Recipe`; default the official one.
        seed: seed of the validation draw, the weights and the shuffling,
            reset at the start of the fold.
        verbose: Keras progress (0 silent, 1 bar, 2 a line an epoch).
        baselines: also score the baselines (`baseline_scores`).
        standardizer: a fitted `keras_har.datasets.Standardizer` to use
            instead of fitting one on the fold's training windows (the
            label-scarce study fits it on all windows of the training
            subjects, labelled or not).
        checkpoint: also write the best model to ``checkpoints/`` (it is
            kept in memory and restored either way).

    Returns:
        The dict written to ``folds/fold_XX.json``. Its ``validation`` is
        ``"held out"``, or ``"training windows"`` when the recipe's
        stratified split had nothing to hold out (every class has a single
        window): the learning-rate schedule, early stopping and the choice
        of the best epoch then watch the loss on the training windows.
    """
    from keras_har.datasets.splits import Standardizer, train_val_split
    from keras_har.layers import time_conv
    from keras_har.profiler import profile

    recipe = training.Recipe() if recipe is None else recipe
    fold_start = time.perf_counter()
    train_idx, test_idx = np.asarray(fold[0]), np.asarray(fold[1])
    input_shape = (int(dataset.X.shape[1]), int(dataset.X.shape[2]))
    num_classes = int(dataset.num_classes)
    if standardizer is None:
        standardizer = Standardizer().fit(dataset.X[train_idx])
    validation = "held out"
    if recipe.val_split == "random":
        fit_idx, val_idx = train_val_split(train_idx, val_fraction=recipe.val_fraction, seed=seed)
    elif np.bincount(dataset.y[train_idx]).max() < 2:
        fit_idx = val_idx = train_idx
        validation = "training windows"
    else:
        fit_idx, val_idx = train_val_split(train_idx, y=dataset.y, val_fraction=recipe.val_fraction, seed=seed)
    x_fit = standardizer.transform(dataset.X[fit_idx])
    x_val = standardizer.transform(dataset.X[val_idx])
    x_test = standardizer.transform(dataset.X[test_idx])

    training.set_seed(seed)
    model = build(input_shape=input_shape, num_classes=num_classes)
    counts = profile(model)
    log_dir = os.path.join(output_dir, "tensorboard", f"fold_{index:02d}")
    fitted = training.fit(
        model,
        (x_fit, dataset.y[fit_idx]),
        (x_val, dataset.y[val_idx]),
        **recipe.fit_kwargs(),
        seed=seed,
        checkpoint_path=fold_checkpoint(output_dir, index) if checkpoint else None,
        log_dir=log_dir,
        verbose=verbose,
    )
    y_test = dataset.y[test_idx]
    y_pred = training.predict_classes(model, x_test, batch_size=recipe.batch_size)
    scores = classification_scores(y_test, y_pred, num_classes)
    log_confusion_matrix(log_dir, scores["confusion"], dataset.class_names, scores=scores)
    seconds = fitted["seconds_per_epoch"]
    result = {
        "fold": index,
        "test_subjects": sorted(int(s) for s in np.unique(dataset.subjects[test_idx])),
        "n_train": int(len(fit_idx)),
        "n_val": int(len(val_idx)),
        "validation": validation,
        "n_test": int(len(test_idx)),
        "accuracy": scores["accuracy"],
        "macro_f1": scores["macro_f1"],
        "weighted_f1": scores["weighted_f1"],
        "epochs_run": fitted["epochs_run"],
        "best_epoch": fitted["best_epoch"],
        # The median ignores the first epoch's graph tracing.
        "seconds_per_epoch": float(np.median(seconds)),
        "first_epoch_seconds": float(seconds[0]),
        # The epochs' own time (training steps and validation), all epochs with the work between them
        # (checkpoint writes, TensorBoard, the iterators), then the whole fold.
        "epoch_seconds_sum": float(np.sum(seconds)),
        "fit_seconds": fitted["fit_seconds"],
        "fold_seconds": time.perf_counter() - fold_start,
        "params": int(counts["params"]),
        "macs": int(counts["macs"]),
        # The floats of a fold depend on TensorFlow's thread counts (0: its
        # default, all cores), so each fold records the ones it ran with.
        "tensorflow_threads": _tensorflow_threads(),
        # So do they on the batch norm's training route (`keras_har.layers.time_conv`).
        "batch_norm_training": time_conv.batch_norm_training_route(),
        "confusion": scores["confusion"].tolist(),
        "standardizer": standardizer.to_dict(),
    }
    if baselines:
        result.update(baseline_scores(dataset, train_idx, test_idx, seed=seed))
    write_fold(output_dir, index, result, y_true=y_test, y_pred=y_pred)
    return result


def _tensorflow_threads():
    """TensorFlow's intra-op and inter-op thread counts in this process (0: TensorFlow's default)."""
    from keras_har.backend import tf

    return {"intra_op": int(tf.config.threading.get_intra_op_parallelism_threads()),
            "inter_op": int(tf.config.threading.get_inter_op_parallelism_threads())}


class FoldError(RuntimeError):
    """A fold failed in a worker process (`cross_validate` with ``jobs > 1``); the message names the fold."""


def _check_jobs(jobs, threads_per_job):
    """Validates ``jobs`` and ``threads_per_job``; True when folds run in worker processes."""
    if not isinstance(jobs, (int, np.integer)) or isinstance(jobs, bool) or jobs < 1:
        raise ValueError(f"`jobs` (--jobs) must be a positive integer. Received: jobs={jobs!r}")
    if threads_per_job is not None and (
            not isinstance(threads_per_job, (int, np.integer)) or isinstance(threads_per_job, bool)
            or threads_per_job < 1):
        raise ValueError(
            f"`threads_per_job` (--threads-per-job) must be a positive integer or None. "
            f"Received: threads_per_job={threads_per_job!r}"
        )
    return jobs > 1 or threads_per_job is not None


def _picklable_builder(build):
    import pickle

    try:
        pickle.dumps(build)
    except Exception as error:  # pickle raises several types (PicklingError, AttributeError, TypeError)
        raise ValueError(
            "With `jobs` > 1 or `threads_per_job`, a model builder must be picklable (a module-level function "
            f"or an instance of a module-level class), or give the model by name ({error}). Received: model={build!r}"
        ) from None
    return build


# Set in each worker process by _init_worker; a worker runs many folds.
_WORKER = {}


def _init_worker(builder_spec, dataset, fold_list, threads_per_job):
    """Runs first in each worker: TensorFlow's threads are set before it does any work."""
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL") != "0":  # "0": the parent is `keras-har --verbose`
        from keras_har.tf_logging import quiet_tensorflow

        quiet_tensorflow()
    from keras_har.backend import tf

    tf.config.threading.set_intra_op_parallelism_threads(threads_per_job)
    tf.config.threading.set_inter_op_parallelism_threads(threads_per_job)
    model, model_kwargs = builder_spec
    build = resolve_builder(model, model_kwargs)[0] if isinstance(model, str) else model
    _WORKER.update(build=build, dataset=dataset, fold_list=fold_list)


def _worker_fold(index, output_dir, fold_args):
    return run_fold(_WORKER["build"], _WORKER["dataset"], _WORKER["fold_list"][index], index, output_dir,
                    **fold_args)


def _run_folds_in_workers(builder_spec, dataset, fold_list, indices, output_dir, fold_args, *, jobs,
                          threads_per_job, progress):
    """Runs ``indices`` in a pool of ``jobs`` spawned processes; ``{index: result}``.

    The first failed fold stops the run: folds not started are cancelled,
    folds already running finish and keep their files (a rerun resumes),
    and a `FoldError` names the failed fold.
    """
    import concurrent.futures
    import multiprocessing

    workers = min(jobs, len(indices))
    progress.write(f"{len(indices)} folds in {workers} worker processes, {threads_per_job} TensorFlow threads each")
    results = {}
    with concurrent.futures.ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(builder_spec, dataset, fold_list, threads_per_job),
    ) as pool:
        futures = {pool.submit(_worker_fold, index, output_dir, fold_args): index for index in indices}
        try:
            for future in concurrent.futures.as_completed(futures):
                index = futures[future]
                try:
                    result = future.result()
                except Exception as error:
                    raise FoldError(
                        f"fold {index} failed in its worker process: {type(error).__name__}: {error}"
                    ) from error
                results[index] = result
                progress.write(f"fold {index} done: macro-F1 {result['macro_f1']:.4f}, "
                               f"{result['epochs_run']} epochs, {result['fold_seconds']:.0f} s")
                progress.set_postfix(macro_f1=f"{result['macro_f1']:.3f}")
                progress.update(1)
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    return results


def select_folds(fold_indices, folds_total, *, first=None):
    """The validated, sorted fold indices of ``fold_indices``; None when not given.

    Args:
        fold_indices: fold numbers, or None.
        folds_total: how many folds the split has.
        first: a "run the first K folds" count given beside them, which is
            refused (None when there is none).
    """
    if fold_indices is None:
        return None
    if first is not None:
        raise ValueError(
            "Give either `folds` (the first K folds) or `fold_indices`, not both. "
            f"Received: folds={first!r}, fold_indices={fold_indices!r}"
        )
    indices = list(fold_indices) if not isinstance(fold_indices, (int, np.integer)) else [fold_indices]
    bad = [index for index in indices
           if not isinstance(index, (int, np.integer)) or isinstance(index, bool) or not 0 <= index < folds_total]
    if not indices or bad:
        raise ValueError(
            f"`fold_indices` must be fold numbers in [0, {folds_total}) for this protocol. "
            f"Received: fold_indices={fold_indices!r}"
        )
    return sorted({int(index) for index in indices})
