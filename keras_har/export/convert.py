"""Full-integer int8 conversion and the checks every exported model must pass."""

import numpy as np

from keras_har.backend import tf
from keras_har.export.inference_graph import inference_function

# TFLite builtin op name -> the MicroMutableOpResolver method that registers
# its TFLM kernel. An op missing here has no TFLM kernel that keras_har knows
# of, and a model that uses it is refused before it reaches a board.
TFLM_OP_RESOLVER_METHODS = {
    "ABS": "AddAbs", "ADD": "AddAdd", "ADD_N": "AddAddN", "ARG_MAX": "AddArgMax",
    "ARG_MIN": "AddArgMin", "AVERAGE_POOL_2D": "AddAveragePool2D", "BATCH_MATMUL": "AddBatchMatMul",
    "BATCH_TO_SPACE_ND": "AddBatchToSpaceNd", "BROADCAST_TO": "AddBroadcastTo", "CAST": "AddCast",
    "CEIL": "AddCeil", "CONCATENATION": "AddConcatenation", "CONV_2D": "AddConv2D", "COS": "AddCos",
    "CUMSUM": "AddCumSum", "DEPTH_TO_SPACE": "AddDepthToSpace", "DEPTHWISE_CONV_2D": "AddDepthwiseConv2D",
    "DEQUANTIZE": "AddDequantize", "DIV": "AddDiv", "ELU": "AddElu", "EQUAL": "AddEqual", "EXP": "AddExp",
    "EXPAND_DIMS": "AddExpandDims", "FILL": "AddFill", "FLOOR": "AddFloor", "FLOOR_DIV": "AddFloorDiv",
    "FLOOR_MOD": "AddFloorMod", "FULLY_CONNECTED": "AddFullyConnected", "GATHER": "AddGather",
    "GATHER_ND": "AddGatherNd", "GREATER": "AddGreater", "GREATER_EQUAL": "AddGreaterEqual",
    "HARD_SWISH": "AddHardSwish", "IF": "AddIf", "L2_NORMALIZATION": "AddL2Normalization",
    "L2_POOL_2D": "AddL2Pool2D", "LEAKY_RELU": "AddLeakyRelu", "LESS": "AddLess",
    "LESS_EQUAL": "AddLessEqual", "LOG": "AddLog", "LOGICAL_AND": "AddLogicalAnd",
    "LOGICAL_NOT": "AddLogicalNot", "LOGICAL_OR": "AddLogicalOr", "LOGISTIC": "AddLogistic",
    "LOG_SOFTMAX": "AddLogSoftmax", "MAXIMUM": "AddMaximum", "MAX_POOL_2D": "AddMaxPool2D",
    "MEAN": "AddMean", "MINIMUM": "AddMinimum", "MIRROR_PAD": "AddMirrorPad", "MUL": "AddMul",
    "NEG": "AddNeg", "NOT_EQUAL": "AddNotEqual", "PACK": "AddPack", "PAD": "AddPad", "PADV2": "AddPadV2",
    "PRELU": "AddPrelu", "QUANTIZE": "AddQuantize", "REDUCE_MAX": "AddReduceMax", "RELU": "AddRelu",
    "RELU6": "AddRelu6", "RESHAPE": "AddReshape", "RESIZE_BILINEAR": "AddResizeBilinear",
    "RESIZE_NEAREST_NEIGHBOR": "AddResizeNearestNeighbor", "REVERSE_V2": "AddReverseV2",
    "ROUND": "AddRound", "RSQRT": "AddRsqrt", "SELECT_V2": "AddSelectV2", "SHAPE": "AddShape",
    "SIN": "AddSin", "SLICE": "AddSlice", "SOFTMAX": "AddSoftmax", "SPACE_TO_BATCH_ND": "AddSpaceToBatchNd",
    "SPACE_TO_DEPTH": "AddSpaceToDepth", "SPLIT": "AddSplit", "SPLIT_V": "AddSplitV", "SQRT": "AddSqrt",
    "SQUARE": "AddSquare", "SQUARED_DIFFERENCE": "AddSquaredDifference", "SQUEEZE": "AddSqueeze",
    "STRIDED_SLICE": "AddStridedSlice", "SUB": "AddSub", "SUM": "AddSum", "SVDF": "AddSvdf",
    "TANH": "AddTanh", "TRANSPOSE": "AddTranspose", "TRANSPOSE_CONV": "AddTransposeConv",
    "UNIDIRECTIONAL_SEQUENCE_LSTM": "AddUnidirectionalSequenceLSTM", "UNPACK": "AddUnpack",
    "WHILE": "AddWhile", "ZEROS_LIKE": "AddZerosLike",
}
# keras_har's own custom ops: op name -> (header shipped with the firmware,
# the C++ expression that returns its TFLMRegistration*).
CUSTOM_OPS = {
    "KERAS_HAR_BIGRU": ("keras_har_bigru.h", "keras_har::Register_KERAS_HAR_BIGRU()"),
}


