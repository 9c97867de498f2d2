"""Hardware budgets for the search, and the model footprint they are checked against.

A configuration is checked before any training: the model is built (cheap),
profiled with `keras_har.profile`, and its int8 TFLite Micro footprint is
estimated. Over-budget configurations are never trained.

How flash and arena are estimated (not measured)
------------------------------------------------
No TFLite export module was available to this search when it was written, so
``--max-flash-kb`` and ``--max-arena-kb`` are checked against an estimate,
calibrated on the one full-integer TinierHAR-like conversion that was measured
on this kind of machine (``shared/reference/TOOLCHAIN.md``: separable residual
blocks, BiGRU(16) unrolled at batch 1, attention pooling, T=128, C=9, K=6,
about 11.5k parameters; 999 ops; 268,816 B flatbuffer after
``strip_strings``; 303,798 B minimum TFLM arena). In such a graph the per-op
overhead (tensors, quantization parameters, persistent kernel state) costs
far more than the weights, so the estimate counts ops:

- ops: one per convolution, dense, pooling, add, reshape and flatten layer
  (BatchNorm and ReLU fold into the convolution), four for attention pooling
  (score, softmax, multiply, sum), and per recurrent direction
  ``GRU_OPS_PER_STEP`` per time step for a GRU (the converter unrolls it) or
  ``LSTM_OPS`` for an LSTM (one fused UNIDIRECTIONAL_SEQUENCE_LSTM op);
- ``flash_bytes = params * 1 B (int8 weights) + ops * FLASH_BYTES_PER_OP``;
- ``arena_bytes = 2 * largest activation (int8, 1 B per element)
  + ops * ARENA_BYTES_PER_OP``.

The two per-op constants were solved from the measured BiGRU point's totals
(999 ops, about 11.5k weights and, assumed, a largest activation of
128 x 9 x 8). For keras_har's own TinierHAR at that shape the estimate gives 259 KB flash and
286 KB arena. For a BiLSTM TinierHAR at the same shape it gives 20.5 KB
flash and 18.2 KB arena, against 35.1 KB and about 21 KB measured for the
probe's BiLSTM: flash is underestimated by about 40% when the recurrence is
one fused op. Treat the flash and arena budgets as coarse filters, and check
the chosen model with a real export before trusting the last kilobyte.
"""

import math

from keras_har.backend import keras
from keras_har.profiler import profile

# Ops per time step and direction of a GRU unrolled by the TFLite converter:
# (999 ops measured - 32 ops outside the recurrence) / (32 steps * 2 directions).
GRU_OPS_PER_STEP = 15
# A Keras LSTM converts to one fused UNIDIRECTIONAL_SEQUENCE_LSTM op.
LSTM_OPS = 1
# Solved from the measured BiGRU point (see the module docstring).
FLASH_BYTES_PER_OP = 258
ARENA_BYTES_PER_OP = 286
_ATTENTION_OPS = 4
_OP_LAYERS = (
    keras.layers.Conv2D,
    keras.layers.DepthwiseConv2D,
    keras.layers.Conv1D,
    keras.layers.Dense,
    keras.layers.MaxPooling2D,
    keras.layers.MaxPooling1D,
    keras.layers.Add,
    keras.layers.Reshape,
    keras.layers.Flatten,
    keras.layers.Cropping1D,
    keras.layers.GlobalAveragePooling1D,
    keras.layers.GlobalAveragePooling2D,
    keras.layers.Concatenate,
)
_FREE_LAYERS = (
    keras.layers.InputLayer,
    keras.layers.BatchNormalization,
    keras.layers.ReLU,
    keras.layers.Dropout,
)


def _elements(shape):
    return math.prod(int(d) for d in tuple(shape)[1:])


def _recurrent_ops(layer, steps):
    directions = 1
    cell_layer = layer
    if isinstance(layer, keras.layers.Bidirectional):
        directions = 2
        cell_layer = layer.forward_layer
    if isinstance(cell_layer, keras.layers.LSTM):
        return directions * LSTM_OPS
    return directions * GRU_OPS_PER_STEP * steps


def count_int8_ops(model):
    """Estimates the number of ops in the model's int8 TFLite graph (batch 1).

    Args:
        model: a built Keras model.

    Returns:
        The estimated op count (see the module docstring for the rules).

    Example:
    >>> import keras_har
    >>> from keras_har.tuning.budget import count_int8_ops
    >>> count_int8_ops(keras_har.TinierHAR(input_shape=(128, 9), num_classes=6))
    991
    """
    ops = 0
    for layer in model.layers:
        if isinstance(layer, (keras.layers.RNN, keras.layers.Bidirectional)):
            ops += _recurrent_ops(layer, int(layer.input.shape[1]))
        elif isinstance(layer, _OP_LAYERS):
            ops += 1
        elif isinstance(layer, _FREE_LAYERS):
            continue
        elif hasattr(layer, "count_ops"):
            ops += _ATTENTION_OPS
        else:
            ops += 1
    return ops


