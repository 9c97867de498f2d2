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
    # Every weight away from its initial value (BatchNorm's moving statistics and gammas included), so that a
    # weight the file forgot, or restored into the wrong variable, changes the outputs.
    _randomise(model)
    # Eager calls: nothing to trace, and the same ops on both sides.
    expected = np.asarray(model(windows, training=False))
    assert np.isfinite(expected).all() and np.ptp(expected) > 0

    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.models.load_model(path, safe_mode=True)

    assert type(restored) is type(model)
    assert restored.get_config() == model.get_config()
    np.testing.assert_array_equal(np.asarray(restored(windows, training=False)), expected)


def _randomise(model):
    rng = np.random.default_rng(7)
    for variable in model.weights:
        values = rng.uniform(0.5, 1.5, size=variable.shape) if "variance" in variable.name else rng.normal(
            scale=0.3, size=variable.shape)
        variable.assign(values.astype(np.float32))


def test_backbone_round_trip(tmp_path):
    backbone = keras_har.TinierHARBackbone(input_shape=SHAPE)
    _randomise(backbone)
    windows = np.random.default_rng(2).normal(size=(3, *SHAPE)).astype("float32")
    backbone.save(tmp_path / "backbone.keras")
    restored = keras.models.load_model(tmp_path / "backbone.keras", safe_mode=True)
    np.testing.assert_array_equal(np.asarray(restored(windows, training=False)),
                                  np.asarray(backbone(windows, training=False)))


@pytest.mark.parametrize("layer_name", ["AttentionPooling", "CrossChannelSelfAttention", "TemporalWeightedAggregation"])
def test_custom_layers_are_registered(layer_name):
    layer_class = getattr(keras_har.layers, layer_name)
    assert keras.saving.get_registered_object(f"keras_har>{layer_name}") is layer_class
