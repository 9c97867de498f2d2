"""The one place where keras_har imports Keras.

Every other module does ``from keras_har.backend import keras, tf``.

keras_har builds its models with ``tf_keras`` (Keras 2), not Keras 3, because
tensorflow-model-optimization 0.8.x runs quantization-aware training only on
tf_keras models (see ``docs/toolchain.md``). Importing tfmot sets
``TF_USE_LEGACY_KERAS=1`` by itself, which silently switches ``tf.keras`` to
tf_keras; we set it here, before TensorFlow is imported, so that ``tf.keras``
and ``keras_har.backend.keras`` are always the same module and a model built
anywhere in the package can go through QAT unchanged.
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
# TensorFlow's C++ start-up chatter (CPU feature lines) is noise for users.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

__all__ = ["keras", "tf", "register"]


def register(cls):
    """Registers a custom layer or model as serialisable under ``keras_har>``."""
    return keras.saving.register_keras_serializable(package="keras_har")(cls)
