"""TensorFlow's log noise, off by default (``keras-har``, and its worker processes).

This module imports TensorFlow only inside `quiet_tensorflow`.
"""

import contextlib
import os
import sys


@contextlib.contextmanager
def _stderr_to_devnull():
    # TensorFlow's C++ start-up lines ("All log messages before
    # absl::InitializeLog() ...", oneDNN, CUDA stubs) go to file descriptor 2
    # before any log level applies, so they are held back there, around the import only.
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def quiet_tensorflow():
    """Imports TensorFlow with its log noise off: C++ logs, start-up lines and absl INFO/WARNING.

    Only logging changes: oneDNN stays as it is (``TF_ENABLE_ONEDNN_OPTS``
    changes numerics, so it is left alone). A ``TF_CPP_MIN_LOG_LEVEL`` set by
    the user is kept.
    """
    if "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with _stderr_to_devnull():
        import keras_har.backend  # noqa: F401  (imports TensorFlow and tf_keras)
    from absl import logging as absl_logging

    absl_logging.set_verbosity(absl_logging.ERROR)


def verbose_tensorflow():
    """Lets TensorFlow log as it does by default (``keras-har --verbose``)."""
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
