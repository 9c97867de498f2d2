"""Measured flash and TFLM arena of a model's int8 export, measured in a child process.

Flash and arena do not depend on the trained weights: they follow from the
graph, the tensor shapes and the quantization layout. So an untrained model,
calibrated on a few random windows, gives the same sizes as the trained one,
and a search can check a configuration against a flash or arena budget
before it trains it.

The conversion and the TFLM interpreter run in a child process
(``python -m keras_har.export.footprint``): TensorFlow's converter has
crashed the whole process on some graphs here (SIGSEGV, see
``benchmarks/results/tflite.md``), and a crash must end one measurement with
a clear error, not the search that asked for it.

Example:
    >>> import keras_har
    >>> from keras_har.export.footprint import measure_footprint
    >>> model = keras_har.TinierHAR(input_shape=(32, 3), num_classes=4, recurrent="bilstm")
    >>> measure_footprint(model)["arena_bytes"]  # doctest: +SKIP
    6384
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile

import numpy as np

CALIBRATION_WINDOWS = 8


class FootprintError(RuntimeError):
    """The child process could not convert or measure the model."""


def calibration_windows(input_shape, count=CALIBRATION_WINDOWS, seed=0):
    """Standard-normal windows, as normalised data looks; they only set activation ranges."""
    steps, channels = (int(d) for d in input_shape)
    return np.random.default_rng(seed).standard_normal((count, steps, channels)).astype("float32")


def measure_flatbuffer(model, *, seed=0, recurrence="merged", offline_memory_plan=True, flatbuffer_path=None):
    """Converts ``model`` in this process and measures the result (what the child runs).

    The flatbuffer is the one `keras_har.export.export_model` writes by
    default: stripped, with the offline memory plan.

    The converter is not byte-for-byte deterministic: two conversions of
    the same model can differ by a few dozen bytes. ``flatbuffer_path``
    keeps the very flatbuffer that was measured.

    Returns:
        A dict with ``flash_bytes`` (the ``.tflite``, i.e. the C array),
        ``arena_bytes`` (the smallest TFLM arena that allocates and runs one
        window, `keras_har.export.find_arena_bytes`) and ``ops``.
    """
    from keras_har.export.convert import convert_int8, describe
    from keras_har.atomic import write_bytes
    from keras_har.export.memory_plan import add_offline_memory_plan
    from keras_har.export.tflm import find_arena_bytes

    windows = calibration_windows(model.input_shape[1:], seed=seed)
    flatbuffer = convert_int8(model, windows, recurrence=recurrence)
    if offline_memory_plan:
        flatbuffer = add_offline_memory_plan(flatbuffer)
    if flatbuffer_path is not None:
        write_bytes(flatbuffer_path, bytes(flatbuffer))
    return {
        "flash_bytes": len(flatbuffer),
        "arena_bytes": int(find_arena_bytes(flatbuffer, window=windows[0])),
        "ops": int(describe(flatbuffer)["op_count"]),
    }


def measure_footprint(model, *, seed=0, recurrence="merged", timeout=1800, flatbuffer_path=None):
    """Flash, arena and op count of ``model``'s int8 TFLM export, measured in a child process.

    Args:
        model: a built keras_har model (any model that `keras_har.export.convert_int8` takes
            and that saves to ``.keras``).
        seed: seed of the random calibration windows.
        recurrence: passed to `keras_har.export.convert_int8`.
        timeout: seconds before the child is killed.
        flatbuffer_path: where to keep the measured ``.tflite`` (optional).

    Returns:
        A dict with ``flash_bytes``, ``arena_bytes`` and ``ops``.

    Raises:
        FootprintError: the child failed or crashed; the message names the
            model, the exit status and the end of the child's output.
    """
    with tempfile.TemporaryDirectory(prefix="keras_har_footprint_") as folder:
        model_path = os.path.join(folder, "model.keras")
        result_path = os.path.join(folder, "footprint.json")
        model.save(model_path)
        command = [sys.executable, "-m", "keras_har.export.footprint", model_path, result_path,
                   "--seed", str(seed), "--recurrence", recurrence]
        if flatbuffer_path is not None:
            command += ["--flatbuffer", os.fspath(flatbuffer_path)]
        try:
            child = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as error:
            raise FootprintError(f"measuring the int8 footprint of model {model.name!r} took more than "
                                 f"{timeout} s") from error
        if child.returncode != 0 or not os.path.exists(result_path):
            status = child.returncode
            if status < 0:
                status = f"{status} ({signal.Signals(-status).name})"
            tail = "\n".join((child.stderr or child.stdout or "").strip().splitlines()[-8:])
            raise FootprintError(
                f"measuring the int8 footprint of model {model.name!r} (input {tuple(model.input_shape[1:])}) "
                f"failed: child exited with {status}. Its last output:\n{tail}"
            )
        with open(result_path, encoding="utf-8") as file:
            return json.load(file)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m keras_har.export.footprint",
                                     description="Measures a saved model's int8 flash and TFLM arena.")
    parser.add_argument("model", help="a .keras file")
    parser.add_argument("output", help="where to write the JSON result")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--recurrence", default="merged")
    parser.add_argument("--flatbuffer", default=None, help="also write the measured .tflite here")
    args = parser.parse_args(argv)
    if not os.path.isfile(args.model):
        print(f"footprint: model file {args.model!r} does not exist; expected a .keras file", file=sys.stderr)
        return 2

    import keras_har.layers  # noqa: F401  (registers the custom layers)
    import keras_har.models  # noqa: F401
    from keras_har.backend import keras
    from keras_har.atomic import write_text

    model = keras.models.load_model(args.model)
    result = measure_flatbuffer(model, seed=args.seed, recurrence=args.recurrence, flatbuffer_path=args.flatbuffer)
    write_text(args.output, json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
