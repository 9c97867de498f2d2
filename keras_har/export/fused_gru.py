"""TinierHAR's (Bi)GRU as ONE int8 TFLM custom op, ``KERAS_HAR_BIGRU``, and its integer reference.

TFLite has no GRU op. Written out with stock ops the BiGRU costs about 400
ops, and TFLM pays about 250 B of arena and 225 B of flatbuffer per op
(``benchmarks/results/firmware.json``). One fused op runs both directions
over the whole sequence.

The integer arithmetic follows TFLM's int8 LSTM kernel (``lstm_eval.cc``):

- int8 input ``x`` (the tensor's scale and zero point), int8 weights
  quantised symmetrically per output channel, int32 accumulators;
- each gate pre-activation rescaled to Q3.12 int16 (`requantize`: one
  64-bit multiply and a rounding shift) and saturated;
- ``sigmoid`` and ``tanh`` exactly as TFLM's int16 ``Logistic``/``Tanh`` with
  a power-of-two Q3.12 input (the LSTM's gate non-linearities: a 256-entry
  table and linear interpolation), Q0.15 outputs;
- the state ``h`` in Q0.15 int16, the recurrent weights int8 per channel;
- ``r * (U_n h + b_hn)`` and ``z * h + (1 - z) * n`` in Q0.15 with rounding
  shifts;
- the output ``h`` requantised to the int8 scale and zero point that
  calibration gave the BiGRU's output tensor.

Keras's GRU (``reset_after=True``, PyTorch's parameterisation)::

    z = sigmoid(x W_z + b_z + h U_z + c_z)
    r = sigmoid(x W_r + b_r + h U_r + c_r)
    n = tanh(x W_n + b_n + r * (h U_n + c_n))
    h = z * h + (1 - z) * n

`gru_int8_reference` is the one definition of this arithmetic in Python: it
is the Python-side int8 evaluation (`keras_har.export.tflm.run_tflm` runs
the stock ops around it in TFLM's Python interpreter), and the C++ kernel
(``keras_har/firmware/src/keras_har_bigru.cc``) must match it bit for bit,
which the firmware tests check on host and Cortex-M4.

The graph: `keras_har.export.convert_int8` converts the ``"merged"``
recurrence (calibration then gives the scales of the GRU's input and output
tensors), then `fuse_gru` replaces every op between those two tensors with
one ``CUSTOM`` op whose weights and requantisation parameters are constant
tensors of the model.
"""

import copy

import numpy as np

from keras_har.export.memory_plan import OFFLINE_MEMORY_ALLOCATION

CUSTOM_CODE = "KERAS_HAR_BIGRU"
# Marks the recurrence's input and output tensors in the traced graph, so the
# flatbuffer rewrite finds them by name before the names are stripped.
INPUT_MARKER = "keras_har_gru_input"
OUTPUT_MARKER = "keras_har_gru_output"
# Layout version of the op's ``config`` tensor; the C++ kernel refuses others.
FORMAT_VERSION = 1
GATE_FRACTION_BITS = 12  # gate pre-activations in Q3.12, TFLM's LSTM gate format
STATE_FRACTION_BITS = 15  # h, z, r and n in Q0.15

