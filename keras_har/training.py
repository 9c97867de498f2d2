"""Training with the official TinierHAR recipe.

The defaults reproduce the official code (github.com/zhaxidele/TinierHAR:
``train.py``, ``experiment.py``, ``utils.py``):

- batch size 256, at most 150 epochs, shuffled training batches, the last
  partial batch kept;
- cross-entropy on the logits, averaged over the batch;
- AdamW with learning rate 1e-3, PyTorch's default weight decay 1e-2 and
  epsilon 1e-8 (decoupled decay: ``w -= lr * weight_decay * w``);
- the learning rate multiplied by 0.1 after 7 epochs without a lower
  validation loss;
- early stopping after 15 epochs without a lower validation loss, then the
  weights of the epoch with the lowest validation loss are restored (the
  official code reloads its best checkpoint whether or not it stopped early;
  so does `fit`, which Keras's ``EarlyStopping(restore_best_weights=True)``
  alone would not do when all epochs run);
- 10% of the training windows, drawn at random, kept for validation
  (``train_vali_quote = 0.9``);
- every seed reset at the start of each fold.

Where keras_har differs from the reference, and why:

- The official learning-rate schedule counts the first epoch as one without
  improvement, so when epoch 1 stays the best the rate drops after epoch 7
  instead of epoch 8. Keras's ``ReduceLROnPlateau`` (used here) waits the full
  7 epochs. This only matters when the first epoch is the best for 7 epochs.
- The official models run in float64 (``model.double()``); keras_har trains in
  float32, the precision microcontroller export starts from.
- ``jit_compile`` is off by default: on the 2-core CPU this was measured on,
  XLA did not make a TinierHAR epoch on a HAPT-sized input faster (see
  ``benchmarks/results/training.md``). Pass ``jit_compile=True`` to try it on
  your machine.
"""

import dataclasses
import os
import time

import numpy as np

from keras_har import atomic, run_settings
from keras_har.backend import keras, tf

BATCH_SIZE = 256
EPOCHS = 150
LEARNING_RATE = 1e-3
WEIGHT_DECAY = 1e-2
# PyTorch's AdamW epsilon; Keras's default is 1e-7.
ADAM_EPSILON = 1e-8
LR_FACTOR = 0.1
LR_PATIENCE = 7
EARLY_STOPPING_PATIENCE = 15
VAL_FRACTION = 0.1
VAL_SPLITS = ("random", "stratified")
# Measured, not assumed: see the module docstring.
JIT_COMPILE = False
#: Least seconds between two writes of the best model during a fit (`BestModelCheckpoint`); it is always
#: written at the end.
CHECKPOINT_INTERVAL = 60.0
#: The environment variable that turns tf.data's model-based autotuning of `make_dataset`'s pipelines back on
#: (``on``; unset or ``off``: off, the default). Off because, with two training processes on two cores
#: (``evaluate --jobs 2``), tearing down an epoch's iterator waited for the autotuning thread: 0.7-1.0 s after
#: 1 to 5 epochs in 8. With it off that pause is gone (0.02 s) and the batches are the same
#: (``benchmarks/bench_epoch.py``, setting ``autotune``). Worker processes inherit it.
DATA_AUTOTUNE_VARIABLE = "KERAS_HAR_DATA_AUTOTUNE"


