"""Offline memory plan (TFLM ``OfflineMemoryAllocation``): valid, read by TFLM, same outputs, no larger arena.

One tiny BiLSTM TinierHAR (T=32, C=3, K=4) is converted once and shared.
"""

import ctypes
import json

import numpy as np
import pytest

import keras_har
from keras_har import export
from keras_har.backend import keras
from keras_har.export import memory_plan

SHAPE = (32, 3)
CLASSES = 4


def _windows(count, seed=0):
    return np.random.default_rng(seed).normal(size=(count, *SHAPE)).astype("float32")


@pytest.fixture(scope="module")
def bilstm():
    keras.utils.set_random_seed(0)
    model = keras_har.TinierHAR(input_shape=SHAPE, num_classes=CLASSES, recurrent="bilstm")
    flatbuffer = export.convert_int8(model, _windows(16, seed=1))
    return model, flatbuffer, export.add_offline_memory_plan(flatbuffer)


def test_plan_covers_every_activation_and_never_overlaps_live_tensors(bilstm):
    _, flatbuffer, planned = bilstm
    lifetimes = export.tensor_lifetimes(flatbuffer)
    offsets = export.read_offline_memory_plan(planned)
    assert export.read_offline_memory_plan(flatbuffer) is None
    planned_indices = {t.tensor_index for t in lifetimes}
    # The int8 LSTM's state is a variable (persistent tail), not a planned activation.
    assert len(planned_indices) > 10
    assert all((offsets[i] >= 0) == (i in planned_indices) for i in range(len(offsets)))
    assert all(offsets[i] % 16 == 0 for i in planned_indices)
    # Checked pair by pair here, independently of memory_plan.check_plan.
    for a in lifetimes:
        for b in lifetimes:
            if a.tensor_index < b.tensor_index and a.overlaps_in_time(b):
                a_start, b_start = offsets[a.tensor_index], offsets[b.tensor_index]
                assert a_start + a.size_bytes <= b_start or b_start + b.size_bytes <= a_start, (a, b)
    facts = export.describe_memory_plan(planned)
    assert facts["offline_plan"] and facts["online_tensors"] == 0
    assert facts["lower_bound_bytes"] <= facts["planned_bytes"]


def test_lifetimes_follow_tflm_scopes(bilstm):
    _, flatbuffer, _ = bilstm
    facts = export.describe(flatbuffer)
    lifetimes = {t.tensor_index: t for t in export.tensor_lifetimes(flatbuffer)}
    from tensorflow.lite.python import schema_py_generated as schema

    subgraph = schema.ModelT.InitFromPackedBuf(bytearray(flatbuffer), 0).subgraphs[0]
    model_input, model_output = int(subgraph.inputs[0]), int(subgraph.outputs[0])
    assert lifetimes[model_input].first_scope == 0
    # The output is written by the last op and read by the caller after it.
    assert (lifetimes[model_output].first_scope, lifetimes[model_output].last_scope) == (
        facts["op_count"], facts["op_count"])
    first_op_output = int(subgraph.operators[0].outputs[0])
    assert lifetimes[first_op_output].first_scope == 1


def test_tflm_outputs_identical_with_and_without_plan(bilstm):
    _, flatbuffer, planned = bilstm
    windows = _windows(20, seed=5)
    online, offline = export.run_tflm(flatbuffer, windows), export.run_tflm(planned, windows)
    assert len({tuple(row) for row in online}) > 1  # the comparison is not between constants
    np.testing.assert_array_equal(offline, online)


def test_tflm_reads_the_metadata(bilstm):
    # A plan that puts every activation at offset 0 is wrong on purpose. If
    # TFLM ignored the metadata, outputs would not change.
    _, flatbuffer, _ = bilstm
    lifetimes = export.tensor_lifetimes(flatbuffer)
    wrong = {t.tensor_index: 0 for t in lifetimes}
    with pytest.raises(ValueError, match="alive at the same time and overlap in memory"):
        memory_plan.check_plan(lifetimes, wrong)
    corrupted = memory_plan._write_offsets(memory_plan._load(flatbuffer), wrong)
    windows = _windows(20, seed=5)
    assert not np.array_equal(export.run_tflm(corrupted, windows), export.run_tflm(flatbuffer, windows))


