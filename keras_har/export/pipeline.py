"""One call from a trained model to a checked int8 model, firmware files and ``report.json``."""

import json
import os
import time

import numpy as np

from keras_har.export.convert import convert_int8, describe
from keras_har import atomic
from keras_har.datasets.validation import check_finite, check_labels
from keras_har.export.firmware import write_firmware
from keras_har.export.memory_plan import add_offline_memory_plan, describe_memory_plan
from keras_har.metrics import macro_f1
from keras_har.export.tflm import find_arena_bytes, run_litert, run_tflm


def export_model(
    model,
    output_dir,
    *,
    representative_windows,
    sampling_rate_hz,
    channel_names,
    label_names,
    channel_mean,
    channel_std,
    test_windows=None,
    test_labels=None,
    float_model=None,
    qat_model=None,
    recurrence="fused",
    offline_memory_plan=True,
    step_length=None,
    test_split=None,
    progress=True,
):
    """Converts, checks, measures and writes the firmware artefacts of a trained model.

    Steps: full-integer int8 conversion (`keras_har.export.convert_int8`),
    an offline memory plan for the activations
    (`keras_har.export.add_offline_memory_plan`), the smallest TFLM arena
    (`keras_har.export.find_arena_bytes`), the C
    array, ``model_settings.h`` and ``model_ops.h``
    (`keras_har.export.write_firmware`), then, with test windows, macro-F1 of
    the float Keras model, the QAT Keras model, LiteRT int8 and TFLM int8 on
    every test window, and how often TFLM and LiteRT agree.

    Args:
        model: the trained float model to convert (for QAT, the
            `keras_har.export.dequantized_copy` of the QAT model).
        output_dir: where the files and ``report.json`` go.
        representative_windows: normalised training windows ``(N, T, C)``
            for calibration (a few hundred are enough).
        sampling_rate_hz, channel_names, label_names, channel_mean,
            channel_std: written to ``model_settings.h``.
        test_windows, test_labels: normalised test windows and their labels;
            without them no accuracy is measured.
        float_model: the float-trained model, when ``model`` came out of QAT.
        qat_model: the QAT Keras model, for its macro-F1.
        recurrence: how a GRU is exported; see `keras_har.export.convert_int8`
            (default ``"fused"``: one ``KERAS_HAR_BIGRU`` custom op).
        offline_memory_plan: store activation offsets planned on the host
            in the model (TFLM's ``OfflineMemoryAllocation`` metadata). It
            changes where tensors live in the arena, not the arithmetic; on
            the 128x9 BiLSTM it saved 2,288 B of arena for 512 B of flash
            (``benchmarks/results/tflite_memory_plan.md``). ``False`` leaves
            the placement to TFLM's online planner.
        step_length: samples between two classifications when the firmware
            streams (``kStepLength``); default half the window.
        test_split: text saying which windows are the test windows (e.g.
            the description from `keras_har.evaluation.holdout_split`),
            stored in ``report.json`` as ``"test_split"``.
        progress: show progress bars for the interpreter runs.

    Returns:
        The report dict, also written to ``output_dir/report.json``.

    Example:
    >>> import numpy as np, keras_har
    >>> from keras_har.export import export_model
    >>> model = keras_har.TinierHAR(input_shape=(32, 3), num_classes=2)
    >>> report = export_model(model, "/tmp/har_export", representative_windows=np.zeros((4, 32, 3), "float32"),
    ...     sampling_rate_hz=50.0, channel_names=["x", "y", "z"], label_names=["rest", "walk"],
    ...     channel_mean=[0, 0, 0], channel_std=[1, 1, 1])  # doctest: +SKIP
    """
    started = time.time()
    # Everything is checked before anything is written: an export folder is complete or absent.
    _check_inputs(representative_windows, test_windows, test_labels, label_names)
    flatbuffer = convert_int8(model, representative_windows, recurrence=recurrence)
    window = np.asarray(representative_windows)[0]
    memory_plan = {"offline": bool(offline_memory_plan)}
    if offline_memory_plan:
        memory_plan["arena_bytes_online_plan"] = find_arena_bytes(flatbuffer, window=window)
        memory_plan["flash_bytes_online_plan"] = len(flatbuffer)
        flatbuffer = add_offline_memory_plan(flatbuffer)
    memory_plan.update(describe_memory_plan(flatbuffer))
    facts = describe(flatbuffer)
    arena_bytes = find_arena_bytes(flatbuffer, window=window)
    files = write_firmware(
        output_dir, flatbuffer, sampling_rate_hz=sampling_rate_hz, channel_names=channel_names,
        label_names=label_names, channel_mean=channel_mean, channel_std=channel_std, arena_bytes=arena_bytes,
        step_length=step_length,
    )
    report = {
        "architecture": architecture(model),
        "recurrence": recurrence,
        "fused_gru": "KERAS_HAR_BIGRU" in facts["op_types"],
        "flash_bytes": facts["flash_bytes"],
        "arena_bytes": arena_bytes,
        "memory_plan": memory_plan,
        "op_count": facts["op_count"],
        "op_types": facts["op_types"],
        "float_tensors": facts["float_tensors"],
        "input": facts["input"],
        "output": facts["output"],
        "params": int(model.count_params()),
        "files": sorted(os.path.basename(path) for path in files.values()),
    }
    if test_split is not None:
        report["test_split"] = str(test_split)
    if test_windows is not None:
        report.update(evaluate_int8(
            flatbuffer, test_windows, test_labels, float_model=float_model or model, qat_model=qat_model,
            arena_bytes=arena_bytes, progress=progress,
        ))
    report["seconds"] = round(time.time() - started, 1)
    atomic.write_text(os.path.join(output_dir, "report.json"), json.dumps(report, indent=2) + "\n")
    return report


