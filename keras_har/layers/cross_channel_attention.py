"""TinyHAR's cross-channel self-attention."""

from keras_har.backend import keras, register, tf


@register
class CrossChannelSelfAttention(keras.layers.Layer):
    """Self-attention across sensor channels at every time step (TinyHAR part 2).

    For each time step, with ``x`` of shape ``(C, F)``: ``f, g, h = xWq, xWk,
    xWv`` (no biases), ``beta = softmax(f g^T)`` normalised over the *query*
    axis as in the official code (``softmax(dim=1)`` of ``bmm(f, g^T)``), and
    ``out[k] = gamma * sum_q beta[q, k] h[q] + x[k]`` with a learned scalar
    ``gamma`` that starts at 0.

    Input and output shape ``(batch, time, channels, features)``.
    """

    def build(self, input_shape):
        features = int(input_shape[-1])
        shape = (features, features)
        self.query = self.add_weight(name="query", shape=shape, initializer="glorot_uniform")
        self.key = self.add_weight(name="key", shape=shape, initializer="glorot_uniform")
        self.value = self.add_weight(name="value", shape=shape, initializer="glorot_uniform")
        self.gamma = self.add_weight(name="gamma", shape=(1,), initializer="zeros")
        super().build(input_shape)

    def call(self, inputs):
        f = tf.einsum("btcf,fg->btcg", inputs, self.query)
        g = tf.einsum("btcf,fg->btcg", inputs, self.key)
        h = tf.einsum("btcf,fg->btcg", inputs, self.value)
        scores = tf.einsum("btqf,btkf->btqk", f, g)
        beta = tf.nn.softmax(scores, axis=2)
        attended = tf.einsum("btqk,btqf->btkf", beta, h)
        return self.gamma * attended + inputs

    def count_ops(self, input_shape):
        """(core_macs, macs) per window, by the official counter's rules.

        Per time step: three ``C x F x F`` projections and two ``C x C x F``
        batched products; the softmax adds ``C x C``.
        """
        steps, channels, features = (int(d) for d in input_shape[1:])
        core = steps * (3 * channels * features * features + 2 * channels * channels * features)
        return core, core + steps * channels * channels

    def compute_output_shape(self, input_shape):
        return tf.TensorShape(input_shape)
