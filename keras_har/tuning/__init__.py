"""Hyperparameter search for TinierHAR with KerasTuner: the paper's scalability study.

``run_search`` trains the M (filters) x N (GRU units) grid, or a random,
Bayesian or Hyperband search over a wider space, scores each configuration
by macro-F1 on held-out subjects, skips configurations over a hardware
budget, and writes trials.csv, pareto.csv and pareto.png. KerasTuner is
imported through ``keras_har.tuning._keras_tuner`` so that it accepts
keras_har's tf_keras models.

Example:
>>> import keras_har.tuning
>>> keras_har.tuning.run_search("hapt", tuner="grid", epochs=20, directory="runs")  # doctest: +SKIP
"""

from keras_har.tuning._keras_tuner import keras_tuner
from keras_har.tuning.budget import Budget, estimate_tflite_footprint, model_footprint
from keras_har.tuning.data import SearchData, load_search_data, subject_folds
from keras_har.tuning.har_tuner import HARTuner
from keras_har.tuning.reports import pareto_mask
from keras_har.tuning.search import make_oracle, run_search
from keras_har.tuning.tinier_har_hyper_model import TinierHARHyperModel

__all__ = [
    "Budget",
    "HARTuner",
    "SearchData",
    "TinierHARHyperModel",
    "estimate_tflite_footprint",
    "keras_tuner",
    "load_search_data",
    "make_oracle",
    "model_footprint",
    "pareto_mask",
    "run_search",
    "subject_folds",
]