# TFLM's sigmoid_table_uint16 (tensorflow/lite/kernels/internal/common.h):
# sigmoid(i / 24) in 0.16 fixed point. tests/export/test_fused_gru.py checks this copy
# against the TFLM tree when one is there.
SIGMOID_TABLE_UINT16 = np.array([
    32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498,
    40149, 40794, 41432, 42064, 42688, 43304, 43912, 44511, 45102, 45683, 46255,
    46817, 47369, 47911, 48443, 48964, 49475, 49975, 50464, 50942, 51409, 51865,
    52311, 52745, 53169, 53581, 53983, 54374, 54755, 55125, 55485, 55834, 56174,
    56503, 56823, 57133, 57433, 57724, 58007, 58280, 58544, 58800, 59048, 59288,
    59519, 59743, 59959, 60168, 60370, 60565, 60753, 60935, 61110, 61279, 61441,
    61599, 61750, 61896, 62036, 62172, 62302, 62428, 62549, 62666, 62778, 62886,
    62990, 63090, 63186, 63279, 63368, 63454, 63536, 63615, 63691, 63765, 63835,
    63903, 63968, 64030, 64090, 64148, 64204, 64257, 64308, 64357, 64405, 64450,
    64494, 64536, 64576, 64614, 64652, 64687, 64721, 64754, 64786, 64816, 64845,
    64873, 64900, 64926, 64950, 64974, 64997, 65019, 65039, 65060, 65079, 65097,
    65115, 65132, 65149, 65164, 65179, 65194, 65208, 65221, 65234, 65246, 65258,
    65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337, 65345, 65352, 65360,
    65367, 65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425,
    65429, 65433, 65438, 65442, 65445, 65449, 65453, 65456, 65459, 65462, 65465,
    65468, 65471, 65474, 65476, 65479, 65481, 65483, 65485, 65488, 65489, 65491,
    65493, 65495, 65497, 65498, 65500, 65501, 65503, 65504, 65505, 65507, 65508,
    65509, 65510, 65511, 65512, 65513, 65514, 65515, 65516, 65517, 65517, 65518,
    65519, 65520, 65520, 65521, 65522, 65522, 65523, 65523, 65524, 65524, 65525,
    65525, 65526, 65526, 65526, 65527, 65527, 65528, 65528, 65528, 65529, 65529,
    65529, 65529, 65530, 65530, 65530, 65530, 65531, 65531, 65531, 65531, 65531,
    65532, 65532, 65532, 65532, 65532, 65532, 65533, 65533, 65533, 65533, 65533,
    65533, 65533, 65533, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534,
    65534, 65534, 65535], dtype=np.int64)


# ----------------------------------------------------------------------------
# Integer arithmetic (mirrored line by line in keras_har_bigru.cc)
# ----------------------------------------------------------------------------

def quantize_multiplier(real):
    """A positive real multiplier as ``(multiplier, shift)``: ``real ~= multiplier * 2**(shift - 31)``.

    ``multiplier`` is in ``[2**30, 2**31)`` (or 0 for a multiplier too small
    to matter), so `requantize` keeps 31 significant bits.
    """
    real = float(real)
    if not np.isfinite(real) or real < 0:
        raise ValueError(f"A requantisation multiplier must be finite and >= 0. Received: {real!r}")
    if real == 0.0:
        return 0, 0
    mantissa, exponent = np.frexp(real)
    multiplier = int(np.floor(mantissa * (1 << 31) + 0.5))
    if multiplier == 1 << 31:
        multiplier //= 2
        exponent += 1
    if 31 - exponent > 62:  # below 2**-31: contributes nothing
        return 0, 0
    if 31 - exponent < 1:
        raise ValueError(f"Requantisation multiplier {real!r} is too large for the fused GRU (>= 2**30).")
    return multiplier, int(exponent)


def requantize(values, multiplier, shift):
    """``round(values * multiplier * 2**(shift - 31))``, halves rounded up, in int64 (the kernel's ``Requantize``)."""
    total = 31 - np.asarray(shift, np.int64)
    product = np.asarray(values, np.int64) * np.asarray(multiplier, np.int64)
    return (product + (np.int64(1) << (total - 1))) >> total


def _saturate(values, bits):
    limit = 1 << (bits - 1)
    return np.clip(values, -limit, limit - 1)


def _table_lookup(magnitude, fraction_bits, saturated):
    """TFLM's interpolation in `SIGMOID_TABLE_UINT16`: ``magnitude >> fraction_bits`` indexes the table,
    the low ``fraction_bits`` bits interpolate to the next entry; past the table, ``saturated``."""
    index = magnitude >> fraction_bits
    safe = np.minimum(index, 254)
    low, high = SIGMOID_TABLE_UINT16[safe], SIGMOID_TABLE_UINT16[safe + 1]
    fraction = magnitude & ((1 << fraction_bits) - 1)
    return np.where(index < 255, (low << fraction_bits) + fraction * (high - low), saturated)


def sigmoid_int16(values):
    """TFLM's ``reference_integer_ops::Logistic(0, 0, ...)``: Q3.12 int16 in, Q0.15 out."""
    scaled = np.asarray(values, np.int64) * 3
    result = _table_lookup(np.abs(scaled), 9, 0x7FFF << 10)
    result = np.where(scaled >= 0, result + (1 << 9), (1 << 25) - result + (1 << 9) - 1)
    return result >> 10


