"""`ssl.pretrain` with a checkpoint: a killed pretraining resumes where it stopped, and only with its own settings."""

import numpy as np
import pytest

import keras_har
from keras_har import ssl
from keras_har.backend import keras

SHAPE = (16, 3)
WINDOWS = np.random.default_rng(1).normal(size=(48, *SHAPE)).astype("float32")
SETTINGS = {"epochs": 4, "batch_size": 8, "fraction": 0.5, "seed": 3, "verbose": 0}


def _cpc():
    keras.utils.set_random_seed(0)
    return ssl.CPC(keras_har.TinierHARBackbone(input_shape=SHAPE), prediction_steps=2, context_units=8)


class _Killed(Exception):
    pass


class _KillAtEpoch(keras.callbacks.Callback):
    """Raises at the end of one epoch, before the checkpoint of that epoch is written (it runs first)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise _Killed


@pytest.mark.slow  # over 10 s: three short pretrainings
def test_a_killed_pretraining_resumes_to_the_weights_of_an_uninterrupted_one(tmp_path):
    uninterrupted = _cpc()
    expected = ssl.pretrain(uninterrupted, WINDOWS, **SETTINGS).history["loss"]

    checkpoint = tmp_path / "cpc.npz"
    with pytest.raises(_Killed):
        ssl.pretrain(_cpc(), WINDOWS, checkpoint=checkpoint, callbacks=[_KillAtEpoch(2)], **SETTINGS)
    with np.load(checkpoint) as stored:
        assert '"loss": [' in str(stored["state"])
    resumed = _cpc()
    # Different starting weights, so the test fails if the stored ones are not loaded.
    resumed.set_weights([w + 1.0 for w in resumed.get_weights()])
    history = ssl.pretrain(resumed, WINDOWS, checkpoint=checkpoint, **SETTINGS)

    assert history.history["loss"] == expected
    for got, want in zip(resumed.get_weights(), uninterrupted.get_weights()):
        np.testing.assert_array_equal(got, want)

    # A finished checkpoint trains nothing more and gives the same run back.
    again = _cpc()
    assert ssl.pretrain(again, WINDOWS, checkpoint=checkpoint, **SETTINGS).history["loss"] == expected
    for got, want in zip(again.get_weights(), uninterrupted.get_weights()):
        np.testing.assert_array_equal(got, want)


@pytest.mark.slow  # over 10 s: two short pretrainings
def test_early_stopping_state_survives_the_resume(tmp_path):
    # A learning rate this high makes the loss rise after the first epoch, so
    # early stopping is waiting when the run is killed.
    settings = dict(SETTINGS, epochs=6, patience=3, learning_rate=0.1)
    uninterrupted = _cpc()
    expected = ssl.pretrain(uninterrupted, WINDOWS, **settings).history["loss"]
    assert len(expected) == 4 and min(expected) == expected[0]
    checkpoint = tmp_path / "cpc.npz"
    with pytest.raises(_Killed):
        ssl.pretrain(_cpc(), WINDOWS, checkpoint=checkpoint, callbacks=[_KillAtEpoch(2)], **settings)
    resumed = _cpc()
    assert ssl.pretrain(resumed, WINDOWS, checkpoint=checkpoint, **settings).history["loss"] == expected
    # Both end on the weights of the first epoch, the lowest loss.
    for got, want in zip(resumed.get_weights(), uninterrupted.get_weights()):
        np.testing.assert_array_equal(got, want)


@pytest.mark.slow  # over 10 s: a pretraining epoch, traced
def test_a_checkpoint_of_other_settings_is_refused(tmp_path):
    checkpoint = tmp_path / "cpc.npz"
    ssl.pretrain(_cpc(), WINDOWS, checkpoint=checkpoint, **dict(SETTINGS, epochs=1))
    with pytest.raises(ValueError, match=r"cpc\.npz holds the checkpoint of a pretraining with other settings.*"
                                         r"Differs in: \['learning_rate'\]"):
        ssl.pretrain(_cpc(), WINDOWS, checkpoint=checkpoint, learning_rate=1e-2, **dict(SETTINGS, epochs=1))
    with pytest.raises(ValueError, match=r"windows_sha256"):
        ssl.pretrain(_cpc(), WINDOWS + 1, checkpoint=checkpoint, **dict(SETTINGS, epochs=1))


def test_bad_checkpoint_arguments_are_named(tmp_path):
    with pytest.raises(ValueError, match=r"ending in \.npz. Received: checkpoint='.*state\.json'"):
        ssl.pretrain(_cpc(), WINDOWS, checkpoint=tmp_path / "state.json", **SETTINGS)
    (tmp_path / "broken.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=r"broken\.npz is not a pretraining checkpoint"):
        ssl.pretrain(_cpc(), WINDOWS, checkpoint=tmp_path / "broken.npz", **SETTINGS)
    with pytest.raises(ValueError, match=r"Received: patience=-1"):
        ssl.pretrain(_cpc(), WINDOWS, patience=-1, **SETTINGS)
