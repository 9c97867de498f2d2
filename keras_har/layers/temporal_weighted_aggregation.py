"""TinyHAR's temporal weighted aggregation ("tnaive")."""

from keras_har.backend import keras, register, tf


@register
class TemporalWeightedAggregation(keras.layers.Layer):
    """TinyHAR part 5: the last step plus a gamma-weighted attention context.

    ``s_t = w2 . tanh(W1 h_t + b1)``, ``a = softmax_t(s)``,
    ``out = h_T + gamma * sum_t a_t h_t``, with a learned scalar ``gamma``
    that starts at 0, as in the official code's ``Temporal_Weighted_Aggregation``.

    Input shape ``(batch, time, features)``; output ``(batch, features)``.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = None
        self.score = None

    def build(self, input_shape):
        features = int(input_shape[-1])
        self.hidden = keras.layers.Dense(features, activation="tanh", name="fc_1")
        self.score = keras.layers.Dense(1, use_bias=False, name="fc_2")
        self.hidden.build(input_shape)
        self.score.build(tuple(input_shape[:-1]) + (features,))
        self.gamma = self.add_weight(name="gamma", shape=(1,), initializer="zeros")
        super().build(input_shape)

    def call(self, inputs):
        weights = tf.nn.softmax(self.score(self.hidden(inputs)), axis=1)
        context = tf.reduce_sum(weights * inputs, axis=1)
        return inputs[:, -1, :] + self.gamma * context

    def count_ops(self, input_shape):
        """(core_macs, macs) per window, by the official counter's rules.

        ``fc_1`` (``F x F`` per step) and ``fc_2`` (``F`` per step); the
        counter adds fc_1's bias and the softmax, and no tanh.
        """
        steps, features = int(input_shape[1]), int(input_shape[2])
        core = steps * (features * features + features)
        return core, core + steps * features + steps

    def compute_output_shape(self, input_shape):
        return tf.TensorShape([input_shape[0], input_shape[-1]])
