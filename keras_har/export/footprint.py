"""Measured flash and TFLM arena of a model's int8 export, measured in a child process.

Flash and arena do not depend on the trained weights: they follow from the
graph, the tensor shapes and the quantization layout. So an untrained model,
calibrated on a few random windows, gives the same sizes as the trained one,
and a search can check a configuration against a flash or arena budget
before it trains it. On the emulated Cortex-M4 the same holds for the
instructions per inference and the linked firmware's flash
(``benchmarks/results/firmware.json``).

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


ARENA_ON = ("auto", "cortex-m4", "python")


def measure_flatbuffer(model, *, seed=0, recurrence="merged", offline_memory_plan=True, flatbuffer_path=None,
                       arena_on="auto"):
    """Converts ``model`` in this process and measures the result (what the child runs).

    The flatbuffer is the one `keras_har.export.export_model` writes by
    default: stripped, with the offline memory plan.

    The converter is not byte-for-byte deterministic: two conversions of
    the same model can differ by a few dozen bytes. ``flatbuffer_path``
    keeps the very flatbuffer that was measured.

    Returns:
        A dict with ``flash_bytes`` (the ``.tflite``, i.e. the C array),
        ``arena_bytes``, ``arena_on_cortex_m4`` (1 or 0), ``ops``,
        ``instructions`` and ``firmware_flash_bytes``. The arena is the
        smallest one in which the model allocates and runs a window. With
        ``arena_on="cortex-m4"``, on an emulated Cortex-M4: the larger of the
        CMSIS-NN and reference kernel builds
        (`keras_har.firmware.verify.cortex_m4_footprint`); then
        ``instructions`` (per inference of one window) and
        ``firmware_flash_bytes`` (the whole linked firmware: model, TFLM
        runtime and the rest) are those of the CMSIS-NN build, the one a board
        runs. With ``"python"``, in the TFLM Python interpreter (a 64-bit
        build that needs 8-23% more, BENCHMARKS.md), and ``instructions`` and
        ``firmware_flash_bytes`` are None. ``"auto"`` (default): the
        Cortex-M4 when the toolchain, QEMU and the TFLM trees are there
        (`keras_har.firmware.verify.cortex_m4_available`), else Python.
    """
    if arena_on not in ARENA_ON:
        raise ValueError(f"`arena_on` must be one of {list(ARENA_ON)}. Received: arena_on={arena_on!r}")
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
    from keras_har.firmware.verify import cortex_m4_available, cortex_m4_footprint

    instructions = firmware_flash_bytes = None
    if arena_on == "cortex-m4" or (arena_on == "auto" and cortex_m4_available()):
        on_board = cortex_m4_footprint(bytes(flatbuffer))
        arena_bytes, on_cortex_m4 = max(build["arena_bytes"] for build in on_board.values()), 1
        instructions = on_board["cmsis-nn"]["instructions"]
        firmware_flash_bytes = on_board["cmsis-nn"]["flash_bytes"]
    else:
        arena_bytes, on_cortex_m4 = int(find_arena_bytes(flatbuffer, window=windows[0])), 0
    return {
        "flash_bytes": len(flatbuffer),
        "arena_bytes": int(arena_bytes),
        "arena_on_cortex_m4": on_cortex_m4,
        "ops": int(describe(flatbuffer)["op_count"]),
        "instructions": instructions,
        "firmware_flash_bytes": firmware_flash_bytes,
    }


def measure_footprint(model, *, seed=0, recurrence="merged", timeout=1800, flatbuffer_path=None, arena_on="auto"):
    """Flash, arena and op count of ``model``'s int8 TFLM export, measured in a child process.

    Args:
        model: a built keras_har model (any model that `keras_har.export.convert_int8` takes
            and that saves to ``.keras``).
        seed: seed of the random calibration windows.
        recurrence: passed to `keras_har.export.convert_int8` (``"merged"``:
            a GRU in stock ops; ``"fused"``: the ``KERAS_HAR_BIGRU`` op that
            `keras_har.export.export_model` writes by default).
        timeout: seconds before the child is killed.
        flatbuffer_path: where to keep the measured ``.tflite`` (optional).
        arena_on: ``"auto"``, ``"cortex-m4"`` or ``"python"``; see `measure_flatbuffer`.

    Returns:
        The dict of `measure_flatbuffer`: ``flash_bytes``, ``arena_bytes``,
        ``arena_on_cortex_m4``, ``ops``, and on the Cortex-M4 the CMSIS-NN
        build's ``instructions`` and ``firmware_flash_bytes`` (else None).

    Raises:
        FootprintError: the child failed or crashed; the message names the
            model, the exit status and the end of the child's output.
    """
    with tempfile.TemporaryDirectory(prefix="keras_har_footprint_") as folder:
        model_path = os.path.join(folder, "model.keras")
        result_path = os.path.join(folder, "footprint.json")
        model.save(model_path)
        command = [sys.executable, "-m", "keras_har.export.footprint", model_path, result_path,
                   "--seed", str(seed), "--recurrence", recurrence, "--arena-on", arena_on]
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
    parser.add_argument("--arena-on", choices=ARENA_ON, default="auto")
    args = parser.parse_args(argv)
    if not os.path.isfile(args.model):
        print(f"footprint: model file {args.model!r} does not exist; expected a .keras file", file=sys.stderr)
        return 2

    import keras_har.layers  # noqa: F401  (registers the custom layers)
    import keras_har.models  # noqa: F401
    from keras_har.backend import keras
    from keras_har.atomic import write_text

    model = keras.models.load_model(args.model)
    result = measure_flatbuffer(model, seed=args.seed, recurrence=args.recurrence, flatbuffer_path=args.flatbuffer,
                                arena_on=args.arena_on)
    write_text(args.output, json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
