"""Contrastive predictive coding (CPC) for sensor windows."""

from keras_har.backend import keras, register, tf
from keras_har.ssl.losses import info_nce_loss
from keras_har.ssl.pretext_model import PretextModel

# The encoders' recurrent layers (CNNGRUEncoder's, TinierHAR's), and TinierHAR's
# flattened convolution output for a backbone without one. CPC predicts what
# feeds the recurrent layer, not its outputs (see `find_sequence_layer`).
RECURRENT_LAYERS = ("sequence", "recurrent")
CONVOLUTION_OUTPUT = "reshape"


def find_sequence_layer(encoder, sequence_layer=None):
    """Name of the encoder layer whose output ``(batch, T', D)`` CPC predicts.

    By default, the convolutional encodings that feed the encoder's recurrent
    layer (any dropout in between skipped): TinierHAR's ``"reshape"``,
    CNNGRUEncoder's last convolution block. Not the recurrent layer's own
    outputs: each of those summarises its window's earlier steps (and, when
    bidirectional, its later ones), so CPC's context would share information
    with the very step it is asked to predict.

    When the encoder's recurrent layer runs forward only (`find_context_layer`),
    CPC uses it as its context network, so CPC trains it. A bidirectional one
    cannot be: its backward half reads the steps CPC predicts. CPC's loss
    then reads nothing after this layer, so the recurrent layer (and any
    layer after it but the 256-feature projection) gets no gradient and keeps
    its initial weights. A frozen CPC encoder of that kind gives features of
    an untrained recurrent layer over pretrained convolutions; fine-tuning is
    what first trains that layer.
    """
    names = [layer.name for layer in encoder.layers]
    if sequence_layer is None:
        for candidate in RECURRENT_LAYERS:
            if candidate in names:
                return _layer_feeding(encoder.get_layer(candidate))
        if CONVOLUTION_OUTPUT in names:
            return CONVOLUTION_OUTPUT
        raise ValueError(
            f"CPC needs per-step encodings; the encoder has none of the layers "
            f"{[*RECURRENT_LAYERS, CONVOLUTION_OUTPUT]}. Pass `sequence_layer` naming a layer with output "
            f"(batch, time, features). Received: sequence_layer=None"
        )
    if sequence_layer not in names or len(encoder.get_layer(sequence_layer).output.shape) != 3:
        raise ValueError(
            "`sequence_layer` must name an encoder layer with output (batch, time, features). "
            f"Received: sequence_layer={sequence_layer!r}"
        )
    return sequence_layer


def find_context_layer(encoder, sequence_layer):
    """Name of the encoder's forward-only recurrent layer reading ``sequence_layer``, or None.

    A recurrent layer (GRU, LSTM, any ``keras.layers.RNN``) that reads the
    per-step encodings (dropout layers in between allowed), returns
    sequences and runs forward: its output at step ``t`` depends only on
    steps up to ``t``, which is what CPC's context ``c_t`` must be. A
    bidirectional or backward layer does not qualify.
    """
    for layer in encoder.layers:
        if not isinstance(layer, keras.layers.RNN) or isinstance(layer, keras.layers.Bidirectional):
            continue
        if layer.return_sequences and not layer.go_backwards and _layer_feeding(layer) == sequence_layer:
            return layer.name
    return None


def _layer_feeding(layer):
    """The name of the layer whose output ``layer`` reads, dropout layers skipped."""
    producer = layer.input._keras_history.layer
    while isinstance(producer, keras.layers.Dropout):
        producer = producer.input._keras_history.layer
    return producer.name


def _warn_if_recurrent(layer):
    """Warns when CPC's per-step encodings come from a recurrent layer, which leaks what CPC predicts."""
    inner = layer.layer if isinstance(layer, keras.layers.Bidirectional) else layer
    if not isinstance(inner, keras.layers.RNN):
        return
    import warnings

    direction = " and, being bidirectional, its later ones too" if inner is not layer else ""
    warnings.warn(
        f"CPC predicts the outputs of the recurrent layer {layer.name!r}: each z_(t+k) already summarises "
        f"its window's earlier steps{direction}, so the context c_t shares information with its own "
        "target and the other windows of the batch are easy negatives; a low CPC loss then says little "
        "about the encoder. Leave `sequence_layer` unset for the convolutional encodings that feed it, or "
        "name another convolutional output.",
        stacklevel=3,
    )


