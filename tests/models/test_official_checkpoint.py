"""Official PyTorch checkpoints: the restricted .pth reader, the layout mapping, ``keras-har convert``.

The TinierHAR tests use the committed official checkpoint (MHEALTH, M=4,
N=16, 200 x 23, 12 classes) and the official model's logits on 165 windows
(fixture ``official_checkpoint_dir``: $KERAS_HAR_REFERENCE). TinyHAR and
DeepConvLSTM have no official checkpoint here: random weights in the
official layout are checked against a NumPy transcription of the official
forward passes (``tests/official_reference.py``), which the TinierHAR
fixture pins.
"""

import os
import pickle
import zipfile

import numpy as np
import pytest

import keras_har
import official_reference
import torch_zip
from keras_har.backend import keras
from keras_har.cli import main
from keras_har.models import UnsafeCheckpointError, from_official_checkpoint, load_official_weights, read_state_dict

# The fixture: max |Keras - official| logit difference allowed, and its shape settings.
TOLERANCE = 1e-4
MHEALTH = {"input_shape": (200, 23), "num_classes": 12}


@pytest.fixture(scope="module")
def fixture_files(official_checkpoint_dir):
    windows = np.load(official_checkpoint_dir / "windows_and_logits.npz")
    return {
        "pth": official_checkpoint_dir / "final_best_vali.pth",
        "npz": official_checkpoint_dir / "state_dict.npz",
        "x": windows["x"][:, 0],  # official (batch, 1, T, C) -> keras_har (batch, T, C)
        "x_official": windows["x"],
        "logits": windows["logits"],
    }


@pytest.fixture(scope="module")
def official_tinier_har(fixture_files):
    return keras_har.TinierHAR.from_official_checkpoint(fixture_files["pth"], **MHEALTH)


# === TinierHAR on the official checkpoint ===


def test_official_checkpoint_reproduces_the_official_logits(official_tinier_har, fixture_files):
    logits = official_tinier_har.predict(fixture_files["x"], verbose=0)
    assert logits.shape == (165, 12)
    assert np.abs(logits - fixture_files["logits"]).max() < TOLERANCE
    np.testing.assert_array_equal(logits.argmax(axis=1), fixture_files["logits"].argmax(axis=1))