def tanh_int16(values):
    """TFLM's ``reference_integer_ops::Tanh(0, 0, ...)``: Q3.12 int16 in, Q0.15 out."""
    scaled = np.asarray(values, np.int64) * 3
    result = _table_lookup(np.abs(scaled), 8, 0xFFFF << 8)
    result = np.where(scaled >= 0, result - (1 << 23) + (1 << 7), -result + (1 << 23) + (1 << 7) - 1)
    return result >> 8


def gru_int8_reference(inputs, params):
    """The fused op on int8 sequences: ``(B, T, D)`` int8 -> ``(B, T, directions * units)`` int8.

    Args:
        inputs: int8 array ``(B, T, D)`` (or ``(T, D)``), quantised with the
            GRU input tensor's scale and zero point.
        params: the dict of `gru_integer_params`.

    Returns:
        int8 array, forward outputs in the first ``units`` columns and the
        backward direction's (aligned with input time) in the next ones.
    """
    x = np.asarray(inputs)
    single = x.ndim == 2
    if single:
        x = x[None]
    x = x.astype(np.int64)
    batch, steps, _ = x.shape
    units = params["units"]
    outputs = []
    for d in range(params["directions"]):
        w_x = params["weights_x"][d].astype(np.int64)  # (3N, D)
        w_h = params["weights_h"][d].astype(np.int64)  # (3N, N)
        (bias_x, mult_x, shift_x), (bias_h, mult_h, shift_h) = (params["quant"][d, k].T.astype(np.int64)
                                                              for k in range(2))
        h = np.zeros((batch, units), np.int64)
        out = np.zeros((batch, steps, units), np.int64)
        times = range(steps) if d == 0 else range(steps - 1, -1, -1)
        for t in times:
            gx = _saturate(requantize(x[:, t] @ w_x.T + bias_x, mult_x, shift_x), 32)
            gh = _saturate(requantize(h @ w_h.T + bias_h, mult_h, shift_h), 32)
            z = sigmoid_int16(_saturate(gx[:, :units] + gh[:, :units], 16))
            r = sigmoid_int16(_saturate(gx[:, units:2 * units] + gh[:, units:2 * units], 16))
            hidden_n = _saturate(gh[:, 2 * units:], 16)
            n = tanh_int16(_saturate(gx[:, 2 * units:] + ((r * hidden_n + (1 << 14)) >> 15), 16))
            h = _saturate((z * h + ((1 << 15) - z) * n + (1 << 14)) >> 15, 16)
            out[:, t] = h
        outputs.append(out)
    state = np.concatenate(outputs, axis=-1)
    result = _saturate(params["output_zero_point"] + requantize(state, params["output_multiplier"],
                                                                params["output_shift"]), 8).astype(np.int8)
    return result[0] if single else result


# ----------------------------------------------------------------------------
# From Keras weights to the op's constant tensors
# ----------------------------------------------------------------------------

def gru_cells(layer):
    """``(kernel (D, 3N), recurrent_kernel (N, 3N), bias (2, 3N))`` per direction, forward first.

    Raises:
        ValueError: naming the setting when the GRU is not one the fused op
            computes (``reset_after=False``, other activations, no bias,
            ``go_backwards`` on a plain GRU, stateful).
    """
    from keras_har.backend import keras

    bidirectional = isinstance(layer, keras.layers.Bidirectional)
    grus = [layer.forward_layer, layer.backward_layer] if bidirectional else [layer]
    cells = []
    for gru in grus:
        problems = []
        if not isinstance(gru, keras.layers.GRU):
            problems.append(f"layer={type(gru).__name__}")
        if not getattr(gru, "reset_after", False):
            problems.append(f"reset_after={getattr(gru, 'reset_after', None)!r} (needs True)")
        activation = keras.activations.serialize(gru.activation)
        recurrent_activation = keras.activations.serialize(gru.recurrent_activation)
        if _name(activation) != "tanh":
            problems.append(f"activation={_name(activation)!r} (needs 'tanh')")
        if _name(recurrent_activation) != "sigmoid":
            problems.append(f"recurrent_activation={_name(recurrent_activation)!r} (needs 'sigmoid')")
        if not gru.use_bias:
            problems.append("use_bias=False (needs True)")
        if gru.stateful:
            problems.append("stateful=True")
        if not bidirectional and gru.go_backwards:
            problems.append("go_backwards=True")
        if problems:
            raise ValueError(f"The fused int8 GRU op ({CUSTOM_CODE}) computes Keras's GRU with reset_after=True, "
                             "tanh and sigmoid; this layer differs: " + ", ".join(problems) + ". Export it with "
                             "recurrence='merged' (stock ops) instead.")
        kernel, recurrent_kernel, bias = (np.asarray(w, np.float64) for w in gru.get_weights())
        cells.append((kernel, recurrent_kernel, bias))
    return cells


