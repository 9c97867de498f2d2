"""KerasTuner's oracles, made to resume exactly where a killed search stopped.

KerasTuner 1.4.8 saves ``oracle.json`` inside ``end_trial`` before it has
finished ending the trial: the saved state still lists the trial as
ongoing, and the grid oracle queues the trial for its successor only after
that save. Reloading such a state runs the last finished trial again, and
rerunning a finished search runs its last trial again. The grid oracle
also keeps its grid order only in memory, so after any reload its next
``create_trial`` fails with ``KeyError``. The classes here save once more
after ``end_trial`` and persist the grid state, so that a search killed at
any point loses at most the trial that was running.
"""

from keras_har.tuning._keras_tuner import keras_tuner

_oracles = keras_tuner.oracles


class _SaveAfterEndTrial:
    def end_trial(self, trial):
        super().end_trial(trial)
        self.save()


class ResumableGridSearchOracle(_SaveAfterEndTrial, _oracles.GridSearchOracle):
    """`keras_tuner.oracles.GridSearchOracle` whose grid state survives a restart.

    Args:
        **kwargs: `keras_tuner.oracles.GridSearchOracle` arguments.

    Example:
    >>> import keras_har.tuning
    >>> from keras_har.tuning.oracles import ResumableGridSearchOracle
    >>> objective = keras_har.tuning.keras_tuner.Objective("val_macro_f1", "max")
    >>> oracle = ResumableGridSearchOracle(objective=objective)
    """

    def _grid_order(self):
        ordered, index = [], self._ordered_ids._next_index[None]
        while index is not None:
            ordered.append(self._ordered_ids._memory[index])
            index = self._ordered_ids._next_index[index]
        return ordered

    def get_state(self):
        state = super().get_state()
        state["grid_order"] = self._grid_order()
        state["populate_next"] = list(self._populate_next)
        return state

    def set_state(self, state):
        super().set_state(state)
        self._ordered_ids = type(self._ordered_ids)()
        for trial_id in state.get("grid_order", []):
            self._ordered_ids.insert(trial_id)
        self._populate_next = list(state.get("populate_next", []))


class ResumableRandomSearchOracle(_SaveAfterEndTrial, _oracles.RandomSearchOracle):
    """`keras_tuner.oracles.RandomSearchOracle` that does not rerun its last trial on reload."""


class ResumableBayesianOptimizationOracle(_SaveAfterEndTrial, _oracles.BayesianOptimizationOracle):
    """`keras_tuner.oracles.BayesianOptimizationOracle` that does not rerun its last trial on reload."""


class ResumableHyperbandOracle(_SaveAfterEndTrial, _oracles.HyperbandOracle):
    """`keras_tuner.oracles.HyperbandOracle` that does not rerun its last trial on reload."""
