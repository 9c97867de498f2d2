"""Measured flash and arena: the child-process measurement, the crash-proof arena search, and
a search whose arena budget is checked against measured arenas."""

import pandas as pd
import pytest

import keras_har
from helpers import toy_dataset
from keras_har.export import add_offline_memory_plan, convert_int8, describe, read_offline_memory_plan, tflm
from keras_har.export.footprint import FootprintError, calibration_windows, main, measure_footprint
from keras_har.tuning import Budget, run_search
from keras_har.tuning.budget import model_footprint


@pytest.mark.slow
def test_measured_footprint_is_the_real_export_and_its_smallest_arena(tmp_path):
    from tflite_micro.python.tflite_micro import runtime

    model = keras_har.TinierHAR(input_shape=(32, 3), num_classes=4, recurrent="bilstm")
    # In a child process; the 64-bit TFLM Python interpreter's arena (the Cortex-M4 one is tested below).
    measured = measure_footprint(model, flatbuffer_path=tmp_path / "measured.tflite", arena_on="python")
    flatbuffer = (tmp_path / "measured.tflite").read_bytes()
    assert measured["flash_bytes"] == len(flatbuffer)
    assert measured["ops"] == describe(flatbuffer)["op_count"] == 37
    assert describe(flatbuffer)["float_tensors"] == 0
    assert read_offline_memory_plan(flatbuffer) is not None  # the default export's memory plan
    # The converter is not byte-for-byte deterministic, but a conversion here is the same model.
    again = add_offline_memory_plan(convert_int8(model, calibration_windows((32, 3))))
    assert abs(len(again) - len(flatbuffer)) <= 256
    arena = measured["arena_bytes"]
    assert arena % 16 == 0
    runtime.Interpreter.from_bytes(flatbuffer, arena_size=arena)
    with pytest.raises(RuntimeError, match="allocate"):
        runtime.Interpreter.from_bytes(flatbuffer, arena_size=arena - 16)
    assert measured["arena_on_cortex_m4"] == 0
    footprint = model_footprint(model, footprint="measure-python")
    assert footprint["arena_kb"] == round(arena / 1024, 2) and footprint["arena_on_cortex_m4"] == 0
    assert abs(footprint["flash_kb"] - len(flatbuffer) / 1024) <= 0.25
    with pytest.raises(ValueError, match="footprint="):
        model_footprint(model, footprint="guess")


def test_arena_search_counts_a_crashing_probe_as_not_fitting(monkeypatch, tmp_path):
    # TFLM sometimes crashes (SIGSEGV) instead of refusing a too-small arena;
    # this probe does the same below 50,000 bytes, and logs which process answered.
    log = tmp_path / "probes.txt"
    crash_below = (
        "import os, signal, sys\n"
        "for line in sys.stdin:\n"
        f"    open({str(log)!r}, 'a').write(f'{{os.getpid()}} {{int(line)}}\\n')\n"
        "    if int(line) < 50000: os.kill(os.getpid(), signal.SIGSEGV)\n"
        "    print('fits', flush=True)\n"
    )
    monkeypatch.setattr(tflm, "_PROBE", crash_below)
    assert tflm.find_arena_bytes(b"not read by this probe") == 50000
    probes = [line.split() for line in log.read_text().splitlines()]
    refused = [size for _, size in probes if int(size) < 50000]
    # One child per refused size and one to start: children live on after a "fits".
    assert len({pid for pid, _ in probes}) <= len(refused) + 1 < len(probes)
    monkeypatch.setattr(tflm, "_PROBE", "raise ImportError('no tflite_micro')")
    with pytest.raises(RuntimeError, match="other than allocation"):
        tflm.find_arena_bytes(b"")


@pytest.mark.slow  # over 10 s: fits or CLI runs
def test_footprint_child_errors_are_clear(tmp_path):
    assert main([str(tmp_path / "missing.keras"), str(tmp_path / "out.json")]) == 2
    model = keras_har.TinierHAR(input_shape=(32, 3), num_classes=4)
    with pytest.raises(FootprintError, match=r"model 'tinier_har' \(input \(32, 3\)\) failed: child exited with 1") as error:
        measure_footprint(model, recurrence="no-such-recurrence")
    assert "recurrence='no-such-recurrence'" in str(error.value).splitlines()[-1]


@pytest.mark.slow
def test_arena_budget_is_checked_against_measured_arenas(tmp_path, monkeypatch):
    import keras_har.training

    fitted = []
    original_fit = keras_har.training.fit

    def counting_fit(model, *args, **kwargs):
        fitted.append((model.filters, model.gru_units))
        return original_fit(model, *args, **kwargs)

    monkeypatch.setattr(keras_har.training, "fit", counting_fit)
    data = toy_dataset(subjects_count=6, per_subject=12, t=8, c=2, k=3)
    # Measured arenas on (T=8, C=2), K=3 (TFLM Python interpreter, 2026-11-23): M=4 with N=16,
    # 8, 32 -> 20,272 B, 19,408 B, 21,872 B. The op-count estimate says 18.0-18.1 KB for all
    # three, so a search on the estimate would train all three under 19.5 KB.
    result = run_search(data, tuner="grid", max_trials=3, epochs=1, folds=1, directory=str(tmp_path),
                        project_name="arena", budget=Budget(max_arena_kb=19.5), footprint="measure-python")
    assert fitted == [(4, 8)]
    trials = pd.read_csv(tmp_path / "arena" / "trials.csv")
    status = dict(zip(zip(trials["filters"], trials["gru_units"]), trials["status"]))
    assert status == {(4, 16): "over_budget", (4, 8): "completed", (4, 32): "over_budget"}
    arena = dict(zip(zip(trials["filters"], trials["gru_units"]), trials["arena_kb"]))
    assert arena[(4, 8)] <= 19.5 < min(arena[(4, 16)], arena[(4, 32)])
    assert result["best"]["filters"] == 4 and result["best"]["gru_units"] == 8


