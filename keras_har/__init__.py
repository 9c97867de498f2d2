"""keras_har: ultra-lightweight human activity recognition for microcontrollers.

Heavy imports (TensorFlow) happen on first use of a model or tool, not on
``import keras_har``.
"""

import importlib

__version__ = "0.1.0"

_LAZY = {
    "TinierHAR": "keras_har.models",
    "TinierHARBackbone": "keras_har.models",
    "TinyHAR": "keras_har.models",
    "DeepConvLSTM": "keras_har.models",
    "get_model_class": "keras_har.models",
    "profile": "keras_har.profiler",
    "datasets": "keras_har.datasets",
    "layers": "keras_har.layers",
    "metrics": "keras_har.metrics",
    "models": "keras_har.models",
    "ssl": "keras_har.ssl",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'keras_har' has no attribute {name!r}")
    module = importlib.import_module(_LAZY[name])
    value = module if module.__name__ == f"keras_har.{name}" else getattr(module, name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
