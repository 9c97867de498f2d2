"""A KerasTuner Tuner that scores trials by macro-F1 on held-out subjects."""

import json
import os
import time

import numpy as np

from keras_har import atomic
from keras_har.backend import keras, tf
from keras_har.datasets import Standardizer
from keras_har.tuning._keras_tuner import keras_tuner
from keras_har.export.footprint import FootprintError
from keras_har.metrics import model_macro_f1
from keras_har.tuning.budget import Budget, check_export_recurrence, model_footprint, resolve_footprint_mode

OBJECTIVE = "val_macro_f1"
RESULT_FILE = "result.json"
FIT_LOG_FILE = "fit_log.csv"
TENSORBOARD_DIR = "tensorboard"
_PREDICT_BATCH_SIZE = 1024


class HARTuner(keras_tuner.Tuner):
    """Runs each trial over subject folds, within a hardware budget.

    For every trial the model is built and footprinted first
    (`keras_har.tuning.budget.model_footprint`); a configuration over
    ``budget`` ends as a FAILED trial with the message "over budget: ..."
    and is never trained. Otherwise, for
    each ``(train, score)`` fold the windows are standardised with the
    training statistics, a fresh model is trained with the hypermodel's
    ``fit(hp, ...)``, and macro-F1 is computed on the held-out subjects. The
    trial's objective ``val_macro_f1`` is the mean over folds; the footprint
    is reported with it, so it reaches the chief in distributed tuning.

    Every trial leaves ``trial_<id>/result.json`` (footprint, per-fold
    scores, status), a TensorBoard HParams record under
    ``tensorboard/trial_<id>``, and one line per training run in
    ``fit_log.csv`` (appended with a single write, so concurrent workers
    do not interleave lines).

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
        **kwargs: `keras_tuner.Tuner` arguments (directory, project_name, overwrite).

    Example:
    >>> import keras_har.tuning
    >>> tuner = keras_har.tuning.HARTuner(  # doctest: +SKIP
    ...     keras_har.tuning.make_oracle("grid"),
    ...     keras_har.tuning.TinierHARHyperModel(input_shape=(128, 9), num_classes=6),
    ...     budget=keras_har.tuning.Budget(max_params=10_000), directory="runs")
    >>> tuner.search(data=data, fold_indices=folds, epochs=150)  # doctest: +SKIP
    """

    def __init__(self, oracle, hypermodel, budget=None, footprint=None, export_recurrence="merged", **kwargs):
        budget = budget or Budget()
        footprint = resolve_footprint_mode(footprint, budget)
        check_export_recurrence(export_recurrence, name="export_recurrence")
        super().__init__(oracle=oracle, hypermodel=hypermodel, **kwargs)
        self.budget = budget
        self.footprint = footprint
        self.export_recurrence = export_recurrence
        self._footprints = {}

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

    def run_trial(self, trial, *, data, fold_indices, epochs, seed=0, keras_verbose=0):
        hp = trial.hyperparameters
        trial_dir = self.get_trial_dir(trial.trial_id)
        model = self._try_build(hp)
        footprint = self._footprint(hp, model)
        result = {"trial_id": trial.trial_id, "tuner_id": self.tuner_id, **footprint}
        # Hyperband gives each trial its own epoch count.
        epochs = int(hp.values.get("tuner/epochs", epochs))
        scores, started = [], time.time()
        for fold, (train, score) in enumerate(fold_indices):
            keras.utils.set_random_seed(seed + fold)
            if fold:
                model = self._try_build(hp)
            # The same per-fold standardisation as cross-validation (sample std, ddof=1).
            scaler = Standardizer().fit(data.x[train])
            x_train, x_score = scaler.transform(data.x[train]), scaler.transform(data.x[score])
            self._log_fit(trial.trial_id, fold, footprint)
            log_dir = os.path.join(self.project_dir, TENSORBOARD_DIR, f"trial_{trial.trial_id}", f"fold_{fold}")
            self.hypermodel.fit(
                hp, model, x_train, data.y[train], epochs=epochs, log_dir=log_dir, verbose=keras_verbose, seed=seed + fold
            )
            scores.append(model_macro_f1(model, x_score, data.y[score], batch_size=_PREDICT_BATCH_SIZE))
            print(
                f"trial {trial.trial_id} fold {fold + 1}/{len(fold_indices)}: macro-F1 {scores[-1]:.4f} "
                f"(M={hp.values.get('filters')}, N={hp.values.get('gru_units')}, "
                f"params {footprint['params']:,}, MACs {footprint['macs']:,})"
            )
        self.save_model(trial.trial_id, model)
        metrics = {
            OBJECTIVE: float(np.mean(scores)),
            "val_macro_f1_std": float(np.std(scores)),
            "fit_seconds": round(time.time() - started, 2),
            # instructions_m and firmware_flash_kb are None unless measured on the Cortex-M4.
            **{key: float(value) for key, value in footprint.items() if value is not None},
        }
        result.update(status="completed", fold_macro_f1=scores, epochs=epochs, **metrics)
        atomic.write_json(os.path.join(trial_dir, RESULT_FILE), result, sort_keys=True)
        self._write_hparams(trial, metrics)
        return metrics

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
        # The last fold's weights, so that get_best_models() works.
        model.save_weights(self._get_checkpoint_fname(trial_id))