def _name(serialized):
    if isinstance(serialized, dict):
        return serialized.get("config", {}).get("name", serialized.get("class_name"))
    return serialized


def _per_channel(weights):
    """Symmetric int8 per row: ``(int8 weights, scales)``."""
    scales = np.abs(weights).max(axis=1) / 127.0
    scales = np.where(scales > 0, scales, 1.0)
    quantized = np.clip(np.trunc(weights / scales[:, None] + np.copysign(0.5, weights)), -127, 127)
    return quantized.astype(np.int8), scales


def _bias(values, scales, what):
    quantized = np.round(values / scales)
    if np.abs(quantized).max(initial=0) >= 2 ** 30:
        raise ValueError(f"The fused GRU's {what} bias does not fit its int32 accumulator at these scales; "
                         "export with recurrence='merged'.")
    return quantized.astype(np.int64)


def gru_integer_params(cells, *, input_scale, input_zero_point, output_scale, output_zero_point, steps):
    """The op's integer parameters from float GRU weights and the calibrated tensor scales.

    Returns:
        dict with ``directions``, ``units``, ``input_dim``, ``steps``,
        ``weights_x`` int8 ``(dirs, 3N, D)``, ``weights_h`` int8 ``(dirs, 3N, N)``,
        ``quant`` int32 ``(dirs, 2, 3N, 3)`` (bias, multiplier, shift for the
        input and the recurrent product), and the output's multiplier, shift
        and zero point.
    """
    units = cells[0][1].shape[0]
    input_dim = cells[0][0].shape[0]
    gate_scale = 2.0 ** -GATE_FRACTION_BITS
    state_scale = 2.0 ** -STATE_FRACTION_BITS
    weights_x, weights_h, quant = [], [], []
    for kernel, recurrent_kernel, bias in cells:
        w_x, s_x = _per_channel(kernel.T)
        w_h, s_h = _per_channel(recurrent_kernel.T)
        # z and r only see input and recurrent biases summed; n's recurrent bias sits inside r * (...).
        input_bias = bias[0] + np.concatenate([bias[1][:2 * units], np.zeros(units)])
        recurrent_bias = np.concatenate([np.zeros(2 * units), bias[1][2 * units:]])
        bias_x = _bias(input_bias, input_scale * s_x, "input") - input_zero_point * w_x.astype(np.int64).sum(1)
        bias_h = _bias(recurrent_bias, state_scale * s_h, "recurrent")
        mults_x = np.array([quantize_multiplier(input_scale * s / gate_scale) for s in s_x])
        mults_h = np.array([quantize_multiplier(state_scale * s / gate_scale) for s in s_h])
        quant.append(np.stack([np.column_stack([bias_x, mults_x]), np.column_stack([bias_h, mults_h])]))
        weights_x.append(w_x)
        weights_h.append(w_h)
    output_multiplier, output_shift = quantize_multiplier(state_scale / output_scale)
    return {
        "directions": len(cells), "units": int(units), "input_dim": int(input_dim), "steps": int(steps),
        "weights_x": np.stack(weights_x), "weights_h": np.stack(weights_h),
        "quant": np.stack(quant).astype(np.int32),
        "output_multiplier": int(output_multiplier), "output_shift": int(output_shift),
        "output_zero_point": int(output_zero_point),
    }


def _config_vector(params):
    return np.array([FORMAT_VERSION, params["directions"], params["units"], params["input_dim"], params["steps"],
                     params["output_multiplier"], params["output_shift"], params["output_zero_point"]], np.int32)


