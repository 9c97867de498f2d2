"""keras_har.profile against the official TinierHAR log, and by hand."""

import pytest

import keras_har
from keras_har.reference import DATASET_SHAPES, OFFICIAL_COUNTS, PYTORCH_EXTRA_PARAMS

CASES = [(model, name) for model in sorted(OFFICIAL_COUNTS) for name in sorted(OFFICIAL_COUNTS[model])]


@pytest.mark.parametrize("model_name, dataset", CASES)
def test_profile_reproduces_the_official_log(model_name, dataset):
    steps, channels, classes = DATASET_SHAPES[dataset]
    model = keras_har.get_model_class(model_name)(input_shape=(steps, channels), num_classes=classes)
    result = keras_har.profile(model)
    official_macs, official_params = OFFICIAL_COUNTS[model_name][dataset]
    assert result["macs"] == official_macs
    assert result["params"] + PYTORCH_EXTRA_PARAMS[model_name] == official_params


def test_issue_examples_within_five_percent():
    uci = keras_har.profile(keras_har.TinierHAR(input_shape=(128, 9), num_classes=6))
    hapt = keras_har.profile(keras_har.TinierHAR(input_shape=(200, 6), num_classes=12))
    assert abs(uci["macs"] - 0.64e6) / 0.64e6 < 0.05
    assert abs(hapt["macs"] - 0.70e6) / 0.70e6 < 0.05


def test_core_macs_by_hand_for_uci():
    result = keras_har.profile(keras_har.TinierHAR(input_shape=(128, 9), num_classes=6))
    t, c = 128, 9
    conv = (t * c * 5 + t * c * 4 + t * c * 4)  # block 1: depthwise, pointwise, shortcut
    t //= 2
    conv += t * c * 4 * 5 + 2 * t * c * 4 * 8  # block 2
    t //= 2
    conv += 4 * (t * c * 8 * 5 + t * c * 8 * 8)  # blocks 3-6
    gru = 2 * t * 3 * 16 * (8 * c + 16)
    dense = t * 32 + 32 * 6
    assert result["core_macs"] == conv + gru + dense


def test_profile_rejects_a_non_model():
    with pytest.raises(ValueError, match="built Keras model"):
        keras_har.profile("tinierhar")