def convert_int8(model, representative_windows, *, recurrence="fused", strip=True, check=True):
    """Converts a trained model to a full-integer int8 TFLite flatbuffer for TFLM.

    Input and output are int8, only integer builtin kernels are allowed
    (``TFLITE_BUILTINS_INT8``) and the batch is fixed to 1, as on a
    microcontroller. Activation ranges are calibrated on
    ``representative_windows``. The result is checked with
    `check_integer_only` and `check_tflm_ops` before it is returned.

    Args:
        model: a trained `keras_har.TinierHAR` (or any single-input tf_keras
            model of windows ``(T, C)``).
        representative_windows: float32 array ``(N, T, C)`` of normalised
            training windows, used only to calibrate ranges.
        recurrence: how a GRU is written out. ``"fused"`` (default): one
            ``KERAS_HAR_BIGRU`` custom op (`keras_har.export.fused_gru`),
            which the firmware registers and TFLM's Python interpreter runs
            around (`keras_har.export.tflm.run_tflm`); the others are stock
            ops, see `keras_har.export.inference_graph.inference_function`.
            Models without a GRU ignore it; a one-directional GRU falls
            back to ``"merged"`` with a warning.
        strip: drop tensor and op names from the flatbuffer (outputs are
            unchanged, the file is smaller).
        check: run `check_integer_only` and `check_tflm_ops`. Turn it off
            only to measure a baseline that fails them.

    Returns:
        The ``.tflite`` flatbuffer as ``bytes``.

    Example:
    >>> import numpy as np, keras_har
    >>> from keras_har.export import convert_int8
    >>> model = keras_har.TinierHAR(input_shape=(32, 3), num_classes=4)
    >>> flatbuffer = convert_int8(model, np.zeros((4, 32, 3), "float32"))
    """
    windows = np.asarray(representative_windows, dtype="float32")
    expected = tuple(model.input_shape[1:])
    if windows.ndim != 3 or windows.shape[1:] != expected or len(windows) == 0:
        raise ValueError(
            f"`representative_windows` must be a non-empty array of shape (N, {expected[0]}, {expected[1]}). "
            f"Received: representative_windows.shape={windows.shape}"
        )
    fuse = recurrence == "fused" and getattr(model, "recurrent", None) == "bigru"
    if recurrence == "fused" and getattr(model, "recurrent", None) == "gru":
        import warnings

        warnings.warn("The fused KERAS_HAR_BIGRU op covers TinierHAR's bidirectional GRU; this one-directional "
                      "GRU is exported unrolled into stock ops (recurrence='merged'), which costs far more "
                      "arena and flash.", stacklevel=2)
    if fuse:
        from keras_har.export.fused_gru import gru_cells

        gru_cells(model.get_layer("recurrent"))  # refuses a GRU the op does not compute, before converting
    function = inference_function(model, recurrence="merged" if recurrence == "fused" else recurrence)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function.get_concrete_function()],
                                                                _variable_holder(model))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([window[None]] for window in windows)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    flatbuffer = converter.convert()
    if fuse:
        from keras_har.export.fused_gru import fuse_gru

        flatbuffer = fuse_gru(flatbuffer, model.get_layer("recurrent"))
    if strip:
        flatbuffer = strip_strings(flatbuffer)
    if check:
        check_integer_only(flatbuffer)
        check_tflm_ops(flatbuffer)
    return flatbuffer


def _variable_holder(model):
    """A `tf.Module` that tracks only the model's variables, for the converter to save.

    The converter saves the object it is given as a SavedModel before
    converting. Given the Keras model itself, tf_keras's SavedModel
    serialisation traces every layer's call functions, about nine tenths of
    a conversion's time; the variables the inference function captures are
    all the converter needs, and the flatbuffer is the same byte for byte
    (``tests/export/test_export.py``).
    """
    holder = tf.Module()
    holder.model_variables = list(model.variables)
    return holder


