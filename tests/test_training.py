"""keras_har.training: the reference recipe, checkpoints, reproducibility."""

import os

import numpy as np
import pytest

from keras_har import training
from keras_har.backend import keras, tf


def _toy_data(n=96, t=16, c=3, k=3, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    # Class-dependent offsets make the task learnable in a few steps.
    x = rng.normal(size=(n, t, c)).astype("float32") + y[:, None, None].astype("float32")
    return x, y


def _dense_model(t=16, c=3, k=3):
    # No BatchNorm or dropout: with a frozen learning rate its loss is constant.
    inputs = keras.Input((t, c))
    x = keras.layers.Flatten()(inputs)
    return keras.Model(inputs, keras.layers.Dense(k)(x))


def _small_model(t=16, c=3, k=3):
    # BatchNorm and dropout (state and randomness) in a graph that traces in
    # seconds; TinierHAR's recurrent graph takes far longer to trace on 2 cores.
    inputs = keras.Input((t, c))
    x = keras.layers.Conv1D(4, 3, padding="same")(inputs)
    x = keras.layers.BatchNormalization(momentum=0.9)(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.Dropout(0.3)(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    return keras.Model(inputs, keras.layers.Dense(k)(x))


def test_reference_hyperparameters_match_the_official_train_py():
    # zhaxidele/TinierHAR train.py / experiment.py / utils.py.
    assert (training.BATCH_SIZE, training.EPOCHS) == (256, 150)
    assert (training.LEARNING_RATE, training.WEIGHT_DECAY, training.ADAM_EPSILON) == (1e-3, 1e-2, 1e-8)
    assert (training.LR_FACTOR, training.LR_PATIENCE, training.EARLY_STOPPING_PATIENCE) == (0.1, 7, 15)
    assert training.VAL_FRACTION == 0.1
    model = training.compile_model(_dense_model())
    assert isinstance(model.optimizer, keras.optimizers.AdamW)
    assert float(model.optimizer.weight_decay) == pytest.approx(1e-2)
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-3)
    assert model.optimizer.epsilon == 1e-8
    assert model.loss.get_config()["from_logits"] is True


def test_plateau_schedule_and_early_stopping_watch_validation_loss():
    # A learning rate far below float32 resolution leaves the weights and so
    # the validation loss unchanged: every epoch after the first is a plateau.
    x, y = _toy_data()
    result = training.fit(
        _dense_model(), (x, y), (x, y), epochs=20, learning_rate=1e-30, weight_decay=0.0,
        lr_patience=1, early_stopping_patience=3, verbose=0,
    )
    # Epoch 1 is best; epochs 2-4 do not improve; patience 3 stops after epoch 4.
    assert result["epochs_run"] == 4
    assert result["best_epoch"] == 1
    np.testing.assert_allclose(result["history"]["lr"], [1e-30, 1e-30, 1e-31, 1e-32], rtol=1e-5)
    assert len(result["seconds_per_epoch"]) == 4


def test_epoch_timer_wall_adds_the_work_between_epochs():
    """``seconds`` ends at the timer's own on_epoch_end; ``wall`` runs to the next epoch's start, so it holds the
    callbacks after the timer (here one that sleeps 50 ms an epoch, as a checkpoint write would take time)."""
    import time

    class Slow(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            time.sleep(0.05)

    x, y = _toy_data()
    model = _dense_model()
    training.compile_model(model)
    timer = training.EpochTimer()
    start = time.perf_counter()
    model.fit(x, y, epochs=3, callbacks=[timer, Slow()], verbose=0)
    fit_seconds = time.perf_counter() - start
    assert len(timer.seconds) == len(timer.wall) == 3
    for seconds, wall in zip(timer.seconds, timer.wall):
        assert wall >= seconds + 0.05  # the sleep is in every epoch's wall, the last one's included
    assert sum(timer.wall) <= fit_seconds
    # fit() reports both, and the whole model.fit around them.
    result = training.fit(_dense_model(), (x, y), (x, y), epochs=2, verbose=0)
    assert len(result["wall_per_epoch"]) == 2
    assert all(wall >= seconds for seconds, wall in zip(result["seconds_per_epoch"], result["wall_per_epoch"]))
    assert result["fit_seconds"] >= sum(result["wall_per_epoch"])


def test_fit_restores_the_best_epoch_and_checkpoints_it(tmp_path):
    x, y = _toy_data()
    model = _small_model()
    path = tmp_path / "best.keras"
    result = training.fit(model, (x[:64], y[:64]), (x[64:], y[64:]), epochs=4, batch_size=32,
                          learning_rate=3e-2, checkpoint_path=path, log_dir=tmp_path / "tb", verbose=0)
    val_losses = result["history"]["val_loss"]
    assert result["best_epoch"] == int(np.argmin(val_losses)) + 1
    assert result["best_val_loss"] == pytest.approx(min(val_losses), rel=1e-6)
    # The returned model holds the best epoch's weights, so it scores its loss.
    assert model.evaluate(x[64:], y[64:], verbose=0)[0] == pytest.approx(min(val_losses), rel=1e-4)
    restored = keras.models.load_model(path, safe_mode=True)
    np.testing.assert_allclose(restored.predict(x[64:], verbose=0), model.predict(x[64:], verbose=0), atol=1e-6)
    # Atomic writes leave no temporary files behind.
    assert sorted(os.listdir(tmp_path)) == ["best.keras", "tb"]
    assert sorted(os.listdir(tmp_path / "tb")) == ["train", "validation"]


@pytest.mark.parametrize("min_interval, writes", [(0.0, [0, 1, 3]), (1e9, [0, 3])])
def test_the_checkpoint_is_written_at_most_every_min_interval_and_at_the_end(tmp_path, min_interval, writes):
    """Improvements at epochs 0, 1 and 3 (2 and 4 are worse). With no interval each one is written; with a long
    one only the first, and the end of training writes the best (epoch 3) because the file holds an older one."""
    model = _dense_model()
    path = tmp_path / "best.keras"
    checkpoint = training.BestModelCheckpoint(path, min_interval=min_interval)
    checkpoint.set_model(model)
    checkpoint.on_train_begin()
    written = []
    for epoch, loss in enumerate([1.0, 0.9, 0.95, 0.5, 0.7]):
        model.set_weights([np.full_like(w, epoch) for w in model.get_weights()])
        before = checkpoint.writes
        checkpoint.on_epoch_end(epoch, {"val_loss": loss})
        if checkpoint.writes > before:
            written.append(epoch)
            assert training.load_model(path).get_weights()[0][0, 0] == epoch
    checkpoint.on_train_end()
    assert written == writes[:len(written)] and checkpoint.writes == len(writes)
    assert checkpoint.best_epoch == 3
    # The model and the file end with the best epoch's weights, whatever was written during training.
    assert model.get_weights()[0][0, 0] == 3
    assert training.load_model(path).get_weights()[0][0, 0] == 3
    assert sorted(os.listdir(tmp_path)) == ["best.keras"]
    with pytest.raises(ValueError, match="min_interval must be a number of seconds >= 0"):
        training.BestModelCheckpoint(path, min_interval=-1)


def test_same_seed_gives_the_same_weights():
    x, y = _toy_data()

    def run():
        model = _small_model()
        training.fit(model, (x[:64], y[:64]), (x[64:], y[64:]), epochs=2, batch_size=16, seed=7, verbose=0)
        return model.get_weights()

    # The model is built before fit() seeds, so seed here too for equal initial weights.
    training.set_seed(7)
    first = run()
    training.set_seed(7)
    second = run()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_fit_traces_the_training_step_once_and_trains_the_same_weights(monkeypatch):
    # compile_model builds the optimizer's slots before the fit; Keras would create them inside
    # the first step, and tf.function would trace that step twice.
    x, y = _toy_data()

    def run():
        training.set_seed(7)
        model = _small_model()
        training.fit(model, (x[:64], y[:64]), (x[64:], y[64:]), epochs=2, batch_size=16, seed=7, verbose=0)
        return model

    built = run()
    assert built.train_function.experimental_get_tracing_count() == 1
    monkeypatch.setattr(training, "build_optimizer", lambda model: model)  # Keras's lazy build
    lazy = run()
    assert lazy.train_function.experimental_get_tracing_count() == 2
    for a, b in zip(built.get_weights(), lazy.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert len(built.optimizer.variables) == len(lazy.optimizer.variables)


def test_make_dataset_batches_and_keeps_the_last_partial_batch():
    x, y = _toy_data(n=10)
    batches = list(training.make_dataset(x, y, batch_size=4, shuffle=True, seed=0))
    assert [int(b[0].shape[0]) for b in batches] == [4, 4, 2]
    assert sorted(np.concatenate([b[1].numpy() for b in batches]).tolist()) == sorted(y.tolist())


@pytest.mark.parametrize("shuffle", [True, False])
def test_make_dataset_gives_the_batches_of_shuffling_the_windows_themselves(shuffle):
    """Shuffling indices and gathering gives, epoch after epoch, the very batches of the pipeline that shuffles
    and batches the windows (``from_tensor_slices(...).shuffle(n, seed).batch(...)``): same seed, same training."""
    x, y = _toy_data(n=300)
    x = x + np.arange(300, dtype="float32")[:, None, None]  # every window distinct
    ours = training.make_dataset(x, y, batch_size=32, shuffle=shuffle, seed=3)
    theirs = tf.data.Dataset.from_tensor_slices((x, y.astype("int64")))
    if shuffle:
        theirs = theirs.shuffle(300, seed=3, reshuffle_each_iteration=True)
    theirs = theirs.batch(32)
    orders = []
    for _ in range(3):  # three epochs: reshuffled alike
        pairs = list(zip(ours, theirs))
        assert len(pairs) == 10
        for (x_ours, y_ours), (x_theirs, y_theirs) in pairs:
            np.testing.assert_array_equal(x_ours.numpy(), x_theirs.numpy())
            np.testing.assert_array_equal(y_ours.numpy(), y_theirs.numpy())
        orders.append(np.concatenate([x_ours.numpy()[:, 0, 0] for (x_ours, _), _ in pairs]))
    assert (not np.array_equal(orders[0], orders[1])) is shuffle
    x_only = np.concatenate([batch.numpy() for batch in training.make_dataset(x, batch_size=32)])
    np.testing.assert_array_equal(x_only, x)


@pytest.mark.parametrize("value, autotune", [(None, False), ("off", False), ("on", True), (" ON ", True)])
def test_make_dataset_turns_tf_data_autotuning_off_unless_asked(monkeypatch, value, autotune):
    """Off by default (its iterator teardown paused two-process training between epochs);
    ``KERAS_HAR_DATA_AUTOTUNE=on`` turns it back on, read at each call."""
    if value is None:
        monkeypatch.delenv(training.DATA_AUTOTUNE_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(training.DATA_AUTOTUNE_VARIABLE, value)
    x, y = _toy_data(n=10)
    for ds in (training.make_dataset(x, y, shuffle=True), training.make_dataset(x)):
        assert ds.options().autotune.enabled is autotune


def test_make_dataset_refuses_an_unknown_autotune_value(monkeypatch):
    monkeypatch.setenv(training.DATA_AUTOTUNE_VARIABLE, "yes")
    with pytest.raises(ValueError, match=r"KERAS_HAR_DATA_AUTOTUNE must be one of \['off', 'on'\].*Received: 'yes'"):
        training.make_dataset(*_toy_data(n=10))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: training.make_dataset(np.zeros((4, 3))), "Received: x.shape=(4, 3)"),
        (lambda: training.make_dataset(np.zeros((4, 3, 2)), np.zeros(3)), "Received: y.shape=(3,)"),
        (lambda: training.save_model_atomic(None, "model.h5"), "Received: path='model.h5'"),
        (lambda: training.set_seed(-1), "Received: seed=-1"),
        (lambda: training.fit(None, None, None, epochs=0), "Received: epochs=0"),
    ],
)
def test_bad_inputs_are_clear_errors(call, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        call()


def test_recipe_defaults_are_the_official_recipe_and_bad_values_are_named():
    import pickle

    recipe = training.Recipe()
    assert recipe.to_dict() == {"epochs": 150, "batch_size": 256, "learning_rate": 1e-3, "weight_decay": 1e-2,
                                "val_fraction": 0.1, "val_split": "random", "jit_compile": False}
    assert recipe.fit_kwargs() == {"epochs": 150, "batch_size": 256, "learning_rate": 1e-3, "weight_decay": 1e-2,
                                   "jit_compile": False}
    # NumPy numbers become plain ones: the recipe compares, pickles (worker processes) and writes to JSON as given.
    numpy_made = training.Recipe(epochs=np.int64(20), learning_rate=np.float32(0.5))
    assert type(numpy_made.epochs) is int and numpy_made == training.Recipe(epochs=20, learning_rate=0.5)
    assert pickle.loads(pickle.dumps(numpy_made)) == numpy_made
    for kwargs, message in [
        ({"epochs": 0}, r"`epochs` must be a positive integer\. Received: epochs=0"),
        ({"batch_size": True}, r"`batch_size` must be a positive integer\. Received: batch_size=True"),
        ({"learning_rate": 0.0}, r"`learning_rate` must be a positive number\. Received: learning_rate=0\.0"),
        ({"weight_decay": -1e-2}, r"`weight_decay` must be a number >= 0\. Received: weight_decay=-0\.01"),
        ({"val_fraction": 1.0}, r"`val_fraction` must be in \(0, 1\)\. Received: val_fraction=1\.0"),
        ({"val_split": "subjects"}, r"`val_split` must be one of \['random', 'stratified'\]\. Received: val_split='subjects'"),
    ]:
        with pytest.raises(ValueError, match=message):
            training.Recipe(**kwargs)