def _params_from_tensors(config, weights_x, weights_h, quant):
    version, directions, units, input_dim, steps, multiplier, shift, zero_point = (int(v) for v in config)
    if version != FORMAT_VERSION:
        raise ValueError(f"{CUSTOM_CODE} parameters of format {version}; this keras_har reads {FORMAT_VERSION}.")
    return {"directions": directions, "units": units, "input_dim": input_dim, "steps": steps,
            "weights_x": weights_x, "weights_h": weights_h, "quant": quant, "output_multiplier": multiplier,
            "output_shift": shift, "output_zero_point": zero_point}


# ----------------------------------------------------------------------------
# The flatbuffer rewrite
# ----------------------------------------------------------------------------

def _schema():
    from tensorflow.lite.python import schema_py_generated as schema

    return schema


def _load(flatbuffer):
    return _schema().ModelT.InitFromPackedBuf(bytearray(flatbuffer), 0)


def _save(model):
    from tensorflow.lite.tools import flatbuffer_utils

    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _ints(values):
    return [] if values is None else [int(v) for v in values]


def _is_constant(model, tensor):
    buffer = model.buffers[tensor.buffer] if tensor.buffer < len(model.buffers) else None
    return buffer is not None and buffer.data is not None and len(buffer.data) > 0


def _find_tensor(subgraph, marker):
    matches = [i for i, t in enumerate(subgraph.tensors)
               if t.name is not None and marker in t.name.decode().split(";")]
    if len(matches) != 1:
        raise ValueError(f"The converted graph has {len(matches)} tensors named {marker!r} (expected one): "
                         "the GRU's boundaries were lost in conversion.")
    return matches[0]


def _ancestor_ops(model, subgraph, targets, stop):
    """Indices of the ops that ``targets`` depend on, not looking past tensors in ``stop`` or constants."""
    producer = {t: i for i, op in enumerate(subgraph.operators) for t in _ints(op.outputs)}
    needed, pending, seen = set(), list(targets), set()
    while pending:
        tensor = pending.pop()
        if tensor in seen or tensor in stop or tensor < 0:
            continue
        seen.add(tensor)
        if tensor not in producer:
            if not _is_constant(model, subgraph.tensors[tensor]):
                raise ValueError(f"Tensor {tensor} is neither produced by an op, a constant nor a boundary.")
            continue
        op = producer[tensor]
        if op not in needed:
            needed.add(op)
            pending.extend(_ints(subgraph.operators[op].inputs))
    return needed


def _new_buffer(model, array):
    buffer = _schema().BufferT()
    buffer.data = np.frombuffer(np.ascontiguousarray(array).tobytes(), np.uint8)
    model.buffers.append(buffer)
    return len(model.buffers) - 1


def _new_tensor(model, subgraph, array, tensor_type, name):
    tensor = _schema().TensorT()
    tensor.shape = np.array(array.shape, np.int32)
    tensor.type = tensor_type
    tensor.buffer = _new_buffer(model, array)
    tensor.name = name.encode()
    subgraph.tensors.append(tensor)
    return len(subgraph.tensors) - 1


def _op_name(model, op):
    schema = _schema()
    code = model.operatorCodes[op.opcodeIndex]
    if code.customCode is not None:
        return code.customCode.decode()
    names = {value: name for name, value in vars(schema.BuiltinOperator).items() if not name.startswith("_")}
    return names[max(code.builtinCode, code.deprecatedBuiltinCode)]


def _new_activation(subgraph, like, name):
    """A tensor like ``like`` (type, quantisation) with its last two dimensions swapped."""
    tensor = copy.deepcopy(like)
    tensor.shape = np.array([*like.shape[:-2], like.shape[-1], like.shape[-2]], np.int32)
    tensor.name = name.encode()
    tensor.buffer = 0
    subgraph.tensors.append(tensor)
    return len(subgraph.tensors) - 1


def _custom_opcode(model):
    schema = _schema()
    for index, code in enumerate(model.operatorCodes):
        if code.customCode is not None and code.customCode.decode() == CUSTOM_CODE:
            return index
    code = schema.OperatorCodeT()
    code.builtinCode = schema.BuiltinOperator.CUSTOM
    code.deprecatedBuiltinCode = schema.BuiltinOperator.CUSTOM
    code.customCode = CUSTOM_CODE.encode()
    code.version = 1
    model.operatorCodes.append(code)
    return len(model.operatorCodes) - 1


