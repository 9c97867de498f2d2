"""The exported firmware, built and run: host and emulated Cortex-M4, bit for bit against Python.

The end-to-end tests export two HAPT models through `tflite/export.py --train
--verify-on host,cortex-m4` (the default: the paper's BiGRU as the fused
KERAS_HAR_BIGRU op; and the M=2, N=32 LSTM, TFLite's int8 LSTM op),
which compiles TFLM with the model and the keras_har core, runs it natively
and under QEMU on 100 real test windows and on one test recording streamed
sample by sample, and compares every int8 output with the TFLM Python
interpreter. They need the Debian toolchain and a TFLM tree (README:
Firmware); without them they skip with the reason, and under CI=true they
fail. One epoch of training: the comparisons do not depend on how well the
model learnt, only on its being a real model on real data.
"""

import json
import pathlib
import shutil
import zipfile

import numpy as np
import pytest

import keras_har
from keras_har import export, firmware
from keras_har.export.tflm import quantize
from keras_har.firmware import build as firmware_build
from keras_har.firmware import tflm_source, verify
from keras_har.streaming import stream_predict, stream_windows

VARIANTS = {
    "default": [],  # the export default: the paper's M=4, N=16 BiGRU, one fused KERAS_HAR_BIGRU op
    "lstm_m2_n32": ["--filters", "2", "--gru-units", "32", "--recurrent", "lstm"],
}


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def verified_export(request, tmp_path_factory, real_data_home, firmware_toolchain):
    from keras_har.commands.export import main

    tree, cmsis_nn = firmware_toolchain
    output = tmp_path_factory.mktemp(f"export_{request.param}")
    code = main(["--train", "--dataset", "hapt", "--data-home", str(real_data_home), "--output", str(output),
                 "--epochs", "1", "--representative-windows", "64", *VARIANTS[request.param],
                 "--verify-on", "host,cortex-m4", "--verify-windows", "100",
                 "--tflm-root", str(tree), "--cmsis-nn-root", str(cmsis_nn)])
    return request.param, output, code


def _report(output):
    return json.loads((output / "report.json").read_text())


def test_export_runs_bit_exact_on_host_and_on_the_cortex_m4(verified_export):
    variant, output, code = verified_export
    assert code == 0
    report = _report(output)
    if variant == "default":
        # The paper's model, within a small microcontroller's budget (issue 21's acceptance figures).
        assert report["architecture"]["recurrent"] == "bigru" and report["fused_gru"]
        assert report["architecture"]["filters"] == 4 and report["architecture"]["gru_units"] == 16
        assert report["cortex_m4"]["model_bytes"] <= 32 * 1024 and report["cortex_m4"]["arena_bytes"] <= 16 * 1024
    m4, host = report["cortex_m4"], report["host"]
    assert host["bit_exact"] and host["windows"] == 100 and host["stream_labels_match"]
    assert m4["kernels"] == "cmsis-nn" and m4["bit_exact"] is True and m4["windows"] == 100
    assert m4["stream_labels_match"] is True
    assert set(m4["by_kernels"]) == {"cmsis-nn", "reference"}
    for build in (host, *m4["by_kernels"].values()):
        assert build["differing_windows"] == 0
        assert build["stream_scores_bit_exact"] and build["stream_windows"] > 50


