"""Build an export folder's firmware, run it on real windows, compare with Python, measure the device cost."""

import json
import pathlib
import re

import numpy as np

from keras_har import atomic
from keras_har.firmware import run as runner
from keras_har.firmware.build import build_runner

# Added to the smallest Cortex-M4 arena found in emulation before it goes into
# model_settings.h: room for a different compiler or TFLM release on the
# user's side, not needed by the build that was measured.
ARENA_MARGIN_BYTES = 512
# Python's TFLM interpreter gets a generous arena: its size never changes the results.
_PYTHON_ARENA_BYTES = 4 * 1024 * 1024


def _compare(python_scores, firmware_scores):
    different = np.any(python_scores != firmware_scores, axis=-1)
    return bool(not different.any()), int(different.sum())


def verify_export(export_dir, *, windows, recording=None, targets=("host", "cortex-m4"),
                  kernels=("cmsis-nn", "reference"), tflm_root=None, cmsis_nn_root=None, cache_dir=None,
                  arena_margin_bytes=ARENA_MARGIN_BYTES, update_export=True, timeout_s=900, progress=True):
    """Builds and runs an export's firmware; checks it bit for bit against the TFLM Python interpreter.

    For each build (``host`` with reference kernels; ``cortex-m4`` with each
    of ``kernels``, run under ``qemu-system-arm -M mps2-an386``):

    - the smallest arena in which the model allocates and classifies a
      window, searched in the firmware itself (`keras_har.firmware.run.find_arena`),
      and TFLM's ``arena_used_bytes``;
    - every window of ``windows`` classified in that arena, int8 scores
      compared bit for bit with the TFLM Python interpreter;
    - ``recording`` streamed sample by sample through the core's ring buffer,
      compared with `keras_har.streaming.stream_predict` over the same
      recording with the same arithmetic;
    - on the Cortex-M4: instructions per classification (QEMU ``-icount``,
      SysTick) and the flash of the linked firmware by origin.

    Args:
        export_dir: a folder written by `keras_har.export.export_model`.
        windows: standardised float windows ``(N, T, C)``, as given to
            ``export_model(test_windows=...)``; quantised as the firmware does.
        recording: optional raw samples ``(L, C)`` of one continuous recording.
        targets, kernels: which builds to run.
        tflm_root, cmsis_nn_root, cache_dir: see `keras_har.firmware.tflm_source`.
        arena_margin_bytes: added to the largest Cortex-M4 arena found before
            it is written to ``model_settings.h``.
        update_export: write the Cortex-M4 arena into ``model_settings.h`` and
            the results into ``report.json`` under ``"cortex_m4"``.
        timeout_s: limit for each firmware run; a run past it is stopped and
            reported as a hang.
        progress: show progress while compiling.

    Returns:
        dict: ``{"builds": {name: results}, "cortex_m4": summary or None}``.
    """
    from keras_har.export.firmware import parse_model_settings
    from keras_har.export.tflm import quantize_windows, run_tflm, tflm_stream_predictor
    from keras_har.streaming import stream_predict

    export_dir = pathlib.Path(export_dir)
    flatbuffer = (export_dir / "model.tflite").read_bytes()
    settings = parse_model_settings((export_dir / "model_settings.h").read_text())
    windows = np.asarray(windows, np.float32)
    expected_shape = (settings["kWindowLength"], settings["kChannelCount"])
    if windows.ndim != 3 or windows.shape[1:] != expected_shape or not len(windows):
        raise ValueError(f"`windows` must be (N, {expected_shape[0]}, {expected_shape[1]}) as model_settings.h says. "
                         f"Received: windows.shape={windows.shape}")
    if not np.isfinite(windows).all():
        bad = int(np.argwhere(~np.isfinite(windows).reshape(len(windows), -1).all(-1))[0, 0])
        raise ValueError(f"`windows` holds NaN or infinite values, first at window {bad}.")
    quantized = quantize_windows(windows, flatbuffer)
    python_scores = run_tflm(flatbuffer, windows, arena_bytes=_PYTHON_ARENA_BYTES)
    python_stream = None
    if recording is not None:
        recording = np.asarray(recording, np.float32)
        if recording.ndim != 2 or recording.shape[1] != settings["kChannelCount"]:
            raise ValueError(f"`recording` must be (samples, {settings['kChannelCount']}). "
                             f"Received: recording.shape={recording.shape}")
        if not np.isfinite(recording).all():
            raise ValueError("`recording` holds NaN or infinite values.")
        predictor = tflm_stream_predictor(flatbuffer, settings["kChannelMean"], settings["kChannelStd"],
                                          arena_bytes=_PYTHON_ARENA_BYTES)
        python_stream = stream_predict(recording, predictor, window_length=settings["kWindowLength"],
                                       step_length=settings["kStepLength"])

    plan = [("host", "reference")] if "host" in targets else []
    plan += [("cortex-m4", kernel) for kernel in kernels] if "cortex-m4" in targets else []
    builds = {}
    for target, kernel in plan:
        build = build_runner(export_dir, target=target, kernels=kernel, tflm_root=tflm_root,
                             cmsis_nn_root=cmsis_nn_root, cache_dir=cache_dir, progress=progress)
        used, smallest = runner.find_arena(build, timeout_s=timeout_s)
        run = runner.run_windows(build, quantized, arena_bytes=smallest, timeout_s=timeout_s)
        exact, differing = _compare(python_scores, run.scores)
        result = {
            "bit_exact": exact, "windows": int(len(windows)), "differing_windows": differing,
            "arena_used_bytes": used, "arena_bytes": smallest,
        }
        if python_stream is not None:
            stream = runner.run_stream(build, recording, arena_bytes=smallest, timeout_s=timeout_s)
            result["stream_windows"] = int(len(stream.labels))
            result["stream_labels_match"] = bool(
                np.array_equal(stream.sample_index, python_stream.sample_index)
                and np.array_equal(stream.labels, python_stream.labels)
            )
            result["stream_scores_bit_exact"] = bool(
                result["stream_labels_match"] and np.array_equal(stream.scores, python_stream.scores)
            )
        if target == "cortex-m4":
            result["instructions_per_inference"] = int(np.median(run.instructions))
            result["instructions_min_max"] = [int(run.instructions.min()), int(run.instructions.max())]
            result["flash"] = runner.flash_breakdown(build)
        builds[f"{target}-{kernel}"] = result

    summary = _cortex_m4_summary(builds, len(flatbuffer), arena_margin_bytes)
    if update_export and summary is not None:
        _update_export(export_dir, summary, builds)
    return {"builds": builds, "cortex_m4": summary}