def _quantization(tensor):
    quant = tensor.quantization
    if quant is None or quant.scale is None or len(quant.scale) != 1:
        raise ValueError("The GRU's boundary tensors must carry per-tensor int8 quantisation.")
    return float(quant.scale[0]), int(quant.zeroPoint[0])


def _prune(model):
    """Drops tensors, buffers and op codes nothing refers to, and renumbers the rest."""
    used_codes = sorted({op.opcodeIndex for sg in model.subgraphs for op in sg.operators})
    code_map = {old: new for new, old in enumerate(used_codes)}
    model.operatorCodes = [model.operatorCodes[i] for i in used_codes]
    for subgraph in model.subgraphs:
        used = set(_ints(subgraph.inputs)) | set(_ints(subgraph.outputs))
        for op in subgraph.operators:
            op.opcodeIndex = code_map[op.opcodeIndex]
            used |= {t for t in _ints(op.inputs) + _ints(op.outputs) + _ints(op.intermediates) if t >= 0}
        order = sorted(used)
        remap = {old: new for new, old in enumerate(order)}
        subgraph.tensors = [subgraph.tensors[i] for i in order]

        def renumber(values):
            return None if values is None else np.array([remap[int(v)] if v >= 0 else -1 for v in values], np.int32)

        subgraph.inputs, subgraph.outputs = renumber(subgraph.inputs), renumber(subgraph.outputs)
        for op in subgraph.operators:
            op.inputs, op.outputs = renumber(op.inputs), renumber(op.outputs)
            if op.intermediates is not None and len(op.intermediates):
                op.intermediates = renumber(op.intermediates)
    used_buffers = {0} | {t.buffer for sg in model.subgraphs for t in sg.tensors}
    used_buffers |= {m.buffer for m in (model.metadata or [])}
    order = sorted(used_buffers)
    buffer_map = {old: new for new, old in enumerate(order)}
    model.buffers = [model.buffers[i] for i in order]
    for subgraph in model.subgraphs:
        for tensor in subgraph.tensors:
            tensor.buffer = buffer_map[tensor.buffer]
    for metadata in model.metadata or []:
        metadata.buffer = buffer_map[metadata.buffer]
    model.signatureDefs = None  # they name tensor indices that changed; TFLM does not read them
    return model


def fuse_gru(flatbuffer, recurrent_layer):
    """Replaces the stock-op recurrence between the marked tensors with one ``KERAS_HAR_BIGRU`` op.

    Args:
        flatbuffer: an int8 model converted from the ``"merged"`` recurrence
            with the boundary names still in it (before `strip_strings`).
        recurrent_layer: the Keras ``GRU`` or ``Bidirectional(GRU)`` whose
            weights the op carries.

    Returns:
        The rewritten flatbuffer (bytes).
    """
    cells = gru_cells(recurrent_layer)
    model = _load(flatbuffer)
    subgraph = model.subgraphs[0]
    source, target = _find_tensor(subgraph, INPUT_MARKER), _find_tensor(subgraph, OUTPUT_MARKER)
    removed = _ancestor_ops(model, subgraph, [target], stop={source})
    produced_inside = {t for i in removed for t in _ints(subgraph.operators[i].outputs)}
    for index, op in enumerate(subgraph.operators):
        if index not in removed and (set(_ints(op.inputs)) & (produced_inside - {target})):
            raise ValueError("An op outside the GRU reads one of its intermediate tensors; cannot fuse.")
    steps, input_dim = (int(v) for v in subgraph.tensors[source].shape[-2:])
    directions, units = len(cells), cells[0][1].shape[0]
    if tuple(int(v) for v in subgraph.tensors[target].shape[-2:]) != (steps, directions * units):
        raise ValueError(f"The GRU output tensor has shape {list(subgraph.tensors[target].shape)}; "
                         f"expected ({steps}, {directions * units}).")
    if cells[0][0].shape[0] != input_dim:
        raise ValueError(f"The GRU input tensor has {input_dim} features; the layer expects {cells[0][0].shape[0]}.")
    input_scale, input_zero_point = _quantization(subgraph.tensors[source])
    output_scale, output_zero_point = _quantization(subgraph.tensors[target])
    params = gru_integer_params(cells, input_scale=input_scale, input_zero_point=input_zero_point,
                                output_scale=output_scale, output_zero_point=output_zero_point, steps=steps)
    schema = _schema()
    inputs = [
        source,
        _new_tensor(model, subgraph, params["weights_x"], schema.TensorType.INT8, "keras_har_gru/weights_x"),
        _new_tensor(model, subgraph, params["weights_h"], schema.TensorType.INT8, "keras_har_gru/weights_h"),
        _new_tensor(model, subgraph, params["quant"], schema.TensorType.INT32, "keras_har_gru/quant"),
        _new_tensor(model, subgraph, _config_vector(params), schema.TensorType.INT32, "keras_har_gru/config"),
    ]
    outputs = [target]
    # Attention pooling reads the sequence in a BATCH_MATMUL whose right-hand side TFLM would otherwise copy,
    # transposed, into a persistent buffer (T x 2N bytes of arena for good): the op also writes that layout.
    transposed = None
    for consumer in subgraph.operators:
        if (_op_name(model, consumer) == "BATCH_MATMUL" and _ints(consumer.inputs)[1] == target
                and not consumer.builtinOptions.adjY):
            if transposed is None:
                transposed = _new_activation(subgraph, subgraph.tensors[target], "keras_har_gru/output_transposed")
                outputs.append(transposed)
            consumer.inputs = np.array([_ints(consumer.inputs)[0], transposed, *_ints(consumer.inputs)[2:]], np.int32)
            consumer.builtinOptions.adjY = True
    op = schema.OperatorT()
    op.opcodeIndex = _custom_opcode(model)
    op.inputs = np.array(inputs, np.int32)
    op.outputs = np.array(outputs, np.int32)
    op.customOptionsFormat = schema.CustomOptionsFormat.FLEXBUFFERS
    # The op takes the place of the recurrence's last op, after everything it reads.
    position = max(removed)
    operators = []
    for index, existing in enumerate(subgraph.operators):
        if index == position:
            operators.append(op)
        elif index not in removed:
            operators.append(existing)
    subgraph.operators = operators
    return _save(_prune(model))


