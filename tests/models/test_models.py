"""Exact parameter counts, ablation switches and errors of the model constructors."""

import numpy as np
import pytest

import keras_har
from keras_har.models.tinier_har import AGGREGATION_TYPES, CONV_TYPES, RECURRENT_TYPES
from keras_har.reference import DATASET_SHAPES, OFFICIAL_COUNTS, PYTORCH_EXTRA_PARAMS


def trainable(model):
    return keras_har.profile(model)["params"]


@pytest.mark.parametrize(
    "shape, classes, expected",
    [((128, 9), 6, 9589), ((200, 6), 12, 7483), ((132, 18), 12, 16699), ((100, 45), 19, 37666)],
)
def test_tinier_har_params_match_the_issue_examples(shape, classes, expected):
    model = keras_har.TinierHAR(input_shape=shape, num_classes=classes)
    assert trainable(model) == expected


@pytest.mark.parametrize("name", sorted(DATASET_SHAPES))
def test_tinier_har_params_follow_the_official_formula(name):
    steps, channels, classes = DATASET_SHAPES[name]
    model = keras_har.TinierHAR(input_shape=(steps, channels), num_classes=classes)
    assert trainable(model) == 2479 + 768 * channels + 33 * classes


# UCI HAR shape, M=4, N=16. Each count is worked out by hand from the layer
# sizes: conv part 718, BiGRU 768*C + 1728, attention 33, head 33*K.
@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({}, 9589),
        ({"conv": "standard"}, 9589 + 10 + 104 + 4 * 208),  # full (5,1) kernels
        ({"conv": "none"}, (96 * 9 + 1728) + 33 + 33 * 6),  # BiGRU on the 9 raw channels
        ({"residual": False}, 9589 - (8 + 8) - (40 + 16)),  # no shortcut conv+BN
        ({"recurrent": "gru"}, 718 + (384 * 9 + 864) + 17 + 16 * 6 + 6),
        ({"recurrent": "lstm"}, 718 + 4 * (72 * 16 + 16 * 16 + 16) + 17 + 16 * 6 + 6),
        ({"recurrent": "bilstm"}, 718 + 2 * 4 * (72 * 16 + 16 * 16 + 16) + 33 + 32 * 6 + 6),
        ({"recurrent": "none"}, 718 + 8 * 6 + 6),  # global average pooling, Dense(2M -> K)
        ({"aggregation": "mean"}, 9589 - 33),
        ({"aggregation": "last"}, 9589 - 33),
    ],
)
def test_tinier_har_ablation_params(kwargs, expected):
    model = keras_har.TinierHAR(input_shape=(128, 9), num_classes=6, **kwargs)
    assert trainable(model) == expected


@pytest.mark.parametrize("filters, units", [(2, 8), (8, 32), (16, 4)])
def test_tinier_har_scales_with_filters_and_units(filters, units):
    channels, classes = 9, 6
    model = keras_har.TinierHAR(
        input_shape=(128, channels), num_classes=classes, filters=filters, gru_units=units
    )
    # Block 1: 6 + 8M; block 2: 4M^2 + 18M; blocks 3-6: 4 x (4M^2 + 18M).
    conv = 20 * filters**2 + 98 * filters + 6
    gru = 2 * 3 * (units * 2 * filters * channels + units * units + 2 * units)
    expected = conv + gru + (2 * units + 1) + (2 * units * classes + classes)
    assert trainable(model) == expected


def test_tinier_har_output_is_logits_per_class():
    model = keras_har.TinierHAR(input_shape=(64, 3), num_classes=5)
    out = model(np.random.default_rng(0).normal(size=(4, 64, 3)).astype("float32"))
    assert out.shape == (4, 5)


def test_backbone_shares_weights_with_the_classifier():
    model = keras_har.TinierHAR(input_shape=(64, 3), num_classes=5)
    backbone = model.backbone
    assert backbone.output_shape == (None, 32)
    assert {id(w) for w in backbone.weights} <= {id(w) for w in model.weights}
    standalone = keras_har.TinierHARBackbone(input_shape=(64, 3))
    assert trainable(standalone) == trainable(model) - (32 * 5 + 5)


@pytest.mark.parametrize("name", sorted(DATASET_SHAPES))
def test_tiny_har_params_equal_pytorch_minus_its_second_lstm_bias(name):
    steps, channels, classes = DATASET_SHAPES[name]
    model = keras_har.TinyHAR(input_shape=(steps, channels), num_classes=classes)
    assert trainable(model) == 22222 + 800 * channels + 41 * classes
    # PyTorch's LSTM has a second bias vector (4 x 40 = 160 values); with it,
    # the count is the official log's for this dataset.
    assert trainable(model) + PYTORCH_EXTRA_PARAMS["tinyhar"] == OFFICIAL_COUNTS["tinyhar"][name][1]


@pytest.mark.parametrize("name", sorted(DATASET_SHAPES))
def test_deep_conv_lstm_params_equal_the_reference_formula_minus_one_bias(name):
    steps, channels, classes = DATASET_SHAPES[name]
    model = keras_har.DeepConvLSTM(input_shape=(steps, channels), num_classes=classes)
    assert trainable(model) + 512 == 128576 + 32768 * channels + 129 * classes


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"input_shape": (128,)}, "input_shape"),
        ({"input_shape": (128, 0)}, "input_shape"),
        ({"num_classes": 1}, "num_classes"),
        ({"filters": 0}, "filters"),
        ({"conv": "depthwise"}, "conv"),
        ({"recurrent": "transformer"}, "recurrent"),
        ({"aggregation": "max"}, "aggregation"),
        ({"input_shape": (3, 9)}, "too short"),
        ({"conv": "none", "recurrent": "none"}, "leave no model"),
    ],
)
def test_tinier_har_rejects_bad_arguments_by_name(kwargs, message):
    args = {"input_shape": (128, 9), "num_classes": 6, **kwargs}
    with pytest.raises(ValueError, match=message) as info:
        keras_har.TinierHAR(**args)
    assert "Received:" in str(info.value)


def test_choices_are_the_papers_ablation_axes():
    assert CONV_TYPES == ("separable", "standard", "none")
    assert RECURRENT_TYPES == ("bigru", "gru", "lstm", "bilstm", "none")
    assert AGGREGATION_TYPES == ("attention", "mean", "last")


def test_unknown_model_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="deepconvlstm.*tinierhar.*tinyhar"):
        keras_har.get_model_class("resnet")
    assert keras_har.get_model_class("TinierHAR") is keras_har.TinierHAR
