"""Model architectures: TinierHAR and the baselines it is compared with."""

from keras_har.models.deep_conv_lstm import DeepConvLSTM
from keras_har.models.tinier_har import TinierHAR, TinierHARBackbone
from keras_har.models.tiny_har import TinyHAR

MODELS = {"tinierhar": TinierHAR, "tinyhar": TinyHAR, "deepconvlstm": DeepConvLSTM}


def get_model_class(name):
    """Returns the model class for a name such as ``"tinierhar"``."""
    key = str(name).lower().replace("_", "").replace("-", "")
    if key not in MODELS:
        raise ValueError(f"Unknown model. Known models: {sorted(MODELS)}. Received: model={name!r}")
    return MODELS[key]


# Imported after MODELS: official_weights looks the model classes up by name.
from keras_har.models.official_weights import from_official_checkpoint, load_official_weights  # noqa: E402
from keras_har.models.torch_state_dict import UnsafeCheckpointError, read_state_dict  # noqa: E402

__all__ = [
    "DeepConvLSTM", "MODELS", "TinierHAR", "TinierHARBackbone", "TinyHAR", "UnsafeCheckpointError",
    "from_official_checkpoint", "get_model_class", "load_official_weights", "read_state_dict",
]
