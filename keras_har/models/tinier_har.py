"""TinierHAR: residual depthwise-separable convolutions, a BiGRU and attention pooling."""

from keras_har.backend import keras, register
from keras_har.layers.attention_pooling import AttentionPooling
from keras_har.layers.time_conv import TimeBatchNormalization, TimeDepthwiseConv2D, TimeMaxPooling2D
from keras_har.models._validation import check_choice, check_input_shape, check_positive_int
from keras_har.models.official_weights import OfficialCheckpoint

CONV_TYPES = ("separable", "standard", "none")
RECURRENT_TYPES = ("bigru", "gru", "lstm", "bilstm", "none")
AGGREGATION_TYPES = ("attention", "mean", "last")

# PyTorch's BatchNorm2d(momentum=0.1, eps=1e-5) expressed in Keras terms.
_BN_MOMENTUM = 0.9
_BN_EPSILON = 1e-5
_KERNEL_SIZE = 5
_POOLED_BLOCKS = 2


def tinier_har_features(
    inputs,
    *,
    filters=4,
    gru_units=16,
    conv="separable",
    recurrent="bigru",
    aggregation="attention",
    residual=True,
    num_blocks=6,
    dropout=0.3,
):
    """Builds TinierHAR's feature extractor on a Keras tensor ``(batch, T, C)``.

    Returns the pooled feature tensor that the classifier head reads. Layer
    names are stable (``block{i}_...``, ``reshape``, ``recurrent``, ``pooling``)
    so that export and self-supervised code can find them.
    """
    time_steps, channels = inputs.shape[1], inputs.shape[2]
    x = inputs
    if conv != "none":
        x = keras.layers.Reshape((time_steps, channels, 1), name="to_image")(x)
        in_filters = 1
        for index in range(num_blocks):
            out_filters = filters if index == 0 else 2 * filters
            x = _residual_block(
                x,
                in_filters=in_filters,
                out_filters=out_filters,
                conv=conv,
                pool=index < _POOLED_BLOCKS,
                residual=residual,
                name=f"block{index + 1}",
            )
            in_filters = out_filters
        if recurrent == "none":
            # The official "w/o GRU" ablation: global average over time and
            # sensor channels, then dropout and the classifier.
            x = keras.layers.GlobalAveragePooling2D(name="pooling")(x)
            return keras.layers.Dropout(dropout, name="dropout")(x)
        # Keras keeps (T', C, F) channels-last, so the flattened features are
        # ordered channel-major; PyTorch's permute gives filter-major. The two
        # differ only by a fixed permutation of the GRU's input weights.
        x = keras.layers.Reshape((x.shape[1], x.shape[2] * x.shape[3]), name="reshape")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    if recurrent == "none":
        return keras.layers.GlobalAveragePooling1D(name="pooling")(x)
    x = _recurrent_layer(recurrent, gru_units)(x)
    return _aggregate(x, aggregation)


def _residual_block(x, *, in_filters, out_filters, conv, pool, residual, name):
    shortcut = x
    if conv == "separable":
        y = TimeDepthwiseConv2D(
            (_KERNEL_SIZE, 1), padding="same", use_bias=True, name=f"{name}_depthwise"
        )(x)
        y = keras.layers.Conv2D(out_filters, 1, use_bias=True, name=f"{name}_pointwise")(y)
    else:
        y = keras.layers.Conv2D(
            out_filters, (_KERNEL_SIZE, 1), padding="same", use_bias=True, name=f"{name}_conv"
        )(x)
    y = TimeBatchNormalization(
        momentum=_BN_MOMENTUM, epsilon=_BN_EPSILON, name=f"{name}_bn"
    )(y)
    y = keras.layers.ReLU(name=f"{name}_relu")(y)
    if pool:
        y = TimeMaxPooling2D((2, 1), name=f"{name}_pool")(y)
    if not residual:
        return y
    if in_filters != out_filters:
        shortcut = keras.layers.Conv2D(out_filters, 1, use_bias=True, name=f"{name}_shortcut_conv")(
            shortcut
        )
        shortcut = TimeBatchNormalization(
            momentum=_BN_MOMENTUM, epsilon=_BN_EPSILON, name=f"{name}_shortcut_bn"
        )(shortcut)
    if pool:
        shortcut = TimeMaxPooling2D((2, 1), name=f"{name}_shortcut_pool")(shortcut)
    return keras.layers.Add(name=f"{name}_add")([y, shortcut])