@dataclasses.dataclass(frozen=True)
class Recipe:
    """One training recipe: what `fit` is given and how a fold keeps validation windows.

    The defaults are the official recipe (see the module docstring). A fold
    (`keras_har.evaluation.run_fold`) is trained with one `Recipe`, whether
    it runs in cross-validation or in a trial of the tuner; the tuner's
    search space fills in ``learning_rate``, ``weight_decay`` and
    ``batch_size`` from the trial's hyperparameters.

    Args:
        epochs: most epochs.
        batch_size: windows per batch.
        learning_rate: initial AdamW learning rate.
        weight_decay: AdamW decoupled weight decay.
        val_fraction: share of a fold's training windows kept for the
            learning-rate schedule and early stopping.
        val_split: how they are drawn: ``"random"`` (the official code:
            windows at random) or ``"stratified"`` (class by class, for a
            few labelled windows per class;
            `keras_har.datasets.splits.train_val_split` with ``y``). When
            every class has a single window, nothing can be held out, and a
            stratified fold validates on its training windows instead
            (`keras_har.evaluation.run_fold` records it).
        jit_compile: compile the train step with XLA.

    Example:
    >>> import keras_har.training
    >>> recipe = keras_har.training.Recipe(epochs=20)
    >>> recipe.batch_size, recipe.learning_rate, recipe.val_fraction
    (256, 0.001, 0.1)
    >>> sorted(recipe.fit_kwargs())
    ['batch_size', 'epochs', 'jit_compile', 'learning_rate', 'weight_decay']
    """

    epochs: int = EPOCHS
    batch_size: int = BATCH_SIZE
    learning_rate: float = LEARNING_RATE
    weight_decay: float = WEIGHT_DECAY
    val_fraction: float = VAL_FRACTION
    val_split: str = "random"
    jit_compile: bool = JIT_COMPILE

    def __post_init__(self):
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
        if isinstance(self.learning_rate, bool) or not float(self.learning_rate) > 0:
            raise ValueError(f"`learning_rate` must be a positive number. Received: learning_rate={self.learning_rate!r}")
        if isinstance(self.weight_decay, bool) or not float(self.weight_decay) >= 0:
            raise ValueError(f"`weight_decay` must be a number >= 0. Received: weight_decay={self.weight_decay!r}")
        if isinstance(self.val_fraction, bool) or not 0 < float(self.val_fraction) < 1:
            raise ValueError(f"`val_fraction` must be in (0, 1). Received: val_fraction={self.val_fraction!r}")
        if self.val_split not in VAL_SPLITS:
            raise ValueError(f"`val_split` must be one of {list(VAL_SPLITS)}. Received: val_split={self.val_split!r}")
        # Plain Python numbers, so that the recipe compares, pickles and writes to JSON as given.
        for name, kind in (("epochs", int), ("batch_size", int), ("learning_rate", float),
                           ("weight_decay", float), ("val_fraction", float), ("jit_compile", bool)):
            object.__setattr__(self, name, kind(getattr(self, name)))

    def fit_kwargs(self):
        """The keyword arguments of `fit` that this recipe sets."""
        return {"epochs": self.epochs, "batch_size": self.batch_size, "learning_rate": self.learning_rate,
                "weight_decay": self.weight_decay, "jit_compile": self.jit_compile}

    def to_dict(self):
        return dataclasses.asdict(self)


