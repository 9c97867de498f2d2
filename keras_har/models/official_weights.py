"""Official PyTorch checkpoints of TinierHAR, TinyHAR and DeepConvLSTM, loaded into keras_har models.

The official code (github.com/zhaxidele/TinierHAR) saves ``state_dict``s of
``TinierHAR_Model``, ``TinyHAR_Model`` and ``DeepConvLSTM``, usually inside
its ``model_builder`` wrapper, so every key starts with ``model.``. Each key
is mapped onto one keras_har variable, with the layout changes below; every
shape is checked first, and a checkpoint with a key too many or too few is
refused, so a checkpoint either loads whole or leaves the model untouched.

Layout differences between PyTorch and keras_har, and what the loader does:

- Convolutions: PyTorch ``(out, in, kh, kw)``, Keras ``(kh, kw, in, out)``;
  depthwise ``(in, 1, kh, kw)`` against Keras's ``(kh, kw, in, 1)``:
  transposed.
- ``Linear``: PyTorch ``(out, in)``, Keras ``Dense`` ``(in, out)``: transposed.
- BatchNorm: ``weight, bias, running_mean, running_var`` are Keras's
  ``gamma, beta, moving_mean, moving_variance``; ``num_batches_tracked``
  only counts training steps and is dropped.
- GRU: PyTorch stacks its gates as (r, z, n), Keras as (z, r, h); the blocks
  are reordered. keras_har's GRU uses ``reset_after=True``, which is
  PyTorch's formulation with its two bias vectors, stacked as Keras's
  ``bias[0]`` (input) and ``bias[1]`` (recurrent).
- LSTM: both stack their gates as (i, f, g, o). PyTorch keeps two bias
  vectors per gate (``bias_ih + bias_hh``), Keras one: they are summed, which
  computes the same function.
- Flattening before the recurrent layer: TinierHAR and DeepConvLSTM in
  PyTorch flatten ``(filters, channels)`` filter-major (index ``f*C + c``),
  keras_har channel-major (``c*F + f``), because Keras keeps channels last.
  The recurrent layer's input weights are permuted to match. TinyHAR's
  official code already flattens channel-major: no permutation.

Supported: TinierHAR as in the paper (the only configuration the official
``TinierHAR_Model`` builds: separable convolutions, residual blocks, BiGRU,
attention), TinyHAR with the official defaults (cross-channel attention,
FC fusion, LSTM, "tnaive" aggregation) and DeepConvLSTM with
``batch_norm: 0`` (``configs/model.yaml``). The window length is in no
weight, so any ``input_shape[0]`` loads; channels, classes and the width
settings must match the checkpoint.
"""

import collections
import re

import numpy as np

from keras_har.models.torch_state_dict import read_state_dict

# Keys that PyTorch stores and keras_har has no variable for, because they do
# not change the function the model computes.
_IGNORED_SUFFIXES = (".num_batches_tracked",)
# Prefixes of the official wrappers: model_builder's `self.model`, DataParallel's `module`.
_WRAPPER_PREFIXES = ("module.", "model.")
# A key that only one official model has, to tell which model a checkpoint is.
_SIGNATURE_KEYS = {
    "tinierhar": "gru.weight_hh_l0",
    "tinyhar": "channel_interaction.query.weight",
    "deepconvlstm": "lstm_layers.0.weight_hh_l0",
}

_Tensor = collections.namedtuple("_Tensor", "keys shapes variable convert setting")
# name: constructor argument; label: the paper's letter; key and read: where
# the checkpoint shows the value; value: the model's.
_Setting = collections.namedtuple("_Setting", "name label key read value")


