"""Autoencoder pretext: reconstruct the window from its features."""

from keras_har.backend import keras, register
from keras_har.ssl.losses import reconstruction_loss
from keras_har.ssl.pretext_model import PretextModel


def build_decoder(feature_dim, window_shape, hidden_units):
    """A small MLP decoder from ``feature_dim`` features back to a ``(T, C)`` window."""
    steps, channels = window_shape
    decoder = keras.Sequential(
        [
            keras.layers.Dense(hidden_units, activation="relu", name="decoder_hidden"),
            keras.layers.Dense(steps * channels, name="decoder_output"),
            keras.layers.Reshape((steps, channels), name="decoder_window"),
        ],
        name="decoder",
    )
    decoder.build((None, feature_dim))
    return decoder


@register
class Reconstruction(PretextModel):
    """Autoencoder pretext: the encoder's 256 features must rebuild the window.

    One of the four pretexts of Dumbrava et al. (arXiv:2307.01168). The
    decoder is an MLP (``Dense(hidden_units, relu)``, ``Dense(T*C)``), which
    fits any encoder whatever its pooling; the loss is the mean squared error
    against the (standardised) input window.

    Args:
        encoder: a keras.Model from windows to features.
        feature_dim: width of the features the decoder reads.
        hidden_units: width of the decoder's hidden layer.
        name: model name.

    Example:
    >>> import numpy as np
    >>> import keras_har
    >>> model = keras_har.ssl.Reconstruction(keras_har.TinierHARBackbone(input_shape=(32, 3)))
    >>> model.reconstruct(np.zeros((2, 32, 3), "float32")).shape
    TensorShape([2, 32, 3])
    """

    def __init__(self, encoder, feature_dim=256, hidden_units=256, name="reconstruction", **kwargs):
        super().__init__(encoder, feature_dim=feature_dim, name=name, **kwargs)
        if not isinstance(hidden_units, int) or hidden_units < 1:
            raise ValueError(f"`hidden_units` must be a positive integer. Received: hidden_units={hidden_units!r}")
        self.hidden_units = hidden_units
        # === Layers ===
        self.decoder = build_decoder(max(feature_dim, self.encoder_width), self.window_shape, hidden_units)

    def reconstruct(self, windows, training=None):
        return self.decoder(self.features(windows, training=training), training=training)

    def pretext_loss(self, windows, training=None):
        return reconstruction_loss(windows, self.reconstruct(windows, training=training))

    def get_config(self):
        config = super().get_config()
        config.update(hidden_units=self.hidden_units)
        return config
