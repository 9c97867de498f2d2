"""Running an int8 model in TFLite Micro and in LiteRT, and measuring TFLM's arena."""

import numpy as np

from keras_har.export.convert import describe

# Python's TFLM interpreter allocates its RecordingMicroAllocator bookkeeping
# inside the arena; the search starts from a generous upper bound.
_MAX_ARENA_BYTES = 8 * 1024 * 1024


def quantize_windows(windows, flatbuffer):
    """Float windows -> int8 with the model's input scale and zero point."""
    spec = describe(flatbuffer)["input"]
    scaled = np.round(np.asarray(windows, "float32") / spec["scale"]) + spec["zero_point"]
    return np.clip(scaled, -128, 127).astype(np.int8)


def dequantize_outputs(outputs, flatbuffer):
    spec = describe(flatbuffer)["output"]
    return (np.asarray(outputs, "float32") - spec["zero_point"]) * spec["scale"]


def run_tflm(flatbuffer, windows, *, arena_bytes=None, progress=False):
    """Runs every window through the TFLM Python interpreter.

    Args:
        flatbuffer: int8 ``.tflite`` bytes (batch 1).
        windows: float32 ``(N, T, C)``; quantized with the model's input
            parameters, exactly as the firmware does.
        arena_bytes: tensor arena size; default: 10x the model size.
        progress: show a tqdm bar.

    Returns:
        int8 outputs ``(N, K)``.
    """
    from tflite_micro.python.tflite_micro import runtime

    interpreter = runtime.Interpreter.from_bytes(bytes(flatbuffer), arena_size=arena_bytes)
    return _run(interpreter, quantize_windows(windows, flatbuffer), progress, "TFLM",
                lambda x: interpreter.set_input(x, 0), lambda: interpreter.get_output(0),
                after=interpreter.reset)


LITERT_OP_RESOLVERS = ("auto", "builtin", "reference")


def run_litert(flatbuffer, windows, *, op_resolver="builtin", progress=False):
    """Runs every window through LiteRT (the desktop TFLite runtime).

    Args:
        flatbuffer: int8 ``.tflite`` bytes (batch 1).
        windows: float32 ``(N, T, C)``.
        op_resolver: ``"builtin"`` (default): LiteRT's optimised kernels
            without the XNNPACK delegate; ``"auto"``: with XNNPACK, as LiteRT
            runs by default; ``"reference"``: LiteRT's reference kernels.
            They round differently; ``benchmarks/results/tflite.md`` measures
            each against TFLM.
        progress: show a tqdm bar.

    Returns:
        int8 outputs ``(N, K)``.
    """
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    if op_resolver not in LITERT_OP_RESOLVERS:
        raise ValueError(f"`op_resolver` must be one of {list(LITERT_OP_RESOLVERS)}. Received: op_resolver={op_resolver!r}")
    resolver = {
        "auto": OpResolverType.AUTO,
        "builtin": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
        "reference": OpResolverType.BUILTIN_REF,
    }[op_resolver]
    interpreter = Interpreter(model_content=bytes(flatbuffer), experimental_op_resolver_type=resolver)
    interpreter.allocate_tensors()
    input_index = interpreter.get_input_details()[0]["index"]
    output_index = interpreter.get_output_details()[0]["index"]
    return _run(interpreter, quantize_windows(windows, flatbuffer), progress, "LiteRT",
                lambda x: interpreter.set_tensor(input_index, x), lambda: interpreter.get_tensor(output_index))


def _run(interpreter, windows_int8, progress, label, set_input, get_output, after=None):
    outputs = []
    iterator = windows_int8
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(windows_int8, desc=f"{label} int8", unit="window")
    for window in iterator:
        set_input(window[None])
        interpreter.invoke()
        outputs.append(np.array(get_output()).reshape(-1))
        if after is not None:
            after()
    return np.stack(outputs).astype(np.int8)


def find_arena_bytes(flatbuffer, *, window=None, alignment=16):
    """The smallest tensor arena (a multiple of ``alignment``) in which TFLM allocates and runs the model.

    TFLM has no query for this: allocation either succeeds or raises, so the
    size is binary-searched. With ``window`` (float ``(T, C)``) each candidate
    also runs one inference, which catches scratch buffers requested at
    ``Prepare`` time.

    Returns:
        Arena size in bytes.
    """
    from tflite_micro.python.tflite_micro import runtime

    sample = None if window is None else quantize_windows(np.asarray(window)[None], flatbuffer)

    def fits(arena_bytes):
        try:
            interpreter = runtime.Interpreter.from_bytes(bytes(flatbuffer), arena_size=int(arena_bytes))
            if sample is not None:
                interpreter.set_input(sample, 0)
                interpreter.invoke()
        except Exception:  # TFLM reports any allocation failure as a RuntimeError or ValueError
            return False
        return True

    high = 64 * 1024
    while not fits(high):
        high *= 2
        if high > _MAX_ARENA_BYTES:
            raise ValueError(f"TFLM could not allocate the model even with a {_MAX_ARENA_BYTES}-byte arena.")
    low = 0  # known not to fit
    while high - low > alignment:
        middle = (low + high) // 2 // alignment * alignment
        if middle <= low:
            break
        if fits(middle):
            high = middle
        else:
            low = middle
    return int(high)