def load_official_weights(model, source):
    """Loads an official PyTorch checkpoint into a keras_har model, checking every tensor.

    Each tensor of the ``state_dict`` is mapped onto the model's variables
    (layouts: see the module docstring). Nothing is assigned until every
    check has passed:

    - the model settings that show in the weights (filters, recurrent units,
      input channels, classes) must equal the checkpoint's, and an error
      names the setting to change and the value to use;
    - the keys must be exactly the model's: a leftover or missing key is an
      error that lists them;
    - every tensor must have the shape the model needs, or the error names
      the key.

    Supported models: `keras_har.TinierHAR` (the paper's configuration),
    `keras_har.TinyHAR` and `keras_har.DeepConvLSTM` (one or more LSTM
    layers), each with the official code's layout.

    Args:
        model: the model to fill, built with the checkpoint's settings.
        source: a ``.pth`` file written by ``torch.save(model.state_dict())``
            (read without PyTorch: see
            `keras_har.models.torch_state_dict.read_state_dict`), an
            ``.npz`` of the same tensors, or a dict of NumPy arrays. Keys may
            carry the official ``model.`` prefix.

    Returns:
        The model, with its weights replaced.

    Raises:
        ValueError: a setting, key or shape does not match, or the model is
            not a supported configuration.

    Example:
    >>> import keras_har
    >>> from keras_har.models import load_official_weights
    >>> model = keras_har.TinierHAR(input_shape=(200, 23), num_classes=12)
    >>> model = load_official_weights(model, "final_best_vali.pth")  # doctest: +SKIP
    """
    name, layout = _layout_of(model)
    state, original = _strip_prefixes(read_state_dict(source) if not isinstance(source, dict) else dict(source))
    tensors, settings = layout(model)
    _check_settings(name, settings, state, original)
    _check_keys(name, tensors, state, original)
    values = []
    for tensor in tensors:
        arrays = [np.asarray(state[key]) for key in tensor.keys]
        for key, array, shape in zip(tensor.keys, arrays, tensor.shapes):
            key = original[key]
            if array.shape != tuple(shape):
                raise ValueError(
                    f"Checkpoint tensor `{key}` has shape {array.shape}, but this {type(model).__name__} needs "
                    f"{tuple(shape)}: build the model with the checkpoint's {tensor.setting}. "
                    f"Received: {key}.shape={array.shape}"
                )
            if not np.issubdtype(array.dtype, np.floating):
                raise ValueError(f"Checkpoint tensor `{key}` is {array.dtype}, not floating point. "
                                 f"Received: {key}.dtype={array.dtype}")
        value = tensor.convert(*(array.astype("float32") for array in arrays))
        values.append((tensor.variable, value))
    for variable, value in values:
        variable.assign(np.asarray(value, dtype=variable.dtype.as_numpy_dtype))
    return model


# === Helpers shared by the layouts ===


def _layout_of(model):
    # By class name along the MRO (as isinstance would match a subclass): this
    # module loads weights into the model classes, which import it to offer
    # `from_official_checkpoint`, so it must not import them back.
    layouts = {
        "TinierHAR": ("tinierhar", _tinier_har_layout),
        "TinyHAR": ("tinyhar", _tiny_har_layout),
        "DeepConvLSTM": ("deepconvlstm", _deep_conv_lstm_layout),
    }
    for model_class in type(model).__mro__:
        if model_class.__module__.startswith("keras_har.models.") and model_class.__name__ in layouts:
            return layouts[model_class.__name__]
    raise ValueError(
        "Official checkpoints load into keras_har.TinierHAR, keras_har.TinyHAR and keras_har.DeepConvLSTM "
        f"only. Received: model={type(model).__name__}"
    )


def _strip_prefixes(state):
    """Removes the official wrappers' prefixes; returns the state and each new key's original name."""
    stripped, original = {}, {}
    for key, value in state.items():
        new_key = str(key)
        for prefix in _WRAPPER_PREFIXES:
            if new_key.startswith(prefix):
                new_key = new_key[len(prefix):]
        if new_key in stripped:
            raise ValueError(f"Two checkpoint keys become `{new_key}` once the wrapper prefixes "
                             f"{_WRAPPER_PREFIXES} are removed. Received: key={key!r}")
        stripped[new_key], original[new_key] = value, str(key)
    return stripped, original


