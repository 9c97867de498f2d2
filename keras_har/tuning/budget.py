"""Hardware budgets for the search, and the model footprint they are checked against.

A configuration is checked before any training: the model is built (cheap),
profiled with `keras_har.profile`, and its int8 TFLite Micro footprint is
measured or estimated. Over-budget configurations are never trained.

How flash and arena are measured or estimated
---------------------------------------------
Flash, arena and instructions do not depend on the trained weights, so they
can be known before training. ``footprint="measure"`` (the default of the
search whenever ``--max-flash-kb``, ``--max-arena-kb`` or
``--max-instructions`` is set) converts the untrained model to the int8
export and measures it with TFLM
(`keras_har.export.footprint.measure_footprint`, in a child process): flash
is the stripped ``.tflite``, arena the smallest arena that allocates and runs
a window: on an emulated Cortex-M4 (the larger of its CMSIS-NN and reference
kernel builds) when the firmware toolchain, QEMU and a TFLM tree are there
(`keras_har.firmware`), else in the 64-bit TFLM Python interpreter, which
needs 16-71% more; ``arena_on_cortex_m4`` in ``trials.csv`` says which. On
the Cortex-M4 the CMSIS-NN build (what a board runs) also gives
``instructions_m``, millions of instructions per inference of one window,
and ``firmware_flash_kb``, the flash of the whole linked firmware (TFLM
runtime and test runner included); without the Cortex-M4 both are empty, so
``max_instructions`` needs ``"measure"`` with the toolchain there, or
``"measure-cortex-m4"``. That costs one int8 conversion and, on the
Cortex-M4, firmware builds (their compiled objects are cached), once per
configuration (measurements are cached per hyperparameter set).

``recurrence`` chooses the export measured: ``"merged"`` (a GRU unrolled into
stock ops, what the estimate models) or ``"fused"`` (the one
``KERAS_HAR_BIGRU`` op that `keras_har.export.export_model` writes by
default, the export a board flashes).

``footprint="estimate"`` (the default without those limits, for the
``flash_kb``/``arena_kb`` columns of ``trials.csv``) costs nothing and counts
ops instead. It models a GRU written out in stock ops (``recurrence="merged"``),
not the export default's fused ``KERAS_HAR_BIGRU`` op, so for a BiGRU it is far
above what the default export needs (about 4x the flash and 7-10x the arena,
``benchmarks/results/firmware.json``): a conservative budget; measure for the
real figures. It counts ops because in the exported graph the per-op overhead (tensors,
quantization parameters, kernel state) costs about as much as the weights:

- ops: one per convolution, dense, pooling, add, reshape and flatten layer
  (BatchNorm and ReLU fold into the convolution), six for attention pooling
  (score, reshapes, softmax, multiply, sum), and for a GRU layer
  ``GRU_OPS_PER_STEP`` per time step plus ``GRU_FIXED_OPS`` (the export
  writes both directions of a BiGRU as one merged recurrence, unrolled), or
  ``LSTM_OPS`` per direction for an LSTM (one fused sequence op);
- ``flash_bytes = FLASH_BYTES_PER_PARAM * params + FLASH_BYTES_PER_OP * ops``;
- ``arena_bytes = largest activation (int8, 1 B per element)
  + ARENA_BYTES_PER_OP * ops + ARENA_BYTES_PER_STEP_UNIT * steps * N`` for
  each GRU layer (its unrolled steps keep per-step state in the arena).

The constants were fitted on measured exports of the BiGRU TinierHAR at
HAPT's shape (T=200, C=6, K=12; 592 ops), M in {2, 4, 8} x N in {8, 16, 32}
(``benchmarks/results/tuning_footprint.md``): flash within 1%, arena within
4% on those nine; out of sample, the BiGRU at UCI's 128x9 is within 2% for
both (88,682 / 127,132 B estimated, 90,328 / 125,424 B measured). They were
not fitted on the fused-LSTM variants: for ``recurrent="bilstm"`` at 128x9
the estimate is 19% high on flash (32,465 against 27,272 B) and 38% low on
arena (13,218 against 21,296 B), whose arena is mostly LSTM kernel state and
activations. Measure (the default under a flash or arena budget) whenever the
number matters.
"""

import math
import numbers

from keras_har.backend import keras
from keras_har.profiler import profile
from keras_har.tuning._options import EXPORT_RECURRENCES, FOOTPRINT_MODES

