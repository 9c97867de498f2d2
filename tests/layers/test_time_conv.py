"""The fast-training layers compute what the stock layers compute, and infer through the stock code."""

import numpy as np
import pytest

import keras_har
from keras_har.backend import keras, tf
from keras_har.layers import TimeBatchNormalization, TimeDepthwiseConv2D, TimeMaxPooling2D, time_conv
from keras_har.training import build_optimizer

SHAPE = (8, 20, 3, 4)


def _pair(fast_class, stock_class, **kwargs):
    fast, stock = fast_class(**kwargs), stock_class(**kwargs)
    fast.build(SHAPE)
    stock.build(SHAPE)
    rng = np.random.default_rng(0)
    weights = [rng.standard_normal(w.shape).astype("float32") for w in stock.get_weights()]
    if isinstance(stock, keras.layers.BatchNormalization):  # gamma, beta, moving mean, moving variance > 0
        weights[3] = np.abs(weights[3]) + 0.5
    fast.set_weights(weights)
    stock.set_weights(weights)
    return fast, stock


def _grads(layer, x):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        loss = tf.reduce_sum(y * tf.sin(y))
    return y, tape.gradient(loss, [x] + layer.trainable_weights)


@pytest.mark.parametrize(
    "fast_class, stock_class, kwargs",
    [
        (TimeDepthwiseConv2D, keras.layers.DepthwiseConv2D, {"kernel_size": (5, 1), "padding": "same"}),
        (TimeDepthwiseConv2D, keras.layers.DepthwiseConv2D, {"kernel_size": (3, 1), "padding": "valid"}),
        (TimeMaxPooling2D, keras.layers.MaxPooling2D, {"pool_size": (2, 1)}),
        (TimeBatchNormalization, keras.layers.BatchNormalization, {"momentum": 0.9, "epsilon": 1e-5}),
        (TimeBatchNormalization, keras.layers.BatchNormalization, {"momentum": 0.9, "epsilon": 1e-5, "route": "unfused"}),
    ],
)
def test_training_step_matches_the_stock_layer(fast_class, stock_class, kwargs, monkeypatch):
    monkeypatch.setenv(time_conv.BN_TRAINING_VARIABLE, kwargs.pop("route", "fused"))
    fast, stock = _pair(fast_class, stock_class, **kwargs)
    x = tf.constant(np.random.default_rng(1).standard_normal(SHAPE).astype("float32"))
    y_fast, g_fast = _grads(fast, x)
    y_stock, g_stock = _grads(stock, x)
    np.testing.assert_allclose(y_fast.numpy(), y_stock.numpy(), rtol=1e-5, atol=1e-5)
    assert len(g_fast) == len(g_stock)
    for a, b in zip(g_fast, g_stock):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-4)
    # Moving statistics (BatchNorm) after the training call: the same update, unbiased variance included.
    for a, b in zip(fast.non_trainable_weights, stock.non_trainable_weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
    # Inference runs the stock code: bit for bit, given the same weights. (The moving statistics above agree only
    # to rounding: their batch reductions run in another order, which depends on the CPU's vector width.)
    fast.set_weights(stock.get_weights())
    np.testing.assert_array_equal(fast(x, training=False).numpy(), stock(x, training=False).numpy())


@pytest.mark.parametrize("route", ["fused", "unfused", ""])
def test_moving_variance_is_updated_with_the_unbiased_batch_variance(route, monkeypatch):
    monkeypatch.setenv(time_conv.BN_TRAINING_VARIABLE, route)
    layer = TimeBatchNormalization(momentum=0.0)
    x = np.random.default_rng(2).standard_normal((4, 5, 2, 3)).astype("float32")
    layer(x, training=True)
    np.testing.assert_allclose(layer.moving_variance.numpy(), x.reshape(-1, 3).var(axis=0, ddof=1), rtol=1e-5)
    np.testing.assert_allclose(layer.moving_mean.numpy(), x.reshape(-1, 3).mean(axis=0), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("route, fused", [("fused", True), ("", True), ("unfused", False), (" Unfused ", False)])
def test_the_environment_picks_the_batch_norm_training_route(route, fused, monkeypatch):
    """The training graph holds TensorFlow's fused kernel, or the unfused moments instead of it."""
    monkeypatch.setenv(time_conv.BN_TRAINING_VARIABLE, route)
    layer = TimeBatchNormalization()
    layer.build(SHAPE)
    graph = tf.function(lambda x: layer(x, training=True)).get_concrete_function(
        tf.TensorSpec(SHAPE, tf.float32)).graph
    ops = {op.type for op in graph.get_operations()}
    assert any(op.startswith("FusedBatchNorm") for op in ops) is fused
    assert ("Mean" in ops) is not fused


@pytest.mark.parametrize("before", [None, "fused"])
def test_batch_norm_route_sets_the_variable_in_its_block_only(before, monkeypatch):
    if before is None:
        monkeypatch.delenv(time_conv.BN_TRAINING_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(time_conv.BN_TRAINING_VARIABLE, before)
    with pytest.raises(RuntimeError, match="inside"):
        with time_conv.batch_norm_route("unfused"):
            assert time_conv.batch_norm_training_route() == "unfused"
            raise RuntimeError("inside")
    assert time_conv.os.environ.get(time_conv.BN_TRAINING_VARIABLE) == before  # given back, even after an error
    with pytest.raises(ValueError, match=r"route must be one of \['fused', 'unfused'\]. Received: route='fast'"):
        with time_conv.batch_norm_route("fast"):
            pass
    assert time_conv.os.environ.get(time_conv.BN_TRAINING_VARIABLE) == before


def test_an_unknown_batch_norm_route_is_refused(monkeypatch):
    monkeypatch.setenv(time_conv.BN_TRAINING_VARIABLE, "fast")
    layer = TimeBatchNormalization()
    with pytest.raises(ValueError, match="KERAS_HAR_BN_TRAINING must be one of \\['fused', 'unfused'\\].*'fast'"):
        layer(np.ones(SHAPE, "float32"), training=True)


def test_a_frozen_batch_norm_keeps_its_statistics():
    layer = TimeBatchNormalization()
    x = np.random.default_rng(3).standard_normal(SHAPE).astype("float32")
    layer.build(SHAPE)
    layer.trainable = False
    before = [w.numpy().copy() for w in layer.weights]
    np.testing.assert_array_equal(layer(x, training=True).numpy(), layer(x, training=False).numpy())
    for a, b in zip(before, layer.weights):
        np.testing.assert_array_equal(a, b.numpy())


def test_other_settings_take_the_stock_path():
    x = tf.constant(np.random.default_rng(4).standard_normal(SHAPE).astype("float32"))
    wide = TimeDepthwiseConv2D((3, 3), padding="same")
    wide.build(SHAPE)
    stock = keras.layers.DepthwiseConv2D((3, 3), padding="same")
    stock.build(SHAPE)
    stock.set_weights(wide.get_weights())
    assert not wide._fast()
    np.testing.assert_array_equal(wide(x, training=True).numpy(), stock(x, training=True).numpy())
    assert not TimeMaxPooling2D((2, 2))._fast()


@pytest.mark.slow  # over 10 s: fits or CLI runs
def test_tinierhar_trains_with_them_and_reloads(tmp_path):
    model = keras_har.TinierHAR(input_shape=(32, 3), num_classes=3)
    kinds = {type(layer) for layer in model.layers}
    assert {TimeDepthwiseConv2D, TimeMaxPooling2D, TimeBatchNormalization} <= kinds
    x = np.random.default_rng(5).standard_normal((16, 32, 3)).astype("float32")
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    build_optimizer(model)  # one trace of the training step, not two
    model.fit(x, np.arange(16) % 3, epochs=1, verbose=0)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert {type(layer) for layer in loaded.layers} == kinds
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