def _check_settings(model_name, settings, state, original):
    for setting in settings:
        if setting.key not in state:
            continue  # reported as a missing key
        found = setting.read(state)
        if found is not None and found != setting.value:
            raise ValueError(
                f"The checkpoint was trained with {setting.name}={found!r} ({setting.label}; from "
                f"`{original[setting.key]}` of shape {tuple(np.shape(state[setting.key]))}), but the model has "
                f"{setting.name}={setting.value!r}. Build the {model_name} model with {setting.name}={found!r}. "
                f"Received: {setting.name}={setting.value!r}"
            )


def _check_keys(model_name, tensors, state, original):
    expected = [key for tensor in tensors for key in tensor.keys]
    expected_set = set(expected)
    missing = [key for key in expected if key not in state]
    leftover = [original[key] for key in state if key not in expected_set and not key.endswith(_IGNORED_SUFFIXES)]
    if not missing and not leftover:
        return
    parts = []
    if leftover:
        parts.append(f"{len(leftover)} checkpoint key(s) that the model has no variable for: {_few(leftover)}")
    if missing:
        parts.append(f"{len(missing)} key(s) that the model needs and the checkpoint lacks: {_few(missing)}")
    looks_like = [name for name, key in _SIGNATURE_KEYS.items() if key in state]
    hint = ""
    if looks_like and model_name not in looks_like:
        hint = f" The keys look like an official {looks_like[0]} checkpoint: load it into that model."
    raise ValueError(
        f"The checkpoint does not fit the {model_name} model exactly: " + "; ".join(parts) + "." + hint
        + f" {_LAYOUT_NOTES[model_name]} Received: leftover={len(leftover)}, missing={len(missing)}"
    )


def _few(keys, count=6):
    shown = ", ".join(f"`{key}`" for key in keys[:count])
    return shown + (f" and {len(keys) - count} more" if len(keys) > count else "")


def _count_indices(state, pattern):
    regex = re.compile(pattern)
    return len({match[1] for key in state if (match := regex.match(key))})


def _shape(variable):
    return tuple(int(d) for d in variable.shape)


def _conv(prefix, layer, setting):
    """``nn.Conv2d`` with bias -> ``Conv2D``: ``(out, in, kh, kw)`` -> ``(kh, kw, in, out)``."""
    kh, kw, cin, cout = _shape(layer.kernel)
    return [
        _Tensor((f"{prefix}.weight",), [(cout, cin, kh, kw)], layer.kernel, lambda w: w.transpose(2, 3, 1, 0), setting),
        _Tensor((f"{prefix}.bias",), [(cout,)], layer.bias, lambda b: b, setting),
    ]


def _depthwise(prefix, layer, setting):
    """Grouped ``nn.Conv2d`` (groups=in) -> ``DepthwiseConv2D``: ``(in, 1, kh, kw)`` -> ``(kh, kw, in, 1)``."""
    kh, kw, cin, multiplier = _shape(layer.depthwise_kernel)
    return [
        _Tensor((f"{prefix}.weight",), [(cin * multiplier, 1, kh, kw)], layer.depthwise_kernel,
                lambda w: w.reshape(cin, multiplier, kh, kw).transpose(2, 3, 0, 1), setting),
        _Tensor((f"{prefix}.bias",), [(cin * multiplier,)], layer.bias, lambda b: b, setting),
    ]


def _batch_norm(prefix, layer, setting):
    (size,) = _shape(layer.gamma)
    pairs = (("weight", layer.gamma), ("bias", layer.beta), ("running_mean", layer.moving_mean),
             ("running_var", layer.moving_variance))
    return [_Tensor((f"{prefix}.{name}",), [(size,)], variable, lambda v: v, setting) for name, variable in pairs]