def test_pth_and_its_npz_give_identical_weights(official_tinier_har, fixture_files):
    from_pth, from_npz = read_state_dict(fixture_files["pth"]), read_state_dict(fixture_files["npz"])
    assert list(from_pth) == list(from_npz) and len(from_pth) == 80
    for key in from_pth:
        assert from_pth[key].dtype == from_npz[key].dtype, key
        np.testing.assert_array_equal(from_pth[key], from_npz[key], err_msg=key)
    model = load_official_weights(keras_har.TinierHAR(**MHEALTH), fixture_files["npz"])
    for a, b in zip(official_tinier_har.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_numpy_reference_reproduces_the_official_logits(fixture_files):
    # Pins the conventions of tests/official_reference.py, which the TinyHAR
    # and DeepConvLSTM tests below rely on.
    state = {key.removeprefix("model."): value for key, value in read_state_dict(fixture_files["npz"]).items()}
    logits = official_reference.tinier_har(state, fixture_files["x_official"][:40])
    assert np.abs(logits - fixture_files["logits"][:40]).max() < TOLERANCE


@pytest.mark.parametrize(
    "setting, value, key, found",
    [
        ("filters", 8, "model.conv_blocks.0.conv.0.pointwise.weight", 4),
        ("gru_units", 8, "model.gru.weight_hh_l0", 16),
        ("num_classes", 6, "model.classifier.0.weight", 12),
    ],
)
def test_wrong_model_setting_names_the_setting_and_the_key(fixture_files, setting, value, key, found):
    kwargs = {**MHEALTH, setting: value}
    with pytest.raises(ValueError) as raised:
        keras_har.TinierHAR.from_official_checkpoint(fixture_files["npz"], **kwargs)
    message = str(raised.value)
    assert f"trained with {setting}={found}" in message
    assert f"`{key}`" in message
    assert f"Build the tinierhar model with {setting}={found}" in message
    assert message.endswith(f"Received: {setting}={value}")


def test_wrong_channel_count_is_a_clear_error(fixture_files):
    with pytest.raises(ValueError, match=r"input_shape\[1\]=23 \(sensor channels C; from `model\.gru\.weight_ih_l0` "
                                         r"of shape \(48, 184\)\).*Received: input_shape\[1\]=9$"):
        keras_har.TinierHAR.from_official_checkpoint(fixture_files["npz"], input_shape=(200, 9), num_classes=12)


def test_window_length_is_free(fixture_files):
    # No weight depends on T: the checkpoint loads into a model for shorter windows.
    model = keras_har.TinierHAR.from_official_checkpoint(fixture_files["npz"], input_shape=(100, 23), num_classes=12)
    assert model.output_shape == (None, 12)


def test_leftover_and_missing_keys_are_refused_and_the_model_is_untouched(fixture_files):
    state = read_state_dict(fixture_files["npz"])
    state["model.wave_conv.wavelet_conv.weight"] = np.zeros((4, 1, 1, 5), "float32")
    del state["model.attention.bias"]
    model = keras_har.TinierHAR(**MHEALTH)
    before = model.get_weights()
    with pytest.raises(ValueError) as raised:
        load_official_weights(model, state)
    message = str(raised.value)
    assert "1 checkpoint key(s) that the model has no variable for: `model.wave_conv.wavelet_conv.weight`" in message
    assert "1 key(s) that the model needs and the checkpoint lacks: `attention.bias`" in message
    assert message.endswith("Received: leftover=1, missing=1")
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_wrong_tensor_shape_names_the_key(fixture_files):
    state = read_state_dict(fixture_files["npz"])
    state["model.conv_blocks.3.conv.0.depthwise.weight"] = np.zeros((8, 1, 3, 1), "float32")
    with pytest.raises(ValueError, match=r"`model\.conv_blocks\.3\.conv\.0\.depthwise\.weight` has shape "
                                         r"\(8, 1, 3, 1\), but this TinierHAR needs \(8, 1, 5, 1\)"):
        load_official_weights(keras_har.TinierHAR(**MHEALTH), state)


def test_checkpoint_of_another_model_says_which_model_it_is(fixture_files):
    with pytest.raises(ValueError, match="look like an official tinierhar checkpoint"):
        from_official_checkpoint(fixture_files["npz"], "tinyhar", (200, 23), 12)


def test_tinierhar_ablations_have_no_official_layout():
    with pytest.raises(ValueError, match=r"only the paper's configuration.*Received: recurrent='bilstm'"):
        load_official_weights(keras_har.TinierHAR(input_shape=(16, 3), num_classes=3, recurrent="bilstm"), {})


def test_unsupported_model_is_refused():
    inputs = keras.Input((16, 3))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    with pytest.raises(ValueError, match="Received: model=Functional"):
        load_official_weights(model, {})


# === The restricted unpickler ===


class _RunsACommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _replace_pickle(source, destination, data):
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(destination, "w") as tampered:
        for name in original.namelist():
            tampered.writestr(name, data if name.endswith("/data.pkl") else original.read(name))


def test_tampered_checkpoint_is_refused_without_running_it(fixture_files, tmp_path):
    marker = tmp_path / "pwned"
    tampered = tmp_path / "tampered.pth"
    _replace_pickle(fixture_files["pth"], tampered, pickle.dumps(_RunsACommand(marker), protocol=2))
    with pytest.raises(UnsafeCheckpointError, match=r"global `posix\.system`.*refused before any of its code runs"):
        read_state_dict(tampered)
    assert not marker.exists()
    # The same through the CLI: a clear error, exit code 2, nothing written.
    output = tmp_path / "model.keras"
    assert main(["convert", "--official-checkpoint", str(tampered), "--model", "tinierhar",
                 "--input-shape", "200,23", "--num-classes", "12", "--output", str(output)]) == 2
    assert not marker.exists() and not output.exists()


def test_one_foreign_global_among_the_tensors_is_refused(fixture_files, tmp_path):
    with zipfile.ZipFile(fixture_files["pth"]) as archive:
        data = archive.read(next(n for n in archive.namelist() if n.endswith("/data.pkl")))
    rebuild = b"ctorch._utils\n_rebuild_tensor_v2\n"
    assert rebuild in data
    tampered = tmp_path / "one_global.pth"
    _replace_pickle(fixture_files["pth"], tampered, data.replace(rebuild, b"cbuiltins\neval\n", 1))
    with pytest.raises(UnsafeCheckpointError, match=r"global `builtins\.eval`"):
        read_state_dict(tampered)


@pytest.mark.parametrize(
    "payload, refused",
    [
        # torch's own module, but not a tensor-rebuild function
        (b"\x80\x02ctorch._utils\n_rebuild_device_tensor_from_numpy\n)R.",
         "torch._utils._rebuild_device_tensor_from_numpy"),
        # an allowed name followed by an attribute chain (protocol 4 STACK_GLOBAL resolves dotted names)
        (b"\x80\x04\x8c\x0ctorch._utils\x94\x8c\x1e_rebuild_tensor_v2.__globals__\x94\x93.", "__globals__"),
        # opcodes that instantiate arbitrary classes
        (b"\x80\x02(S'true'\nios\nsystem\n.", "opcode INST"),
        (b"\x80\x02(cbuiltins\nobject\no.", "opcode OBJ"),
    ],
)
def test_other_globals_and_object_opcodes_are_refused(tmp_path, payload, refused):
    path = tmp_path / "crafted.pth"
    torch_zip.write_archive(path, payload, {})
    with pytest.raises(UnsafeCheckpointError, match=refused.replace(".", r"\.")):
        read_state_dict(path)


def test_reader_rebuilds_offset_and_strided_views_of_one_storage(tmp_path):
    storage = np.arange(12, dtype="<f4")
    entries = [
        # a (3, 2) tensor starting at element 2
        ("a", torch_zip.tensor_opcodes("FloatStorage", "0", 12, 2, (3, 2), (2, 1))),
        # the transpose of a (3, 4) tensor: size (4, 3), stride (1, 4), as `w.t()` saves
        ("b", torch_zip.tensor_opcodes("FloatStorage", "0", 12, 0, (4, 3), (1, 4))),
    ]
    path = tmp_path / "views.pth"
    torch_zip.write_archive(path, torch_zip.state_dict_pickle(entries), {"0": storage.tobytes()})
    state = read_state_dict(path)
    np.testing.assert_array_equal(state["a"], storage[2:8].reshape(3, 2))
    np.testing.assert_array_equal(state["b"], storage.reshape(3, 4).T)


def test_tensor_reaching_past_its_storage_is_refused(tmp_path):
    entries = [("a", torch_zip.tensor_opcodes("FloatStorage", "0", 4, 2, (3,), (1,)))]
    path = tmp_path / "short.pth"
    torch_zip.write_archive(path, torch_zip.state_dict_pickle(entries), {"0": np.zeros(4, "<f4").tobytes()})
    with pytest.raises(ValueError, match=r"reaches element 4 of storage '0', which has 4"):
        read_state_dict(path)
    # A stride-0 view asking for a billion elements of a 4-element storage.
    entries = [("a", torch_zip.tensor_opcodes("FloatStorage", "0", 4, 0, (10**9,), (0,)))]
    torch_zip.write_archive(path, torch_zip.state_dict_pickle(entries), {"0": np.zeros(4, "<f4").tobytes()})
    with pytest.raises(ValueError, match=r"more elements than its storage '0' \(4\)"):
        read_state_dict(path)


def test_files_that_are_not_state_dicts_are_refused(tmp_path):
    legacy = tmp_path / "legacy.pth"
    legacy.write_bytes(b"\x80\x02\x8a\x0a" + b"\x00" * 20)
    with pytest.raises(ValueError, match=r"not a zip archive.*Received: path="):
        read_state_dict(legacy)
    not_a_dict = tmp_path / "list.pth"
    torch_zip.write_archive(not_a_dict, b"\x80\x02]q\x00.", {})
    with pytest.raises(ValueError, match=r"pickled list, not a state_dict"):
        read_state_dict(not_a_dict)
    with pytest.raises(FileNotFoundError, match=r"Received: path="):
        read_state_dict(tmp_path / "missing.pth")


# === TinyHAR and DeepConvLSTM: official layouts, against the NumPy reference ===


def _random_state(shapes, seed):
    rng = np.random.default_rng(seed)
    state = {}
    for key, shape in shapes.items():
        if key.endswith("running_var"):
            state[key] = rng.uniform(0.5, 1.5, shape).astype("float32")
        elif key.endswith("num_batches_tracked"):
            state[key] = np.array(7, dtype="int64")
        else:
            state[key] = (0.5 * rng.normal(size=shape)).astype("float32")
    return state


def _tiny_har_shapes(filters, channels, classes):
    f, h = filters, 2 * filters
    shapes = {}
    for index in range(4):
        shapes[f"layers_conv.{index}.0.weight"] = (f, 1 if index == 0 else f, 5, 1)
        shapes[f"layers_conv.{index}.0.bias"] = (f,)
        for name in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"layers_conv.{index}.2.{name}"] = (f,)
        shapes[f"layers_conv.{index}.2.num_batches_tracked"] = ()
    for name in ("query", "key", "value"):
        shapes[f"channel_interaction.{name}.weight"] = (f, f)
    shapes["channel_interaction.gamma"] = (1,)
    shapes.update({"channel_fusion.fc.weight": (h, channels * f), "channel_fusion.fc.bias": (h,)})
    lstm = "temporal_interaction.lstm"
    shapes.update({f"{lstm}.weight_ih_l0": (4 * h, h), f"{lstm}.weight_hh_l0": (4 * h, h),
                   f"{lstm}.bias_ih_l0": (4 * h,), f"{lstm}.bias_hh_l0": (4 * h,)})
    shapes.update({"temporal_fusion.fc_1.weight": (h, h), "temporal_fusion.fc_1.bias": (h,),
                   "temporal_fusion.fc_2.weight": (1, h), "temporal_fusion.gamma": (1,)})
    shapes.update({"prediction.weight": (classes, h), "prediction.bias": (classes,)})
    return shapes


