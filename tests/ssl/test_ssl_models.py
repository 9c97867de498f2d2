"""Pretext models wrap any encoder, expose it unchanged, and survive a .keras round trip."""

import warnings

import numpy as np
import pytest

import keras_har
from keras_har import ssl
from keras_har.backend import keras, tf
from model_harness import check_model

SHAPE = (32, 3)
WINDOWS = np.random.default_rng(0).normal(size=(6, *SHAPE)).astype("float32")


def _tinier():
    return keras_har.TinierHARBackbone(input_shape=SHAPE)


def _larger():
    return ssl.CNNGRUEncoder(input_shape=SHAPE, filters=(8, 16), gru_units=128)


PRETEXTS = [
    (ssl.CPC, {"prediction_steps": 3, "context_units": 32}),
    (ssl.Reconstruction, {"hidden_units": 16}),
    (ssl.MultiTask, {"prediction_steps": 3, "context_units": 32, "cpc_weight": 0.5, "hidden_units": 16}),
    (ssl.SimCLR, {"seed": 0, "projection_units": [32, 16], "temperature": 0.2}),
]


@pytest.mark.parametrize("make_encoder", [_tinier, _larger], ids=["tinierhar", "cnn_gru"])
@pytest.mark.parametrize("pretext_class, kwargs", PRETEXTS, ids=[c.__name__ for c, _ in PRETEXTS])
def test_pretext_wraps_the_encoder_and_gives_256_features(make_encoder, pretext_class, kwargs):
    encoder = make_encoder()
    model = pretext_class(encoder, **kwargs)
    assert model.encoder is encoder
    assert model(WINDOWS).shape == (6, 256)
    # The paper's linear layer is added only when the encoder is narrower than 256.
    assert (model.projection is not None) == (encoder.output_shape[-1] < 256)
    assert model.feature_model().output_shape == (None, 256)
    assert np.isfinite(float(model.pretext_loss(WINDOWS)))


def test_cpc_reads_the_convolutional_encodings_that_feed_each_encoders_recurrent_layer():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tinier = ssl.CPC(_tinier(), prediction_steps=3)
        larger = ssl.CPC(_larger(), prediction_steps=3)
    # TinierHAR's conv output is 2M*C = 24 wide, the larger encoder's last (pooled) block 16: each gets its own
    # projection to 256.
    assert tinier.sequence_layer == "reshape" and tinier.step_projection.units == 256
    assert larger.sequence_layer == "block2_pool" and larger.step_projection.units == 256
    # Naming a recurrent layer warns: its outputs leak CPC's targets into the context.
    with pytest.warns(UserWarning, match=r"recurrent layer 'recurrent'.*bidirectional.*sequence_layer"):
        assert ssl.CPC(_tinier(), prediction_steps=3, sequence_layer="recurrent").step_projection is None
    with pytest.warns(UserWarning, match=r"recurrent layer 'sequence'"):
        ssl.CPC(_larger(), prediction_steps=3, sequence_layer="sequence")


def test_cpc_targets_do_not_see_the_end_of_the_window():
    # Two windows that differ only in their last eighth: the default per-step encodings of the first
    # half are the same (the convolutions' receptive field is local); the BiGRU's differ everywhere.
    first = np.random.default_rng(1).normal(size=(1, 256, 3)).astype("float32")
    second = first.copy()
    second[:, -32:] += 1.0
    encoder = keras_har.TinierHARBackbone(input_shape=(256, 3))
    default = ssl.CPC(encoder, prediction_steps=3)
    with pytest.warns(UserWarning):
        recurrent = ssl.CPC(encoder, prediction_steps=3, sequence_layer="recurrent")
    for cpc, leaks in ((default, False), (recurrent, True)):
        a, _ = cpc._taps(first, training=False)
        b, _ = cpc._taps(second, training=False)
        half = a.shape[1] // 2
        assert np.array_equal(np.asarray(a)[:, :half], np.asarray(b)[:, :half]) != leaks, cpc.sequence_layer


