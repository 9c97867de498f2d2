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

__all__ = ["keras", "tf", "register", "software_versions"]


def _gpu_visible():
    """Whether TensorFlow sees a GPU (asked once: the devices do not change after start-up)."""
    global _GPU_VISIBLE
    if _GPU_VISIBLE is None:
        _GPU_VISIBLE = bool(tf.config.list_logical_devices("GPU"))
    return _GPU_VISIBLE


_GPU_VISIBLE = None


def _register_cudnn_variants_only_with_a_gpu():
    """Stops Keras's GRU and LSTM from tracing their cuDNN variant on a machine without a GPU.

    Wherever a GRU or LSTM is called in a graph (building a functional model,
    tracing a training or prediction step), tf_keras traces the CPU
    implementation it runs and also registers the cuDNN one, with its
    gradient, for Grappler to swap in on a GPU. Without a GPU that second
    trace is never used, and it is about a third of the time it takes to
    build a TinierHAR. Here it is skipped unless TensorFlow sees a GPU; the
    CPU implementation, and so every output and gradient, is unchanged
    (tests/test_backend.py compares them bit for bit). It applies to every
    tf_keras GRU and LSTM in the process, keras_har's or not. One
    consequence: a SavedModel written on a CPU-only machine runs the generic
    GRU kernels if it is later loaded on a GPU (a ``.keras`` file is rebuilt
    on load and is not affected). See docs/toolchain.md, "Keras flavour".
    """
    try:
        from tf_keras.src.layers.rnn import gru_lstm_utils
    except ImportError:  # another tf_keras layout: leave it as it is
        return
    original = gru_lstm_utils.function_register
    if getattr(original, "keras_har_original", None) is not None:
        return

    def function_register(func, *args, **kwargs):
        if _gpu_visible():
            return function_register.keras_har_original(func, *args, **kwargs)
        return None  # its callers (GRU, LSTM) ignore the result

    function_register.keras_har_original = original
    gru_lstm_utils.function_register = function_register


_register_cudnn_variants_only_with_a_gpu()


def register(cls):
    """Registers a custom layer or model as serialisable under ``keras_har>``."""
    return keras.saving.register_keras_serializable(package="keras_har")(cls)


def software_versions():
    """The versions a result was computed with, for its result file: Python, TensorFlow, tf_keras, NumPy, keras_har.

    Example:
    >>> from keras_har.backend import software_versions
    >>> sorted(software_versions())
    ['keras_har', 'numpy', 'python', 'tensorflow', 'tf_keras']
    """
    import platform

    import numpy as np

    from keras_har import __version__

    return {"python": platform.python_version(), "tensorflow": tf.__version__, "tf_keras": keras.__version__,
            "numpy": np.__version__, "keras_har": __version__}