def _deep_conv_lstm_shapes(filters, units, layers, channels, classes):
    shapes = {}
    for block in range(2):
        shapes[f"conv_blocks.{block}.conv1.weight"] = (filters, 1 if block == 0 else filters, 5, 1)
        shapes[f"conv_blocks.{block}.conv1.bias"] = (filters,)
        shapes[f"conv_blocks.{block}.conv2.weight"] = (filters, filters, 5, 1)
        shapes[f"conv_blocks.{block}.conv2.bias"] = (filters,)
    for index in range(layers):
        inputs = filters * channels if index == 0 else units
        layer = f"lstm_layers.{index}"
        shapes.update({f"{layer}.weight_ih_l0": (4 * units, inputs), f"{layer}.weight_hh_l0": (4 * units, units),
                       f"{layer}.bias_ih_l0": (4 * units,), f"{layer}.bias_hh_l0": (4 * units,)})
    shapes.update({"fc.weight": (classes, units), "fc.bias": (classes,)})
    return shapes


def _windows(count, shape, seed=1):
    return np.random.default_rng(seed).normal(size=(count, *shape)).astype("float32")


def test_tinyhar_official_layout_gives_the_official_forward_pass(tmp_path):
    # Small F and nonzero gammas, so that both attention paths count.
    state = _random_state(_tiny_har_shapes(filters=6, channels=3, classes=4), seed=0)
    path = tmp_path / "tinyhar.pth"
    torch_zip.write_pth(path, {f"model.{key}": value for key, value in state.items()})
    model = keras_har.TinyHAR.from_official_checkpoint(path, input_shape=(40, 3), num_classes=4, filters=6)
    windows = _windows(5, (40, 3))
    expected = official_reference.tiny_har(state, windows[:, None])
    np.testing.assert_allclose(model.predict(windows, verbose=0), expected, atol=TOLERANCE)


