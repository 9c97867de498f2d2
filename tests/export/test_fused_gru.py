"""The fused int8 BiGRU op (`keras_har.export.fused_gru`): integer reference, graph rewrite, Python-side runs.

The C++ kernel is checked bit for bit against the reference in
tests/firmware/test_firmware.py (real HAPT windows, host and Cortex-M4) and in
`test_the_kernel_matches_the_reference_on_host_and_cortex_m4` here (random
windows, another model size).
"""

import re

import numpy as np
import pytest

import keras_har
from keras_har import export
from keras_har.backend import keras
from model_harness import randomise
from keras_har.export import fused_gru

SHAPE = (32, 3)
CLASSES = 4


def _windows(count, seed=0, shape=SHAPE):
    return np.random.default_rng(seed).normal(size=(count, *shape)).astype("float32")


def test_the_sigmoid_table_is_tflms(tflm_tree):
    text = (tflm_tree / "tensorflow/lite/kernels/internal/common.h").read_text()
    body = re.search(r"sigmoid_table_uint16\[256\]\s*=\s*\{([^}]*)\}", text).group(1)
    table = [int(v) for v in body.replace("\n", " ").split(",") if v.strip()]
    assert table == fused_gru.SIGMOID_TABLE_UINT16.tolist()


def test_int16_sigmoid_and_tanh_follow_the_functions_over_the_whole_q3_12_range():
    values = np.arange(-32768, 32768)
    x = values / 4096.0
    sigmoid = fused_gru.sigmoid_int16(values) / 32768.0
    tanh = fused_gru.tanh_int16(values) / 32768.0
    # TFLM's 256-entry table with linear interpolation: within 2^-10 of the function, monotonic, in range.
    assert np.abs(sigmoid - 1 / (1 + np.exp(-x))).max() < 2 ** -10
    assert np.abs(tanh - np.tanh(x)).max() < 2 ** -9
    assert np.all(np.diff(fused_gru.sigmoid_int16(values)) >= 0) and np.all(np.diff(fused_gru.tanh_int16(values)) >= 0)
    assert fused_gru.sigmoid_int16(values).min() >= 0 and fused_gru.sigmoid_int16(values).max() <= 32767
    assert fused_gru.tanh_int16(values).min() >= -32768 and fused_gru.tanh_int16(values).max() <= 32767


@pytest.mark.parametrize("real", [1e-9, 3.7e-5, 0.0123, 0.5, 0.999999, 1.0, 7.25, 1234.5])
def test_requantize_is_rounded_multiplication(real):
    multiplier, shift = fused_gru.quantize_multiplier(real)
    assert 2 ** 30 <= multiplier < 2 ** 31
    values = np.array([-(2 ** 20) - 3, -12345, -7, -1, 0, 1, 7, 12345, 2 ** 20 + 3], np.int64)
    exact = values * real
    result = fused_gru.requantize(values, multiplier, shift)
    # The multiplier keeps 31 bits, so the result is the rounded product up to one unit.
    assert np.all(np.abs(result - exact) <= 0.5 + np.abs(exact) * 2 ** -30 + 1e-9)


def test_multipliers_out_of_range_are_refused_or_zero():
    assert fused_gru.quantize_multiplier(0.0) == (0, 0)
    assert fused_gru.quantize_multiplier(1e-12) == (0, 0)
    with pytest.raises(ValueError, match="too large"):
        fused_gru.quantize_multiplier(2.0 ** 31)
    with pytest.raises(ValueError, match="finite"):
        fused_gru.quantize_multiplier(float("nan"))


def _layer(bidirectional, units=8, seed=0, input_dim=6, **gru):
    keras.utils.set_random_seed(seed)
    rnn = keras.layers.GRU(units, return_sequences=True, reset_after=True, **gru)
    layer = keras.layers.Bidirectional(rnn) if bidirectional else rnn
    layer.build((None, 20, input_dim))
    # Larger biases than Keras initialises, so every bias path matters.
    weights = layer.get_weights()
    rng = np.random.default_rng(seed)
    layer.set_weights([w + rng.normal(scale=0.3, size=w.shape).astype("float32") if w.ndim == 2 and w.shape[0] == 2
                       else w for w in weights])
    return layer


