"""Attention pooling over time, as in TinierHAR."""

from keras_har.backend import keras, register, tf


@register
class AttentionPooling(keras.layers.Layer):
    """Softmax attention pooling over the time axis.

    ``a = softmax_t(w . h_t + b)`` and ``z = sum_t a_t h_t``. There is no tanh
    before the score, matching the official TinierHAR code
    (``nn.Linear(2N, 1)`` then ``softmax(dim=1)``).

    Input shape ``(batch, time, features)``; output ``(batch, features)``.

    Example:
    >>> import numpy as np
    >>> from keras_har.layers import AttentionPooling
    >>> AttentionPooling()(np.ones((2, 5, 3), "float32")).shape
    TensorShape([2, 3])
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.score = keras.layers.Dense(1, name="score")

    def build(self, input_shape):
        self.score.build(input_shape)
        super().build(input_shape)

    def call(self, inputs):
        weights = tf.nn.softmax(self.score(inputs), axis=1)
        return tf.reduce_sum(weights * inputs, axis=1)

    def count_ops(self, input_shape):
        """(core_macs, macs) per window: the score projection and its bias."""
        steps, features = int(input_shape[1]), int(input_shape[2])
        return steps * features, steps * (features + 1)

    def compute_output_shape(self, input_shape):
        return tf.TensorShape([input_shape[0], input_shape[-1]])