def test_measured_arena_is_the_cortex_m4_one_when_the_toolchain_is_there(tmp_path, firmware_toolchain, monkeypatch):
    from keras_har.firmware.verify import cortex_m4_arena_bytes

    tree, cmsis_nn = firmware_toolchain
    monkeypatch.setenv("KERAS_HAR_TFLM", str(tree))
    model = keras_har.TinierHAR(input_shape=(32, 3), num_classes=4, recurrent="bilstm")
    measured = measure_footprint(model, flatbuffer_path=tmp_path / "m4.tflite")  # auto: the toolchain is there
    flatbuffer = (tmp_path / "m4.tflite").read_bytes()
    on_board = cortex_m4_arena_bytes(flatbuffer)
    assert measured["arena_on_cortex_m4"] == 1
    assert measured["arena_bytes"] == max(on_board.values())
    assert on_board["reference"] < tflm.find_arena_bytes(flatbuffer, window=calibration_windows((32, 3))[0])
    # A search's --footprint measure takes this same measurement (mode "auto", measured above); the
    # measurement is not repeated, only how model_footprint asks for it and reports it.
    import keras_har.export.footprint as footprint_module

    asked = []
    monkeypatch.setattr(footprint_module, "measure_footprint",
                        lambda model, **kwargs: asked.append(kwargs) or dict(measured))
    footprint = model_footprint(model, footprint="measure")
    assert asked == [{"arena_on": "auto", "recurrence": "merged"}]
    assert footprint["arena_on_cortex_m4"] == 1 and footprint["arena_kb"] == round(measured["arena_bytes"] / 1024, 2)
    # The CMSIS-NN build's instructions and firmware flash come with the Cortex-M4 arena.
    assert footprint["instructions_m"] == round(measured["instructions"] / 1e6, 6) > 0
    assert footprint["firmware_flash_kb"] > footprint["flash_kb"]


def test_cortex_m4_footprint_of_the_fused_bigru(tmp_path, firmware_toolchain, monkeypatch):
    from keras_har.firmware.verify import cortex_m4_arena_bytes, cortex_m4_footprint

    tree, cmsis_nn = firmware_toolchain
    monkeypatch.setenv("KERAS_HAR_TFLM", str(tree))
    model = keras_har.TinierHAR(input_shape=(32, 3), num_classes=4, filters=2, gru_units=4)
    # In the child process, as a search measures it: the export a board flashes, with the fused BiGRU op.
    measured = measure_footprint(model, recurrence="fused", arena_on="cortex-m4",
                                 flatbuffer_path=tmp_path / "fused.tflite")
    flatbuffer = (tmp_path / "fused.tflite").read_bytes()
    assert "KERAS_HAR_BIGRU" in describe(flatbuffer)["op_types"]
    on_board = cortex_m4_footprint(flatbuffer, tflm_root=tree, cmsis_nn_root=cmsis_nn)
    assert sorted(on_board) == ["cmsis-nn", "reference"]
    for build in on_board.values():
        assert build["arena_bytes"] > 0 and build["arena_bytes"] % 16 == 0
        # The linked firmware holds the model's C array and the TFLM runtime.
        assert build["flash_bytes"] > len(flatbuffer) + 10_000
    # CMSIS-NN's convolutions take fewer instructions than the reference kernels (2.6x at 128x9, BENCHMARKS.md).
    assert 0 < on_board["cmsis-nn"]["instructions"] < on_board["reference"]["instructions"]
    assert cortex_m4_arena_bytes(flatbuffer, tflm_root=tree, cmsis_nn_root=cmsis_nn) == {
        kernel: build["arena_bytes"] for kernel, build in on_board.items()}
    # The firmware counts instructions deterministically: the child's figures are the CMSIS-NN build's.
    assert measured["arena_on_cortex_m4"] == 1
    assert measured["arena_bytes"] == max(build["arena_bytes"] for build in on_board.values())
    assert measured["instructions"] == on_board["cmsis-nn"]["instructions"]
    assert measured["firmware_flash_bytes"] == on_board["cmsis-nn"]["flash_bytes"]


@pytest.mark.slow
def test_cortex_m4_footprint_without_the_toolchain_is_a_clear_error(monkeypatch, tmp_path):
    from keras_har.export.footprint import measure_flatbuffer

    monkeypatch.setenv("PATH", str(tmp_path))
    model = keras_har.TinierHAR(input_shape=(32, 3), num_classes=4, recurrent="lstm", filters=2, gru_units=4)
    with pytest.raises(FileNotFoundError, match=r"`arm-none-eabi-g\+\+` is not installed"):
        measure_flatbuffer(model, arena_on="cortex-m4")
    with pytest.raises(ValueError, match=r"Received: arena_on='board'"):
        measure_flatbuffer(model, arena_on="board")
