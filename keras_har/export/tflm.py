"""Running an int8 model in TFLite Micro and in LiteRT, and measuring TFLM's arena."""

import os
import subprocess
import sys
import tempfile

import numpy as np

from keras_har.export.convert import describe

# Python's TFLM interpreter allocates its RecordingMicroAllocator bookkeeping
# inside the arena; the search starts from a generous upper bound.
_MAX_ARENA_BYTES = 8 * 1024 * 1024


def quantize(values, scale, zero_point):
    """float32 -> int8 as the firmware core does (``HarClassifier::QuantizeSample``).

    A float32 division by ``scale``, rounding half away from zero (C's
    ``lroundf``, also what TFLite's QUANTIZE kernel does), then the zero point
    and clamping to int8. NumPy's ``np.round`` rounds halves to even and
    would differ from the firmware on exact ties.
    """
    scaled = np.asarray(values, np.float32) / np.float32(scale)
    # A float32 plus 0.5 is exact in float64, so this is lroundf bit for bit.
    rounded = np.trunc(scaled.astype(np.float64) + np.copysign(0.5, scaled))
    return np.clip(rounded + int(zero_point), -128, 127).astype(np.int8)


def quantize_windows(windows, flatbuffer):
    """Float windows -> int8 with the model's input scale and zero point (see `quantize`)."""
    spec = describe(flatbuffer)["input"]
    return quantize(windows, spec["scale"], spec["zero_point"])


def dequantize_outputs(outputs, flatbuffer):
    spec = describe(flatbuffer)["output"]
    return (np.asarray(outputs, "float32") - spec["zero_point"]) * spec["scale"]


def run_tflm(flatbuffer, windows, *, arena_bytes=None, progress=False):
    """Runs every window through the TFLM Python interpreter.

    A model with keras_har's fused GRU op (`keras_har.export.fused_gru`),
    which the Python interpreter cannot load, runs as the firmware computes
    it: the stock ops before the op in TFLM, the op's integer reference
    (`keras_har.export.fused_gru.gru_int8_reference`), the stock ops after it
    in TFLM.

    Args:
        flatbuffer: int8 ``.tflite`` bytes (batch 1).
        windows: float32 ``(N, T, C)``; quantized with the model's input
            parameters, exactly as the firmware does.
        arena_bytes: tensor arena size; default: 10x the model size.
        progress: show a tqdm bar.

    Returns:
        int8 outputs ``(N, K)``.
    """
    # The halves around a fused GRU op are planned online (their own arena, not the model's): default size.
    return _run_model(flatbuffer, quantize_windows(windows, flatbuffer),
                      lambda model, inputs: _run_tflm_int8(model, inputs, arena_bytes if model is flatbuffer else None,
                                                           progress))


def _run_tflm_int8(flatbuffer, inputs, arena_bytes, progress):
    from tflite_micro.python.tflite_micro import runtime

    interpreter = runtime.Interpreter.from_bytes(bytes(flatbuffer), arena_size=arena_bytes)
    return _run(interpreter, inputs, progress, "TFLM", lambda i, x: interpreter.set_input(x, i),
                lambda: interpreter.get_output(0), after=interpreter.reset, shapes=_input_shapes(flatbuffer))


def _input_shapes(flatbuffer):
    from tensorflow.lite.python import schema_py_generated as schema

    subgraph = schema.ModelT.InitFromPackedBuf(bytearray(flatbuffer), 0).subgraphs[0]
    return [[int(d) for d in subgraph.tensors[int(i)].shape] for i in subgraph.inputs]


