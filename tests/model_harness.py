"""One set of checks for every model, encoder and pretext (in the manner of keras-hub's model tests).

`check_model` runs, on one model:

1. a config and ``.keras`` round trip in safe mode, with every weight moved
   away from its initial value first, so that a weight the file forgets, or
   restores into the wrong variable, changes the outputs: same class, the
   same config, bit-identical outputs. Loading rebuilds the model with
   ``from_config(get_config())``, so this is also the config round trip;
2. the caller's own comparison of the two models, if it gives one (a
   pretext's heads and loss);
3. one training step (eager, nothing to trace): a finite loss, every
   trainable weight finite afterwards, and at least one of them moved.

Outputs are compared on eager calls in inference mode (``training=False``).
"""

import numpy as np

from keras_har.backend import keras


def randomise(model, seed=7):
    """Sets every floating-point weight to random values (variances positive)."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        if not variable.dtype.is_floating:
            continue
        if "variance" in variable.name:
            values = rng.uniform(0.5, 1.5, size=variable.shape)
        else:
            values = rng.normal(scale=0.3, size=variable.shape)
        variable.assign(values.astype(np.float32))


def _outputs(model, windows):
    return np.asarray(model(windows, training=False))


def check_model(model, windows, tmp_path, *, labels=None, fit=True, compare=None):
    """Runs the three checks on ``model``.

    Args:
        model: a Keras model built for ``windows``.
        windows: a small float32 batch ``(N, T, C)``.
        tmp_path: pytest's folder for the ``.keras`` file.
        labels: class indices when the model gives logits; the training
            step then uses cross-entropy. Without them, a model whose
            ``train_step`` needs no targets (a pretext) trains on the
            windows alone when ``fit == "unsupervised"``, and any other
            model fits its outputs to zeros by mean squared error.
        fit: False skips the training step; ``"unsupervised"`` trains on the
            windows alone.
        compare: ``compare(model, restored)``, called after the round trip,
            while both models still hold the same weights.

    Returns:
        The model loaded back from its ``.keras`` file.
    """
    # 1. Config and .keras round trip, every weight away from its initial value.
    config = model.get_config()
    randomise(model)
    expected = _outputs(model, windows)
    assert np.isfinite(expected).all() and np.ptp(expected) > 0
    path = tmp_path / f"{model.name}.keras"
    model.save(path)
    restored = keras.models.load_model(path, safe_mode=True)
    assert type(restored) is type(model)
    assert restored.get_config() == config
    np.testing.assert_array_equal(_outputs(restored, windows), expected)

    # 2. The caller's comparison.
    if compare is not None:
        compare(model, restored)

    # 3. One training step.
    if fit:
        before = [w.numpy() for w in model.trainable_weights]
        if fit == "unsupervised":
            model.compile(optimizer=keras.optimizers.Adam(1e-2), run_eagerly=True)
            history = model.fit(windows, epochs=1, batch_size=len(windows), verbose=0)
        elif labels is not None:
            model.compile(optimizer=keras.optimizers.Adam(1e-2), run_eagerly=True,
                          loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
            history = model.fit(windows, labels, epochs=1, batch_size=len(windows), verbose=0)
        else:
            model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse", run_eagerly=True)
            history = model.fit(windows, np.zeros_like(expected), epochs=1, batch_size=len(windows), verbose=0)
        assert np.isfinite(history.history["loss"][0])
        after = [w.numpy() for w in model.trainable_weights]
        assert all(np.isfinite(w).all() for w in after)
        assert any(not np.array_equal(a, b) for a, b in zip(before, after))
    return restored
