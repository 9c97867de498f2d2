"""Parameter and MAC counting for keras_har models.

``profile(model)`` walks the layers of a built model and counts, per window
(batch size 1), the operations of each layer from its input and output shapes.

Two numbers come back:

- ``core_macs``: multiply-accumulates of the convolution, dense and recurrent
  weight products alone (kernels only: no biases, gates or normalisation).
  This is what an int8 kernel on a microcontroller spends most of its time on.
- ``macs``: the operation count that the official TinierHAR code logs in its
  ``macs_params`` file, computed with the same rules as the PyTorch counter
  it used (ptflops): convolutions and dense layers with their bias adds,
  BatchNorm as 2 per element, ReLU as 1 per output element and max-pooling as
  1 per input element, each counted twice (the module hook and the patched
  functional both fire in that counter), and recurrent cells with their bias
  adds and gate element-wise products. With these rules ``macs`` equals the
  official log exactly for TinierHAR on every dataset shape it lists (tested).

Custom layers declare their own count through a ``count_ops(input_shape)``
method returning ``(core_macs, macs)``.
"""

import math

from keras_har.backend import keras

# In the official counter both the module hook and the functional patch of
# ReLU and max-pooling fire, so each is counted twice.
_ACTIVATION_FACTOR = 2
_POOL_FACTOR = 2


def _elements(shape):
    return math.prod(int(d) for d in shape[1:])


def _shape(tensor_or_shape):
    shape = getattr(tensor_or_shape, "shape", tensor_or_shape)
    return tuple(shape)


def _recurrent_cell_ops(cell, input_dim):
    units = cell.units
    if isinstance(cell, keras.layers.GRUCell):
        core = 3 * units * (input_dim + units)
        # Bias adds (PyTorch-style two biases: 6N), the reset-gate product (N),
        # the three adds joining input and state terms (3N), and the final
        # (1 - z) * n + z * h (3N).
        return core, core + 6 * units + units + 3 * units + 3 * units
    if isinstance(cell, keras.layers.LSTMCell):
        core = 4 * units * (input_dim + units)
        return core, core + 8 * units + 4 * units + 3 * units + 3 * units
    if isinstance(cell, keras.layers.SimpleRNNCell):
        core = units * (input_dim + units)
        return core, core + 2 * units + units
    raise TypeError(f"profile() does not know the recurrent cell {type(cell).__name__}.")


def _recurrent_ops(layer, input_shape):
    steps, input_dim = int(input_shape[1]), int(input_shape[2])
    if isinstance(layer, keras.layers.Bidirectional):
        core_f, total_f = _recurrent_cell_ops(layer.forward_layer.cell, input_dim)
        core_b, total_b = _recurrent_cell_ops(layer.backward_layer.cell, input_dim)
        return steps * (core_f + core_b), steps * (total_f + total_b)
    core, total = _recurrent_cell_ops(layer.cell, input_dim)
    return steps * core, steps * total


def _activation_ops(activation, output_elements):
    name = getattr(activation, "__name__", str(activation))
    if name in ("linear", "None"):
        return 0
    return _ACTIVATION_FACTOR * output_elements


