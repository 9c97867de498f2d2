"""TinierHAR as a KerasTuner HyperModel: the scalability study's search space."""

from keras_har.models.tinier_har import TinierHAR
# The reference recipe lives in keras_har.training; the search uses it as is.
from keras_har.training import BATCH_SIZE, LEARNING_RATE, WEIGHT_DECAY, Recipe
from keras_har.tuning._keras_tuner import keras_tuner
from keras_har.tuning._options import SPACES

# The paper's M x N scalability grid, from the comment in the official
# configs/model.yaml ("nb_filters = 2/4/8 ... num_gru_unit = 8/16/32").
PAPER_FILTERS = (2, 4, 8)
PAPER_GRU_UNITS = (8, 16, 32)
# The wide space: M in 2..32 and N in 4..64, roughly log-spaced so that a
# random or Bayesian search spends its trials evenly across model sizes.
WIDE_FILTERS = (2, 3, 4, 6, 8, 12, 16, 24, 32)
WIDE_GRU_UNITS = (4, 6, 8, 12, 16, 24, 32, 48, 64)


class TinierHARHyperModel(keras_tuner.HyperModel):
    """TinierHAR's search space for KerasTuner.

    ``build(hp)`` names the architecture hyperparameters: ``filters`` (M) and
    ``gru_units`` (N), plus, with ``tune_ablations=True``, the paper's
    ablation switches ``conv``, ``recurrent``, ``aggregation`` and
    ``residual``. ``_training_hyperparameters`` names the training ones:
    ``learning_rate``, ``weight_decay`` and ``batch_size``. Every one has the
    paper's value as its default. ``recipe(hp, epochs=...)`` turns the
    training ones into the `keras_har.training.Recipe` every fold of the
    trial is trained with.

    In the ``"paper_grid"`` space M is in {2, 4, 8} and N in {8, 16, 32} (the
    scalability grid of the official configs/model.yaml) and the training
    hyperparameters are fixed at the reference recipe, so a grid search runs
    exactly those 9 models. In the ``"wide"`` space M is in 2..32 and N in
    4..64 (nine roughly log-spaced values each) and the learning rate is
    searched too.

    Args:
        input_shape: ``(T, C)`` of the windows.
        num_classes: number of activity classes K.
        space: ``"paper_grid"`` or ``"wide"``.
        tune_ablations: also search the ablation switches.

    Example:
    >>> import keras_har.tuning
    >>> hypermodel = keras_har.tuning.TinierHARHyperModel(input_shape=(128, 9), num_classes=6)
    >>> model = hypermodel.build(keras_har.tuning.keras_tuner.HyperParameters())
    >>> model.count_params() > 0
    True
    """

    def __init__(self, input_shape, num_classes, space="paper_grid", tune_ablations=False, **kwargs):
        if space not in SPACES:
            raise ValueError(f"`space` must be one of {SPACES}. Received: space={space!r}")
        if len(tuple(input_shape)) != 2:
            raise ValueError(f"`input_shape` must be (T, C). Received: input_shape={input_shape!r}")
        super().__init__(**kwargs)
        self.input_shape = tuple(int(d) for d in input_shape)
        self.num_classes = int(num_classes)
        self.space = space
        self.tune_ablations = bool(tune_ablations)

    def model_kwargs(self, hp):
        """The trial's TinierHAR arguments besides the shapes (declares them in ``hp``)."""
        filters_values, gru_values = (
            (PAPER_FILTERS, PAPER_GRU_UNITS) if self.space == "paper_grid" else (WIDE_FILTERS, WIDE_GRU_UNITS)
        )
        filters = hp.Choice("filters", list(filters_values), default=4, ordered=True)
        gru_units = hp.Choice("gru_units", list(gru_values), default=16, ordered=True)
        if self.tune_ablations:
            # conv="none" is left out: with recurrent="none" it leaves no model.
            conv = hp.Choice("conv", ["separable", "standard"], default="separable")
            recurrent = hp.Choice("recurrent", ["bigru", "gru", "bilstm", "lstm", "none"], default="bigru")
            aggregation = hp.Choice("aggregation", ["attention", "mean", "last"], default="attention")
            residual = hp.Boolean("residual", default=True)
        else:
            conv, recurrent, aggregation, residual = "separable", "bigru", "attention", True
        dropout = hp.Fixed("dropout", 0.3)
        return {"filters": filters, "gru_units": gru_units, "conv": conv, "recurrent": recurrent,
                "aggregation": aggregation, "residual": residual, "dropout": dropout}

    def build(self, hp):
        return TinierHAR(input_shape=self.input_shape, num_classes=self.num_classes, **self.model_kwargs(hp))

    def declare_hyperparameters(self, hp):
        # The training hyperparameters are declared up front too: a grid
        # search walks every hyperparameter from the first trial on, and a
        # trial skipped for its budget never reaches fit().
        self.build(hp)
        self._training_hyperparameters(hp)

    def _training_hyperparameters(self, hp):
        if self.space == "wide":
            learning_rate = hp.Choice("learning_rate", [3e-4, 1e-3, 3e-3], default=LEARNING_RATE, ordered=True)
        else:
            learning_rate = hp.Fixed("learning_rate", LEARNING_RATE)
        return learning_rate, hp.Fixed("weight_decay", WEIGHT_DECAY), hp.Fixed("batch_size", BATCH_SIZE)

    def recipe(self, hp, *, epochs):
        """The trial's `keras_har.training.Recipe`: the reference recipe with the trial's training hyperparameters.

        Each fold of the trial is trained with it by
        `keras_har.evaluation.run_fold`, as cross-validation trains its
        folds: a random 10% of the training windows is held aside for the
        learning-rate schedule and early stopping, and the best epoch's
        weights are restored.

        Args:
            hp: the trial's `keras_tuner.HyperParameters`.
            epochs: most epochs.
        """
        learning_rate, weight_decay, batch_size = self._training_hyperparameters(hp)
        return Recipe(epochs=int(epochs), batch_size=int(batch_size), learning_rate=float(learning_rate),
                      weight_decay=float(weight_decay))
