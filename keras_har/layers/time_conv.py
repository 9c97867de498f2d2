"""Stock Keras layers with a faster training step for TinierHAR's ``(batch, T, C, F)`` maps.

TinierHAR convolves along time only: its feature maps are ``(batch, T, C, F)``
with C sensor channels as the image width and only F = 1 to 2M filters as
the channels. TensorFlow's CPU kernels for depthwise convolution and max
pooling are slow with so few channels; on a 2-core AVX2 EPYC the
convolutional blocks took most of a HAPT-sized training step
(``benchmarks/bench_epoch.py --profile``).

Each layer here is the stock layer with the same weights, configuration and
inference graph. Only a call with ``training=True`` takes a faster route to
the same function:

- `TimeDepthwiseConv2D`: a ``(k, 1)`` kernel does not mix sensor channels,
  so the map is reshaped to ``(batch, T, 1, C*F)`` with the kernel tiled C
  times, one depthwise convolution with C*F channels, and reshaped back;
- `TimeMaxPooling2D`: the same reshape around a ``(p, 1)`` max pool (the
  gradient still goes to the first maximum, as in the stock op);
- `TimeBatchNormalization`: by default TensorFlow's fused kernel, as the
  stock layer. With ``KERAS_HAR_BN_TRAINING=unfused`` in the environment the
  batch moments are computed with ``tf.nn.moments`` and
  ``tf.nn.batch_normalization`` instead. Either way the batch is normalised
  with the biased variance and the moving variance is updated with the
  unbiased one, as PyTorch's BatchNorm2d does.

Which route is faster depends on the CPU. On the Xeon of BENCHMARKS.md
(AVX-512, oneDNN; ``bench_epoch.py --profile``) a forward and backward
pass of the unfused batch norm took 1.72-2.60x the fused kernel's at
TinierHAR's HAPT shapes, while the reshaped depthwise convolution took
0.62-1.11x and the reshaped max pool 0.77-0.84x the stock ops', so the fused
kernel is the default. The unfused route was part of the "fast layers"
measured 1.27x faster than the stock ones on a 2-core AVX2 EPYC, where it
was not timed on its own; ``benchmarks/bench_epoch.py --setting bn=unfused``
times it on any machine.

Inference (``training`` False or None, a frozen BatchNorm, export, QAT)
runs the stock code, so a TFLite or TFLM graph is unchanged. The tests check
outputs, gradients and moving statistics against the stock layers.
"""

import contextlib
import os

from keras_har import run_settings
from keras_har.backend import keras, register, tf

#: The environment variable that picks `TimeBatchNormalization`'s training route, and its values.
BN_TRAINING_VARIABLE = "KERAS_HAR_BN_TRAINING"
BN_TRAINING_ROUTES = ("fused", "unfused")


def batch_norm_training_route():
    """``"fused"`` (the default) or ``"unfused"``: `TimeBatchNormalization`'s route, from ``KERAS_HAR_BN_TRAINING``.

    Read when a training graph is traced, so set it before training starts
    (worker processes of ``evaluate --jobs`` inherit it).

    Example:
    >>> from keras_har.layers import time_conv
    >>> time_conv.batch_norm_training_route()  # doctest: +SKIP
    'fused'
    """
    return run_settings.environment_choice(BN_TRAINING_VARIABLE, BN_TRAINING_ROUTES)


@contextlib.contextmanager
def batch_norm_route(route):
    """Sets ``KERAS_HAR_BN_TRAINING`` to ``route`` inside the block and gives the old value back after it.

    Graphs traced inside, and worker processes started inside, train the batch norm that way.

    Example:
    >>> from keras_har.layers import time_conv
    >>> with time_conv.batch_norm_route("unfused"):
    ...     time_conv.batch_norm_training_route()
    'unfused'
    """
    if route not in BN_TRAINING_ROUTES:
        raise ValueError(f"route must be one of {list(BN_TRAINING_ROUTES)}. Received: route={route!r}")
    before = os.environ.get(BN_TRAINING_VARIABLE)
    os.environ[BN_TRAINING_VARIABLE] = route
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(BN_TRAINING_VARIABLE, None)
        else:
            os.environ[BN_TRAINING_VARIABLE] = before


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
    """``BatchNormalization`` over the last axis, optionally trained with unfused batch moments.

    It trains with the stock fused kernel unless ``KERAS_HAR_BN_TRAINING=unfused``
    (`batch_norm_training_route`; see the module's docstring for which is
    faster where). The stock kernel is always used for inference, for a
    frozen layer (``trainable=False``) and for any setting other than the
    plain one (renorm, virtual batches, a mask, another axis, 16-bit inputs).

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
        if not (_training(self, training) and self._fast(inputs, mask) and batch_norm_training_route() == "unfused"):
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
