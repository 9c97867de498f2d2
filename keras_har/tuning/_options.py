"""Search options shared by the command line and `run_search`, importable without TensorFlow."""

TUNERS = ("grid", "random", "bayesian", "hyperband")
SPACES = ("paper_grid", "wide")
# The reference recipe's epoch cap (official train.py).
DEFAULT_EPOCHS = 150
# Random and Bayesian searches need a trial count; grid search walks the grid.
DEFAULT_MAX_TRIALS = 20
# How flash, arena and (on the Cortex-M4) instructions of a configuration are known; see keras_har.tuning.budget.
FOOTPRINT_MODES = ("estimate", "measure", "measure-cortex-m4", "measure-python")
# How the measured export writes a GRU (keras_har.export.convert_int8's recurrence): "merged"
# unrolls it into stock ops, "fused" is the one KERAS_HAR_BIGRU op of the default export.
EXPORT_RECURRENCES = ("merged", "fused")
