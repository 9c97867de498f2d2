"""The one place where keras_har imports KerasTuner.

KerasTuner 1.4.8 picks its Keras by running ``import keras`` and checking for
Keras 3's ``keras.version()``. When Keras 3 is installed (TensorFlow installs
it) the tuner uses it and rejects keras_har's tf_keras models with
``FatalTypeError: Expected ... a valid Keras Model instance``. keras_har's
models must stay tf_keras for quantization-aware training (see
``keras_har/backend.py``), so KerasTuner is imported here with
``sys.modules["keras"]`` pointing at tf_keras for the duration of the import
only. KerasTuner then takes its Keras 2 path (``tensorflow.keras``, which is
tf_keras because ``keras_har.backend`` sets ``TF_USE_LEGACY_KERAS=1``) and
``import keras`` elsewhere in the process still gives Keras 3 afterwards.

Of the two workarounds measured in ``docs/toolchain.md`` this one
was chosen because the other (build a Keras 3 twin of every model and copy the
weights) needs every model written twice.
"""

import sys

from keras_har.backend import keras

__all__ = ["keras_tuner"]


def _import_keras_tuner():
    already_imported = sys.modules.get("keras_tuner")
    if already_imported is not None:
        from keras_tuner.src.backend import config

        if config.multi_backend():
            raise RuntimeError(
                "keras_tuner was imported before keras_har.tuning and is bound to Keras 3, "
                "which rejects keras_har's tf_keras models. Import keras_har.tuning before "
                "keras_tuner (or do not import keras_tuner yourself)."
            )
        return already_imported
    previous = sys.modules.get("keras")
    sys.modules["keras"] = keras
    try:
        import keras_tuner as module
    finally:
        if previous is None:
            del sys.modules["keras"]
        else:
            sys.modules["keras"] = previous
    return module


keras_tuner = _import_keras_tuner()
