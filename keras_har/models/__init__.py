"""Model architectures: TinierHAR and the baselines it is compared with."""

from keras_har.models.deep_conv_lstm import DeepConvLSTM
from keras_har.models.official_weights import load_official_weights
from keras_har.models.registry import MODELS, from_official_checkpoint, get_model_class, resolve_builder
from keras_har.models.tinier_har import TinierHAR, TinierHARBackbone
from keras_har.models.tiny_har import TinyHAR
from keras_har.models.torch_state_dict import UnsafeCheckpointError, read_state_dict

__all__ = [
    "DeepConvLSTM", "MODELS", "TinierHAR", "TinierHARBackbone", "TinyHAR", "UnsafeCheckpointError",
    "from_official_checkpoint", "get_model_class", "load_official_weights", "read_state_dict", "resolve_builder",
]