def _cortex_m4_summary(builds, model_bytes, arena_margin_bytes):
    m4 = {name.split("-", 2)[-1]: result for name, result in builds.items() if name.startswith("cortex-m4-")}
    if not m4:
        return None
    # A board build uses CMSIS-NN: its figures are the headline ones.
    board = m4.get("cmsis-nn") or m4["reference"]
    summary = {
        "kernels": "cmsis-nn" if "cmsis-nn" in m4 else "reference",
        "bit_exact": all(result["bit_exact"] for result in m4.values()),
        "windows": board["windows"],
        "arena_bytes": board["arena_bytes"],
        "flash_bytes": board["flash"]["total"],
        "model_bytes": model_bytes,
        "model_array_bytes": board["flash"]["model"],
        "runtime_bytes": board["flash"]["runtime"],
        "other_flash_bytes": board["flash"]["other"],
        "instructions_per_inference": board["instructions_per_inference"],
        "arena_bytes_in_settings": _round_up(max(result["arena_bytes"] for result in m4.values()) + arena_margin_bytes),
        "arena_margin_bytes": arena_margin_bytes,
        "by_kernels": m4,
    }
    if all("stream_labels_match" in result for result in m4.values()):
        summary["stream_labels_match"] = all(result["stream_labels_match"] for result in m4.values())
    return summary