def test_cortex_m4_figures_are_consistent_and_go_into_model_settings(verified_export):
    _, output, _ = verified_export
    report = _report(output)
    m4 = report["cortex_m4"]
    reference, cmsis_nn = m4["by_kernels"]["reference"], m4["by_kernels"]["cmsis-nn"]
    flatbuffer = (output / "model.tflite").read_bytes()
    assert m4["model_bytes"] == len(flatbuffer) == report["flash_bytes"]
    # The C array holds the flatbuffer (plus at most its alignment padding).
    assert len(flatbuffer) <= m4["model_array_bytes"] < len(flatbuffer) + 16
    assert m4["flash_bytes"] == m4["model_array_bytes"] + m4["runtime_bytes"] + m4["other_flash_bytes"]
    assert m4["runtime_bytes"] > 20_000
    # The smallest arena is TFLM's own count rounded up to its 16-byte alignment, and the 32-bit build needs
    # less than the 64-bit Python interpreter found.
    for build in (reference, cmsis_nn):
        assert build["arena_used_bytes"] <= build["arena_bytes"] <= build["arena_used_bytes"] + 16
    assert max(reference["arena_bytes"], cmsis_nn["arena_bytes"]) < report["arena_bytes_python"]
    settings = export.parse_model_settings((output / "model_settings.h").read_text())
    expected = -(-(max(reference["arena_bytes"], cmsis_nn["arena_bytes"]) + verify.ARENA_MARGIN_BYTES) // 16) * 16
    assert settings["kTensorArenaSize"] == m4["arena_bytes_in_settings"] == expected
    assert "emulated Cortex-M4" in (output / "model_settings.h").read_text()
    # Instructions come from QEMU's deterministic counter; CMSIS-NN needs fewer than the reference kernels.
    assert 0 < cmsis_nn["instructions_per_inference"] < reference["instructions_per_inference"]
    assert m4["instructions_per_inference"] == cmsis_nn["instructions_per_inference"]


def test_the_core_resets_the_model_state_before_every_window(verified_export, real_data_home, firmware_toolchain,
                                                             tmp_path):
    variant, output, _ = verified_export
    tree, _ = firmware_toolchain
    windows, _ = verify.dataset_inputs(output, "hapt", data_home=real_data_home, windows=20)
    flatbuffer = (output / "model.tflite").read_bytes()
    python = export.run_tflm(flatbuffer, windows, arena_bytes=1 << 22)
    quantized = export.tflm.quantize_windows(windows, flatbuffer)
    with_reset = firmware.build_runner(output, target="host", tflm_root=tree, progress=False)
    without_reset = firmware.build_runner(output, target="host", tflm_root=tree, build_dir=tmp_path / "no_reset",
                                          defines=("KERAS_HAR_TEST_SKIP_STATE_RESET",), progress=False)
    exact = firmware.run_windows(with_reset, quantized, arena_bytes=1 << 20).scores
    stale = firmware.run_windows(without_reset, quantized, arena_bytes=1 << 20).scores
    np.testing.assert_array_equal(exact, python)
    if variant == "default":
        # The fused BiGRU op starts every window from a zero state of its own: nothing carries over.
        np.testing.assert_array_equal(stale, python)
        return
    # The fused LSTM keeps its state in variable tensors: without the reset, every window after the first
    # starts from the previous window's state. The first window is unaffected.
    np.testing.assert_array_equal(stale[0], python[0])
    assert np.any(stale != python, axis=-1).sum() >= len(windows) // 2, variant


def test_streaming_classifies_every_step_once_the_window_is_full(verified_export, real_data_home,
                                                                 firmware_toolchain):
    _, output, _ = verified_export
    tree, _ = firmware_toolchain
    settings = export.parse_model_settings((output / "model_settings.h").read_text())
    recording = keras_har.datasets.load_recordings("hapt", data_home=real_data_home, subjects=[2])[0].signal[:1500]
    build = firmware.build_runner(output, target="host", tflm_root=tree, progress=False)
    stream = firmware.run_stream(build, recording, arena_bytes=1 << 20)
    window, step = settings["kWindowLength"], settings["kStepLength"]
    assert step == 100 and window == 200  # HAPT: 4 s windows, 2 s steps at 50 Hz
    np.testing.assert_array_equal(stream.sample_index, np.arange(window - 1, len(recording), step))
    predictor = export.tflm.tflm_stream_predictor((output / "model.tflite").read_bytes(), settings["kChannelMean"],
                                                  settings["kChannelStd"], arena_bytes=1 << 22)
    python = stream_predict(recording, predictor, window_length=window, step_length=step)
    np.testing.assert_array_equal(stream.scores, python.scores)
    np.testing.assert_array_equal(stream.labels, python.labels)


# Bad input: one clear error each.


def test_an_arena_too_small_for_the_board_is_reported(verified_export, firmware_toolchain):
    _, output, _ = verified_export
    tree, _ = firmware_toolchain
    build = firmware.build_runner(output, target="host", tflm_root=tree, progress=False)
    with pytest.raises(firmware.FirmwareError, match=r"AllocateTensors failed on the host build: an arena of 2048 "
                                                     r"bytes is too small"):
        firmware.run_windows(build, np.zeros((1, 200, 6), np.int8), arena_bytes=2048)


def test_a_firmware_run_that_does_not_finish_is_stopped(verified_export, real_data_home, firmware_toolchain):
    _, output, _ = verified_export
    tree, cmsis_nn = firmware_toolchain
    build = firmware.build_runner(output, target="cortex-m4", kernels="cmsis-nn", tflm_root=tree,
                                  cmsis_nn_root=cmsis_nn, progress=False)
    recording = keras_har.datasets.load_recordings("hapt", data_home=real_data_home, subjects=[2])[0].signal
    with pytest.raises(firmware.FirmwareError, match=r"did not finish within 0.5 s and was stopped"):
        firmware.run_stream(build, recording, arena_bytes=1 << 20, timeout_s=0.5)


def test_an_op_without_a_tflm_kernel_is_refused_before_compiling(verified_export, tmp_path):
    from keras_har.backend import tf

    _, output, _ = verified_export
    broken = tmp_path / "broken"
    shutil.copytree(output, broken, ignore=shutil.ignore_patterns("firmware"))
    concrete = tf.function(lambda x: tf.reduce_prod(x, axis=1),
                           input_signature=[tf.TensorSpec((1, 4), tf.float32)]).get_concrete_function()
    (broken / "model.tflite").write_bytes(tf.lite.TFLiteConverter.from_concrete_functions([concrete]).convert())
    with pytest.raises(ValueError, match=r"uses REDUCE_PROD, which TensorFlow Lite Micro has no kernel for"):
        firmware.build_runner(broken, target="host")
    assert not (broken / "firmware").exists()


def test_a_missing_compiler_or_emulator_names_the_debian_package(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(firmware.ToolchainError, match=r"`arm-none-eabi-g\+\+` is not installed \(Debian package: "
                                                      r"gcc-arm-none-eabi"):
        firmware.toolchain.find_tool("arm-none-eabi-g++")
    build = firmware.Build(target="cortex-m4", kernels="reference", executable=tmp_path / "runner.elf",
                           map_file=tmp_path / "runner.map", tflm_root=tmp_path, library_objects=[])
    with pytest.raises(firmware.ToolchainError, match=r"`qemu-system-arm` is not installed"):
        firmware.run_windows(build, np.zeros((1, 4, 2), np.int8), arena_bytes=1024)
    assert firmware.missing_tools("cortex-m4") == [
        "arm-none-eabi-g++ (gcc-arm-none-eabi libstdc++-arm-none-eabi-newlib)",
        "arm-none-eabi-gcc (gcc-arm-none-eabi libnewlib-arm-none-eabi)", "qemu-system-arm (qemu-system-arm)"]


def test_a_folder_that_is_not_a_tflm_tree_is_refused_by_name(tmp_path, monkeypatch):
    (tmp_path / "tensorflow/lite/micro/tools").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"is not a TFLM source tree for reference kernels: it lacks "
                                                r"tensorflow/lite/micro/micro_interpreter.h.*create_tflm_tree.py"):
        firmware.resolve_tflm_root(tmp_path)
    monkeypatch.delenv(tflm_source.TFLM_ENV, raising=False)
    with pytest.raises(FileNotFoundError, match=r"No TFLM source tree: pass tflm_root"):
        firmware.resolve_tflm_root(cache_dir=tmp_path / "empty_cache")
    with pytest.raises(FileNotFoundError, match=r"No TFLM source tree with CMSIS-NN kernels"):
        firmware.resolve_tflm_root(kernels="cmsis-nn", cache_dir=tmp_path / "empty_cache")


def test_a_folder_that_is_not_an_export_is_refused_by_name(tmp_path):
    (tmp_path / "model.tflite").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match=r"is not a keras_har export folder: it lacks model_data.cc"):
        firmware.build_runner(tmp_path, target="host")
    with pytest.raises(ValueError, match=r"CMSIS-NN kernels are for Arm Cortex-M cores"):
        firmware.build_runner(tmp_path, target="host", kernels="cmsis-nn")