def _dense(prefix, kernel, bias, setting):
    """``nn.Linear`` -> ``Dense``: ``(out, in)`` -> ``(in, out)``; ``bias=None`` for a layer without one."""
    fan_in, fan_out = _shape(kernel)
    tensors = [_Tensor((f"{prefix}.weight",), [(fan_out, fan_in)], kernel, lambda w: w.T, setting)]
    if bias is not None:
        tensors.append(_Tensor((f"{prefix}.bias",), [(fan_out,)], bias, lambda b: b, setting))
    return tensors


def _filter_major_to_channel_major(filters, channels):
    """Index of PyTorch's input feature ``f*C + c`` for each Keras feature ``c*F + f``."""
    return np.arange(filters * channels).reshape(filters, channels).T.ravel()


def _gru_gates(weight):
    """PyTorch's (r, z, n) gate blocks along the first axis -> Keras's (z, r, h)."""
    reset, update, new = np.split(weight, 3, axis=0)
    return np.concatenate([update, reset, new], axis=0)


def _gru(prefix, suffix, cell, input_order, setting):
    units = int(cell.units)
    inputs = _shape(cell.kernel)[0]
    keys = lambda name: (f"{prefix}.{name}_l0{suffix}",)  # noqa: E731
    return [
        _Tensor(keys("weight_ih"), [(3 * units, inputs)], cell.kernel,
                lambda w: _gru_gates(w[:, input_order]).T, setting),
        _Tensor(keys("weight_hh"), [(3 * units, units)], cell.recurrent_kernel, lambda w: _gru_gates(w).T, setting),
        _Tensor(keys("bias_ih") + keys("bias_hh"), [(3 * units,)] * 2, cell.bias,
                lambda b_ih, b_hh: np.stack([_gru_gates(b_ih), _gru_gates(b_hh)]), setting),
    ]


def _lstm(prefix, cell, input_order, setting):
    """``nn.LSTM`` (one layer) -> ``LSTM``; both order the gates (i, f, g, o). Biases are summed."""
    units = int(cell.units)
    inputs = _shape(cell.kernel)[0]
    return [
        _Tensor((f"{prefix}.weight_ih_l0",), [(4 * units, inputs)], cell.kernel, lambda w: w[:, input_order].T,
                setting),
        _Tensor((f"{prefix}.weight_hh_l0",), [(4 * units, units)], cell.recurrent_kernel, lambda w: w.T, setting),
        _Tensor((f"{prefix}.bias_ih_l0", f"{prefix}.bias_hh_l0"), [(4 * units,)] * 2, cell.bias,
                lambda b_ih, b_hh: b_ih + b_hh, setting),
    ]


_LAYOUT_NOTES = {
    "tinierhar": "keras_har's TinierHAR has the official 6 blocks (nb_conv_blocks: 4 in the official "
                 "configs/model.yaml) with shortcuts, a BiGRU and attention.",
    "tinyhar": "keras_har's TinyHAR has the official 4 convolutions, cross-channel attention, FC fusion, "
               "one LSTM and the 'tnaive' aggregation.",
    "deepconvlstm": "keras_har's DeepConvLSTM has the official 2 conv blocks without BatchNorm "
                    "(batch_norm: 0 in configs/model.yaml) and lstm_layers LSTM layers.",
}


# === The three official layouts ===