def test_deepconvlstm_official_layout_gives_the_official_forward_pass(tmp_path):
    state = _random_state(_deep_conv_lstm_shapes(filters=8, units=8, layers=2, channels=3, classes=4), seed=0)
    path = tmp_path / "deepconvlstm.npz"
    np.savez(path, **{f"model.{key}": value for key, value in state.items()})
    model = keras_har.DeepConvLSTM.from_official_checkpoint(
        path, input_shape=(40, 3), num_classes=4, filters=8, lstm_units=8, lstm_layers=2)
    windows = _windows(5, (40, 3))
    expected = official_reference.deep_conv_lstm(state, windows[:, None])
    np.testing.assert_allclose(model.predict(windows, verbose=0), expected, atol=TOLERANCE)


def test_deepconvlstm_with_batch_norm_has_leftover_keys():
    state = _random_state(_deep_conv_lstm_shapes(filters=8, units=8, layers=1, channels=3, classes=4), seed=0)
    state.update({f"conv_blocks.0.norm1.{name}": np.ones(8, "float32") for name in ("weight", "bias")})
    with pytest.raises(ValueError, match=r"2 checkpoint key\(s\).*`conv_blocks\.0\.norm1\.weight`.*batch_norm: 0"):
        from_official_checkpoint(state, "deepconvlstm", (40, 3), 4, filters=8, lstm_units=8)


