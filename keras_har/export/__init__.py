"""Int8 export of keras_har models for TensorFlow Lite Micro.

From a trained `keras_har.TinierHAR`: quantization-aware training
(`quantize_aware`), full-integer int8 conversion with a compact recurrence
(`convert_int8`), checks that the graph is integer-only and that TFLM has
every op (`check_integer_only`, `check_tflm_ops`), an offline arena plan
(`add_offline_memory_plan`), runs in TFLM and LiteRT (`run_tflm`,
`run_litert`), the measured arena (`find_arena_bytes`), and the
firmware files (`write_firmware`); `export_model` does all of it.

Example:
    >>> import numpy as np, keras_har
    >>> from keras_har import export
    >>> model = keras_har.TinierHAR(input_shape=(32, 3), num_classes=4)
    >>> flatbuffer = export.convert_int8(model, np.zeros((4, 32, 3), "float32"))  # doctest: +SKIP
    >>> export.describe(flatbuffer)["input"]["dtype"]  # doctest: +SKIP
    'int8'
"""

from keras_har.export.convert import (
    TFLM_OP_RESOLVER_METHODS,
    check_integer_only,
    check_tflm_ops,
    convert_int8,
    describe,
    strip_strings,
)
from keras_har.export.firmware import (
    model_data_sources,
    model_settings_header,
    op_resolver_header,
    parse_model_data,
    parse_model_settings,
    write_firmware,
)
from keras_har.export.inference_graph import RECURRENCES, inference_function
from keras_har.export.memory_plan import (
    OFFLINE_MEMORY_ALLOCATION,
    add_offline_memory_plan,
    describe_memory_plan,
    read_offline_memory_plan,
    tensor_lifetimes,
)
from keras_har.export.pipeline import evaluate_int8, export_model
from keras_har.export.qat import dequantized_copy, quantize_aware
from keras_har.export.tflm import find_arena_bytes, run_litert, run_tflm

__all__ = [
    "OFFLINE_MEMORY_ALLOCATION", "RECURRENCES", "TFLM_OP_RESOLVER_METHODS", "add_offline_memory_plan",
    "check_integer_only", "check_tflm_ops", "convert_int8", "dequantized_copy", "describe", "describe_memory_plan",
    "evaluate_int8", "export_model", "find_arena_bytes", "inference_function",
    "model_data_sources", "model_settings_header", "op_resolver_header", "parse_model_data",
    "parse_model_settings", "quantize_aware", "read_offline_memory_plan", "run_litert", "run_tflm", "strip_strings",
    "tensor_lifetimes", "write_firmware",
]