# Pieces that need no toolchain.


def test_quantize_rounds_halves_away_from_zero_like_lroundf():
    scale = np.float32(0.5)
    values = np.array([0.25, -0.25, 0.75, -0.75, 0.2499999, 63.75, -64.25, 100.0], np.float32)
    # 0.5 -> 1, -0.5 -> -1, 1.5 -> 2, -1.5 -> -2 (np.round would give 0, 0, 2, -2); then zero point 3 and clamping.
    np.testing.assert_array_equal(quantize(values, scale, 3), [4, 2, 5, 1, 3, 127, -126, 127])


def test_stream_windows_are_the_datasets_sliding_windows():
    from keras_har.datasets import windows as datasets_windows

    signal = np.random.default_rng(0).normal(size=(1000, 3)).astype(np.float32)
    ends, streamed = stream_windows(signal, window_length=128, step_length=64)
    cut, _, _ = datasets_windows.sliding_windows(signal, np.zeros(1000, np.int64), np.array([0, 1000]), np.array([1]),
                                                 window_length=128, step_length=64, num_classes=1)
    np.testing.assert_array_equal(streamed, cut)
    np.testing.assert_array_equal(ends, np.arange(127, 1000, 64))
    assert stream_predict(signal[:100], lambda w: w.sum((1, 2))[:, None], window_length=128,
                          step_length=64).labels.size == 0