def set_seed(seed):
    """Seeds Python, NumPy and TensorFlow so that a run can be repeated.

    Args:
        seed: non-negative integer.

    Example:
    >>> import keras_har.training
    >>> keras_har.training.set_seed(0)
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"`seed` must be a non-negative integer. Received: seed={seed!r}")
    keras.utils.set_random_seed(int(seed))


def data_autotune():
    """Whether `make_dataset` turns tf.data's autotuning on: ``KERAS_HAR_DATA_AUTOTUNE`` is ``on``.

    Read at each call. An unknown value is refused with its name.

    Example:
    >>> import keras_har.training
    >>> keras_har.training.data_autotune()  # doctest: +SKIP
    False
    """
    return run_settings.environment_choice(DATA_AUTOTUNE_VARIABLE, ("off", "on")) == "on"


def make_dataset(x, y=None, *, batch_size=BATCH_SIZE, shuffle=False, seed=0):
    """Wraps arrays in a batched, prefetching ``tf.data.Dataset``.

    Args:
        x: float array ``(N, T, C)``.
        y: optional integer labels ``(N,)``.
        batch_size: windows per batch; the last batch may be smaller.
        shuffle: reshuffle the windows every epoch (training data).
        seed: shuffle seed.

    Returns:
        A ``tf.data.Dataset`` of ``x`` or ``(x, y)`` batches.

    Example:
    >>> import numpy as np, keras_har.training
    >>> ds = keras_har.training.make_dataset(np.zeros((5, 8, 3), "float32"), batch_size=2)
    >>> [int(b.shape[0]) for b in ds]
    [2, 2, 1]
    """
    x = np.asarray(x, dtype="float32")
    if x.ndim != 3:
        raise ValueError(f"`x` must have shape (windows, T, C). Received: x.shape={x.shape}")
    if y is not None:
        y = np.asarray(y, dtype="int64")
        if y.shape != (len(x),):
            raise ValueError(
                f"`y` must hold one label per window, shape ({len(x)},). Received: y.shape={y.shape}"
            )
    # The windows' indices are shuffled and batched, and each batch gathered from the arrays at once: the
    # same batches, in the same order, as shuffling and batching the windows themselves (a shuffle's
    # order depends only on its seed and buffer size), without passing every window through the
    # shuffle buffer one by one (a saving of hundredths of a second per HAPT epoch, small beside its
    # training steps).
    indices = tf.data.Dataset.range(len(x))
    if shuffle:
        indices = indices.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    windows = tf.constant(x)
    if y is None:
        ds = indices.batch(batch_size).map(lambda batch: tf.gather(windows, batch))
    else:
        labels = tf.constant(y)
        ds = indices.batch(batch_size).map(lambda batch: (tf.gather(windows, batch), tf.gather(labels, batch)))
    options = tf.data.Options()
    options.autotune.enabled = data_autotune()  # off unless asked: see DATA_AUTOTUNE_VARIABLE
    return ds.prefetch(tf.data.AUTOTUNE).with_options(options)


def compile_model(
    model,
    *,
    learning_rate=LEARNING_RATE,
    weight_decay=WEIGHT_DECAY,
    jit_compile=JIT_COMPILE,
):
    """Compiles a logits model with the reference optimizer and loss.

    Args:
        model: a Keras model whose output is unnormalised logits.
        learning_rate: AdamW learning rate.
        weight_decay: AdamW decoupled weight decay.
        jit_compile: compile the train step with XLA.

    Returns:
        The same model, compiled.

    Example:
    >>> import keras_har, keras_har.training
    >>> model = keras_har.TinierHAR(input_shape=(128, 9), num_classes=6)
    >>> model = keras_har.training.compile_model(model)
    >>> float(model.optimizer.weight_decay)
    0.01
    """
    model.compile(
        optimizer=keras.optimizers.AdamW(
            learning_rate=learning_rate, weight_decay=weight_decay, epsilon=ADAM_EPSILON
        ),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        jit_compile=jit_compile,
    )
    return build_optimizer(model)


def build_optimizer(model):
    """Creates the compiled optimizer's slot variables for ``model``'s trainable variables now.

    Keras otherwise creates them inside the first training step, and
    `tf.function` then traces the training step twice (once to create
    variables, once without): a few seconds more per fit of a small model.
    The trained weights are the same bit for bit (tested). A model not built
    yet is left alone; its optimizer builds lazily as before.

    Returns:
        The same model.
    """
    if model.built and model.optimizer is not None:
        model.optimizer.build(model.trainable_variables)
    return model


def save_model_atomic(model, path):
    """Saves a model as ``.keras`` through a temporary file, so no half file is left.

    Args:
        model: the Keras model.
        path: destination ending in ``.keras``.

    Example:
    >>> import keras_har, keras_har.training
    >>> model = keras_har.TinierHAR(input_shape=(128, 9), num_classes=6)
    >>> keras_har.training.save_model_atomic(model, "/tmp/tinier_har.keras")
    """
    path = os.fspath(path)
    if not path.endswith(".keras"):
        raise ValueError(f"The model file must end in `.keras`. Received: path={path!r}")
    with atomic.atomic_path(path) as temporary:
        model.save(temporary, overwrite=True)


def load_model(path, *, argument="model"):
    """Loads a ``.keras`` model in safe mode, with a clear error for any other file.

    Every load in keras_har goes through here (``tflite/export.py --model``,
    `keras_har.ssl.load_encoder`), so a truncated download, a legacy HDF5
    file or a SavedModel folder gets "not a Keras .keras archive: PATH"
    instead of h5py's "file signature not found" without a path.

    Args:
        path: the ``.keras`` file.
        argument: the argument it came from, for the message.

    Returns:
        The model.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not a complete ``.keras`` archive.

    Example:
    >>> import keras_har, keras_har.training
    >>> keras_har.training.save_model_atomic(keras_har.TinierHAR(input_shape=(32, 3), num_classes=2), "/tmp/m.keras")
    >>> keras_har.training.load_model("/tmp/m.keras").output_shape
    (None, 2)
    """
    import zipfile

    import keras_har.layers  # noqa: F401  (registers the custom layers)
    import keras_har.models  # noqa: F401  (registers the model classes)

    path = os.fspath(path)
    received = f"Received: {argument.lstrip('-').replace('-', '_')}={path!r}"
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{argument}: no such file. {received}")
    expected = "a .keras file written by model.save('model.keras') (a zip with config.json and the weights)"
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            broken = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise ValueError(f"not a Keras .keras archive: {path} ({error}); expected {expected}. {received}") from error
    if "config.json" not in names or broken is not None:
        reason = f"damaged member {broken}" if broken is not None else "no config.json inside"
        raise ValueError(f"not a Keras .keras archive: {path} ({reason}); expected {expected}. {received}")
    return keras.models.load_model(path, safe_mode=True)


class BestModelCheckpoint(keras.callbacks.Callback):
    """Keeps the weights with the lowest validation loss and restores them at the end.

    Like the official code, an epoch counts as better only if its validation
    loss is strictly lower. The best weights are kept in memory on every
    improvement. When ``path`` is given, the best model is also written there
    as ``.keras``, atomically: on an improvement when ``min_interval``
    seconds have passed since the last write, and at the end of training if
    the file does not hold the best epoch yet. So a finished fit leaves the
    best model (with the last epoch's optimizer state when it was written at
    the end), and an interrupted one the best of at most ``min_interval``
    seconds before. Writing on every improvement (``min_interval=0``, as
    before) wrote on 482 of the 1,006 epochs of the ten HAPT paper folds,
    each write about 0.16 s on quiet cores (BENCHMARKS.md, "Training speed").

    Args:
        path: optional ``.keras`` file for the best model.
        monitor: the logged quantity to minimise.
        min_interval: least seconds between two writes during training.

    Example:
    >>> import keras_har.training
    >>> checkpoint = keras_har.training.BestModelCheckpoint("/tmp/best.keras")
    """

    def __init__(self, path=None, monitor="val_loss", min_interval=CHECKPOINT_INTERVAL):
        super().__init__()
        if path is not None and not os.fspath(path).endswith(".keras"):
            raise ValueError(f"The checkpoint must end in `.keras`. Received: path={path!r}")
        if not min_interval >= 0:
            raise ValueError(f"min_interval must be a number of seconds >= 0. Received: min_interval={min_interval!r}")
        self.path = None if path is None else os.fspath(path)
        self.monitor = monitor
        self.min_interval = float(min_interval)
        self.best = np.inf
        self.best_epoch = None
        self.best_weights = None
        self.writes = 0
        self._written_epoch = None
        self._last_write = None

    def on_train_begin(self, logs=None):
        self.best, self.best_epoch, self.best_weights = np.inf, None, None
        self.writes, self._written_epoch, self._last_write = 0, None, None

    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is None:
            raise ValueError(
                f"BestModelCheckpoint watches {self.monitor!r}, which fit() did not log; "
                f"pass validation data. Logged: {sorted(logs or {})}"
            )
        if current < self.best:
            self.best, self.best_epoch = float(current), epoch
            self.best_weights = self.model.get_weights()
            due = self._last_write is None or time.perf_counter() - self._last_write >= self.min_interval
            if self.path is not None and due:
                self._write()

    def on_train_end(self, logs=None):
        if self.best_weights is not None:
            self.model.set_weights(self.best_weights)
            if self.path is not None and self._written_epoch != self.best_epoch:
                self._write()

    def _write(self):
        save_model_atomic(self.model, self.path)
        self.writes += 1
        self._written_epoch, self._last_write = self.best_epoch, time.perf_counter()


class EpochTimer(keras.callbacks.Callback):
    """Records the wall time of every training epoch.

    ``seconds``: from the epoch's start to this callback's ``on_epoch_end``, that is the training steps and
    the validation. ``wall``: from the epoch's start to the next epoch's start (the last: to the end of
    training), which adds the work between epochs: the ``on_epoch_end`` of the callbacks after this one
    (checkpoint writes, TensorBoard), and the next epoch's input iterator. Put it first among the callbacks.
    """

    def __init__(self):
        super().__init__()
        self.seconds = []
        self.wall = []
        self._start = None

    def on_epoch_begin(self, epoch, logs=None):
        now = time.perf_counter()
        if self._start is not None and len(self.wall) < len(self.seconds):
            self.wall.append(now - self._start)
        self._start = now

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)

    def on_train_end(self, logs=None):
        if self._start is not None and len(self.wall) < len(self.seconds):
            self.wall.append(time.perf_counter() - self._start)


def fit(
    model,
    train_data,
    val_data,
    *,
    epochs=EPOCHS,
    batch_size=BATCH_SIZE,
    learning_rate=LEARNING_RATE,
    weight_decay=WEIGHT_DECAY,
    lr_factor=LR_FACTOR,
    lr_patience=LR_PATIENCE,
    early_stopping_patience=EARLY_STOPPING_PATIENCE,
    seed=0,
    jit_compile=JIT_COMPILE,
    checkpoint_path=None,
    log_dir=None,
    verbose="auto",
):
    """Trains a logits model with the official TinierHAR recipe.

    Seeds everything, compiles the model (AdamW, cross-entropy), and fits it
    with the reference learning-rate schedule and early stopping on the
    validation loss. Returns with the weights of the best validation epoch.

    Args:
        model: a Keras model returning logits.
        train_data: ``(x, y)`` arrays of the training windows.
        val_data: ``(x, y)`` arrays of the validation windows.
        epochs: most epochs to run.
        batch_size: windows per batch.
        learning_rate: initial AdamW learning rate.
        weight_decay: AdamW decoupled weight decay.
        lr_factor: factor applied to the learning rate on a plateau.
        lr_patience: epochs without a lower validation loss before the drop.
        early_stopping_patience: epochs without a lower validation loss
            before training stops.
        seed: seed for weights, dropout and shuffling.
        jit_compile: compile the train step with XLA.
        checkpoint_path: optional ``.keras`` file for the best model.
        log_dir: optional TensorBoard directory (loss, accuracy, learning
            rate per epoch).
        verbose: Keras progress output (0, 1, 2 or "auto").

    Returns:
        A dict: ``epochs_run``, ``best_epoch`` (1-based), ``best_val_loss``,
        ``seconds_per_epoch`` (list: training steps and validation of each
        epoch), ``wall_per_epoch`` (list: the same plus the checkpoint and
        TensorBoard writes and the input iterator between epochs; see
        `EpochTimer`), ``fit_seconds`` (the whole ``model.fit``),
        ``checkpoint_writes`` (times the best model was written to
        ``checkpoint_path``; `BestModelCheckpoint`) and ``history``
        (per-epoch logs).

    Example:
    >>> import numpy as np, keras_har, keras_har.training
    >>> x, y = np.random.randn(64, 32, 3).astype("float32"), np.arange(64) % 2
    >>> model = keras_har.TinierHAR(input_shape=(32, 3), num_classes=2)
    >>> result = keras_har.training.fit(model, (x, y), (x, y), epochs=2, verbose=0)
    >>> result["epochs_run"]
    2
    """
    if not isinstance(epochs, (int, np.integer)) or isinstance(epochs, bool) or epochs < 1:
        raise ValueError(f"`epochs` must be a positive integer. Received: epochs={epochs!r}")
    set_seed(seed)
    compile_model(model, learning_rate=learning_rate, weight_decay=weight_decay, jit_compile=jit_compile)
    train_ds = make_dataset(*train_data, batch_size=batch_size, shuffle=True, seed=seed)
    val_ds = make_dataset(*val_data, batch_size=batch_size)
    checkpoint = BestModelCheckpoint(checkpoint_path)
    timer = EpochTimer()
    callbacks = [
        timer,
        checkpoint,
        keras.callbacks.ReduceLROnPlateau(
            monitor="val_loss", factor=lr_factor, patience=lr_patience, min_delta=0.0, mode="min"
        ),
        keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=early_stopping_patience, min_delta=0.0, mode="min"
        ),
    ]
    if log_dir is not None:
        callbacks.append(
            keras.callbacks.TensorBoard(
                log_dir=os.fspath(log_dir), histogram_freq=0, write_graph=False, profile_batch=0
            )
        )
    start = time.perf_counter()
    history = model.fit(train_ds, validation_data=val_ds, epochs=int(epochs), callbacks=callbacks, verbose=verbose)
    fit_seconds = time.perf_counter() - start
    logs = {key: [float(v) for v in values] for key, values in history.history.items()}
    return {
        "epochs_run": len(timer.seconds),
        "best_epoch": None if checkpoint.best_epoch is None else checkpoint.best_epoch + 1,
        "best_val_loss": checkpoint.best,
        "seconds_per_epoch": timer.seconds,
        "wall_per_epoch": timer.wall,
        "fit_seconds": fit_seconds,
        "checkpoint_writes": checkpoint.writes,
        "history": logs,
    }


def predict_classes(model, x, *, batch_size=BATCH_SIZE):
    """Returns the arg-max class of a logits model for each window.

    Example:
    >>> import numpy as np, keras_har, keras_har.training
    >>> model = keras_har.TinierHAR(input_shape=(32, 3), num_classes=2)
    >>> keras_har.training.predict_classes(model, np.zeros((4, 32, 3))).shape
    (4,)
    """
    logits = model.predict(make_dataset(x, batch_size=batch_size), verbose=0)
    return np.argmax(logits, axis=-1).astype("int64")


# What `train` writes; a folder holding any of them holds a trained model.
TRAIN_OUTPUTS = ("model.keras", "normalization.json", "history.json", "tensorboard")


def prepare_train_output(output_dir, overwrite=False):
    """Checks ``output_dir`` for `train` before any work: writable, and no model in it unless ``overwrite``.

    With ``overwrite=True`` the old ``tensorboard/`` logs are removed, so the
    new run's curves are not appended to the old ones.

    Raises:
        ValueError: the folder cannot be written, or already holds a model.
    """
    import shutil

    output_dir = atomic.writable_dir(output_dir, "output_dir")
    existing = [name for name in TRAIN_OUTPUTS if os.path.exists(os.path.join(output_dir, name))]
    if existing and not overwrite:
        raise ValueError(
            f"{output_dir} already holds a trained model ({', '.join(existing)}); use a new folder, or pass "
            f"overwrite=True (--overwrite) to replace it. Received: output_dir={output_dir!r}"
        )
    if overwrite:
        shutil.rmtree(os.path.join(output_dir, "tensorboard"), ignore_errors=True)
    return output_dir


def train(
    model_builder_or_name,
    dataset,
    *,
    output_dir,
    epochs=None,
    seed=0,
    model_kwargs=None,
    batch_size=BATCH_SIZE,
    val_fraction=VAL_FRACTION,
    jit_compile=JIT_COMPILE,
    verbose="auto",
    overwrite=False,
):
    """Trains one model on a whole dataset and saves what deployment needs.

    The windows are standardised per channel with statistics fitted on the
    dataset, 10% of them are drawn at random for validation, and the model is
    trained with `fit` (the reference recipe). ``output_dir`` receives:

    - ``model.keras``: the best-validation model (it takes standardised input);
    - ``normalization.json``: the per-channel mean and std to apply first
      (`keras_har.datasets.splits.Standardizer.load` reads it back);
    - ``history.json``: per-epoch losses, accuracy, learning rate and timing;
    - ``tensorboard/``: the same curves for TensorBoard.

    Args:
        model_builder_or_name: a model name (``"tinierhar"``, ``"tinyhar"``,
            ``"deepconvlstm"``) or ``build(input_shape, num_classes)``.
        dataset: a `keras_har.datasets.HARDataset`.
        output_dir: folder for the files above. A folder that already holds
            them is refused unless ``overwrite``.
        epochs: most epochs; default the reference's 150.
        seed: seed for weights, shuffling and the validation draw.
        model_kwargs: constructor arguments for a named model.
        batch_size: windows per batch.
        val_fraction: share of windows kept for validation.
        jit_compile: compile the train step with XLA.
        verbose: Keras progress output.
        overwrite: replace a model already in ``output_dir`` (its old
            TensorBoard logs are removed).

    Returns:
        ``(model, summary)``: the trained model and the dict saved in
        ``history.json``.

    Example:
    >>> import keras_har, keras_har.training
    >>> data = keras_har.datasets.load_dataset("hapt", data_home="DATA")  # doctest: +SKIP
    >>> model, summary = keras_har.training.train("tinierhar", data, output_dir="runs/hapt")  # doctest: +SKIP
    """
    import json

    from keras_har.datasets.splits import Standardizer, train_val_split
    from keras_har.models.registry import resolve_builder

    build, model_name = resolve_builder(model_builder_or_name, model_kwargs)
    epochs = EPOCHS if epochs is None else epochs
    output_dir = prepare_train_output(output_dir, overwrite)
    standardizer = Standardizer().fit(dataset.X)
    x = standardizer.transform(dataset.X)
    fit_idx, val_idx = train_val_split(np.arange(len(dataset.y)), val_fraction=val_fraction, seed=seed)
    set_seed(seed)
    model = build(input_shape=tuple(dataset.X.shape[1:]), num_classes=dataset.num_classes)
    model_path = os.path.join(output_dir, "model.keras")
    fitted = fit(
        model,
        (x[fit_idx], dataset.y[fit_idx]),
        (x[val_idx], dataset.y[val_idx]),
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        jit_compile=jit_compile,
        checkpoint_path=model_path,
        log_dir=os.path.join(output_dir, "tensorboard"),
        verbose=verbose,
    )
    standardizer.save(os.path.join(output_dir, "normalization.json"))
    summary = {
        "model": model_name,
        "model_kwargs": dict(model_kwargs or {}),
        "dataset": dataset.name,
        "class_names": list(dataset.class_names),
        "channel_names": list(dataset.channel_names),
        "window_shape": [int(d) for d in dataset.X.shape[1:]],
        "sampling_rate_hz": None if dataset.sampling_rate_hz is None else float(dataset.sampling_rate_hz),
        "n_train": int(len(fit_idx)),
        "n_val": int(len(val_idx)),
        "seed": int(seed),
        "epochs_max": int(epochs),
        **fitted,
    }
    atomic.write_json(os.path.join(output_dir, "history.json"), json.loads(json.dumps(summary)))
    return model, summary