def test_arena_with_plan_is_not_larger_and_head_matches_plan(bilstm, capfd):
    _, flatbuffer, planned = bilstm
    window = _windows(1, seed=3)[0]
    online_bytes = export.find_arena_bytes(flatbuffer, window=window)
    offline_bytes = export.find_arena_bytes(planned, window=window)
    assert offline_bytes <= online_bytes

    from tflite_micro.python.tflite_micro import runtime

    capfd.readouterr()
    runtime.Interpreter.from_bytes(planned, arena_size=offline_bytes).print_allocations()
    ctypes.CDLL(None).fflush(None)  # TFLM prints through C stdio, buffered when not on a terminal
    captured = capfd.readouterr()
    printed = captured.out + captured.err
    head = int(printed.split("Arena allocation head ")[1].split()[0])
    # TFLM's head is exactly the plan: the op scratch buffers fitted into its gaps.
    assert head == export.describe_memory_plan(planned)["planned_bytes"]


def test_plan_reaches_the_lower_bound_where_one_greedy_pass_does_not():
    T = memory_plan.TensorLifetime
    lifetimes = [T(0, 32, 1, 2), T(1, 32, 2, 3), T(2, 16, 2, 4), T(3, 48, 3, 5), T(4, 64, 5, 7)]
    largest_first, _ = memory_plan._place(sorted(lifetimes, key=lambda t: -t.size_bytes), best_fit=False)
    assert (largest_first, memory_plan.lower_bound_bytes(lifetimes)) == (128, 112)
    offsets = memory_plan.plan_memory(lifetimes)
    memory_plan.check_plan(lifetimes, offsets)
    assert memory_plan.plan_peak_bytes(lifetimes, offsets) == 112


@pytest.mark.parametrize("data, message", [
    (b"definitely not a model", "lacks the 'TFL3' file identifier"),
    ("model.tflite", "must be the bytes of a .tflite model"),
    (b"", "lacks the 'TFL3' file identifier"),
])
def test_malformed_input_gets_a_clear_error(data, message):
    with pytest.raises(ValueError, match=message):
        export.add_offline_memory_plan(data)


def test_truncated_model_and_wrong_tensor_count_get_clear_errors(bilstm):
    _, flatbuffer, planned = bilstm
    with pytest.raises(ValueError, match="could not be parsed as a TFLite model|not a TFLite model"):
        export.add_offline_memory_plan(flatbuffer[: len(flatbuffer) // 3])
    model = memory_plan._load(planned)
    entry = [m for m in model.metadata if m.name in (b"OfflineMemoryAllocation", "OfflineMemoryAllocation")][0]
    words = model.buffers[entry.buffer].data.view("<i4").copy()
    words[2] -= 1  # TFLM refuses a plan whose count differs from the number of tensors
    model.buffers[entry.buffer].data = words[:-1].view(np.uint8)
    from tensorflow.lite.tools import flatbuffer_utils

    broken = bytes(flatbuffer_utils.convert_object_to_bytearray(model))
    with pytest.raises(ValueError, match="one offset per tensor"):
        export.read_offline_memory_plan(broken)


@pytest.mark.slow  # over 10 s: fits or CLI runs
def test_export_model_stores_the_plan_by_default_and_can_leave_it_out(bilstm, tmp_path, monkeypatch):
    from keras_har.export import pipeline

    model, flatbuffer, _ = bilstm
    # The conversion itself is tested above; reuse its result to keep this test fast.
    monkeypatch.setattr(pipeline, "convert_int8", lambda *args, **kwargs: flatbuffer)
    kwargs = dict(representative_windows=_windows(16, seed=1), sampling_rate_hz=50.0,
                  channel_names=["x", "y", "z"], label_names=["a", "b", "c", "d"], channel_mean=[0, 0, 0],
                  channel_std=[1, 1, 1], progress=False)
    report = export.export_model(model, tmp_path / "planned", **kwargs)
    saved = (tmp_path / "planned" / "model.tflite").read_bytes()
    assert export.read_offline_memory_plan(saved) is not None
    assert json.loads((tmp_path / "planned" / "report.json").read_text())["memory_plan"] == report["memory_plan"]
    assert report["memory_plan"]["offline"] is True
    assert report["arena_bytes"] <= report["memory_plan"]["arena_bytes_online_plan"]
    assert report["flash_bytes"] == len(saved) > report["memory_plan"]["flash_bytes_online_plan"] == len(flatbuffer)

    report = export.export_model(model, tmp_path / "online", offline_memory_plan=False, **kwargs)
    assert (tmp_path / "online" / "model.tflite").read_bytes() == flatbuffer
    assert report["memory_plan"]["offline"] is False
    assert "planned_bytes" not in report["memory_plan"]