def test_model_settings_carry_the_streaming_step(verified_export):
    from keras_har.export.firmware import model_settings_header, parse_model_settings

    _, output, _ = verified_export
    flatbuffer = (output / "model.tflite").read_bytes()
    common = dict(sampling_rate_hz=50.0, channel_names=list("abcdef"), label_names=[str(k) for k in range(12)],
                  channel_mean=np.zeros(6), channel_std=np.ones(6), arena_bytes=4096)
    assert parse_model_settings(model_settings_header(flatbuffer, **common))["kStepLength"] == 100  # half of 200
    assert parse_model_settings(model_settings_header(flatbuffer, step_length=25, **common))["kStepLength"] == 25
    with pytest.raises(ValueError, match=r"Received: step_length=0"):
        model_settings_header(flatbuffer, step_length=0, **common)


def test_fetch_tflm_extracts_safely_and_generates_both_trees(tmp_path, monkeypatch):
    monkeypatch.delenv(tflm_source.TFLM_ENV, raising=False)
    monkeypatch.delenv(tflm_source.CMSIS_NN_ENV, raising=False)

    def fake_download(url, destination):
        assert url == tflm_source.TFLM_URL
        top = tflm_source.TFLM_TOP_FOLDER
        script = (  # stands in for TFLM's create_tflm_tree.py: writes the files a tree must have
            "import pathlib, sys\n"
            f"required = {list(tflm_source.REQUIRED_FILES + tflm_source.CMSIS_NN_REQUIRED_FILES)!r}\n"
            "for name in required:\n"
            "    path = pathlib.Path(sys.argv[-1]) / name\n"
            "    path.parent.mkdir(parents=True, exist_ok=True)\n"
            "    path.write_text(sys.argv[1])\n"
        )
        with zipfile.ZipFile(destination, "w") as bundle:
            bundle.writestr(f"{top}/tensorflow/lite/micro/tools/project_generation/create_tflm_tree.py", script)

    tree, cmsis_nn = firmware.fetch_tflm(cache_dir=tmp_path, download=fake_download, verbose=False)
    assert tree == tmp_path / "tflm" / tflm_source.TFLM_COMMIT / "tree"
    assert "OPTIMIZED_KERNEL_DIR=cmsis_nn" in (cmsis_nn / tflm_source.REQUIRED_FILES[0]).read_text()
    assert "OPTIMIZED_KERNEL_DIR" not in (tree / tflm_source.REQUIRED_FILES[0]).read_text()
    assert firmware.resolve_tflm_root(cache_dir=tmp_path, kernels="cmsis-nn") == cmsis_nn
    # Nothing is left of the temporary work folder, and a second call downloads nothing.
    assert sorted(path.name for path in tree.parent.iterdir()) == ["tree", "tree-cmsis-nn"]
    assert firmware.fetch_tflm(cache_dir=tmp_path, download=None, verbose=False) == (tree, cmsis_nn)


