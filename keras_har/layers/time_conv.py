"""Stock Keras layers with a faster training step for TinierHAR's ``(batch, T, C, F)`` maps.

TinierHAR convolves along time only: its feature maps are ``(batch, T, C, F)``
with C sensor channels as the image width and only F = 1 to 2M filters as
the channels. TensorFlow's CPU kernels for depthwise convolution, max
pooling and fused batch normalisation are slow with so few channels; on the
2-core CPU of BENCHMARKS.md ("Training speed") the convolutional blocks
took most of a HAPT-sized training step (``benchmarks/bench_epoch.py
--profile``).

Each layer here is the stock layer with the same weights, configuration and
inference graph. Only a call with ``training=True`` takes a faster route to
the same function:

- `TimeDepthwiseConv2D`: a ``(k, 1)`` kernel does not mix sensor channels,
  so the map is reshaped to ``(batch, T, 1, C*F)`` with the kernel tiled C
  times, one depthwise convolution with C*F channels, and reshaped back;
- `TimeMaxPooling2D`: the same reshape around a ``(p, 1)`` max pool (the
  gradient still goes to the first maximum, as in the stock op);
- `TimeBatchNormalization`: the batch moments with ``tf.nn.moments`` and
  ``tf.nn.batch_normalization`` instead of the fused kernel. The batch is
  normalised with the biased variance and the moving variance is updated
  with the unbiased one, as the fused kernel and PyTorch's BatchNorm2d do.

Inference (``training`` False or None, a frozen BatchNorm, export, QAT)
runs the stock code, so a TFLite or TFLM graph is unchanged. The tests check
outputs, gradients and moving statistics against the stock layers.
"""

from keras_har.backend import keras, register, tf


def _training(layer, training):
    if hasattr(layer, "_get_training_value"):
        training = layer._get_training_value(training)
    return training is True


@register
class TimeDepthwiseConv2D(keras.layers.DepthwiseConv2D):
    """``DepthwiseConv2D`` with a ``(k, 1)`` kernel, trained through a ``(T, 1, C*F)`` reshape.

    Any other configuration (a kernel wider than 1, strides, dilation, a
    depth multiplier, channels-first) runs the stock code.

    Example:
    >>> import numpy as np
    >>> from keras_har.layers import TimeDepthwiseConv2D
    >>> TimeDepthwiseConv2D((5, 1), padding="same")(np.ones((2, 16, 3, 4), "float32"), training=True).shape
    TensorShape([2, 16, 3, 4])
    """

    def _fast(self):
        return (self.kernel_size[1] == 1 and tuple(self.strides) == (1, 1) and tuple(self.dilation_rate) == (1, 1)
                and self.depth_multiplier == 1 and self.data_format == "channels_last")

    def call(self, inputs, training=None):
        if not (training is True and self._fast()):
            return super().call(inputs)
        steps, channels, filters = inputs.shape[1], inputs.shape[2], inputs.shape[3]
        x = tf.reshape(inputs, (-1, steps, 1, channels * filters))
        # Reshaping makes channel c, filter f the channel c * F + f: tiling repeats the F kernels C times.
        kernel = tf.tile(self.depthwise_kernel, [1, 1, channels, 1])
        y = tf.nn.depthwise_conv2d(x, kernel, strides=[1, 1, 1, 1], padding=self.padding.upper())
        y = tf.reshape(y, (-1, y.shape[1], channels, filters))
        if self.use_bias:
            y = tf.nn.bias_add(y, self.bias)
        return y if self.activation is None else self.activation(y)


@register
class TimeMaxPooling2D(keras.layers.MaxPooling2D):
    """``MaxPooling2D`` with a ``(p, 1)`` window, trained through a ``(T, 1, C*F)`` reshape.

    Example:
    >>> import numpy as np
    >>> from keras_har.layers import TimeMaxPooling2D
    >>> TimeMaxPooling2D((2, 1))(np.ones((2, 16, 3, 4), "float32"), training=True).shape
    TensorShape([2, 8, 3, 4])
    """

    def _fast(self):
        return self.pool_size[1] == 1 and self.strides[1] == 1 and self.data_format == "channels_last"

    def call(self, inputs, training=None):
        if not (training is True and self._fast()):
            return super().call(inputs)
        steps, channels, filters = inputs.shape[1], inputs.shape[2], inputs.shape[3]
        x = tf.reshape(inputs, (-1, steps, 1, channels * filters))
        y = tf.nn.max_pool2d(x, ksize=(self.pool_size[0], 1), strides=(self.strides[0], 1),
                             padding=self.padding.upper())
        return tf.reshape(y, (-1, y.shape[1], channels, filters))


@register
class TimeBatchNormalization(keras.layers.BatchNormalization):
    """``BatchNormalization`` over the last axis, trained with unfused batch moments.

    The stock fused kernel is used for inference, for a frozen layer
    (``trainable=False``) and for any setting other than the plain one
    (renorm, virtual batches, a mask, another axis, 16-bit inputs).

    Example:
    >>> import numpy as np
    >>> from keras_har.layers import TimeBatchNormalization
    >>> TimeBatchNormalization()(np.ones((2, 16, 3, 4), "float32"), training=True).shape
    TensorShape([2, 16, 3, 4])
    """

    def _fast(self, inputs, mask):
        return (mask is None and not self.renorm and self.virtual_batch_size is None
                and list(self.axis) == [inputs.shape.rank - 1] and inputs.dtype == tf.float32
                and self.moving_mean.dtype == tf.float32)

    def call(self, inputs, training=None, mask=None):
        inputs = tf.convert_to_tensor(inputs)
        if not (_training(self, training) and self._fast(inputs, mask)):
            return super().call(inputs, training=training, mask=mask)
        axes = list(range(inputs.shape.rank - 1))
        mean, variance = tf.nn.moments(inputs, axes)
        outputs = tf.nn.batch_normalization(inputs, mean, variance, self.beta, self.gamma, self.epsilon)
        count = tf.cast(tf.reduce_prod(tf.gather(tf.shape(inputs), axes)), variance.dtype)
        unbiased = variance * count / tf.maximum(count - 1.0, 1.0)
        decay = 1.0 - self.momentum
        self.moving_mean.assign_sub((self.moving_mean - mean) * decay)
        self.moving_variance.assign_sub((self.moving_variance - unbiased) * decay)
        return outputs


#: The stock class behind each fast one, for code that needs the stock layer (QAT).
STOCK_CLASSES = {
    TimeDepthwiseConv2D: keras.layers.DepthwiseConv2D,
    TimeMaxPooling2D: keras.layers.MaxPooling2D,
    TimeBatchNormalization: keras.layers.BatchNormalization,
}