def estimate_tflite_footprint(model):
    """Estimates flash and TFLM arena bytes of the model's full-integer int8 export.

    This is an estimate calibrated on one measured conversion, not a
    measurement; see the module docstring for the model and its error.

    Args:
        model: a built Keras model.

    Returns:
        A dict with ``ops``, ``flash_bytes`` and ``arena_bytes``.

    Example:
    >>> import keras_har
    >>> from keras_har.tuning.budget import estimate_tflite_footprint
    >>> model = keras_har.TinierHAR(input_shape=(128, 9), num_classes=6)
    >>> estimate_tflite_footprint(model)["flash_bytes"]
    265267
    """
    ops = count_int8_ops(model)
    # BatchNorm statistics fold into the convolutions, so only trainable
    # weights reach the flatbuffer.
    params = int(sum(math.prod(w.shape) for w in model.trainable_weights))
    largest_activation = max(
        _elements(layer.output.shape) for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)
    )
    largest_activation = max(largest_activation, _elements(model.input.shape))
    return {
        "ops": ops,
        "flash_bytes": params + ops * FLASH_BYTES_PER_OP,
        "arena_bytes": 2 * largest_activation + ops * ARENA_BYTES_PER_OP,
    }


def model_footprint(model):
    """Everything a budget is checked against, for one built model.

    Args:
        model: a built Keras model.

    Returns:
        A dict with ``params``, ``macs``, ``core_macs`` (from
        `keras_har.profile`), and the estimated ``int8_ops``, ``flash_kb`` and
        ``arena_kb`` (kilobytes of 1,024 bytes).

    Example:
    >>> import keras_har
    >>> from keras_har.tuning.budget import model_footprint
    >>> model_footprint(keras_har.TinierHAR(input_shape=(128, 9), num_classes=6))["params"]
    9589
    """
    counts = profile(model)
    tflite = estimate_tflite_footprint(model)
    return {
        "params": counts["params"],
        "macs": counts["macs"],
        "core_macs": counts["core_macs"],
        "int8_ops": tflite["ops"],
        "flash_kb": round(tflite["flash_bytes"] / 1024, 2),
        "arena_kb": round(tflite["arena_bytes"] / 1024, 2),
    }


class Budget:
    """Upper limits a configuration must meet before it is trained.

    Args:
        max_params: most trainable parameters, or None for no limit.
        max_macs: most MACs per window (`keras_har.profile`'s ``macs``).
        max_flash_kb: most estimated int8 flash, in KB (1,024 bytes).
        max_arena_kb: most estimated TFLM arena, in KB.

    Example:
    >>> from keras_har.tuning import Budget
    >>> Budget(max_params=5000).violations({"params": 9589, "macs": 1})
    ['params 9589 > max_params 5000']
    """

    _LIMITS = (
        ("max_params", "params"),
        ("max_macs", "macs"),
        ("max_flash_kb", "flash_kb"),
        ("max_arena_kb", "arena_kb"),
    )

    def __init__(self, max_params=None, max_macs=None, max_flash_kb=None, max_arena_kb=None):
        for name, value in (
            ("max_params", max_params),
            ("max_macs", max_macs),
            ("max_flash_kb", max_flash_kb),
            ("max_arena_kb", max_arena_kb),
        ):
            if value is not None and (isinstance(value, bool) or not value > 0):
                raise ValueError(f"`{name}` must be a positive number or None. Received: {name}={value!r}")
        self.max_params = max_params
        self.max_macs = max_macs
        self.max_flash_kb = max_flash_kb
        self.max_arena_kb = max_arena_kb

    @property
    def is_set(self):
        """Whether any limit is set."""
        return any(getattr(self, limit) is not None for limit, _ in self._LIMITS)

    def violations(self, footprint):
        """Lists the limits a footprint exceeds (empty when within budget).

        Args:
            footprint: a dict as returned by `model_footprint`.

        Returns:
            A list of human-readable strings, one per exceeded limit.
        """
        found = []
        for limit, key in self._LIMITS:
            value = getattr(self, limit)
            if value is not None and footprint[key] > value:
                found.append(f"{key} {footprint[key]} > {limit} {value}")
        return found

    def get_config(self):
        return {limit: getattr(self, limit) for limit, _ in self._LIMITS}