def _run_model(flatbuffer, inputs, run_stock):
    """``run_stock(flatbuffer, [int8 inputs])`` on a stock-op model, or around the fused GRU op."""
    from keras_har.export.fused_gru import fused_gru_ops, gru_int8_reference, split_at_fused_gru

    if not fused_gru_ops(flatbuffer):
        return run_stock(flatbuffer, [inputs])
    before, params, after = split_at_fused_gru(flatbuffer)
    sequences = run_stock(before, [inputs]).reshape(len(inputs), params["steps"], params["input_dim"])
    outputs = gru_int8_reference(sequences, params)
    # The op's second output, when it has one, is the same sequence transposed (fused_gru.fuse_gru).
    feeds = [outputs, np.swapaxes(outputs, 1, 2)][:len(_input_shapes(after))]
    return run_stock(after, feeds)


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

    def run_stock(model, inputs):
        interpreter = Interpreter(model_content=bytes(model), experimental_op_resolver_type=resolver)
        interpreter.allocate_tensors()
        input_indices = [detail["index"] for detail in interpreter.get_input_details()]
        output_index = interpreter.get_output_details()[0]["index"]
        return _run(interpreter, inputs, progress, "LiteRT",
                    lambda i, x: interpreter.set_tensor(input_indices[i], x),
                    lambda: interpreter.get_tensor(output_index), shapes=_input_shapes(model))

    # A fused GRU op runs as its integer reference between the two stock-op halves (see run_tflm).
    return _run_model(flatbuffer, quantize_windows(windows, flatbuffer), run_stock)


def _run(interpreter, inputs, progress, label, set_input, get_output, after=None, shapes=None):
    """Runs int8 examples one by one: ``inputs`` is one array ``(N, ...)`` per model input, each example
    reshaped to that input's shape; returns the first output, ``(N, -1)``."""
    outputs = []
    indices = range(len(inputs[0]))
    if progress:
        from tqdm.auto import tqdm

        indices = tqdm(indices, desc=f"{label} int8", unit="window")
    for n in indices:
        for i, (values, shape) in enumerate(zip(inputs, shapes)):
            set_input(i, np.ascontiguousarray(values[n]).reshape(shape))
        interpreter.invoke()
        outputs.append(np.array(get_output()).reshape(-1))
        if after is not None:
            after()
    return np.stack(outputs).astype(np.int8)


# The arena probe: a child process that reads arena sizes from its standard
# input, one per line, and for each allocates the model (and, with a window
# file, runs one inference). It answers "fits" and waits for the next size, so
# a search starts one process per refused size, not one per size: a refusal
# ends it, because TFLM is not trusted after a failed allocation. Exit 3: TFLM
# refused the allocation; killed by a signal: TFLM crashed while failing to
# allocate (seen here: SIGSEGV after "Failed to allocate tail memory" for a
# 158 KB HAPT-shaped BiGRU at a 128 KB arena).
_PROBE = """
import sys
import numpy as np
from tflite_micro.python.tflite_micro import runtime
model = open(sys.argv[1], "rb").read()
window = np.load(sys.argv[2]) if len(sys.argv) > 2 else None
for line in sys.stdin:
    try:
        interpreter = runtime.Interpreter.from_bytes(model, arena_size=int(line))
        if window is not None:
            interpreter.set_input(window, 0)
            interpreter.invoke()
    except (RuntimeError, ValueError):
        sys.exit(3)
    del interpreter
    print("fits", flush=True)
"""


