"""Search options shared by the command line and `run_search`, importable without TensorFlow."""

TUNERS = ("grid", "random", "bayesian", "hyperband")
SPACES = ("paper_grid", "wide")
# The reference recipe's epoch cap (official train.py).
DEFAULT_EPOCHS = 150
# Random and Bayesian searches need a trial count; grid search walks the grid.
DEFAULT_MAX_TRIALS = 20
