"""The base class of the pretext models: an encoder, a 256-wide projection, a loss."""

from keras_har.backend import keras, tf


class PretextModel(keras.Model):
    """A self-supervised task wrapped around any encoder.

    The encoder (a ``keras.Model`` mapping windows ``(batch, T, C)`` to
    features ``(batch, F)``, e.g. `keras_har.TinierHARBackbone`) is kept
    unchanged as ``.encoder``, so the same object moves on to fine-tuning.
    As in Dumbrava et al. (arXiv:2307.01168), the features are 256 wide: when
    ``F < feature_dim`` a linear ``Dense(feature_dim)`` named ``"projection"``
    is added after the encoder and belongs to the pretrained feature
    extractor (see `feature_model`).

    Subclasses define `pretext_loss`; `fit` trains on unlabelled windows
    (``x`` only, or ``(x, anything)``) and reports ``loss``. Calling the
    model returns the 256-wide features.
    """

    def __init__(self, encoder, feature_dim=256, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(encoder, keras.Model) or len(encoder.output_shape) != 2:
            raise ValueError(
                "`encoder` must be a keras.Model mapping windows (batch, T, C) to features "
                f"(batch, F). Received: encoder={encoder!r}"
            )
        if not isinstance(feature_dim, int) or feature_dim < 1:
            raise ValueError(f"`feature_dim` must be a positive integer. Received: feature_dim={feature_dim!r}")
        # === Layers ===
        self.encoder = encoder
        self.feature_dim = feature_dim
        self.encoder_width = int(encoder.output_shape[-1])
        self.projection = None
        if self.encoder_width < feature_dim:
            self.projection = keras.layers.Dense(feature_dim, name="projection")
            self.projection.build((None, self.encoder_width))
        self.loss_tracker = keras.metrics.Mean(name="loss")
        # Every weight is created eagerly in __init__ (subclasses build their
        # heads there too), so a restored model can take its weights at once.
        self.built = True

    @property
    def window_shape(self):
        return tuple(self.encoder.input_shape[1:])

    def project(self, encodings):
        """Maps encoder outputs (any leading axes) to ``feature_dim`` features."""
        return encodings if self.projection is None else self.projection(encodings)

    def features(self, windows, training=None):
        return self.project(self.encoder(windows, training=training))

    def call(self, windows, training=None):
        return self.features(windows, training=training)

    def pretext_loss(self, windows, training=None):
        """The self-supervised loss of a batch of windows (a scalar tensor)."""
        raise NotImplementedError

    def feature_model(self):
        """The pretrained feature extractor: encoder then projection, as one model.

        It shares this model's weights. Save it as ``.keras`` to fine-tune
        later (see `keras_har.ssl.build_classifier`).
        """
        inputs = keras.Input(shape=self.window_shape, name="window")
        return keras.Model(inputs, self.features(inputs), name="ssl_encoder")

    @property
    def metrics(self):
        return [self.loss_tracker]

    def train_step(self, data):
        windows = data[0] if isinstance(data, tuple) else data
        with tf.GradientTape() as tape:
            loss = self.pretext_loss(windows, training=True)
            if self.losses:
                loss += tf.add_n(self.losses)
        variables = self.trainable_variables
        gradients = tape.gradient(loss, variables)
        # Layers a pretext does not reach (e.g. the pooling layer under CPC)
        # get no gradient; leave them out instead of warning on every step.
        pairs = [(g, v) for g, v in zip(gradients, variables) if g is not None]
        self.optimizer.apply_gradients(pairs)
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    def test_step(self, data):
        windows = data[0] if isinstance(data, tuple) else data
        self.loss_tracker.update_state(self.pretext_loss(windows, training=False))
        return {"loss": self.loss_tracker.result()}

    def get_config(self):
        return {
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "feature_dim": self.feature_dim,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"], custom_objects=custom_objects)
        return cls(**config)