def architecture(model):
    """What was exported: the model class and, for TinierHAR, ``recurrent``, ``filters``, ``gru_units``, ..."""
    from keras_har.models.tinier_har import _ARCHITECTURE

    facts = {"class": type(model).__name__}
    facts.update({name: getattr(model, name) for name in _ARCHITECTURE if hasattr(model, name)})
    return facts


def _check_inputs(representative_windows, test_windows, test_labels, label_names):
    check_finite(representative_windows, "representative_windows")
    if (test_windows is None) != (test_labels is None):
        raise ValueError(
            "Give both `test_windows` and `test_labels`, or neither. "
            f"Received: test_windows={'given' if test_windows is not None else None}, "
            f"test_labels={'given' if test_labels is not None else None}"
        )
    if test_windows is not None:
        check_finite(test_windows, "test_windows")
        labels = check_labels(test_labels, "test_labels", num_classes=len(label_names))
        if len(labels) != len(test_windows):
            raise ValueError(
                f"`test_labels` needs one label per test window ({len(test_windows)}). "
                f"Received: len(test_labels)={len(labels)}"
            )


def evaluate_int8(flatbuffer, windows, labels, *, float_model, qat_model=None, arena_bytes=None, progress=True):
    """Macro-F1 of float Keras, QAT Keras, LiteRT int8 and TFLM int8, and their agreement.

    Every macro-F1 is `keras_har.metrics.macro_f1`, the official code's
    definition (averaged over the classes present in the labels or the
    predictions), so it is comparable with cross-validation's macro-F1 on the
    same windows, also when the test windows lack a class.

    Returns:
        dict with ``macro_f1`` (one entry per runtime), ``test_windows``,
        ``agreement`` (argmax agreement TFLM-vs-LiteRT for each LiteRT
        resolver, TFLM-vs-float Keras, and the largest int8 output
        difference TFLM-vs-LiteRT). When LiteRT's XNNPACK delegate (the
        ``"auto"`` resolver) refuses the model, its three entries are
        missing and ``agreement["litert_auto_refused"]`` holds its error.
    """
    labels = np.asarray(labels)
    tflm = run_tflm(flatbuffer, windows, arena_bytes=arena_bytes, progress=progress)
    float_predictions = float_model.predict(windows, verbose=0, batch_size=256).argmax(-1)
    f1 = {"float_keras": macro_f1(labels, float_predictions)}
    if qat_model is not None:
        f1["qat_keras"] = macro_f1(labels, qat_model.predict(windows, verbose=0, batch_size=256).argmax(-1))
    agreement = {"tflm_vs_float_keras_argmax": float(np.mean(tflm.argmax(-1) == float_predictions))}
    for resolver in ("builtin", "auto", "reference"):
        try:
            litert = run_litert(flatbuffer, windows, op_resolver=resolver, progress=progress)
        except RuntimeError as error:
            if resolver != "auto" or "XNNPACK" not in str(error):
                raise
            # XNNPACK, which LiteRT applies by default, refuses some valid int8 models when it prepares
            # them ("failed to create XNNPACK runtime"); the other two resolvers and TFLM run them.
            agreement["litert_auto_refused"] = " ".join(str(error).split())
            continue
        if resolver == "builtin":
            f1["litert_int8"] = macro_f1(labels, litert.argmax(-1))
        agreement[f"tflm_vs_litert_{resolver}_argmax"] = float(np.mean(tflm.argmax(-1) == litert.argmax(-1)))
        agreement[f"tflm_vs_litert_{resolver}_max_abs_int8"] = int(np.abs(tflm.astype(int) - litert).max())
        agreement[f"tflm_vs_litert_{resolver}_exact_windows"] = float(np.mean((tflm == litert).all(-1)))
    f1["tflm_int8"] = macro_f1(labels, tflm.argmax(-1))
    return {"macro_f1": f1, "agreement": agreement, "test_windows": int(len(windows))}