@pytest.mark.parametrize("bidirectional", [True, False])
def test_integer_reference_matches_the_float_gru(bidirectional):
    layer = _layer(bidirectional)
    steps, input_dim = 20, 6
    x = np.random.default_rng(1).normal(size=(16, steps, input_dim)).astype("float32")
    input_scale, input_zero_point = float(np.abs(x).max() / 127), 3
    x_int8 = np.clip(np.round(x / input_scale) + input_zero_point, -128, 127).astype(np.int8)
    x_seen = (x_int8.astype("float32") - input_zero_point) * input_scale
    output_scale, output_zero_point = 1 / 127.5, -1
    params = fused_gru.gru_integer_params(
        fused_gru.gru_cells(layer), input_scale=input_scale, input_zero_point=input_zero_point,
        output_scale=output_scale, output_zero_point=output_zero_point, steps=steps)
    y_int8 = fused_gru.gru_int8_reference(x_int8, params)
    y = (y_int8.astype("float32") - output_zero_point) * output_scale
    expected = layer(x_seen).numpy()
    assert y_int8.dtype == np.int8 and y.shape == expected.shape
    # Stated tolerance: 4 output steps (3% of the output range [-1, 1]) over 20 recurrent steps.
    assert np.abs(y - expected).max() < 4 * output_scale
    assert np.abs(y - expected).mean() < output_scale


@pytest.mark.parametrize("setting, message", [
    ({"reset_after": False}, "reset_after=False"),
    ({"activation": "relu"}, "activation='relu'"),
    ({"recurrent_activation": "hard_sigmoid"}, "recurrent_activation='hard_sigmoid'"),
    ({"use_bias": False}, "use_bias=False"),
])
def test_a_gru_the_op_does_not_compute_is_refused_by_setting(setting, message):
    keras.utils.set_random_seed(0)
    rnn = keras.layers.GRU(4, return_sequences=True, **{"reset_after": True, **setting})
    layer = keras.layers.Bidirectional(rnn)
    layer.build((None, 5, 3))
    with pytest.raises(ValueError, match=re.escape(message)) as error:
        fused_gru.gru_cells(layer)
    assert "recurrence='merged'" in str(error.value)


@pytest.fixture(scope="module")
def fused_and_merged():
    keras.utils.set_random_seed(2)
    model = keras_har.TinierHAR(input_shape=SHAPE, num_classes=CLASSES, filters=2, gru_units=4)
    randomise(model, seed=2)  # every weight and BatchNorm statistic away from its initial value
    calibration = _windows(32, seed=1)
    return (model, export.convert_int8(model, calibration),
            export.convert_int8(model, calibration, recurrence="merged"))


@pytest.mark.slow  # over 5 s: two int8 conversions
def test_the_default_export_has_one_fused_op_and_no_unrolled_steps(fused_and_merged):
    _, fused, merged = fused_and_merged
    facts, unrolled = export.describe(fused), export.describe(merged)
    assert facts["ops"].count("KERAS_HAR_BIGRU") == 1
    assert "LOGISTIC" not in facts["ops"] and "TANH" not in facts["ops"]
    assert unrolled["ops"].count("TANH") == SHAPE[0] // 4
    assert facts["op_count"] < unrolled["op_count"] // 2
    export.check_integer_only(fused)
    assert export.check_tflm_ops(fused) == facts["op_types"]
    # Attention's BATCH_MATMUL reads the op's transposed second output.
    assert fused_gru.fused_gru_ops(fused) and not fused_gru.fused_gru_ops(merged)


def test_python_side_int8_runs_match_the_unrolled_export_and_the_float_model(fused_and_merged):
    model, fused, merged = fused_and_merged
    windows = _windows(64, seed=3)
    tflm_fused, tflm_merged = export.run_tflm(fused, windows), export.run_tflm(merged, windows)
    litert = export.run_litert(fused, windows)
    logits = model.predict(windows, verbose=0)
    spec = export.describe(fused)["output"]
    # Same function, different integer arithmetic inside the GRU: a few output steps apart.
    assert np.abs(tflm_fused.astype(int) - tflm_merged).max() <= 12
    assert np.abs(tflm_fused.astype(int) - litert).max() <= 3

    def error(outputs):
        return np.abs((outputs.astype("float32") - spec["zero_point"]) * spec["scale"] - logits)

    # Against float, the fused op is as close as the stock-op export (both clip logits outside the
    # calibrated output range alike).
    assert error(tflm_fused).max() <= error(tflm_merged).max() + 12 * spec["scale"]
    assert error(tflm_fused).mean() <= error(tflm_merged).mean() + 2 * spec["scale"]
    assert np.mean(tflm_fused.argmax(-1) == logits.argmax(-1)) >= 0.9


