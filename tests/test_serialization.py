"""Every model and ablation variant saves to .keras and loads back in safe mode, identically."""

import numpy as np
import pytest

import keras_har
from keras_har.backend import keras

SHAPE = (64, 3)
VARIANTS = [
    ("TinierHAR", {}),
    ("TinierHAR", {"conv": "standard"}),
    ("TinierHAR", {"conv": "none"}),
    ("TinierHAR", {"residual": False}),
    ("TinierHAR", {"recurrent": "gru"}),
    ("TinierHAR", {"recurrent": "lstm"}),
    ("TinierHAR", {"recurrent": "bilstm"}),
    ("TinierHAR", {"recurrent": "none"}),
    ("TinierHAR", {"aggregation": "mean"}),
    ("TinierHAR", {"aggregation": "last"}),
    ("TinierHAR", {"filters": 2, "gru_units": 8}),
    ("TinyHAR", {}),
    ("DeepConvLSTM", {"filters": 8, "lstm_units": 16}),
]


@pytest.mark.parametrize("class_name, kwargs", VARIANTS, ids=[f"{c}-{k}" for c, k in VARIANTS])
def test_keras_round_trip_gives_identical_outputs(tmp_path, class_name, kwargs):
    keras.utils.set_random_seed(0)
    model = getattr(keras_har, class_name)(input_shape=SHAPE, num_classes=4, **kwargs)
    windows = np.random.default_rng(1).normal(size=(5, *SHAPE)).astype("float32")
    # One training step so BatchNorm statistics and gammas are not at their initial values.
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(windows, np.arange(5) % 4, epochs=1, verbose=0)
    expected = model.predict(windows, verbose=0)

    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.models.load_model(path, safe_mode=True)

    assert type(restored) is type(model)
    assert restored.get_config() == model.get_config()
    np.testing.assert_array_equal(restored.predict(windows, verbose=0), expected)


def test_backbone_round_trip(tmp_path):
    backbone = keras_har.TinierHARBackbone(input_shape=SHAPE)
    windows = np.random.default_rng(2).normal(size=(3, *SHAPE)).astype("float32")
    backbone.save(tmp_path / "backbone.keras")
    restored = keras.models.load_model(tmp_path / "backbone.keras", safe_mode=True)
    np.testing.assert_array_equal(restored.predict(windows, verbose=0), backbone.predict(windows, verbose=0))


@pytest.mark.parametrize("layer_name", ["AttentionPooling", "CrossChannelSelfAttention", "TemporalWeightedAggregation"])
def test_custom_layers_are_registered(layer_name):
    layer_class = getattr(keras_har.layers, layer_name)
    assert keras.saving.get_registered_object(f"keras_har>{layer_name}") is layer_class