def test_cpc_leaves_the_encoders_recurrent_layer_untrained():
    # Documented in find_sequence_layer (and BENCHMARKS.md): CPC's loss reads the encodings that feed
    # the encoder's BiGRU, so the BiGRU gets no gradient; the convolutions and CPC's own heads do.
    model = ssl.CPC(_larger(), prediction_steps=3)
    with tf.GradientTape() as tape:
        loss = model.pretext_loss(WINDOWS, training=True)
    gradients = dict(zip([v.name for v in model.trainable_variables],
                         tape.gradient(loss, model.trainable_variables)))
    untrained = sorted(name for name, gradient in gradients.items() if gradient is None)
    assert untrained and all(name.startswith("sequence/") for name in untrained)
    assert {v.name for v in model.encoder.get_layer("sequence").trainable_variables} == set(untrained)
    assert gradients["block1_conv/kernel:0"] is not None


def _causal():
    # The paper preset's encoder ("cnngru-causal"), with smaller convolutions: a forward GRU of 256 units.
    return ssl.CNNGRUEncoder(input_shape=SHAPE, filters=(8, 16), gru_units=256, bidirectional=False)


@pytest.mark.parametrize("pretext_class", [ssl.CPC, ssl.MultiTask])
def test_cpc_trains_a_forward_recurrent_layer_as_its_context(pretext_class):
    model = pretext_class(_causal(), prediction_steps=3)
    assert model.context_layer == "sequence" and model.context_network is None
    assert not any(v.name.startswith("context/") for v in model.trainable_variables)
    with tf.GradientTape() as tape:
        loss = model.pretext_loss(WINDOWS, training=True)
    gradients = dict(zip([v.name for v in model.trainable_variables],
                         tape.gradient(loss, model.trainable_variables)))
    assert [name for name, gradient in gradients.items() if gradient is None] == []
    assert any(name.startswith("sequence/") for name in gradients)
    # A bidirectional encoder keeps CPC's own context GRU.
    assert ssl.CPC(_larger(), prediction_steps=3).context_layer is None


def test_cpc_context_from_a_forward_encoder_does_not_see_later_steps():
    first = np.random.default_rng(1).normal(size=(1, *SHAPE)).astype("float32")
    second = first.copy()
    second[:, -8:] += 1.0  # the last quarter
    model = ssl.CPC(_causal(), prediction_steps=3)
    (z_a, c_a, _), (z_b, c_b, _) = (model.encode(w, training=False) for w in (first, second))
    # 8 steps of 4 samples; step 3 (samples 12-15) reaches samples 6-21 through the two convolutions and pools,
    # so steps 0-3 see none of the change, in z and, the GRU running forward, in c.
    for a, b in ((z_a, z_b), (c_a, c_b)):
        np.testing.assert_array_equal(np.asarray(a)[:, :4], np.asarray(b)[:, :4])
        assert not np.array_equal(np.asarray(a)[:, -1], np.asarray(b)[:, -1])


def test_cpc_on_a_forward_encoder_config_file_and_training_step(tmp_path):
    keras.utils.set_random_seed(0)
    model = ssl.CPC(_causal(), prediction_steps=3)
    assert model.encoder.get_config()["bidirectional"] is False

    def same_loss(model, restored):
        assert restored.context_layer == "sequence"
        expected = float(model.pretext_loss(WINDOWS, training=False))
        assert float(restored.pretext_loss(WINDOWS, training=False)) == expected

    check_model(model, WINDOWS, tmp_path, fit="unsupervised", compare=same_loss)


def test_make_encoder_gives_each_named_encoder():
    widths = {kind: ssl.make_encoder(kind, SHAPE).output_shape[-1] for kind in ssl.ENCODERS}
    assert widths == {"tinierhar": 32, "cnngru": 256, "cnngru-causal": 256}
    assert ssl.make_encoder("cnngru-causal", SHAPE).get_layer("sequence").__class__.__name__ == "GRU"
    # The width: GRU units per direction.
    assert [ssl.make_encoder(kind, SHAPE, gru_units=8).output_shape[-1] for kind in ssl.ENCODERS] == [16, 16, 8]
    with pytest.raises(ValueError, match=r"Received: kind='lstm'"):
        ssl.make_encoder("lstm", SHAPE)