@register
class CPC(PretextModel):
    """Contrastive predictive coding over the encoder's per-step encodings.

    Haresamudram et al., "Contrastive Predictive Coding for Human Activity
    Recognition" (IMWUT 2021), as used in Dumbrava et al. (arXiv:2307.01168).
    The encoder layer ``sequence_layer`` gives per-step encodings
    ``(batch, T', D)``: by default the convolutional encodings that feed the
    encoder's recurrent layer (`find_sequence_layer`): for
    `keras_har.TinierHARBackbone` its ``"reshape"`` (``T' = T / 4``,
    ``D = 2MC``), for `keras_har.ssl.CNNGRUEncoder` its last convolution
    block. The recurrent layer's own outputs would leak the target into the
    context (each summarises its window's other steps); naming one warns.
    They are projected to ``z_t`` (``feature_dim`` wide; with the shared
    ``"projection"`` layer when ``D`` equals the encoder's output width, so
    that the pooled features fine-tuning reads live in the same space), a
    context network gives ``c_t``, and ``prediction_steps`` linear maps
    ``W_k`` predict ``z_{t+k}`` from ``c_t``. The loss is InfoNCE with the
    other windows of the batch as negatives, averaged over ``k``.

    The context network is the encoder's own recurrent layer when that runs
    forward only (`find_context_layer`; ``CNNGRUEncoder(bidirectional=False)``),
    as in Haresamudram et al., whose classifier reads the context network's
    output (its last step; a pooled encoder averages the steps): CPC then
    trains the whole encoder but its pooling. Otherwise CPC adds a GRU of ``context_units`` of its
    own (``context_layer`` is None) and the layers after ``sequence_layer``
    (the encoder's recurrent layer and pooling) get no signal from CPC;
    fine-tuning trains them, a frozen encoder keeps them at their initial
    values. `keras_har.ssl.MultiTask`'s reconstruction trains the whole
    encoder either way.

    Args:
        encoder: a keras.Model from windows to features.
        feature_dim: width of ``z`` and of the fine-tuning features.
        context_units: GRU units of CPC's own context network, which it
            adds only when the encoder has no forward-only recurrent layer.
        prediction_steps: how many future steps ``k = 1..K`` are predicted.
        sequence_layer: encoder layer giving per-step encodings; found
            automatically from ``"sequence"``, ``"recurrent"``, ``"reshape"``.
        name: model name.

    Example:
    >>> import numpy as np
    >>> import keras_har
    >>> cpc = keras_har.ssl.CPC(keras_har.TinierHARBackbone(input_shape=(64, 3)), prediction_steps=4)
    >>> cpc.sequence_layer
    'reshape'
    >>> float(cpc.pretext_loss(np.zeros((8, 64, 3), "float32"))) > 0
    True
    """

    def __init__(
        self,
        encoder,
        feature_dim=256,
        context_units=256,
        prediction_steps=12,
        sequence_layer=None,
        name="cpc",
        **kwargs,
    ):
        super().__init__(encoder, feature_dim=feature_dim, name=name, **kwargs)
        self.sequence_layer = find_sequence_layer(encoder, sequence_layer)
        step_layer = encoder.get_layer(self.sequence_layer)
        _warn_if_recurrent(step_layer)
        step_output = step_layer.output
        steps, step_width = step_output.shape[1], int(step_output.shape[-1])
        if not isinstance(prediction_steps, int) or not 1 <= prediction_steps < steps:
            raise ValueError(
                f"`prediction_steps` must be an integer in [1, {steps - 1}]: the encoder gives {steps} "
                f"steps at layer {self.sequence_layer!r}. Received: prediction_steps={prediction_steps!r}"
            )
        if not isinstance(context_units, int) or context_units < 1:
            raise ValueError(f"`context_units` must be a positive integer. Received: context_units={context_units!r}")
        self.context_units = context_units
        self.prediction_steps = prediction_steps
        self.context_layer = find_context_layer(encoder, self.sequence_layer)
        # One pass of the encoder gives the steps, the encoder's context (if
        # it has one) and the pooled output. object.__setattr__ keeps this
        # view (which owns no weights of its own) out of Keras's layer tracking.
        taps = [step_output, encoder.output]
        if self.context_layer is not None:
            taps.insert(1, encoder.get_layer(self.context_layer).output)
        object.__setattr__(self, "_taps", keras.Model(encoder.inputs, taps))
        # === Layers ===
        self.step_projection = None
        if step_width != self.encoder_width and step_width != feature_dim:
            self.step_projection = keras.layers.Dense(feature_dim, name="step_projection")
            self.step_projection.build((None, None, step_width))
        z_width = feature_dim if (self.projection is not None or self.step_projection is not None) else step_width
        if self.context_layer is None:
            self.context_network = keras.layers.GRU(context_units, return_sequences=True, name="context")
            self.context_network.build((None, None, z_width))
            context_width = context_units
        else:
            self.context_network = None
            context_width = int(encoder.get_layer(self.context_layer).output.shape[-1])
        self.predictors = []
        for step in range(1, prediction_steps + 1):
            predictor = keras.layers.Dense(z_width, use_bias=False, name=f"predictor_{step}")
            predictor.build((None, None, context_width))
            self.predictors.append(predictor)

    def step_encodings(self, steps):
        """``z_t`` from the encoder's per-step outputs."""
        if self.step_projection is not None:
            return self.step_projection(steps)
        if int(steps.shape[-1]) == self.encoder_width:
            return self.project(steps)
        return steps

    def encode(self, windows, training=None):
        """``(z, c, pooled)``: step encodings, contexts and pooled encoder output, from one encoder pass."""
        if self.context_layer is None:
            steps, pooled = self._taps(windows, training=training)
            encodings = self.step_encodings(steps)
            return encodings, self.context_network(encodings, training=training), pooled
        steps, context, pooled = self._taps(windows, training=training)
        return self.step_encodings(steps), context, pooled

    def cpc_loss(self, encodings, context):
        """InfoNCE of predicting ``z_{t+k}`` from ``c_t``, averaged over ``k``."""
        losses = [
            info_nce_loss(predictor(context[:, :-step]), encodings[:, step:])
            for step, predictor in enumerate(self.predictors, start=1)
        ]
        return tf.add_n(losses) / len(losses)

    def pretext_loss(self, windows, training=None):
        encodings, context, _ = self.encode(windows, training=training)
        return self.cpc_loss(encodings, context)

    def get_config(self):
        config = super().get_config()
        config.update(
            context_units=self.context_units,
            prediction_steps=self.prediction_steps,
            sequence_layer=self.sequence_layer,
        )
        return config
