"""A larger convolutional + GRU encoder for self-supervised pretraining."""

from keras_har.backend import keras, register
from keras_har.models._validation import check_input_shape, check_positive_int

_BN_MOMENTUM = 0.9
_POOLED_BLOCKS = 2


@register
class CNNGRUEncoder(keras.Model):
    """Conv1D blocks, a GRU and mean pooling: 256 features.

    The "larger encoder" next to TinierHAR's tiny one in the self-supervised
    study (Dumbrava et al., "Don't freeze: Finetune encoders for better
    Self-Supervised HAR", arXiv:2307.01168, use convolutional and recurrent
    encoders of this size). Each block is Conv1D (same padding), BatchNorm,
    ReLU, and a max-pool by 2 in the first two blocks; a GRU then gives
    per-step encodings (layer ``"sequence"``, ``(batch, T/4, features)``),
    averaged over time in layer ``"pooling"``.

    The GRU is bidirectional by default (128 units each way). With
    ``bidirectional=False`` it runs forward only, so each step's output
    summarises the window up to that step: that is the causal context network
    of CPC, and `keras_har.ssl.CPC` then pretrains it as its context network
    instead of adding one of its own (`ENCODERS`' ``"cnngru-causal"``:
    ``bidirectional=False, gru_units=256``). CPC for HAR (Haresamudram et
    al., IMWUT 2021, official code) differs in the details: its convolution
    blocks (32, 64, 128 filters) have dropout but no BatchNorm and no pooling,
    its GRU has two layers of 256 units, and its classifier reads the GRU's
    last step rather than the mean over steps.

    Args:
        input_shape: ``(T, C)``.
        filters: filters of each convolutional block.
        kernel_size: convolution kernel length in samples.
        gru_units: GRU units per direction; the features are ``2 * gru_units``
            wide when bidirectional, ``gru_units`` otherwise.
        dropout: dropout rate before the GRU.
        bidirectional: whether the GRU also runs backwards.
        name: model name.

    Example:
    >>> import keras_har
    >>> keras_har.ssl.CNNGRUEncoder(input_shape=(128, 6)).output_shape
    (None, 256)
    >>> keras_har.ssl.CNNGRUEncoder(input_shape=(128, 6), gru_units=256, bidirectional=False).output_shape
    (None, 256)
    """

    def __init__(
        self,
        input_shape,
        filters=(32, 64, 128),
        kernel_size=5,
        gru_units=128,
        dropout=0.2,
        bidirectional=True,
        name="cnn_gru_encoder",
        **kwargs,
    ):
        check_input_shape(input_shape)
        filters = [int(f) for f in filters] if isinstance(filters, (list, tuple)) else filters
        if not isinstance(filters, list) or not filters or min(filters) < 1:
            raise ValueError(f"`filters` must be a non-empty list of positive integers. Received: filters={filters!r}")
        check_positive_int("kernel_size", kernel_size)
        check_positive_int("gru_units", gru_units)
        if input_shape[0] // 2 ** min(len(filters), _POOLED_BLOCKS) < 2:
            raise ValueError(
                "The window is too short for the encoder's max-pools: it needs at least "
                f"{2 * 2 ** min(len(filters), _POOLED_BLOCKS)} time steps. Received: input_shape={tuple(input_shape)!r}"
            )
        # === Layers and functional graph ===
        inputs = keras.Input(shape=tuple(input_shape), name="window")
        x = inputs
        for index, block_filters in enumerate(filters):
            prefix = f"block{index + 1}"
            x = keras.layers.Conv1D(block_filters, kernel_size, padding="same", name=f"{prefix}_conv")(x)
            x = keras.layers.BatchNormalization(momentum=_BN_MOMENTUM, name=f"{prefix}_bn")(x)
            x = keras.layers.ReLU(name=f"{prefix}_relu")(x)
            if index < _POOLED_BLOCKS:
                x = keras.layers.MaxPooling1D(2, name=f"{prefix}_pool")(x)
        x = keras.layers.Dropout(dropout, name="dropout")(x)
        if bidirectional:
            recurrent = keras.layers.Bidirectional(
                keras.layers.GRU(gru_units, return_sequences=True, reset_after=True), name="sequence"
            )
        else:
            recurrent = keras.layers.GRU(gru_units, return_sequences=True, reset_after=True, name="sequence")
        x = recurrent(x)
        outputs = keras.layers.GlobalAveragePooling1D(name="pooling")(x)
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)
        # === Config ===
        self.window_shape = tuple(input_shape)
        self.filters = filters
        self.kernel_size = kernel_size
        self.gru_units = gru_units
        self.dropout = dropout
        self.bidirectional = bool(bidirectional)

    def get_config(self):
        return {
            "input_shape": list(self.window_shape),
            "filters": list(self.filters),
            "kernel_size": self.kernel_size,
            "gru_units": self.gru_units,
            "dropout": self.dropout,
            "bidirectional": self.bidirectional,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)


# The encoders of the self-supervised studies, by the names the command line uses.
ENCODERS = ("tinierhar", "cnngru", "cnngru-causal")


def make_encoder(kind, window_shape, gru_units=None):
    """A new encoder of one of `ENCODERS` for windows of ``window_shape`` ``(T, C)``.

    ``"tinierhar"``: `keras_har.TinierHARBackbone`; ``"cnngru"``:
    `CNNGRUEncoder` with its bidirectional GRU; ``"cnngru-causal"``:
    `CNNGRUEncoder` with one forward GRU of 256 units, which CPC pretrains as
    its context network. ``gru_units`` (the encoder's width: recurrent units
    per direction) replaces the default (16, 128 and 256) when given.
    """
    if kind not in ENCODERS:
        raise ValueError(f"`kind` must be one of {ENCODERS}. Received: kind={kind!r}")
    width = {} if gru_units is None else {"gru_units": gru_units}
    if kind == "tinierhar":
        from keras_har.models.tinier_har import TinierHARBackbone

        return TinierHARBackbone(input_shape=window_shape, **width)
    if kind == "cnngru":
        return CNNGRUEncoder(input_shape=window_shape, **width)
    return CNNGRUEncoder(input_shape=window_shape, **({"gru_units": 256} | width), bidirectional=False)