def _recurrent_layer(recurrent, units):
    # reset_after=True gives GRU two bias vectors per gate, exactly PyTorch's
    # nn.GRU parameterisation and parameter count.
    if recurrent == "bigru":
        return keras.layers.Bidirectional(
            keras.layers.GRU(units, return_sequences=True, reset_after=True), name="recurrent"
        )
    if recurrent == "gru":
        return keras.layers.GRU(units, return_sequences=True, reset_after=True, name="recurrent")
    if recurrent == "lstm":
        return keras.layers.LSTM(units, return_sequences=True, name="recurrent")
    return keras.layers.Bidirectional(
        keras.layers.LSTM(units, return_sequences=True), name="recurrent"
    )


def _aggregate(x, aggregation):
    if aggregation == "attention":
        return AttentionPooling(name="pooling")(x)
    if aggregation == "mean":
        return keras.layers.GlobalAveragePooling1D(name="pooling")(x)
    # The last time step, from built-in layers so the graph stays flat.
    x = keras.layers.Cropping1D((x.shape[1] - 1, 0), name="last_step")(x)
    return keras.layers.Flatten(name="pooling")(x)


def _validate(input_shape, num_classes, filters, gru_units, conv, recurrent, aggregation, dropout):
    check_input_shape(input_shape)
    if num_classes is not None:
        check_positive_int("num_classes", num_classes, minimum=2)
    check_positive_int("filters", filters)
    check_positive_int("gru_units", gru_units)
    check_choice("conv", conv, CONV_TYPES)
    check_choice("recurrent", recurrent, RECURRENT_TYPES)
    check_choice("aggregation", aggregation, AGGREGATION_TYPES)
    if conv == "none" and recurrent == "none":
        raise ValueError(
            "TinierHAR needs at least the convolutions or the recurrent layer; "
            "`conv='none'` and `recurrent='none'` together leave no model. "
            f"Received: conv={conv!r}, recurrent={recurrent!r}"
        )
    if not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout!r}")
    time_steps = input_shape[0]
    if conv != "none" and time_steps // 2**_POOLED_BLOCKS < 1:
        raise ValueError(
            f"The window is too short for TinierHAR's two (2, 1) max-pools: it needs at "
            f"least {2**_POOLED_BLOCKS} time steps. Received: input_shape={tuple(input_shape)!r}"
        )


_ARCHITECTURE = ("filters", "gru_units", "conv", "recurrent", "aggregation", "residual", "dropout")


def _architecture(filters, gru_units, conv, recurrent, aggregation, residual, dropout):
    """The arguments of `tinier_har_features`, shared by TinierHAR and its backbone."""
    return dict(zip(_ARCHITECTURE, (filters, gru_units, conv, recurrent, aggregation, residual, dropout)))


def _architecture_config(model):
    return {name: getattr(model, name) for name in _ARCHITECTURE}


@register
class TinierHARBackbone(keras.Model):
    """TinierHAR's feature extractor: everything up to the pooled features.

    The same backbone moves unchanged from self-supervised pretraining to
    fine-tuning. Arguments are those of `keras_har.TinierHAR` without
    ``num_classes``.

    Example:
    >>> from keras_har import TinierHARBackbone
    >>> TinierHARBackbone(input_shape=(128, 9)).output_shape
    (None, 32)
    """

    def __init__(
        self,
        input_shape,
        filters=4,
        gru_units=16,
        conv="separable",
        recurrent="bigru",
        aggregation="attention",
        residual=True,
        dropout=0.3,
        name="tinier_har_backbone",
        **kwargs,
    ):
        _validate(input_shape, None, filters, gru_units, conv, recurrent, aggregation, dropout)
        architecture = _architecture(filters, gru_units, conv, recurrent, aggregation, residual, dropout)
        inputs = keras.Input(shape=tuple(input_shape), name="window")
        outputs = tinier_har_features(inputs, **architecture)
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)
        self.window_shape = tuple(input_shape)
        for key, value in architecture.items():
            setattr(self, key, value)

    def get_config(self):
        return {"input_shape": list(self.window_shape), **_architecture_config(self), "name": self.name}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)