def test_deepconvlstm_wrong_layer_count_names_lstm_layers():
    state = _random_state(_deep_conv_lstm_shapes(filters=8, units=8, layers=2, channels=3, classes=4), seed=0)
    with pytest.raises(ValueError, match=r"trained with lstm_layers=2 .*Received: lstm_layers=1$"):
        from_official_checkpoint(state, "deepconvlstm", (40, 3), 4, filters=8, lstm_units=8)


# === keras-har convert, and on to int8 ===


def _convert(fixture_files, output, *extra):
    return main(["convert", "--official-checkpoint", str(fixture_files["pth"]), "--model", "tinierhar",
                 "--input-shape", "200,23", "--num-classes", "12", "--output", str(output), *extra])


def test_convert_command_writes_a_keras_model_with_the_official_logits(fixture_files, tmp_path, capsys):
    output = tmp_path / "model.keras"
    assert _convert(fixture_files, output) == 0
    # 20,539 trainable (the official count) + 112 BatchNorm moving statistics.
    assert "TinierHAR (input 200 x 23, 12 classes, 20,651 params)" in capsys.readouterr().out
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]  # written atomically: no temporary left
    model = keras.models.load_model(output, safe_mode=True)
    assert isinstance(model, keras_har.TinierHAR)
    logits = model.predict(fixture_files["x"], verbose=0)
    assert np.abs(logits - fixture_files["logits"]).max() < TOLERANCE
    np.testing.assert_array_equal(logits.argmax(axis=1), fixture_files["logits"].argmax(axis=1))


def test_convert_command_reports_a_wrong_setting_without_writing(fixture_files, tmp_path, capsys):
    output = tmp_path / "model.keras"
    assert _convert(fixture_files, output, "--gru-units", "32") == 2
    error = capsys.readouterr().err
    assert "keras-har convert: error: The checkpoint was trained with gru_units=16" in error
    assert not output.exists()


def test_convert_command_refuses_flags_of_another_model(fixture_files, tmp_path, capsys):
    assert _convert(fixture_files, tmp_path / "model.keras", "--lstm-units", "8") == 2
    assert "--lstm-units does not apply to TinierHAR" in capsys.readouterr().err


@pytest.mark.slow
def test_converted_official_model_exports_to_int8_and_agrees_in_tflm(official_tinier_har, fixture_files):
    from keras_har import export

    windows = fixture_files["x"]
    flatbuffer = export.convert_int8(official_tinier_har, windows[::8])  # 21 calibration windows
    facts = export.describe(flatbuffer)
    assert facts["input"]["shape"] == [1, 200, 23] and facts["input"]["dtype"] == "int8"
    assert facts["output"]["shape"] == [1, 12] and facts["float_tensors"] == 0
    test = windows[1::8][:12]
    outputs = export.run_tflm(flatbuffer, test)
    agreement = (outputs.argmax(axis=1) == fixture_files["logits"][1::8][:12].argmax(axis=1)).mean()
    assert agreement >= 10 / 12


def test_benchmark_table_is_generated_from_the_committed_results():
    import json

    from helpers import BENCHMARKS, load_benchmark_script

    bench = load_benchmark_script("bench_official_checkpoint")
    results = json.loads((BENCHMARKS / "results" / "official_checkpoint.json").read_text())
    assert bench.markdown_table(results) == (BENCHMARKS / "results" / "official_checkpoint.md").read_text()
    float_rows = [row for row in results["rows"] if row["source"].endswith((".pth", ".npz"))]
    assert len(float_rows) == 2
    assert all(row["max_abs_logit_difference"] < TOLERANCE and row["argmax_agreement"] == 165 for row in float_rows)
