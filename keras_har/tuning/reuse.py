"""Folds of a finished cross-validation that a search takes instead of training them again.

A trial of the tuner trains each fold with `keras_har.evaluation.run_fold`,
the runner `keras_har.evaluation.cross_validate` uses. So when
``keras-har evaluate`` has already run TinierHAR with the same
configuration, protocol, seed and recipe on the same data, its fold files
are the files the trial would write (up to TensorFlow's thread settings,
which each fold records), and the search copies them (``--reuse-cv``).
"""

import inspect
import json
import os
import shutil

import numpy as np

from keras_har import atomic, fold_store
from keras_har.models.tinier_har import _ARCHITECTURE, TinierHAR
from keras_har.training import LEARNING_RATE, WEIGHT_DECAY

# TinierHAR's architecture arguments with their defaults: an evaluate run
# records only the arguments it was given.
_ARCHITECTURE_DEFAULTS = {
    name: parameter.default
    for name, parameter in inspect.signature(TinierHAR.__init__).parameters.items()
    if name in _ARCHITECTURE
}


def _architecture(model_kwargs):
    return dict(_ARCHITECTURE_DEFAULTS, **{key: value for key, value in model_kwargs.items()
                                           if key in _ARCHITECTURE_DEFAULTS})


class CrossValidationFolds:
    """Finished ``keras-har evaluate`` folders whose folds a search may copy.

    Each folder's ``run.json`` must describe TinierHAR on the search's data
    (name, window count and shape, classes) with the search's protocol and
    seed; otherwise the folder is refused with the settings that differ.
    Every finished fold of a folder must have tested the subjects of the
    search's fold of that number, or the folder is refused before any
    trial runs. A fold is then copied into a trial when the trial's TinierHAR
    configuration equals the folder's (defaults filled in) and the trial's
    recipe equals the folder's (epochs, batch size, validation share, and
    the official learning rate and weight decay, which ``evaluate`` always
    uses). The copied ``fold_XX.json`` says where it came from
    (``reused_from``).

    Args:
        directories: ``evaluate --output`` folders.
        dataset: the search's `keras_har.datasets.HARDataset`.
        protocol: the search's protocol (`keras_har.evaluation.PROTOCOLS`).
        seed: the search's seed.
        folds: the search's folds as `keras_har.tuning.search.search_folds`
            gives them, ``(index, (train, test))`` pairs; when given, the
            folders' fold files are checked against them here. `copy` checks each
            fold it copies in any case.

    Example:
    >>> from keras_har.tuning.reuse import CrossValidationFolds
    >>> CrossValidationFolds().sources
    []
    """

    def __init__(self, directories=(), *, dataset=None, protocol=None, seed=0, folds=None):
        self.sources = []
        for directory in directories:
            run_path = os.path.join(directory, "run.json")
            if not os.path.isfile(run_path):
                raise FileNotFoundError(
                    f"`reuse_cv` (--reuse-cv) must name a folder written by `keras-har evaluate`; it has no "
                    f"run.json: {run_path}. Received: reuse_cv={directory!r}"
                )
            with open(run_path, encoding="utf-8") as handle:
                run = json.load(handle)
            expected = {
                "model": "tinierhar",
                "dataset": dataset.name,
                "windows": int(len(dataset.y)),
                "window_shape": [int(d) for d in dataset.X.shape[1:]],
                "num_classes": int(dataset.num_classes),
                "protocol": protocol,
                "seed": int(seed),
            }
            differs = {key: (run.get(key), value) for key, value in expected.items() if run.get(key) != value}
            if differs:
                listed = "; ".join(f"{key}: {stored!r} there, {wanted!r} here" for key, (stored, wanted) in differs.items())
                raise ValueError(
                    f"The cross-validation in {directory} did not run the folds of this search ({listed}), so its "
                    f"folds cannot stand in for them. Received: reuse_cv={directory!r}"
                )
            for index, fold in folds or ():
                if os.path.exists(fold_store.fold_file(directory, index)):
                    _check_subjects(directory, index, fold, dataset)
            self.sources.append((directory, run))

    def find(self, model_kwargs, recipe, index):
        """The folder holding fold ``index`` of this configuration trained with ``recipe``, or None."""
        if (recipe.learning_rate, recipe.weight_decay) != (LEARNING_RATE, WEIGHT_DECAY):
            return None
        for directory, run in self.sources:
            if _architecture(run.get("model_kwargs", {})) != _architecture(model_kwargs):
                continue
            if (run.get("epochs_max"), run.get("batch_size"), run.get("val_fraction")) != (
                    recipe.epochs, recipe.batch_size, recipe.val_fraction):
                continue
            if os.path.exists(fold_store.fold_file(directory, index)):
                return directory
        return None

    def copy(self, directory, index, fold, dataset, output_dir):
        """Copies fold ``index`` from ``directory`` into ``output_dir``; its result, with ``reused_from``.

        The fold's test subjects are checked against ``fold``; the ``.npz``
        and the fold's checkpoint are copied first and the ``.json`` last,
        each atomically, as `keras_har.evaluation.run_fold` writes them.
        """
        source = fold_store.fold_file(directory, index)
        result = _check_subjects(directory, index, fold, dataset)
        result["reused_from"] = str(directory)
        target = fold_store.fold_file(output_dir, index)
        copies = [(source[: -len(".json")] + ".npz", target[: -len(".json")] + ".npz"),
                  (fold_store.fold_checkpoint(directory, index), fold_store.fold_checkpoint(output_dir, index))]
        for origin, destination in copies:
            if os.path.exists(origin):
                os.makedirs(os.path.dirname(destination), exist_ok=True)
                with atomic.atomic_path(destination) as temporary:
                    shutil.copyfile(origin, temporary)
        atomic.write_json(target, result)
        return result


def _check_subjects(directory, index, fold, dataset):
    """Fold ``index`` of ``directory``, refused unless it tested the subjects of the search's ``fold``."""
    result = fold_store.finished_fold(directory, index)
    subjects = sorted(int(s) for s in np.unique(dataset.subjects[np.asarray(fold[1])]))
    if result is None or result.get("test_subjects") != subjects:
        raise ValueError(
            f"{fold_store.fold_file(directory, index)} holds fold {index} with test subjects "
            f"{None if result is None else result.get('test_subjects')}, but this search's fold {index} tests "
            f"subjects {subjects}: the folder was not written for these folds. Received: reuse_cv={directory!r}"
        )
    return result