# ----------------------------------------------------------------------------
# Running a fused model on the Python side
# ----------------------------------------------------------------------------

def fused_gru_ops(flatbuffer):
    """Indices of the ``KERAS_HAR_BIGRU`` ops of the main subgraph (empty for other models)."""
    if CUSTOM_CODE.encode() not in bytes(flatbuffer):  # no op code names it: nothing to parse
        return []
    model = _load(flatbuffer)
    codes = [i for i, c in enumerate(model.operatorCodes)
             if c.customCode is not None and c.customCode.decode() == CUSTOM_CODE]
    return [i for i, op in enumerate(model.subgraphs[0].operators) if op.opcodeIndex in codes]


def _fused_op(model):
    """``(op index, params)`` of the one ``KERAS_HAR_BIGRU`` op of a loaded model."""
    subgraph = model.subgraphs[0]
    codes = [i for i, c in enumerate(model.operatorCodes)
             if c.customCode is not None and c.customCode.decode() == CUSTOM_CODE]
    fused = [i for i, op in enumerate(subgraph.operators) if op.opcodeIndex in codes]
    if len(fused) != 1:
        raise ValueError(f"Expected one {CUSTOM_CODE} op in the model. Received: {len(fused)}")
    _, w_x, w_h, quant, config = _ints(subgraph.operators[fused[0]].inputs)

    def constant(index, dtype):
        tensor = subgraph.tensors[index]
        data = np.asarray(model.buffers[tensor.buffer].data, np.uint8).tobytes()
        return np.frombuffer(data, dtype).reshape([int(v) for v in tensor.shape])

    return fused[0], _params_from_tensors(constant(config, np.int32), constant(w_x, np.int8),
                                          constant(w_h, np.int8), constant(quant, np.int32))


def split_at_fused_gru(flatbuffer):
    """``(before, params, after)``: the stock-op graph before the op, its parameters, and the graph after it.

    ``before`` maps the model input to the op's int8 input; ``after`` maps
    the op's int8 outputs (the sequence ``(T, W)`` and, when `fuse_gru`
    added it, its transpose ``(W, T)``) to the model output. Both are ordinary int8 models
    that TFLM's and LiteRT's Python interpreters run; together with
    `gru_int8_reference` they compute what the firmware computes.
    """
    model = _load(flatbuffer)
    subgraph = model.subgraphs[0]
    index, params = _fused_op(model)
    op = subgraph.operators[index]
    targets = _ints(op.outputs)  # the sequence, and maybe its transpose (see fuse_gru)
    before = _slice(model, inputs=_ints(subgraph.inputs), outputs=_ints(op.inputs)[:1])
    after = _slice(model, inputs=targets, outputs=_ints(subgraph.outputs))
    return before, params, after