def test_the_halves_and_the_reference_recompose_the_model(fused_and_merged):
    _, fused, _ = fused_and_merged
    before, params, after = fused_gru.split_at_fused_gru(fused)
    assert "KERAS_HAR_BIGRU" not in export.describe(before)["ops"] + export.describe(after)["ops"]
    assert params["directions"] == 2 and params["units"] == 4 and params["steps"] == SHAPE[0] // 4
    assert params["weights_x"].shape == (2, 12, params["input_dim"]) and params["weights_h"].shape == (2, 12, 4)


def test_arena_estimate_covers_the_kernel_scratch(fused_and_merged):
    _, fused, _ = fused_and_merged
    stand_in, extra = fused_gru.stand_in(fused)
    assert extra == fused_gru.scratch_bytes(fused_gru.split_at_fused_gru(fused)[1]) > 0
    assert export.find_arena_bytes(fused, window=_windows(1)[0]) >= export.find_arena_bytes(stand_in) + extra


def test_the_firmware_files_register_the_op(fused_and_merged, tmp_path):
    _, fused, _ = fused_and_merged
    written = export.write_firmware(tmp_path, fused, sampling_rate_hz=50.0, channel_names=["x", "y", "z"],
                                    label_names=[f"k{i}" for i in range(CLASSES)], channel_mean=[0, 0, 0],
                                    channel_std=[1, 1, 1], arena_bytes=16384)
    ops = (tmp_path / "model_ops.h").read_text()
    assert '#include "keras_har_bigru.h"' in ops
    assert 'resolver.AddCustom("KERAS_HAR_BIGRU", keras_har::Register_KERAS_HAR_BIGRU())' in ops
    assert {"keras_har_bigru.h", "keras_har_bigru.cc"} <= {p.split("/")[-1] for p in written.values()}


@pytest.mark.firmware
@pytest.mark.slow
def test_a_one_directional_gru_falls_back_to_stock_ops_with_a_warning():
    keras.utils.set_random_seed(0)
    model = keras_har.TinierHAR(input_shape=SHAPE, num_classes=CLASSES, filters=2, gru_units=4, recurrent="gru")
    with pytest.warns(UserWarning, match="exported unrolled"):
        flatbuffer = export.convert_int8(model, _windows(8))
    assert "KERAS_HAR_BIGRU" not in export.describe(flatbuffer)["ops"] and "TANH" in export.describe(flatbuffer)["ops"]


def test_the_kernel_matches_the_reference_on_host_and_cortex_m4(firmware_toolchain, tmp_path):
    from keras_har.firmware import verify_export

    tree, cmsis_nn = firmware_toolchain
    keras.utils.set_random_seed(5)
    shape = (64, 5)
    model = keras_har.TinierHAR(input_shape=shape, num_classes=3, filters=2, gru_units=6)
    flatbuffer = export.convert_int8(model, _windows(32, seed=6, shape=shape))
    assert "KERAS_HAR_BIGRU" in export.describe(flatbuffer)["ops"]
    export.write_firmware(tmp_path, flatbuffer, sampling_rate_hz=50.0, channel_names=[f"c{i}" for i in range(5)],
                          label_names=["a", "b", "c"], channel_mean=np.zeros(5), channel_std=np.ones(5),
                          arena_bytes=65536)
    result = verify_export(tmp_path, windows=_windows(24, seed=7, shape=shape), targets=("host", "cortex-m4"),
                           kernels=("cmsis-nn",), tflm_root=tree, cmsis_nn_root=cmsis_nn, update_export=False,
                           progress=False)
    for name, build in result["builds"].items():
        assert build["bit_exact"] and build["differing_windows"] == 0, name