def _tinier_har_layout(model):
    paper = {"conv": "separable", "recurrent": "bigru", "aggregation": "attention", "residual": True}
    for name, value in paper.items():
        if getattr(model, name) != value:
            raise ValueError(
                "The official TinierHAR_Model has only the paper's configuration (conv='separable', "
                "recurrent='bigru', aggregation='attention', residual=True), so only that loads an official "
                f"checkpoint. Received: {name}={getattr(model, name)!r}"
            )
    filters, units = model.filters, model.gru_units
    channels = model.window_shape[1]
    tensors = []
    in_filters = 1
    for index in range(6):
        out_filters = filters if index == 0 else 2 * filters
        block, name = f"conv_blocks.{index}", f"block{index + 1}"
        width = "filters (M)"
        tensors += _depthwise(f"{block}.conv.0.depthwise", model.get_layer(f"{name}_depthwise"), width)
        tensors += _conv(f"{block}.conv.0.pointwise", model.get_layer(f"{name}_pointwise"), width)
        tensors += _batch_norm(f"{block}.conv.1", model.get_layer(f"{name}_bn"), width)
        if in_filters != out_filters:
            tensors += _conv(f"{block}.F_shortcut.0", model.get_layer(f"{name}_shortcut_conv"), width)
            tensors += _batch_norm(f"{block}.F_shortcut.1", model.get_layer(f"{name}_shortcut_bn"), width)
        in_filters = out_filters
    order = _filter_major_to_channel_major(2 * filters, channels)
    recurrent = model.get_layer("recurrent")
    gru = "filters (M), gru_units (N) and input channels (input_shape[1])"
    tensors += _gru("gru", "", recurrent.forward_layer.cell, order, gru)
    tensors += _gru("gru", "_reverse", recurrent.backward_layer.cell, order, gru)
    pooling = model.get_layer("pooling")
    tensors += _dense("attention", pooling.score.kernel, pooling.score.bias, "gru_units (N)")
    logits = model.get_layer("logits")
    tensors += _dense("classifier.0", logits.kernel, logits.bias, "gru_units (N) and num_classes (K)")

    def checkpoint_channels(state):
        return _quotient(state, "gru.weight_ih_l0", "conv_blocks.0.conv.0.pointwise.weight", factor=2)

    settings = [
        _Setting("filters", "M", "conv_blocks.0.conv.0.pointwise.weight",
                 lambda s: _dim(s, "conv_blocks.0.conv.0.pointwise.weight", 0), filters),
        _Setting("gru_units", "N", "gru.weight_hh_l0", lambda s: _dim(s, "gru.weight_hh_l0", 1), units),
        _Setting("input_shape[1]", "sensor channels C", "gru.weight_ih_l0", checkpoint_channels, channels),
        _Setting("num_classes", "K", "classifier.0.weight", lambda s: _dim(s, "classifier.0.weight", 0),
                 model.num_classes),
    ]
    return tensors, settings


def _tiny_har_layout(model):
    filters = model.filters
    channels = model.window_shape[1]
    tensors = []
    for index in range(4):
        tensors += _conv(f"layers_conv.{index}.0", model.get_layer(f"conv{index + 1}"), "filters (F)")
        tensors += _batch_norm(f"layers_conv.{index}.2", model.get_layer(f"conv{index + 1}_bn"), "filters (F)")
    attention = model.get_layer("channel_interaction")
    for name in ("query", "key", "value"):
        tensors += _dense(f"channel_interaction.{name}", getattr(attention, name), None, "filters (F)")
    tensors.append(_Tensor(("channel_interaction.gamma",), [(1,)], attention.gamma, lambda g: g, "filters (F)"))
    fusion = model.get_layer("channel_fusion")
    tensors += _dense("channel_fusion.fc", fusion.kernel, fusion.bias, "filters (F) and input channels")
    # TinyHAR's official forward pass flattens (channel, filter) channel-major, like Keras.
    order = np.arange(2 * filters)
    tensors += _lstm("temporal_interaction.lstm", model.get_layer("recurrent").cell, order, "filters (F)")
    pooling = model.get_layer("pooling")
    tensors += _dense("temporal_fusion.fc_1", pooling.hidden.kernel, pooling.hidden.bias, "filters (F)")
    tensors += _dense("temporal_fusion.fc_2", pooling.score.kernel, None, "filters (F)")
    tensors.append(_Tensor(("temporal_fusion.gamma",), [(1,)], pooling.gamma, lambda g: g, "filters (F)"))
    logits = model.get_layer("logits")
    tensors += _dense("prediction", logits.kernel, logits.bias, "filters (F) and num_classes (K)")

    def checkpoint_channels(state):
        return _quotient(state, "channel_fusion.fc.weight", "layers_conv.0.0.weight")

    settings = [
        _Setting("filters", "F", "layers_conv.0.0.weight", lambda s: _dim(s, "layers_conv.0.0.weight", 0), filters),
        _Setting("input_shape[1]", "sensor channels C", "channel_fusion.fc.weight", checkpoint_channels, channels),
        _Setting("num_classes", "K", "prediction.weight", lambda s: _dim(s, "prediction.weight", 0),
                 model.num_classes),
    ]
    return tensors, settings