# keras_har.export's merged BiGRU at T'=50: 592 ops = 26 convolution-side
# + 7 head + 11 per step * 50 + 9 (input projection, reversal, packing).
GRU_OPS_PER_STEP = 11
GRU_FIXED_OPS = 9
# A Keras LSTM converts to one fused UNIDIRECTIONAL_SEQUENCE_LSTM op.
LSTM_OPS = 1
# Fitted on the measured exports in benchmarks/results/tuning_footprint.md
# (TinierHAR BiGRU at HAPT's shape, M in {2, 4, 8} x N in {8, 16, 32}, with
# the offline memory plan that the export writes by default).
FLASH_BYTES_PER_PARAM = 2.14
FLASH_BYTES_PER_OP = 173
ARENA_BYTES_PER_OP = 246
ARENA_BYTES_PER_STEP_UNIT = 50
_ATTENTION_OPS = 6
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
    return GRU_OPS_PER_STEP * steps + GRU_FIXED_OPS


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
    394
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
    88682
    """
    ops = count_int8_ops(model)
    # BatchNorm statistics fold into the convolutions, so only trainable
    # weights reach the flatbuffer.
    params = int(sum(math.prod(w.shape) for w in model.trainable_weights))
    largest_activation = max(
        _elements(layer.output.shape) for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)
    )
    largest_activation = max(largest_activation, _elements(model.input.shape))
    recurrent_bytes = sum(
        _gru_arena_bytes(layer, int(layer.input.shape[1]))
        for layer in model.layers if isinstance(layer, (keras.layers.RNN, keras.layers.Bidirectional))
    )
    return {
        "ops": ops,
        "flash_bytes": int(round(FLASH_BYTES_PER_PARAM * params + FLASH_BYTES_PER_OP * ops)),
        "arena_bytes": largest_activation + ops * ARENA_BYTES_PER_OP + recurrent_bytes,
    }


def _gru_arena_bytes(layer, steps):
    cell_layer = layer.forward_layer if isinstance(layer, keras.layers.Bidirectional) else layer
    if isinstance(cell_layer, keras.layers.LSTM):
        return 0
    return ARENA_BYTES_PER_STEP_UNIT * steps * int(cell_layer.units)


# footprint mode -> where `keras_har.export.footprint.measure_footprint` measures the arena.
_ARENA_ON = {"measure": "auto", "measure-cortex-m4": "cortex-m4", "measure-python": "python"}


def check_footprint_mode(footprint, budget=None):
    """Raises ValueError unless ``footprint`` is one of `FOOTPRINT_MODES` and can check ``budget``.

    Args:
        footprint: the footprint mode.
        budget: an optional `Budget`. Its ``max_instructions`` needs the
            instructions measured on the emulated Cortex-M4, which
            ``"estimate"`` and ``"measure-python"`` never give.
    """
    if footprint not in FOOTPRINT_MODES:
        raise ValueError(f"`footprint` must be one of {list(FOOTPRINT_MODES)}. Received: footprint={footprint!r}")
    if budget is not None and budget.max_instructions is not None and footprint in ("estimate", "measure-python"):
        raise ValueError(
            "`max_instructions` (--max-instructions) needs the instructions per inference measured on the emulated "
            "Cortex-M4: use footprint 'measure' (with the firmware toolchain there) or 'measure-cortex-m4' "
            f"(--footprint measure / measure-cortex-m4). Received: footprint={footprint!r}"
        )


def resolve_footprint_mode(footprint, budget=None):
    """The footprint mode a search uses: ``footprint``, or by default ``"measure"`` when
    ``budget`` needs a TFLite measurement (`Budget.needs_tflite`) and ``"estimate"`` otherwise.

    Raises:
        ValueError: see `check_footprint_mode`.
    """
    if footprint is None:
        footprint = "measure" if budget is not None and budget.needs_tflite else "estimate"
    check_footprint_mode(footprint, budget)
    return footprint


def check_export_recurrence(recurrence, name="recurrence"):
    """Raises ValueError, naming the argument ``name``, unless ``recurrence`` is one of `EXPORT_RECURRENCES`."""
    if recurrence not in EXPORT_RECURRENCES:
        raise ValueError(f"`{name}` must be one of {list(EXPORT_RECURRENCES)}. Received: {name}={recurrence!r}")


def model_footprint(model, footprint="estimate", recurrence="merged"):
    """Everything a budget is checked against, for one built model.

    Args:
        model: a built Keras model.
        footprint: ``"estimate"`` (instant, `estimate_tflite_footprint`),
            ``"measure"`` (a real int8 conversion measured in TFLM,
            `keras_har.export.footprint.measure_footprint`: the arena on an
            emulated Cortex-M4 when the firmware toolchain is there, else in
            the 64-bit Python interpreter), ``"measure-cortex-m4"`` (an error
            without the toolchain) or ``"measure-python"``.
        recurrence: the export measured, ``"merged"`` (default: a GRU in
            stock ops) or ``"fused"`` (the ``KERAS_HAR_BIGRU`` op of the
            default export); see `keras_har.export.convert_int8`. The estimate
            always models ``"merged"``.

    Returns:
        A dict with ``params``, ``macs``, ``core_macs`` (from
        `keras_har.profile`), the estimated or measured ``int8_ops``,
        ``flash_kb`` and ``arena_kb`` (kilobytes of 1,024 bytes), and,
        measured on the Cortex-M4 with CMSIS-NN kernels, ``instructions_m``
        (millions of instructions per inference) and ``firmware_flash_kb``
        (the linked firmware); both None when not measured there.

    Example:
    >>> import keras_har
    >>> from keras_har.tuning.budget import model_footprint
    >>> model_footprint(keras_har.TinierHAR(input_shape=(128, 9), num_classes=6))["params"]
    9589
    """
    check_footprint_mode(footprint)
    check_export_recurrence(recurrence)
    counts = profile(model)
    if footprint in _ARENA_ON:
        from keras_har.export.footprint import measure_footprint

        tflite = measure_footprint(model, arena_on=_ARENA_ON[footprint], recurrence=recurrence)
    else:
        tflite = estimate_tflite_footprint(model)
    instructions = tflite.get("instructions")
    firmware_flash_bytes = tflite.get("firmware_flash_bytes")
    return {
        "params": counts["params"],
        "macs": counts["macs"],
        "core_macs": counts["core_macs"],
        "int8_ops": tflite["ops"],
        "flash_kb": round(tflite["flash_bytes"] / 1024, 2),
        "arena_kb": round(tflite["arena_bytes"] / 1024, 2),
        # 1: the arena was measured on an emulated Cortex-M4; 0: estimated, or the 64-bit interpreter's.
        "arena_on_cortex_m4": int(tflite.get("arena_on_cortex_m4", 0)),
        # Exact (one instruction is 1e-6 M), so a max_instructions budget compares the count itself.
        "instructions_m": None if instructions is None else round(instructions / 1e6, 6),
        "firmware_flash_kb": None if firmware_flash_bytes is None else round(firmware_flash_bytes / 1024, 2),
    }


class Budget:
    """Upper limits a configuration must meet before it is trained.

    Args:
        max_params: most trainable parameters, or None for no limit.
        max_macs: most MACs per window (`keras_har.profile`'s ``macs``).
        max_flash_kb: most int8 flash (the ``.tflite``), in KB (1,024 bytes).
        max_arena_kb: most TFLM arena, in KB.
        max_instructions: most instructions per inference of one window on
            the emulated Cortex-M4 with CMSIS-NN kernels (e.g. ``8e6``);
            checked against the footprint's ``instructions_m``, so it needs
            the Cortex-M4 measurement (`check_footprint_mode`).

    Example:
    >>> from keras_har.tuning import Budget
    >>> Budget(max_params=5000).violations({"params": 9589, "macs": 1})
    ['params 9589 > max_params 5000']
    >>> Budget(max_instructions=8e6).violations({"instructions_m": 9.5})
    ['instructions_m 9.5 > max_instructions 8000000 (8 M)']
    """

    _LIMITS = (
        ("max_params", "params"),
        ("max_macs", "macs"),
        ("max_flash_kb", "flash_kb"),
        ("max_arena_kb", "arena_kb"),
        ("max_instructions", "instructions_m"),
    )
    # A limit counted in other units than its footprint key: (footprint value to limit units, unit of the key).
    _SCALE = {"max_instructions": (1e6, "M")}

    def __init__(self, max_params=None, max_macs=None, max_flash_kb=None, max_arena_kb=None, max_instructions=None):
        for name, value in (
            ("max_params", max_params),
            ("max_macs", max_macs),
            ("max_flash_kb", max_flash_kb),
            ("max_arena_kb", max_arena_kb),
            ("max_instructions", max_instructions),
        ):
            if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0):
                raise ValueError(f"`{name}` must be a positive number or None. Received: {name}={value!r}")
        self.max_params = max_params
        self.max_macs = max_macs
        self.max_flash_kb = max_flash_kb
        self.max_arena_kb = max_arena_kb
        self.max_instructions = max_instructions

    @property
    def needs_tflite(self):
        """Whether a flash, arena or instruction limit is set (these need the int8 export measured)."""
        return any(value is not None for value in (self.max_flash_kb, self.max_arena_kb, self.max_instructions))

    @property
    def is_set(self):
        """Whether any limit is set."""
        return any(getattr(self, limit) is not None for limit, _ in self._LIMITS)

    def violations(self, footprint):
        """Lists the limits a footprint exceeds (empty when within budget).

        Args:
            footprint: a dict as returned by `model_footprint`.

        Returns:
            A list of human-readable strings, one per exceeded limit, and
            one per limit whose value was not measured (``instructions_m``
            without the Cortex-M4): such a model cannot be shown to fit.
        """
        found = []
        for limit, key in self._LIMITS:
            value = getattr(self, limit)
            if value is None:
                continue
            measured = footprint.get(key)
            if measured is None or measured != measured:  # None, or NaN from a table
                found.append(f"{key} not measured, needed by {limit} (it is measured on the Cortex-M4 only)")
            elif limit in self._SCALE:
                scale, unit = self._SCALE[limit]
                # Rounded: instructions are whole, and 7.190123 * 1e6 is not exactly 7190123 in floating point.
                if round(measured * scale) > value:
                    found.append(f"{key} {measured} > {limit} {value:.0f} ({value / scale:g} {unit})")
            elif measured > value:
                found.append(f"{key} {measured} > {limit} {value}")
        return found

    def get_config(self):
        return {limit: getattr(self, limit) for limit, _ in self._LIMITS}
