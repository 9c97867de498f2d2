"""The official models' forward passes in NumPy, on weights in PyTorch's own layout.

Written from the official PyTorch code (``models/TinierHAR.py``,
``models/TinyHAR.py``, ``models/deepconvlstm.py`` of
github.com/zhaxidele/TinierHAR) and PyTorch's documented ``Conv2d``,
``BatchNorm2d`` (eval), ``GRU`` and ``LSTM`` equations. It never converts a
weight to Keras's layout, so it checks keras_har's checkpoint loader
independently: the loader must give the same logits. Tests also check that
this reference reproduces the official TinierHAR logits of the committed
fixture, which pins its conventions (convolution, flatten order, GRU gates).

Inputs are ``(batch, 1, time, channels)`` like the official code's. Float64.
"""

import numpy as np


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def conv2d(x, weight, bias, stride=1, padding=0, groups=1):
    """``nn.Conv2d`` with a ``(k, 1)`` kernel: x ``(B, in, T, C)``, weight ``(out, in/groups, k, 1)``."""
    if padding:
        x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (0, 0)))
    k = weight.shape[2]
    steps = (x.shape[2] - k) // stride + 1
    index = np.arange(steps)[:, None] * stride + np.arange(k)[None, :]
    windows = x[:, :, index, :]  # (B, in, steps, k, C)
    if groups == 1:
        y = np.einsum("bitkc,oik->botc", windows, weight[..., 0])
    else:
        assert groups == x.shape[1] == weight.shape[0]
        y = np.einsum("bitkc,ik->bitc", windows, weight[:, 0, :, 0])
    return y + bias[None, :, None, None]


def batch_norm(x, state, prefix, eps=1e-5):
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mean = state[f"{prefix}.running_mean"].reshape(shape)
    var = state[f"{prefix}.running_var"].reshape(shape)
    return (x - mean) / np.sqrt(var + eps) * state[f"{prefix}.weight"].reshape(shape) + state[
        f"{prefix}.bias"
    ].reshape(shape)


