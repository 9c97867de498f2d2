"""TinyHAR (Zhou et al., ISWC 2022), the baseline TinierHAR is compared with."""

from keras_har.backend import keras, register
from keras_har.layers.cross_channel_attention import CrossChannelSelfAttention
from keras_har.layers.temporal_weighted_aggregation import TemporalWeightedAggregation
from keras_har.models._validation import check_input_shape, check_positive_int
from keras_har.models.official_weights import OfficialCheckpoint

_BN_MOMENTUM = 0.9
_BN_EPSILON = 1e-5


@register
class TinyHAR(OfficialCheckpoint, keras.Model):
    """TinyHAR classifier, in the configuration TinierHAR's paper compares with.

    Reference: Y. Zhou et al., "TinyHAR: A Lightweight Deep Learning Model
    Designed for Human Activity Recognition", ISWC 2022. Ported from the copy
    in the official TinierHAR code (``models/TinyHAR.py``) with its defaults:
    F=20 filters, cross-channel self-attention, FC fusion, LSTM, and the
    "tnaive" temporal aggregation with its learned gamma.

    Graph: ``(T, C)`` as ``(T, C, 1)``; four ``(5, 1)`` convolutions without
    padding (stride 2 in time on the 2nd and 4th), each followed by ReLU then
    BatchNorm; cross-channel self-attention at each time step; Dropout;
    ``Dense(2F)`` + ReLU over the flattened ``C*F`` channels; ``LSTM(2F)``;
    temporal weighted aggregation; ``Dense(K)`` logits.

    Parameter count: ``22222 + 800*C + 41*K`` trainable, 160 fewer than the
    PyTorch original's ``22382 + 800*C + 41*K`` (the official log's 27,674 for
    HAPT) because PyTorch's LSTM keeps two bias vectors per gate
    (``b_ih + b_hh``, mathematically one) where Keras keeps one.
    ``keras_har.profile`` gives exactly the official log's MACs.

    An official checkpoint loads with `from_official_checkpoint`
    (`keras_har.models.load_official_weights`): kernels are transposed to
    Keras's layout and the two LSTM bias vectors are summed. The official
    code flattens ``(channels, filters)`` channel-major, as Keras does.

    Args:
        input_shape: ``(T, C)``.
        num_classes: number of classes K.
        filters: F (default 20).
        dropout: dropout after the channel interaction (default 0.1).
        name: model name.

    Example:
    >>> import keras_har
    >>> from keras_har import TinyHAR
    >>> keras_har.profile(TinyHAR(input_shape=(200, 6), num_classes=12))["params"]
    27514
    """

    def __init__(self, input_shape, num_classes, filters=20, dropout=0.1, name="tiny_har", **kwargs):
        check_input_shape(input_shape)
        check_positive_int("num_classes", num_classes, minimum=2)
        check_positive_int("filters", filters)
        if _conv_length(input_shape[0]) < 1:
            raise ValueError(
                "The window is too short for TinyHAR's four unpadded (5, 1) convolutions. "
                f"Received: input_shape={tuple(input_shape)!r}"
            )
        time_steps, channels = input_shape
        # === Layers and functional graph ===
        inputs = keras.Input(shape=tuple(input_shape), name="window")
        x = keras.layers.Reshape((time_steps, channels, 1), name="to_image")(inputs)
        for index in range(4):
            stride = 2 if index % 2 == 1 else 1
            x = keras.layers.Conv2D(
                filters, (5, 1), strides=(stride, 1), padding="valid", name=f"conv{index + 1}"
            )(x)
            x = keras.layers.ReLU(name=f"conv{index + 1}_relu")(x)
            x = keras.layers.BatchNormalization(
                momentum=_BN_MOMENTUM, epsilon=_BN_EPSILON, name=f"conv{index + 1}_bn"
            )(x)
        x = CrossChannelSelfAttention(name="channel_interaction")(x)
        x = keras.layers.Dropout(dropout, name="dropout")(x)
        x = keras.layers.Reshape((x.shape[1], channels * filters), name="reshape")(x)
        x = keras.layers.Dense(2 * filters, activation="relu", name="channel_fusion")(x)
        x = keras.layers.LSTM(2 * filters, return_sequences=True, name="recurrent")(x)
        x = TemporalWeightedAggregation(name="pooling")(x)
        outputs = keras.layers.Dense(num_classes, name="logits")(x)
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)
        # === Config ===
        self.window_shape = tuple(input_shape)
        self.num_classes = num_classes
        self.filters = filters
        self.dropout = dropout

    def get_config(self):
        return {
            "input_shape": list(self.window_shape),
            "num_classes": self.num_classes,
            "filters": self.filters,
            "dropout": self.dropout,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)


def _conv_length(time_steps):
    for index in range(4):
        stride = 2 if index % 2 == 1 else 1
        time_steps = (time_steps - 5) // stride + 1
    return time_steps
