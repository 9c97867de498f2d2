"""Every model and ablation variant: config and .keras round trips, and a training step (tests/model_harness.py)."""

import numpy as np
import pytest

import keras_har
from keras_har.backend import keras
from model_harness import check_model

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
def test_model_config_file_and_training_step(tmp_path, class_name, kwargs):
    keras.utils.set_random_seed(0)
    model = getattr(keras_har, class_name)(input_shape=SHAPE, num_classes=4, **kwargs)
    windows = np.random.default_rng(1).normal(size=(5, *SHAPE)).astype("float32")
    check_model(model, windows, tmp_path, labels=np.arange(5) % 4)


def test_backbone_config_file_and_training_step(tmp_path):
    keras.utils.set_random_seed(0)
    backbone = keras_har.TinierHARBackbone(input_shape=SHAPE)
    windows = np.random.default_rng(2).normal(size=(3, *SHAPE)).astype("float32")
    check_model(backbone, windows, tmp_path)


@pytest.mark.parametrize("layer_name", ["AttentionPooling", "CrossChannelSelfAttention", "TemporalWeightedAggregation"])
def test_custom_layers_are_registered(layer_name):
    layer_class = getattr(keras_har.layers, layer_name)
    assert keras.saving.get_registered_object(f"keras_har>{layer_name}") is layer_class
