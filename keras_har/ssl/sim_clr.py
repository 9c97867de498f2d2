"""SimCLR: contrast two augmented views of each window."""

from keras_har.backend import keras, register, tf
from keras_har.ssl.augmentations import Augmenter
from keras_har.ssl.losses import nt_xent_loss
from keras_har.ssl.pretext_model import PretextModel


@register
class SimCLR(PretextModel):
    """SimCLR for sensor windows (Tang et al. 2020; Chen et al. 2020).

    Each window gets two views from `keras_har.ssl.Augmenter` (each listed
    transform applied with probability ``augmentation_probability``); both go
    through the encoder, the 256-wide projection and an MLP head
    (``projection_units``, ReLU between), and NT-Xent with ``temperature``
    pulls the two views of a window together. Augmentation runs in numpy
    inside the training step (``tf.numpy_function``), so `fit` takes plain
    windows, like the other pretexts.

    Args:
        encoder: a keras.Model from windows to features.
        feature_dim: width of the features the head reads.
        projection_units: widths of the contrastive head's Dense layers.
        temperature: NT-Xent temperature.
        augmentations: names from `keras_har.ssl.augmentations.AUGMENTATIONS`.
        augmentation_probability: chance each transform is applied to a view.
        seed: seed of the augmentation generator.
        name: model name.

    Example:
    >>> import numpy as np
    >>> import keras_har
    >>> model = keras_har.ssl.SimCLR(keras_har.TinierHARBackbone(input_shape=(32, 3)), seed=0)
    >>> float(model.pretext_loss(np.random.default_rng(0).normal(size=(4, 32, 3)).astype("float32"))) > 0
    True
    """

    def __init__(
        self,
        encoder,
        feature_dim=256,
        projection_units=(256, 128),
        temperature=0.1,
        augmentations=("jitter", "scaling", "rotation", "time_warp"),
        augmentation_probability=0.5,
        seed=None,
        name="simclr",
        **kwargs,
    ):
        super().__init__(encoder, feature_dim=feature_dim, name=name, **kwargs)
        if not float(temperature) > 0:
            raise ValueError(f"`temperature` must be > 0. Received: temperature={temperature!r}")
        units = list(projection_units)
        if not units or any(not isinstance(u, int) or u < 1 for u in units):
            raise ValueError(
                "`projection_units` must be a non-empty list of positive integers. "
                f"Received: projection_units={projection_units!r}"
            )
        self.projection_units = units
        self.temperature = float(temperature)
        self.augmentations = list(augmentations)
        self.augmentation_probability = float(augmentation_probability)
        self.seed = seed
        self.augmenter = Augmenter(self.augmentations, self.augmentation_probability, seed=seed)
        # === Layers ===
        layers = [keras.layers.Dense(u, activation="relu", name=f"head_{i}") for i, u in enumerate(units[:-1])]
        layers.append(keras.layers.Dense(units[-1], name=f"head_{len(units) - 1}"))
        self.head = keras.Sequential(layers, name="contrastive_head")
        self.head.build((None, max(feature_dim, self.encoder_width)))

    def views(self, windows):
        """Two independently augmented copies of a batch of windows."""

        def two_views(batch):
            return self.augmenter(batch), self.augmenter(batch)

        view_a, view_b = tf.numpy_function(two_views, [windows], [tf.float32, tf.float32], stateful=True)
        view_a.set_shape(windows.shape)
        view_b.set_shape(windows.shape)
        return view_a, view_b

    def pretext_loss(self, windows, training=None):
        windows = tf.convert_to_tensor(windows, tf.float32)
        view_a, view_b = self.views(windows)
        # One encoder pass over both views, so BatchNorm sees them together.
        projections = self.head(self.features(tf.concat([view_a, view_b], 0), training=training), training=training)
        projection_a, projection_b = tf.split(projections, 2, axis=0)
        return nt_xent_loss(projection_a, projection_b, self.temperature)

    def get_config(self):
        config = super().get_config()
        config.update(
            projection_units=self.projection_units,
            temperature=self.temperature,
            augmentations=self.augmentations,
            augmentation_probability=self.augmentation_probability,
            seed=self.seed,
        )
        return config