@register
class TinierHAR(OfficialCheckpoint, keras.Model):
    """TinierHAR classifier (Bian et al., 2025).

    Reference: S. Bian et al., "TinierHAR: Towards Ultra-Lightweight Deep
    Learning Models for Efficient Human Activity Recognition on Edge Devices",
    arXiv:2507.07949. Ported from the official PyTorch code
    (github.com/zhaxidele/TinierHAR, ``models/TinierHAR.py``).

    The window ``(T, C)`` is treated as a ``(T, C, 1)`` image. Six residual
    blocks with ``(5, 1)`` kernels that run along time only, with weights
    shared across sensor channels: filters ``1->M``, ``M->2M``, then four
    ``2M->2M``. Each block is a depthwise ``(5, 1)`` conv with bias, a 1x1
    pointwise conv with bias, BatchNorm and ReLU, plus a ``(2, 1)`` max-pool in
    the first two blocks. The shortcut is a 1x1 conv and BatchNorm where the
    channel count changes, then the same pooling. The result is reshaped to
    ``(T', 2M*C)``, passed through Dropout(0.3), a bidirectional GRU with N
    units per direction, attention pooling over time, and ``Dense(K)``. The
    outputs are logits.

    With M=4, N=16 the trainable parameter count is ``2479 + 768*C + 33*K``,
    equal to the official code's (e.g. 9,589 for UCI HAR's ``(128, 9)``, K=6).

    Where this differs from the official code, and why:
    - Keras is channels-last, so the ``(T', C, 2M)`` map is flattened
      channel-major; PyTorch flattens filter-major. This is a fixed
      permutation of the GRU's input weights: same function class, same
      parameter count.
    - BatchNorm uses momentum 0.9 and epsilon 1e-5, PyTorch's defaults in
      Keras terms (Keras's own 0.99 lags badly on small HAR sets).
    - ``recurrent="none"`` follows the official "w/o GRU" ablation: global
      average pooling over time and channels, so ``aggregation`` is unused.
    - ``lstm``/``bilstm`` use Keras's LSTM, which has one bias vector per gate
      where PyTorch has two (4*N fewer parameters per direction).
    - Weight layouts: Keras kernels are ``(kh, kw, in, out)`` and ``Dense``
      kernels ``(in, out)``, PyTorch's ``(out, in, kh, kw)`` and ``(out, in)``;
      Keras's GRU stacks its gates (z, r, h), PyTorch's (r, z, n). An
      official checkpoint of the paper's configuration loads with
      `from_official_checkpoint` (`keras_har.models.load_official_weights`),
      which converts all of these and the GRU input permutation above.

    Args:
        input_shape: ``(T, C)``, window length in samples and sensor channels.
        num_classes: number of activity classes K.
        filters: M, the filter count of the first block (the rest use 2M).
        gru_units: N, recurrent units per direction.
        conv: ``"separable"`` (the paper), ``"standard"`` (plain ``(5, 1)``
            convolutions) or ``"none"`` (no convolutional blocks).
        recurrent: ``"bigru"`` (the paper), ``"gru"``, ``"lstm"``,
            ``"bilstm"`` or ``"none"``.
        aggregation: ``"attention"`` (the paper), ``"mean"`` or ``"last"``.
        residual: whether the blocks have shortcut connections.
        dropout: dropout rate before the recurrent layer.
        name: model name.

    Example:
    >>> import keras_har
    >>> model = keras_har.TinierHAR(input_shape=(128, 9), num_classes=6)
    >>> keras_har.profile(model)["params"]
    9589
    """

    def __init__(
        self,
        input_shape,
        num_classes,
        filters=4,
        gru_units=16,
        conv="separable",
        recurrent="bigru",
        aggregation="attention",
        residual=True,
        dropout=0.3,
        name="tinier_har",
        **kwargs,
    ):
        _validate(input_shape, num_classes, filters, gru_units, conv, recurrent, aggregation, dropout)
        architecture = _architecture(filters, gru_units, conv, recurrent, aggregation, residual, dropout)
        # One flat graph (no nested backbone model): tfmot cannot quantize a
        # model nested inside another, and the TFLite export needs QAT.
        inputs = keras.Input(shape=tuple(input_shape), name="window")
        features = tinier_har_features(inputs, **architecture)
        outputs = keras.layers.Dense(num_classes, name="logits")(features)
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)
        self.window_shape = tuple(input_shape)
        self.num_classes = num_classes
        for key, value in architecture.items():
            setattr(self, key, value)

    @property
    def backbone(self):
        """The feature extractor as a model that shares this model's weights."""
        return keras.Model(self.inputs, self.get_layer("pooling").output, name="tinier_har_features")

    def get_config(self):
        return {
            "input_shape": list(self.window_shape),
            "num_classes": self.num_classes,
            **_architecture_config(self),
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)