def strip_strings(flatbuffer):
    """Removes tensor, op and signature names: fewer bytes on the board, same outputs."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(flatbuffer))
    flatbuffer_utils.strip_strings(model)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def describe(flatbuffer):
    """Facts about a flatbuffer: ops in execution order, tensor types, bytes.

    Returns:
        dict with ``ops`` (op names, one per node, all subgraphs),
        ``op_types`` (sorted distinct names), ``op_count``,
        ``float_tensors`` (float32 tensors that carry data), ``flash_bytes``,
        ``input`` and ``output`` (dtype, shape, scale, zero_point).
    """
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(bytearray(flatbuffer), 0)
    names = {value: name for name, value in vars(schema.BuiltinOperator).items() if not name.startswith("_")}
    dtypes = {value: name for name, value in vars(schema.TensorType).items() if not name.startswith("_")}

    def op_name(code):
        if code.customCode is not None:
            return code.customCode.decode()
        # Newer schemas keep ops above 127 in builtinCode, older ones in the deprecated byte.
        return names[max(code.builtinCode, code.deprecatedBuiltinCode)]

    ops, float_tensors = [], 0
    for subgraph in model.subgraphs:
        ops += [op_name(model.operatorCodes[op.opcodeIndex]) for op in subgraph.operators]
        # The int8 LSTM lists empty float "intermediate" tensors that only
        # carry the scales of its internal gates; they hold no data.
        intermediates = set()
        for op in subgraph.operators:
            if op.intermediates is not None:
                intermediates.update(int(i) for i in op.intermediates)
        float_tensors += sum(
            dtypes[t.type] == "FLOAT32" and index not in intermediates
            for index, t in enumerate(subgraph.tensors)
        )
    main = model.subgraphs[0]

    def io(index):
        tensor = main.tensors[index]
        quant = tensor.quantization
        scale = float(quant.scale[0]) if quant is not None and quant.scale is not None else None
        zero_point = int(quant.zeroPoint[0]) if quant is not None and quant.zeroPoint is not None else None
        return {"dtype": dtypes[tensor.type].lower(), "shape": [int(d) for d in tensor.shape],
                "scale": scale, "zero_point": zero_point}

    return {
        "ops": ops,
        "op_types": sorted(set(ops)),
        "op_count": len(ops),
        "float_tensors": int(float_tensors),
        "flash_bytes": len(flatbuffer),
        "input": io(main.inputs[0]),
        "output": io(main.outputs[0]),
    }


def check_integer_only(flatbuffer):
    """Raises ValueError unless the graph is int8 end to end.

    Int8 input and output, no float32 tensor and no QUANTIZE/DEQUANTIZE op:
    a converter that silently falls back to float for part of the graph
    (as with an output quantizer on a BiGRU, see docs/toolchain.md) is caught here.
    """
    facts = describe(flatbuffer)
    problems = []
    if facts["input"]["dtype"] != "int8" or facts["output"]["dtype"] != "int8":
        problems.append(f"input/output types are {facts['input']['dtype']}/{facts['output']['dtype']}, not int8/int8")
    if facts["float_tensors"]:
        problems.append(f"{facts['float_tensors']} float32 tensors remain")
    conversions = sorted({op for op in facts["ops"] if op in ("QUANTIZE", "DEQUANTIZE")})
    if conversions:
        count = sum(op in conversions for op in facts["ops"])
        problems.append(f"{count} {'/'.join(conversions)} ops remain")
    if problems:
        raise ValueError(
            "The converted model is not integer-only: " + "; ".join(problems) + ". "
            f"Received: op_types={facts['op_types']}"
        )
    return facts


def check_tflm_ops(flatbuffer):
    """Raises ValueError naming every op that TFLM has no kernel for.

    Returns:
        The sorted op names, each with a `TFLM_OP_RESOLVER_METHODS` or
        `CUSTOM_OPS` entry.
    """
    op_types = describe(flatbuffer)["op_types"]
    missing = [op for op in op_types if op not in TFLM_OP_RESOLVER_METHODS and op not in CUSTOM_OPS]
    if missing:
        raise ValueError(
            f"The model uses {', '.join(missing)}, which TensorFlow Lite Micro has no kernel for, so it "
            "cannot run on a microcontroller. Rewrite the layer that produces it with supported ops. "
            f"Received: ops={missing}"
        )
    return op_types