def _deep_conv_lstm_layout(model):
    filters, units = model.filters, model.lstm_units
    channels = model.window_shape[1]
    tensors = []
    for index in range(4):
        key = f"conv_blocks.{index // 2}.conv{index % 2 + 1}"
        tensors += _conv(key, model.get_layer(f"conv{index + 1}"), "filters")
    for index in range(model.lstm_layers):
        cell = model.get_layer(f"lstm{index + 1}").cell
        first = index == 0
        order = _filter_major_to_channel_major(filters, channels) if first else np.arange(units)
        setting = "filters, lstm_units and input channels" if first else "lstm_units"
        tensors += _lstm(f"lstm_layers.{index}", cell, order, setting)
    logits = model.get_layer("logits")
    tensors += _dense("fc", logits.kernel, logits.bias, "lstm_units and num_classes")

    def checkpoint_channels(state):
        return _quotient(state, "lstm_layers.0.weight_ih_l0", "conv_blocks.0.conv1.weight")

    settings = [
        _Setting("filters", "nb_filters", "conv_blocks.0.conv1.weight",
                 lambda s: _dim(s, "conv_blocks.0.conv1.weight", 0), filters),
        _Setting("lstm_units", "nb_units_lstm", "lstm_layers.0.weight_hh_l0",
                 lambda s: _dim(s, "lstm_layers.0.weight_hh_l0", 1), units),
        _Setting("lstm_layers", "nb_layers_lstm", "lstm_layers.0.weight_hh_l0",
                 lambda s: _count_indices(s, r"lstm_layers\.(\d+)\."), model.lstm_layers),
        _Setting("input_shape[1]", "sensor channels C", "lstm_layers.0.weight_ih_l0", checkpoint_channels, channels),
        _Setting("num_classes", "K", "fc.weight", lambda s: _dim(s, "fc.weight", 0), model.num_classes),
    ]
    return tensors, settings


def _dim(state, key, axis):
    shape = np.shape(state[key])
    return int(shape[axis]) if -len(shape) <= axis < len(shape) else None


def _quotient(state, inputs_key, filters_key, factor=1):
    """Sensor channels C from a recurrent or fusion layer's input width ``factor * filters * C``."""
    if filters_key not in state:
        return None  # reported as a missing key
    inputs, filters = _dim(state, inputs_key, -1), _dim(state, filters_key, 0)
    if inputs is None or not filters or inputs % (factor * filters):
        return None  # left to the shape check, which names the key
    return inputs // (factor * filters)


class OfficialCheckpoint:
    """Gives a model class ``from_official_checkpoint``: TinierHAR, TinyHAR and DeepConvLSTM."""

    @classmethod
    def from_official_checkpoint(cls, path, input_shape, num_classes, **kwargs):
        """Builds the model and loads an official PyTorch checkpoint into it.

        See `load_official_weights` for the layout mapping and the checks.
        ``kwargs`` are the model's other constructor arguments (the class's
        defaults otherwise); they must match the checkpoint.

        Example:
        >>> import keras_har
        >>> model = keras_har.TinierHAR.from_official_checkpoint(
        ...     "checkpoint.pth", input_shape=(200, 23), num_classes=12)  # doctest: +SKIP
        """
        return load_official_weights(cls(input_shape=tuple(input_shape), num_classes=num_classes, **kwargs), path)
