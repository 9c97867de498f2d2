"""A KerasTuner Tuner that scores trials by macro-F1 on held-out subjects."""

import json
import os
import time

import numpy as np

from keras_har import atomic, evaluation, fold_store
from keras_har.backend import tf
from keras_har.export.footprint import FootprintError
from keras_har.training import load_model
from keras_har.tuning._keras_tuner import keras_tuner
from keras_har.tuning.budget import Budget, check_export_recurrence, model_footprint, resolve_footprint_mode
from keras_har.tuning.reuse import CrossValidationFolds

OBJECTIVE = "val_macro_f1"
RESULT_FILE = "result.json"
FIT_LOG_FILE = "fit_log.csv"
TENSORBOARD_DIR = "tensorboard"


class HARTuner(keras_tuner.Tuner):
    """Runs each trial over subject folds, within a hardware budget.

    For every trial the model is built and footprinted first
    (`keras_har.tuning.budget.model_footprint`); a configuration over
    ``budget`` ends as a FAILED trial with the message "over budget: ..."
    and is never trained. Otherwise every fold is trained and scored by
    `keras_har.evaluation.run_fold`, the runner cross-validation uses, with
    the trial's `keras_har.training.Recipe` (``hypermodel.recipe(hp)``): the
    fold's windows standardised with its training statistics, 10% of them
    kept for early stopping, macro-F1 on the held-out subjects. The
    trial's objective ``val_macro_f1`` is the mean over folds (its
    ``val_macro_f1_std`` the population std); the footprint is reported
    with it, so it reaches the chief in distributed tuning.

    Every trial leaves ``trial_<id>/result.json`` (footprint, per-fold
    scores, recipe, status), the fold files of `run_fold`
    (``trial_<id>/folds/fold_XX.json`` and ``.npz``, the best model of each
    fold in ``checkpoints/``, its training curves in ``tensorboard/``), a
    TensorBoard HParams record under ``tensorboard/trial_<id>`` of the
    project, and one line per training run in ``fit_log.csv`` (appended
    with a single write, so concurrent workers do not interleave lines).
    A trial interrupted between folds keeps its finished folds when run
    again; a fold that a finished cross-validation of the same
    configuration and recipe already holds is copied from it (``reuse``)
    instead of trained again.

    Args:
        oracle: a KerasTuner oracle whose objective is ``val_macro_f1`` (max).
        hypermodel: a `keras_har.tuning.TinierHARHyperModel`.
        budget: a `keras_har.tuning.Budget`, or None for no limits.
        footprint: how the footprint is known, see
            `keras_har.tuning.budget.model_footprint`; default ``"measure"``
            when ``budget`` limits flash, arena or instructions, else
            ``"estimate"``. A ``max_instructions`` budget refuses
            ``"estimate"`` and ``"measure-python"``.
        export_recurrence: the export measured, ``"merged"`` (default) or
            ``"fused"``; see `keras_har.tuning.budget.model_footprint`.
        reuse: a `keras_har.tuning.reuse.CrossValidationFolds`, or None.
        **kwargs: `keras_tuner.Tuner` arguments (directory, project_name, overwrite).

    Example:
    >>> import keras_har.tuning
    >>> tuner = keras_har.tuning.HARTuner(  # doctest: +SKIP
    ...     keras_har.tuning.make_oracle("grid"),
    ...     keras_har.tuning.TinierHARHyperModel(input_shape=(128, 9), num_classes=6),
    ...     budget=keras_har.tuning.Budget(max_params=10_000), directory="runs")
    >>> tuner.search(dataset=data, folds=folds, epochs=150)  # doctest: +SKIP
    """

    def __init__(self, oracle, hypermodel, budget=None, footprint=None, export_recurrence="merged", reuse=None,
                 **kwargs):
        budget = budget or Budget()
        footprint = resolve_footprint_mode(footprint, budget)
        check_export_recurrence(export_recurrence, name="export_recurrence")
        super().__init__(oracle=oracle, hypermodel=hypermodel, **kwargs)
        self.budget = budget
        self.footprint = footprint
        self.export_recurrence = export_recurrence
        self._footprints = {}
        self._reuse = reuse or CrossValidationFolds()

    def _footprint(self, hp, model):
        """The model's footprint, measured at most once per set of hyperparameters."""
        key = json.dumps({k: v for k, v in hp.values.items() if not k.startswith("tuner/")}, sort_keys=True)
        if key not in self._footprints:
            self._footprints[key] = model_footprint(model, footprint=self.footprint, recurrence=self.export_recurrence)
        return self._footprints[key]

    def _try_run_and_update_trial(self, trial, *args, **kwargs):
        # The budget is checked here, before run_trial, so that a skipped
        # configuration ends as FAILED with a one-line message instead of
        # going through KerasTuner's exception path, which prints a
        # traceback for every skipped model. (Private hook of
        # keras-tuner 1.4.x, pinned in setup.py.)
        model = self._try_build(trial.hyperparameters)
        try:
            footprint = self._footprint(trial.hyperparameters, model)
        except FootprintError as error:
            # A configuration whose export cannot be measured cannot be shown
            # to fit a flash or arena budget, so it is not trained either.
            result = {"trial_id": trial.trial_id, "tuner_id": self.tuner_id, "status": "not_measured",
                      "violations": [str(error)]}
            atomic.write_json(os.path.join(self.get_trial_dir(trial.trial_id), RESULT_FILE), result, sort_keys=True)
            print(f"trial {trial.trial_id}: footprint not measured, not trained ({error})")
            trial.status = keras_tuner.engine.trial.TrialStatus.FAILED
            trial.message = f"footprint not measured: {error}"
            return
        violations = self.budget.violations(footprint)
        if not violations:
            return super()._try_run_and_update_trial(trial, *args, **kwargs)
        result = {"trial_id": trial.trial_id, "tuner_id": self.tuner_id, "status": "over_budget",
                  "violations": violations, **footprint}
        atomic.write_json(os.path.join(self.get_trial_dir(trial.trial_id), RESULT_FILE), result, sort_keys=True)
        print(f"trial {trial.trial_id}: over budget, not trained ({'; '.join(violations)})")
        trial.status = keras_tuner.engine.trial.TrialStatus.FAILED
        trial.message = "over budget: " + "; ".join(violations)

    def run_trial(self, trial, *, dataset, folds, epochs, seed=0, keras_verbose=0):
        """Trains and scores the trial's configuration on every fold; the metrics for the oracle.

        Args:
            trial: the KerasTuner trial.
            dataset: a `keras_har.datasets.HARDataset`.
            folds: ``[(index, (train_idx, test_idx)), ...]`` from
                `keras_har.tuning.search.search_folds`.
            epochs: most epochs (Hyperband gives each trial its own).
            seed: every fold's seed, as in cross-validation.
            keras_verbose: Keras progress while training.
        """
        hp = trial.hyperparameters
        trial_dir = self.get_trial_dir(trial.trial_id)
        model = self._try_build(hp)
        footprint = self._footprint(hp, model)
        result = {"trial_id": trial.trial_id, "tuner_id": self.tuner_id, **footprint}
        recipe = self.hypermodel.recipe(hp, epochs=int(hp.values.get("tuner/epochs", epochs)))
        model_kwargs = self.hypermodel.model_kwargs(hp)

        def build(input_shape, num_classes):
            return self._try_build(hp)

        scores, reused, started = [], [], time.time()
        for count, (index, fold) in enumerate(folds, start=1):
            fold_result = fold_store.finished_fold(trial_dir, index)  # a trial interrupted after this fold
            if fold_result is None:
                source = self._reuse.find(model_kwargs, recipe, index)
                if source is not None:
                    fold_result = self._reuse.copy(source, index, fold, dataset, trial_dir)
                    reused.append(index)
                else:
                    self._log_fit(trial.trial_id, index, footprint)
                    fold_result = evaluation.run_fold(build, dataset, fold, index, trial_dir, recipe=recipe,
                                                      seed=seed, verbose=keras_verbose, baselines=False)
            scores.append(float(fold_result["macro_f1"]))
            origin = " (reused from cross-validation)" if index in reused else ""
            print(
                f"trial {trial.trial_id} fold {index} ({count}/{len(folds)}): macro-F1 {scores[-1]:.4f}{origin} "
                f"(M={hp.values.get('filters')}, N={hp.values.get('gru_units')}, "
                f"params {footprint['params']:,}, MACs {footprint['macs']:,})"
            )
        self._save_last_fold(trial.trial_id, trial_dir, folds[-1][0])
        metrics = {
            OBJECTIVE: float(np.mean(scores)),
            "val_macro_f1_std": float(np.std(scores)),
            "fit_seconds": round(time.time() - started, 2),
            # instructions_m and firmware_flash_kb are None unless measured on the Cortex-M4.
            **{key: float(value) for key, value in footprint.items() if value is not None},
        }
        result.update(status="completed", fold_macro_f1=scores, folds=[index for index, _ in folds],
                      reused_folds=reused, epochs=recipe.epochs, recipe=recipe.to_dict(), **metrics)
        atomic.write_json(os.path.join(trial_dir, RESULT_FILE), result, sort_keys=True)
        self._write_hparams(trial, metrics)
        return metrics

    def _save_last_fold(self, trial_id, trial_dir, index):
        """Keeps the last fold's best model as the trial's weights, so that get_best_models() works."""
        checkpoint = fold_store.fold_checkpoint(trial_dir, index)
        if os.path.exists(checkpoint):
            self.save_model(trial_id, load_model(checkpoint, argument="checkpoint"))

    def _log_fit(self, trial_id, fold, footprint):
        path = os.path.join(self.project_dir, FIT_LOG_FILE)
        line = f"{trial_id},{fold},{footprint['params']},{footprint['macs']},{self.tuner_id},{os.getpid()},{time.time():.3f}\n"
        # One write() in append mode: lines from concurrent workers stay whole.
        with open(path, "a", encoding="utf-8") as handle:
            if handle.tell() == 0:
                line = "trial_id,fold,params,macs,tuner_id,pid,unix_time\n" + line
            handle.write(line)

    def _write_hparams(self, trial, metrics):
        from tensorboard.plugins.hparams import api as hparams_api

        values = {
            name: value
            for name, value in trial.hyperparameters.values.items()
            if isinstance(value, (bool, int, float, str))
        }
        log_dir = os.path.join(self.project_dir, TENSORBOARD_DIR, f"trial_{trial.trial_id}")
        writer = tf.summary.create_file_writer(log_dir)
        with writer.as_default():
            hparams_api.hparams(values, trial_id=trial.trial_id)
            for name in (OBJECTIVE, "params", "macs"):
                tf.summary.scalar(name, metrics[name], step=0)
        writer.close()

    def save_model(self, trial_id, model, step=0):
        model.save_weights(self._get_checkpoint_fname(trial_id))
