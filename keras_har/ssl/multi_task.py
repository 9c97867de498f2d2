"""Multi-task pretext: CPC and reconstruction on one encoder."""

from keras_har.backend import register
from keras_har.ssl.cpc import CPC
from keras_har.ssl.losses import reconstruction_loss
from keras_har.ssl.reconstruction import build_decoder


@register
class MultiTask(CPC):
    """CPC plus window reconstruction, with weighted losses.

    The "Multi-task" pretext of Dumbrava et al. (arXiv:2307.01168): one pass
    of the encoder feeds CPC (on the per-step encodings, see
    `keras_har.ssl.CPC`) and the reconstruction decoder (on the pooled,
    projected features, see `keras_har.ssl.Reconstruction`). The loss is
    ``cpc_weight * InfoNCE + reconstruction_weight * MSE``.

    Args:
        encoder: a keras.Model from windows to features.
        cpc_weight: weight of the CPC loss.
        reconstruction_weight: weight of the reconstruction loss.
        hidden_units: width of the decoder's hidden layer.
        **kwargs: `keras_har.ssl.CPC` arguments (``feature_dim``,
            ``context_units``, ``prediction_steps``, ``sequence_layer``,
            ``name``).

    Example:
    >>> import numpy as np
    >>> import keras_har
    >>> model = keras_har.ssl.MultiTask(keras_har.TinierHARBackbone(input_shape=(64, 3)), prediction_steps=4)
    >>> float(model.pretext_loss(np.ones((4, 64, 3), "float32"))) > 0
    True
    """

    def __init__(
        self,
        encoder,
        cpc_weight=1.0,
        reconstruction_weight=1.0,
        hidden_units=256,
        name="multi_task",
        **kwargs,
    ):
        super().__init__(encoder, name=name, **kwargs)
        for arg, value in (("cpc_weight", cpc_weight), ("reconstruction_weight", reconstruction_weight)):
            if not float(value) >= 0:
                raise ValueError(f"`{arg}` must be >= 0. Received: {arg}={value!r}")
        if not isinstance(hidden_units, int) or hidden_units < 1:
            raise ValueError(f"`hidden_units` must be a positive integer. Received: hidden_units={hidden_units!r}")
        self.cpc_weight = float(cpc_weight)
        self.reconstruction_weight = float(reconstruction_weight)
        self.hidden_units = hidden_units
        # === Layers ===
        self.decoder = build_decoder(max(self.feature_dim, self.encoder_width), self.window_shape, hidden_units)

    def pretext_losses(self, windows, training=None):
        """``(cpc_loss, reconstruction_loss)`` of a batch, unweighted."""
        encodings, context, pooled = self.encode(windows, training=training)
        reconstructions = self.decoder(self.project(pooled), training=training)
        return self.cpc_loss(encodings, context), reconstruction_loss(windows, reconstructions)

    def pretext_loss(self, windows, training=None):
        cpc, reconstruction = self.pretext_losses(windows, training=training)
        return self.cpc_weight * cpc + self.reconstruction_weight * reconstruction

    def get_config(self):
        config = super().get_config()
        config.update(
            cpc_weight=self.cpc_weight,
            reconstruction_weight=self.reconstruction_weight,
            hidden_units=self.hidden_units,
        )
        return config
