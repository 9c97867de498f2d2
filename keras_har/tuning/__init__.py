"""Hyperparameter search for TinierHAR with KerasTuner: the paper's scalability study.

``run_search`` trains the M (filters) x N (GRU units) grid, or a random,
Bayesian or Hyperband search over a wider space, scores each configuration
by macro-F1 on held-out subjects, skips configurations over a hardware
budget, and writes trials.csv, pareto.csv and pareto.png. KerasTuner is
imported through ``keras_har.tuning._keras_tuner`` so that it accepts
keras_har's tf_keras models.

Names load on first use, so that ``keras-har --help`` (which imports
``keras_har.commands.tune``) does not import TensorFlow.

Example:
>>> import keras_har.tuning
>>> keras_har.tuning.run_search("hapt", tuner="grid", epochs=20, directory="runs")  # doctest: +SKIP
"""

import importlib

_LAZY = {
    "Budget": "keras_har.tuning.budget",
    "estimate_tflite_footprint": "keras_har.tuning.budget",
    "model_footprint": "keras_har.tuning.budget",
    "HARTuner": "keras_har.tuning.har_tuner",
    "CrossValidationFolds": "keras_har.tuning.reuse",
    "TinierHARHyperModel": "keras_har.tuning.tinier_har_hyper_model",
    "keras_tuner": "keras_har.tuning._keras_tuner",
    "make_oracle": "keras_har.tuning.search",
    "run_search": "keras_har.tuning.search",
    "search_folds": "keras_har.tuning.search",
    "pareto_mask": "keras_har.tuning.reports",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'keras_har.tuning' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
