"""DeepConvLSTM (Ordonez and Roggen, 2016) as configured in the TinierHAR code."""

from keras_har.backend import keras, register
from keras_har.models._validation import check_input_shape, check_positive_int
from keras_har.models.official_weights import OfficialCheckpoint


@register
class DeepConvLSTM(OfficialCheckpoint, keras.Model):
    """DeepConvLSTM classifier, as configured in the official TinierHAR code.

    Reference: F. J. Ordonez and D. Roggen, "Deep Convolutional and LSTM
    Recurrent Neural Networks for Multimodal Wearable Activity Recognition",
    Sensors 16(1), 2016. Ported from ``models/deepconvlstm.py`` with
    ``configs/model.yaml``: two conv blocks of two ``(5, 1)`` convolutions
    (64 filters, no padding, the second of each block with stride 2 in time,
    ReLU, no BatchNorm), so four conv layers; Dropout(0.5); one LSTM layer of
    128 units; the last time step; ``Dense(K)``.

    The official YAML uses ``nb_layers_lstm: 1``, and the reference parameter
    formula ``128576 + 32768*C + 129*K`` counts exactly one LSTM layer, so one
    layer is the default (``lstm_layers`` sets more). Keras's LSTM keeps one
    bias vector per gate where PyTorch keeps two, so our count is 512 lower
    per LSTM layer: ``128064 + 32768*C + 129*K`` with the default.

    An official checkpoint (``batch_norm: 0``) loads with
    `from_official_checkpoint` (`keras_har.models.load_official_weights`):
    kernels are transposed, the two LSTM bias vectors summed, and the first
    LSTM's input weights permuted, because PyTorch flattens
    ``(filters, channels)`` filter-major and Keras channel-major.

    Args:
        input_shape: ``(T, C)``.
        num_classes: number of classes K.
        filters: convolution filters (64).
        lstm_units: LSTM units (128).
        lstm_layers: stacked LSTM layers (1).
        dropout: dropout before the LSTM (0.5).
        name: model name.

    Example:
    >>> import keras_har
    >>> keras_har.profile(keras_har.DeepConvLSTM(input_shape=(200, 6), num_classes=12))["params"]
    326220
    """

    def __init__(
        self,
        input_shape,
        num_classes,
        filters=64,
        lstm_units=128,
        lstm_layers=1,
        dropout=0.5,
        name="deep_conv_lstm",
        **kwargs,
    ):
        check_input_shape(input_shape)
        check_positive_int("num_classes", num_classes, minimum=2)
        check_positive_int("filters", filters)
        check_positive_int("lstm_units", lstm_units)
        check_positive_int("lstm_layers", lstm_layers)
        time_steps, channels = input_shape
        length = time_steps
        for stride in (1, 2, 1, 2):
            length = (length - 5) // stride + 1
        if length < 1:
            raise ValueError(
                "The window is too short for DeepConvLSTM's four unpadded (5, 1) convolutions. "
                f"Received: input_shape={tuple(input_shape)!r}"
            )
        # === Layers and functional graph ===
        inputs = keras.Input(shape=tuple(input_shape), name="window")
        x = keras.layers.Reshape((time_steps, channels, 1), name="to_image")(inputs)
        for index, stride in enumerate((1, 2, 1, 2)):
            x = keras.layers.Conv2D(
                filters, (5, 1), strides=(stride, 1), activation="relu", name=f"conv{index + 1}"
            )(x)
        x = keras.layers.Reshape((x.shape[1], channels * filters), name="reshape")(x)
        x = keras.layers.Dropout(dropout, name="dropout")(x)
        for index in range(lstm_layers):
            last = index == lstm_layers - 1
            x = keras.layers.LSTM(lstm_units, return_sequences=not last, name=f"lstm{index + 1}")(x)
        outputs = keras.layers.Dense(num_classes, name="logits")(x)
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)
        # === Config ===
        self.window_shape = tuple(input_shape)
        self.num_classes = num_classes
        self.filters = filters
        self.lstm_units = lstm_units
        self.lstm_layers = lstm_layers
        self.dropout = dropout

    def get_config(self):
        return {
            "input_shape": list(self.window_shape),
            "num_classes": self.num_classes,
            "filters": self.filters,
            "lstm_units": self.lstm_units,
            "lstm_layers": self.lstm_layers,
            "dropout": self.dropout,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)