def test_cpc_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"Received: prediction_steps=8"):
        ssl.CPC(_tinier(), prediction_steps=8)  # T' = 32 / 4 = 8 steps
    with pytest.raises(ValueError, match=r"Received: sequence_layer='logits'"):
        ssl.CPC(_tinier(), prediction_steps=3, sequence_layer="logits")


def test_multitask_loss_is_the_weighted_sum():
    model = ssl.MultiTask(_tinier(), prediction_steps=3, cpc_weight=0.5, reconstruction_weight=2.0)
    cpc, reconstruction = (float(v) for v in model.pretext_losses(WINDOWS, training=False))
    expected = 0.5 * cpc + 2.0 * reconstruction
    assert float(model.pretext_loss(WINDOWS, training=False)) == pytest.approx(expected, rel=1e-5)


def test_reconstruction_loss_is_mse_of_the_decoded_window():
    model = ssl.Reconstruction(_tinier())
    decoded = model.reconstruct(WINDOWS, training=False).numpy()
    assert decoded.shape == WINDOWS.shape
    expected = np.mean((decoded - WINDOWS) ** 2)
    assert float(model.pretext_loss(WINDOWS, training=False)) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("pretext_class, kwargs", PRETEXTS, ids=[c.__name__ for c, _ in PRETEXTS])
def test_pretext_config_file_and_training_step(tmp_path, pretext_class, kwargs):
    keras.utils.set_random_seed(0)
    model = pretext_class(_tinier(), **kwargs)

    def heads_come_back(model, restored):
        # The same pretext loss (SimCLR's, which augments at random, through its head).
        if pretext_class is ssl.SimCLR:
            features = model(WINDOWS, training=False)
            np.testing.assert_array_equal(restored.head(features), model.head(features))
        else:
            loss = float(model.pretext_loss(WINDOWS, training=False))
            assert float(restored.pretext_loss(WINDOWS, training=False)) == loss

    check_model(model, WINDOWS, tmp_path, fit="unsupervised", compare=heads_come_back)


def test_cnn_gru_encoder_config_file_and_training_step(tmp_path):
    keras.utils.set_random_seed(0)
    encoder = _larger()
    assert encoder.get_layer("sequence").output.shape.as_list() == [None, 8, 256]
    check_model(encoder, WINDOWS, tmp_path)


@pytest.mark.parametrize("name", ["CNNGRUEncoder", "CPC", "Reconstruction", "MultiTask", "SimCLR"])
def test_ssl_models_are_registered(name):
    assert keras.saving.get_registered_object(f"keras_har>{name}") is getattr(ssl, name)


@pytest.mark.slow  # over 10 s: fits or CLI runs
def test_pretraining_moves_the_encoder_and_saves_a_reloadable_encoder(tmp_path):
    keras.utils.set_random_seed(0)
    model = ssl.Reconstruction(_tinier(), hidden_units=16)
    before = [w.copy() for w in model.encoder.get_weights()]
    history = ssl.pretrain(model, WINDOWS.repeat(4, axis=0), epochs=2, batch_size=8, fraction=0.5, verbose=0, seed=0)
    assert len(history.history["loss"]) == 2
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.encoder.get_weights()))
    directory = ssl.save_pretrained(model, tmp_path / "run", metadata={"source": "toy"})
    assert sorted(p.name for p in directory.iterdir()) == ["encoder.keras", "pretext.keras", "pretrain.json"]
    encoder = ssl.load_encoder(directory)
    expected = model.feature_model().predict(WINDOWS, verbose=0)
    np.testing.assert_array_equal(encoder.predict(WINDOWS, verbose=0), expected)
    assert ssl.load_metadata(directory)["source"] == "toy"
    with pytest.raises(FileNotFoundError, match="encoder.keras"):
        ssl.load_encoder(tmp_path)


def test_unknown_pretext_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"Received: pretext='byol'"):
        ssl.get_pretext_class("byol")
