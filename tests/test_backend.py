"""keras_har.backend: Keras's GRU and LSTM trace their cuDNN variant only where a GPU can run it."""

import numpy as np
import pytest
from tf_keras.src.layers.rnn import gru_lstm_utils

import keras_har
from keras_har import backend
from keras_har.backend import keras
from keras_har.training import build_optimizer


@pytest.fixture
def registered(monkeypatch):
    """The cuDNN variants Keras registers, as (function name) per call of the original register."""
    calls = []
    original = gru_lstm_utils.function_register.keras_har_original
    monkeypatch.setattr(gru_lstm_utils.function_register, "keras_har_original",
                        lambda func, *args, **kwargs: calls.append(func) or original(func, *args, **kwargs))
    return calls


@pytest.mark.parametrize("recurrent", ["bigru", "lstm"])
def test_cudnn_variants_are_registered_only_when_a_gpu_is_visible(registered, monkeypatch, recurrent):
    monkeypatch.setattr(backend, "_GPU_VISIBLE", False)
    keras_har.TinierHAR(input_shape=(16, 3), num_classes=3, filters=2, gru_units=4, recurrent=recurrent)
    assert registered == []
    monkeypatch.setattr(backend, "_GPU_VISIBLE", True)  # Keras's own behaviour, on any machine
    keras_har.TinierHAR(input_shape=(16, 3), num_classes=3, filters=2, gru_units=4, recurrent=recurrent)
    assert len(registered) == (2 if recurrent == "bigru" else 1)  # one per direction


@pytest.mark.slow  # two fits
def test_without_the_cudnn_variant_outputs_and_training_are_bit_identical(monkeypatch):
    windows = np.random.default_rng(0).normal(size=(16, 16, 3)).astype("float32")
    labels = np.arange(16) % 3

    def train(gpu_visible):
        monkeypatch.setattr(backend, "_GPU_VISIBLE", gpu_visible)
        keras.utils.set_random_seed(0)
        model = keras_har.TinierHAR(input_shape=(16, 3), num_classes=3, filters=2, gru_units=4)
        model.compile(optimizer=keras.optimizers.Adam(1e-2),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        build_optimizer(model)
        model.fit(windows, labels, batch_size=8, epochs=2, shuffle=False, verbose=0)
        return model.get_weights(), model.predict(windows, verbose=0)

    (stock_weights, stock_outputs), (weights, outputs) = train(True), train(False)
    np.testing.assert_array_equal(outputs, stock_outputs)
    assert len(weights) == len(stock_weights)
    for mine, stock in zip(weights, stock_weights):
        np.testing.assert_array_equal(mine, stock)