def _layer_ops(layer, input_shape, output_shape):
    """Returns ``(core_macs, macs)`` for one layer, per window."""
    out_elements = _elements(output_shape)
    if hasattr(layer, "count_ops"):
        return layer.count_ops(input_shape)
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        kernel = math.prod(layer.kernel_size)
        core = out_elements * kernel
        total = core + (out_elements if layer.use_bias else 0)
        return core, total + _activation_ops(layer.activation, out_elements)
    if isinstance(layer, (keras.layers.Conv1D, keras.layers.Conv2D)):
        kernel = math.prod(layer.kernel_size)
        in_channels = int(input_shape[-1]) // layer.groups
        core = out_elements * kernel * in_channels
        total = core + (out_elements if layer.use_bias else 0)
        return core, total + _activation_ops(layer.activation, out_elements)
    if isinstance(layer, keras.layers.Dense):
        in_features = int(input_shape[-1])
        rows = out_elements // layer.units
        core = rows * in_features * layer.units
        total = core + (out_elements if layer.use_bias else 0)
        return core, total + _activation_ops(layer.activation, out_elements)
    if isinstance(layer, (keras.layers.RNN, keras.layers.Bidirectional)):
        return _recurrent_ops(layer, input_shape)
    if isinstance(layer, keras.layers.BatchNormalization):
        return 0, 2 * _elements(input_shape)
    if isinstance(layer, (keras.layers.ReLU, keras.layers.Activation, keras.layers.Softmax)):
        return 0, _ACTIVATION_FACTOR * out_elements
    if isinstance(layer, (keras.layers.MaxPooling1D, keras.layers.MaxPooling2D)):
        return 0, _POOL_FACTOR * _elements(input_shape)
    if isinstance(layer, (keras.layers.GlobalAveragePooling1D, keras.layers.GlobalAveragePooling2D)):
        return 0, _elements(input_shape)
    # Reshape, Dropout, Add, Flatten, Cropping, InputLayer: data movement or
    # element-wise adds, which the official counter does not count.
    return 0, 0


def _iter_layers(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _iter_layers(layer)
        else:
            yield layer


def profile(model):
    """Counts a model's parameters and operations per window.

    Args:
        model: a built Keras model (any keras_har model). A training wrapper
            whose extra layers do not run at inference (e.g.
            `keras_har.ssl.PretextRegularizedClassifier`, whose pretext head
            runs only in its training step) names the network that does as
            ``inference_model``; that network is counted.

    Returns:
        A dict with ``params`` (trainable), ``non_trainable_params``,
        ``macs`` (the official TinierHAR log's counting rules), ``core_macs``
        (weight multiply-accumulates only) and ``layers``, a list of
        ``(layer_name, core_macs, macs)`` rows.

    Example:
    >>> import keras_har
    >>> model = keras_har.TinierHAR(input_shape=(128, 9), num_classes=6)
    >>> keras_har.profile(model)["macs"]
    637414
    """
    if not isinstance(model, keras.Model) or not model.built:
        raise ValueError(f"profile() needs a built Keras model. Received: model={model!r}")
    model = getattr(model, "inference_model", model)
    rows = []
    for layer in _iter_layers(model):
        if isinstance(layer, keras.layers.InputLayer):
            continue
        input_shape = _shape(layer.input)
        output_shape = _shape(layer.output)
        core, total = _layer_ops(layer, input_shape, output_shape)
        rows.append((layer.name, int(core), int(total)))
    trainable = sum(math.prod(w.shape) for w in model.trainable_weights)
    non_trainable = sum(math.prod(w.shape) for w in model.non_trainable_weights)
    return {
        "params": int(trainable),
        "non_trainable_params": int(non_trainable),
        "macs": sum(r[2] for r in rows),
        "core_macs": sum(r[1] for r in rows),
        "layers": rows,
    }


def paper_table():
    """Params and MACs of TinierHAR, TinyHAR and DeepConvLSTM on the paper's 14 dataset shapes.

    Returns a list of dicts, one per dataset, each with the shape and a
    ``{"params", "macs", "official_macs", "official_params"}`` entry per model.
    """
    from keras_har.models import get_model_class
    from keras_har.reference import DATASET_SHAPES, OFFICIAL_COUNTS

    rows = []
    for dataset, (steps, channels, classes) in DATASET_SHAPES.items():
        row = {"dataset": dataset, "window": steps, "channels": channels, "classes": classes}
        for model_name in ("tinierhar", "tinyhar", "deepconvlstm"):
            model = get_model_class(model_name)(input_shape=(steps, channels), num_classes=classes)
            result = profile(model)
            official_macs, official_params = OFFICIAL_COUNTS[model_name].get(dataset, (None, None))
            row[model_name] = {
                "params": result["params"],
                "macs": result["macs"],
                "core_macs": result["core_macs"],
                "official_params": official_params,
                "official_macs": official_macs,
            }
            keras.backend.clear_session()
        rows.append(row)
    return rows