def test_archives_never_write_outside_their_target(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("ok.txt", "fine")
        bundle.writestr("../escaped.txt", "not fine")
    with pytest.raises(ValueError, match=r"member '../escaped.txt' would be written outside"):
        tflm_source.safe_extract_zip(archive, tmp_path / "target")
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "target" / "ok.txt").exists()


def test_firmware_cli_refuses_unknown_targets():
    from keras_har.commands.firmware import parse_list

    assert parse_list("host, cortex-m4", firmware_build.TARGETS, "--targets") == ("host", "cortex-m4")
    with pytest.raises(ValueError, match=r"--targets takes a comma-separated list of host, cortex-m4. "
                                         r"Received: --targets='cortex-m7'"):
        parse_list("cortex-m7", firmware_build.TARGETS, "--targets")


def test_kernel_sources_follow_the_ops(firmware_toolchain):
    tree, cmsis_nn = firmware_toolchain
    names = {path.name for path in firmware_build.kernel_sources(tree, "reference", ["FULLY_CONNECTED", "SOFTMAX"])}
    assert {"fully_connected.cc", "fully_connected_common.cc", "softmax.cc", "softmax_common.cc",
            "kernel_util.cc"} <= names
    assert "conv.cc" not in names and "unidirectional_sequence_lstm.cc" not in names
    cmsis = firmware_build.kernel_sources(cmsis_nn, "cmsis-nn", ["FULLY_CONNECTED"])
    assert any(path.parent.name == "cmsis_nn" and path.name == "fully_connected.cc" for path in cmsis)


def test_the_arduino_sketch_compiles_for_a_cortex_m4_around_the_core(verified_export, firmware_toolchain, tmp_path):
    # No Arduino core is installed here, so the Arduino API the sketch uses (Serial, millis) comes from a
    # stub header; the rest (the core, the generated files, TFLM's headers) is what a board build compiles.
    import subprocess

    _, output, _ = verified_export
    tree, _ = firmware_toolchain
    stub = tmp_path / "stub"
    stub.mkdir()
    (stub / "TensorFlowLite.h").write_text(
        "#pragma once\nstruct SerialStub { void begin(long) {} };\nextern SerialStub Serial;\n"
        "unsigned long millis();\n")
    sketch = pathlib.Path(__file__).resolve().parents[2] / "tflite/arduino/keras_har_tflm/keras_har_tflm.ino"
    command = ["arm-none-eabi-g++", "-mcpu=cortex-m4", "-mthumb", "-std=c++17", "-fno-rtti", "-fno-exceptions",
               "-DTF_LITE_STATIC_MEMORY", "-Wall", "-Wextra", "-fsyntax-only", "-x", "c++", str(sketch),
               "-I", str(stub), "-I", str(output), "-isystem", str(tree),
               "-isystem", str(tree / "third_party/flatbuffers/include"), "-isystem", str(tree / "third_party/gemmlowp")]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0 and "warning" not in result.stderr, result.stderr