def max_pool_time(x):
    b, f, t, c = x.shape
    return x[:, :, : 2 * (t // 2)].reshape(b, f, t // 2, 2, c).max(axis=3)


def linear(x, state, prefix, bias=True):
    y = x @ state[f"{prefix}.weight"].T
    return y + state[f"{prefix}.bias"] if bias else y


def gru(x, state, prefix, suffix="", reverse=False):
    """``nn.GRU`` one direction: gates stacked (r, z, n)."""
    w_ih, w_hh = state[f"{prefix}.weight_ih_l0{suffix}"], state[f"{prefix}.weight_hh_l0{suffix}"]
    b_ih, b_hh = state[f"{prefix}.bias_ih_l0{suffix}"], state[f"{prefix}.bias_hh_l0{suffix}"]
    units = w_hh.shape[1]
    h = np.zeros((x.shape[0], units))
    outputs = np.zeros((x.shape[0], x.shape[1], units))
    steps = range(x.shape[1] - 1, -1, -1) if reverse else range(x.shape[1])
    for t in steps:
        gi = x[:, t] @ w_ih.T + b_ih
        gh = h @ w_hh.T + b_hh
        r = _sigmoid(gi[:, :units] + gh[:, :units])
        z = _sigmoid(gi[:, units: 2 * units] + gh[:, units: 2 * units])
        n = np.tanh(gi[:, 2 * units:] + r * gh[:, 2 * units:])
        h = (1 - z) * n + z * h
        outputs[:, t] = h
    return outputs


def lstm(x, state, prefix):
    """``nn.LSTM`` one layer: gates stacked (i, f, g, o), two bias vectors."""
    w_ih, w_hh = state[f"{prefix}.weight_ih_l0"], state[f"{prefix}.weight_hh_l0"]
    bias = state[f"{prefix}.bias_ih_l0"] + state[f"{prefix}.bias_hh_l0"]
    units = w_hh.shape[1]
    h = np.zeros((x.shape[0], units))
    c = np.zeros((x.shape[0], units))
    outputs = np.zeros((x.shape[0], x.shape[1], units))
    for t in range(x.shape[1]):
        gates = x[:, t] @ w_ih.T + h @ w_hh.T + bias
        i, f, g, o = np.split(gates, 4, axis=1)
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        h = _sigmoid(o) * np.tanh(c)
        outputs[:, t] = h
    return outputs


def _softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def tinier_har(state, x):
    """``TinierHAR_Model.forward`` in eval mode."""
    state = {key: np.asarray(value, dtype=np.float64) for key, value in state.items()}
    x = np.asarray(x, dtype=np.float64)
    blocks = sorted({int(key.split(".")[1]) for key in state if key.startswith("conv_blocks.")})
    for index in blocks:
        p = f"conv_blocks.{index}"
        pool = index < 2
        in_filters = state[f"{p}.conv.0.depthwise.weight"].shape[0]
        y = conv2d(x, state[f"{p}.conv.0.depthwise.weight"], state[f"{p}.conv.0.depthwise.bias"], padding=2,
                   groups=in_filters)
        y = conv2d(y, state[f"{p}.conv.0.pointwise.weight"], state[f"{p}.conv.0.pointwise.bias"])
        y = np.maximum(batch_norm(y, state, f"{p}.conv.1"), 0)
        shortcut = x
        if f"{p}.F_shortcut.0.weight" in state:
            shortcut = conv2d(x, state[f"{p}.F_shortcut.0.weight"], state[f"{p}.F_shortcut.0.bias"])
            shortcut = batch_norm(shortcut, state, f"{p}.F_shortcut.1")
        if pool:
            y, shortcut = max_pool_time(y), max_pool_time(shortcut)
        x = y + shortcut
    b, f, t, c = x.shape
    x = x.transpose(0, 2, 1, 3).reshape(b, t, f * c)  # filter-major, as the official permute + reshape
    x = np.concatenate([gru(x, state, "gru"), gru(x, state, "gru", "_reverse", reverse=True)], axis=-1)
    weights = _softmax(linear(x, state, "attention"), axis=1)
    return linear((weights * x).sum(axis=1), state, "classifier.0")


def tiny_har(state, x):
    """``TinyHAR_Model.forward`` in eval mode, with the official defaults."""
    state = {key: np.asarray(value, dtype=np.float64) for key, value in state.items()}
    x = np.asarray(x, dtype=np.float64)
    for index in range(4):
        p = f"layers_conv.{index}"
        x = conv2d(x, state[f"{p}.0.weight"], state[f"{p}.0.bias"], stride=2 if index % 2 == 1 else 1)
        x = batch_norm(np.maximum(x, 0), state, f"{p}.2")
    x = x.transpose(0, 3, 2, 1)  # (B, C, L, F)
    steps = []
    for t in range(x.shape[2]):
        v = x[:, :, t, :]  # (B, C, F)
        f = linear(v, state, "channel_interaction.query", bias=False)
        g = linear(v, state, "channel_interaction.key", bias=False)
        h = linear(v, state, "channel_interaction.value", bias=False)
        beta = _softmax(f @ g.transpose(0, 2, 1), axis=1)
        o = state["channel_interaction.gamma"] * (h.transpose(0, 2, 1) @ beta) + v.transpose(0, 2, 1)
        steps.append(o.transpose(0, 2, 1)[..., None])
    x = np.concatenate(steps, axis=-1)  # (B, C, F, L)
    x = x.transpose(0, 3, 1, 2)
    x = x.reshape(x.shape[0], x.shape[1], -1)
    x = np.maximum(linear(x, state, "channel_fusion.fc"), 0)
    x = lstm(x, state, "temporal_interaction.lstm")
    scores = linear(np.tanh(linear(x, state, "temporal_fusion.fc_1")), state, "temporal_fusion.fc_2", bias=False)
    weights = _softmax(scores[..., 0], axis=1)[..., None]
    context = (weights * x).sum(axis=1)
    x = x[:, -1, :] + state["temporal_fusion.gamma"] * context
    return linear(x, state, "prediction")


def deep_conv_lstm(state, x):
    """``DeepConvLSTM.forward`` in eval mode, ``batch_norm: 0``."""
    state = {key: np.asarray(value, dtype=np.float64) for key, value in state.items()}
    x = np.asarray(x, dtype=np.float64)
    for block in range(2):
        p = f"conv_blocks.{block}"
        x = np.maximum(conv2d(x, state[f"{p}.conv1.weight"], state[f"{p}.conv1.bias"]), 0)
        x = np.maximum(conv2d(x, state[f"{p}.conv2.weight"], state[f"{p}.conv2.bias"], stride=2), 0)
    b, f, t, c = x.shape
    x = x.transpose(0, 2, 1, 3).reshape(b, t, f * c)
    layers = sorted({int(key.split(".")[1]) for key in state if key.startswith("lstm_layers.")})
    for index in layers:
        x = lstm(x, state, f"lstm_layers.{index}")
    return linear(x[:, -1, :], state, "fc")