def _slice(model, *, inputs, outputs):
    model = copy.deepcopy(model)
    subgraph = model.subgraphs[0]
    keep = _ancestor_ops(model, subgraph, outputs, stop=set(inputs))
    subgraph.operators = [op for i, op in enumerate(subgraph.operators) if i in keep]
    subgraph.inputs = np.array(inputs, np.int32)
    subgraph.outputs = np.array(outputs, np.int32)
    # An offline memory plan describes the whole graph's tensors; a slice is planned online.
    model.metadata = [m for m in (model.metadata or []) if m.name != OFFLINE_MEMORY_ALLOCATION.encode()] or None
    return _save(_prune(model))


def scratch_bytes(params):
    """Arena bytes the C++ kernel asks for: its scratch buffer and its ``OpData`` (see keras_har_bigru.cc)."""
    gates = 3 * params["units"]
    scratch = 2 * gates * 4 + (params["units"] + gates) * 2
    op_data = 8 * 4
    return scratch + op_data


def stand_in(flatbuffer):
    """``(flatbuffer, extra_bytes)``: the model with a stock op in place of the fused GRU, for TFLM's arena search.

    TFLM's Python interpreter cannot load the custom op, so the arena is
    searched on a copy where a ``FULLY_CONNECTED`` with zero weights maps the
    same input tensor to the same output tensor (same activations, same
    lifetimes, same offline memory plan); ``extra_bytes`` is what the fused
    kernel allocates in the arena on top (`scratch_bytes`). The fully
    connected op's own bookkeeping is left in, so the estimate errs high.
    The firmware's own arena search (`keras_har.firmware.verify`) measures
    the real figure.
    """
    schema = _schema()
    model = _load(flatbuffer)
    subgraph = model.subgraphs[0]
    index, params = _fused_op(model)
    op = subgraph.operators[index]
    source, _, weights, _, spare = _ints(op.inputs)
    target, *transposed = _ints(op.outputs)
    # The op's recurrent-weights tensor becomes the zero weights: the tensor
    # count (and so an offline memory plan, which lists every tensor) stays.
    tensor = subgraph.tensors[weights]
    zeros = np.zeros((int(subgraph.tensors[target].shape[-1]), params["input_dim"]), np.int8)
    tensor.shape, tensor.buffer = np.array(zeros.shape, np.int32), _new_buffer(model, zeros)
    quant = schema.QuantizationParametersT()
    quant.scale, quant.zeroPoint = np.array([1.0], np.float32), np.array([0], np.int64)
    tensor.quantization = quant
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.FULLY_CONNECTED
    code.version = 1
    model.operatorCodes.append(code)
    replacement = schema.OperatorT()
    replacement.opcodeIndex = len(model.operatorCodes) - 1
    replacement.inputs = np.array([source, weights, -1], np.int32)
    replacement.outputs = np.array([target], np.int32)
    replacement.builtinOptionsType = schema.BuiltinOptions.FullyConnectedOptions
    replacement.builtinOptions = schema.FullyConnectedOptionsT()
    subgraph.operators[index] = replacement
    if transposed:
        # A TRANSPOSE writes the second output; its permutation reuses the op's config tensor (same count).
        perm = subgraph.tensors[spare]
        perm.shape, perm.buffer = np.array([2], np.int32), _new_buffer(model, np.array([1, 0], np.int32))
        code = schema.OperatorCodeT()
        code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.TRANSPOSE
        code.version = 1
        model.operatorCodes.append(code)
        second = schema.OperatorT()
        second.opcodeIndex = len(model.operatorCodes) - 1
        second.inputs = np.array([target, spare], np.int32)
        second.outputs = np.array(transposed, np.int32)
        second.builtinOptionsType = schema.BuiltinOptions.TransposeOptions
        second.builtinOptions = schema.TransposeOptionsT()
        subgraph.operators.insert(index + 1, second)
    # Not pruned: the unused tensors keep their TFLM bookkeeping, as in the real model.
    return _save(model), scratch_bytes(params)