def find_arena_bytes(flatbuffer, *, window=None, alignment=16, isolate=True):
    """The smallest tensor arena (a multiple of ``alignment``) in which TFLM allocates and runs the model.

    TFLM has no query for this: allocation either succeeds or fails, so the
    size is binary-searched. With ``window`` (float ``(T, C)``) each candidate
    also runs one inference, which catches scratch buffers requested at
    ``Prepare`` time.

    A too-small arena does not always fail cleanly: for some graphs TFLM
    crashes (SIGSEGV) after a failed persistent allocation, on a board as in
    Python. So by default the candidates run in a child process, and a crash
    counts as "does not fit", like a refused allocation; after any "does not
    fit" the next candidate gets a new child. A firmware
    arena must therefore never be set below the measured size.

    Args:
        flatbuffer: int8 ``.tflite`` bytes.
        window: optional float window ``(T, C)``, quantized with the model's
            input parameters.
        alignment: granularity of the search, in bytes.
        isolate: probe in a child process, a new one after each refused
            size (about 0.3 s to start); ``False`` allocates in this process,
            which a TFLM crash would end.

    A model with keras_har's fused GRU op is searched on a stand-in with a
    stock op in its place, plus the kernel's own arena bytes
    (`keras_har.export.fused_gru.stand_in`): an estimate that errs high. The
    firmware measures the real one (`keras_har.firmware.verify`).

    Returns:
        Arena size in bytes.
    """
    from keras_har.export.fused_gru import fused_gru_ops, stand_in

    if fused_gru_ops(flatbuffer):
        model, extra = stand_in(flatbuffer)
        found = find_arena_bytes(model, window=window, alignment=alignment, isolate=isolate)
        return found + -(-extra // alignment) * alignment
    sample = None if window is None else quantize_windows(np.asarray(window)[None], flatbuffer)
    with tempfile.TemporaryDirectory(prefix="keras_har_arena_") as folder:
        model_path = os.path.join(folder, "model.tflite")
        with open(model_path, "wb") as file:
            file.write(bytes(flatbuffer))
        sample_path = None
        if sample is not None:
            sample_path = os.path.join(folder, "window.npy")
            np.save(sample_path, sample)
        fits = _ChildProbe(model_path, sample_path, folder) if isolate else _fits_here(flatbuffer, sample)
        try:
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
        finally:
            if isolate:
                fits.close()
    return int(high)


def _fits_here(flatbuffer, sample):
    from tflite_micro.python.tflite_micro import runtime

    def fits(arena_bytes):
        try:
            interpreter = runtime.Interpreter.from_bytes(bytes(flatbuffer), arena_size=int(arena_bytes))
            if sample is not None:
                interpreter.set_input(sample, 0)
                interpreter.invoke()
        except (RuntimeError, ValueError):  # TFLM reports an allocation failure as either
            return False
        return True

    return fits


class _ChildProbe:
    """``fits(arena_bytes)`` answered by a `_PROBE` child, kept while it says yes and restarted after a no."""

    def __init__(self, model_path, sample_path, folder):
        self.command = [sys.executable, "-c", _PROBE, model_path] + ([sample_path] if sample_path else [])
        self.stderr_path = os.path.join(folder, "probe_stderr.txt")
        self.child = None

    def __call__(self, arena_bytes):
        if self.child is None:
            with open(self.stderr_path, "w") as stderr:
                self.child = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                              stderr=stderr, text=True)
        try:
            self.child.stdin.write(f"{int(arena_bytes)}\n")
            self.child.stdin.flush()
        except BrokenPipeError:  # the child ended before reading: its exit status says why
            pass
        if self.child.stdout.readline().strip() == "fits":
            return True
        code = self._end()
        if code == 3 or code < 0:
            return False
        with open(self.stderr_path) as stderr:
            tail = stderr.read().strip().splitlines()[-6:]
        raise RuntimeError(f"the TFLM arena probe failed for a reason other than allocation (exit {code}):\n"
                           + "\n".join(tail))

    def _end(self):
        child, self.child = self.child, None
        for stream in (child.stdin, child.stdout):
            try:
                stream.close()
            except BrokenPipeError:
                pass
        return child.wait()

    def close(self):
        if self.child is not None:
            self._end()


def tflm_stream_predictor(flatbuffer, channel_mean, channel_std, *, arena_bytes=None):
    """A ``predict`` for `keras_har.streaming.stream_predict`: raw windows -> TFLM int8 scores.

    Standardises in float32 as ``(x - mean) / std`` and quantises with
    `quantize_windows`, the firmware core's arithmetic, so its results can be
    compared bit for bit with the firmware's streaming output.
    """
    mean = np.asarray(channel_mean, np.float32)
    std = np.asarray(channel_std, np.float32)

    def predict(windows):
        return run_tflm(flatbuffer, (np.asarray(windows, np.float32) - mean) / std, arena_bytes=arena_bytes)

    return predict