def _round_up(value, alignment=16):
    return -(-int(value) // alignment) * alignment


def _update_export(export_dir, summary, builds):
    settings_path = export_dir / "model_settings.h"
    text = settings_path.read_text()
    arena = summary["arena_bytes_in_settings"]
    comment = (f"// Smallest arena in which the model allocated and ran on an emulated Cortex-M4 (QEMU mps2-an386,\n"
               f"// arm-none-eabi-g++, reference and CMSIS-NN kernels; keras-har firmware), plus {summary['arena_margin_bytes']} B.")
    text, count = re.subn(r"((?://[^\n]*\n)+)constexpr int kTensorArenaSize = \d+;",
                          lambda _: f"{comment}\nconstexpr int kTensorArenaSize = {arena};", text)
    if count != 1:
        raise ValueError(f"{settings_path} has no kTensorArenaSize to update.")
    atomic.write_text(settings_path, text)
    report_path = export_dir / "report.json"
    report = json.loads(report_path.read_text()) if report_path.is_file() else {}
    report["cortex_m4"] = summary
    if "host-reference" in builds:
        report["host"] = builds["host-reference"]
    report["arena_bytes_python"] = report.get("arena_bytes_python", report.get("arena_bytes"))
    atomic.write_text(report_path, json.dumps(report, indent=2) + "\n")


def dataset_inputs(export_dir, dataset, *, data_home=None, fold=0, windows=100, window_sec=None):
    """Test windows and one continuous test recording of a dataset, for `verify_export`.

    The windows are ``windows`` test windows of fold ``fold`` (the paper's
    folds for a built-in dataset; for your own data the protocol that
    `keras_har.evaluation.default_protocol` chooses),
    evenly spread over the test subjects' windows, standardised with the
    export's own ``kChannelMean``/``kChannelStd``; the recording is the
    first recording of the fold's test subjects, raw (None for your own
    data, see `first_recording`).

    Returns:
        ``(standardised_windows, recording_signal)``.
    """
    import keras_har
    from keras_har.evaluation import holdout_split
    from keras_har.export.firmware import parse_model_settings

    settings = parse_model_settings((pathlib.Path(export_dir) / "model_settings.h").read_text())
    data = keras_har.datasets.load_dataset(dataset, data_home=data_home, window_sec=window_sec, verbose=False)
    if data.X.shape[1:] != (settings["kWindowLength"], settings["kChannelCount"]):
        raise ValueError(f"{export_dir} holds a model for windows of {settings['kWindowLength']} x "
                         f"{settings['kChannelCount']} but {dataset} gives {data.X.shape[1]} x {data.X.shape[2]}: "
                         f"pass the export's --window-sec. Received: window_sec={window_sec}")
    _, test_index, _ = holdout_split(data, fold=fold)
    mean = np.asarray(settings["kChannelMean"], np.float32)
    std = np.asarray(settings["kChannelStd"], np.float32)
    standardised = (data.X[spread(test_index, windows)] - mean) / std
    return standardised, first_recording(dataset, data.subjects[test_index], data_home=data_home)


def spread(indices, count):
    """At most ``count`` of ``indices``, evenly spread over them (first and last included)."""
    indices = np.asarray(indices)
    return indices[np.unique(np.linspace(0, len(indices) - 1, min(count, len(indices))).astype(int))]


def first_recording(dataset, subjects, *, data_home=None):
    """The raw signal of the first recording of any of ``subjects`` in a built-in dataset.

    Returns None for your own data (a path): its recordings are not kept
    apart from its windows, so `verify_export` checks windows only.
    """
    import keras_har

    if dataset not in keras_har.datasets.DATASET_NAMES:
        return None
    return keras_har.datasets.load_recordings(dataset, data_home=data_home, subjects=np.unique(subjects))[0].signal


def failed_builds(result):
    """Names of the builds in a `verify_export` result that differ from the TFLM Python interpreter."""
    return [name for name, build in result["builds"].items()
            if not build["bit_exact"] or not build.get("stream_labels_match", True)]


def cortex_m4_available(*, tflm_root=None, cmsis_nn_root=None):
    """True when the Cortex-M4 toolchain, QEMU and both TFLM trees are there (nothing is built)."""
    from keras_har.firmware.tflm_source import resolve_tflm_root
    from keras_har.firmware.toolchain import missing_tools

    if missing_tools("cortex-m4"):
        return False
    try:
        for kernels in ("reference", "cmsis-nn"):
            resolve_tflm_root(tflm_root, kernels=kernels, cmsis_nn_root=cmsis_nn_root)
    except FileNotFoundError:
        return False
    return True


def cortex_m4_footprint(flatbuffer, *, kernels=("cmsis-nn", "reference"), tflm_root=None, cmsis_nn_root=None,
                        timeout_s=600):
    """What an int8 model costs on the emulated Cortex-M4, per kernel build.

    Builds a throw-away export folder around ``flatbuffer`` (none of these
    figures depends on the standardisation or label names written there),
    links the Cortex-M4 runner per kernel build, lets it search its own
    smallest arena (`keras_har.firmware.run.find_arena`), then classifies one
    all-zero int8 window in that arena (`keras_har.firmware.run.run_windows`)
    and reads the linked firmware's flash from its map
    (`keras_har.firmware.run.flash_breakdown`). `verify_export` measures the
    same figures on real windows; this needs no data, so a search can ask it
    of an untrained model.

    Args:
        flatbuffer: int8 ``.tflite`` bytes.
        kernels: the kernel builds to measure, ``"cmsis-nn"`` and/or ``"reference"``.
        tflm_root, cmsis_nn_root: see `keras_har.firmware.tflm_source`.
        timeout_s: limit for each firmware run.

    Returns:
        dict: kernels -> ``{"arena_bytes": smallest arena, "instructions":
        instructions per inference of one window (QEMU ``-icount``, SysTick),
        "flash_bytes": the linked firmware's flash total, as in
        `verify_export`'s summary (model, TFLM runtime, and the rest: the
        keras_har core, the test runner, C/C++ libraries)}``.

    Example:
    >>> import keras_har
    >>> from keras_har.firmware.verify import cortex_m4_footprint
    >>> cortex_m4_footprint(open("model.tflite", "rb").read())["cmsis-nn"]["instructions"]  # doctest: +SKIP
    """
    import tempfile

    from keras_har.export.convert import describe
    from keras_har.export.firmware import write_firmware

    facts = describe(flatbuffer)
    _, steps, channels = facts["input"]["shape"]
    classes = facts["output"]["shape"][-1]
    # The input is int8 whatever its scale: a window of zeros runs every op once.
    window = np.zeros((1, steps, channels), np.int8)
    footprints = {}
    with tempfile.TemporaryDirectory(prefix="keras_har_m4_footprint_") as folder:
        write_firmware(folder, flatbuffer, sampling_rate_hz=1.0, channel_names=[f"c{i}" for i in range(channels)],
                       label_names=[f"k{i}" for i in range(classes)], channel_mean=np.zeros(channels),
                       channel_std=np.ones(channels), arena_bytes=0)
        for kernel in kernels:
            build = build_runner(folder, target="cortex-m4", kernels=kernel, tflm_root=tflm_root,
                                 cmsis_nn_root=cmsis_nn_root, progress=False)
            arena_bytes = runner.find_arena(build, timeout_s=timeout_s)[1]
            run = runner.run_windows(build, window, arena_bytes=arena_bytes, timeout_s=timeout_s)
            footprints[kernel] = {
                "arena_bytes": int(arena_bytes),
                "instructions": int(run.instructions[0]),
                "flash_bytes": int(runner.flash_breakdown(build)["total"]),
            }
    return footprints


def cortex_m4_arena_bytes(flatbuffer, *, kernels=("cmsis-nn", "reference"), tflm_root=None, cmsis_nn_root=None,
                          timeout_s=600):
    """The smallest arena of an int8 model on the emulated Cortex-M4, per kernel build.

    The ``arena_bytes`` of `cortex_m4_footprint`.

    Returns:
        dict: kernels -> smallest arena in bytes.
    """
    footprints = cortex_m4_footprint(flatbuffer, kernels=kernels, tflm_root=tflm_root, cmsis_nn_root=cmsis_nn_root,
                                     timeout_s=timeout_s)
    return {kernel: footprint["arena_bytes"] for kernel, footprint in footprints.items()}
