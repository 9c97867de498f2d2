"""Pretraining a pretext model on unlabelled windows, and saving what it learnt."""

import hashlib
import json
import pathlib

import numpy as np

from keras_har import atomic, run_settings
from keras_har.backend import keras
from keras_har.ssl.cpc import CPC
from keras_har.ssl.multi_task import MultiTask
from keras_har.ssl.reconstruction import Reconstruction
from keras_har.ssl.sampling import VarianceSampler
from keras_har.ssl.sim_clr import SimCLR
from keras_har.training import build_optimizer, load_model, save_model_atomic

PRETEXTS = {"cpc": CPC, "reconstruction": Reconstruction, "multitask": MultiTask, "simclr": SimCLR}
ENCODER_FILE = "encoder.keras"
PRETEXT_FILE = "pretext.keras"
METADATA_FILE = "pretrain.json"


def get_pretext_class(name):
    """The pretext model class for ``"cpc"``, ``"reconstruction"``, ``"multitask"`` or ``"simclr"``."""
    key = str(name).lower().replace("_", "").replace("-", "")
    if key not in PRETEXTS:
        raise ValueError(f"Unknown pretext. Known pretexts: {sorted(PRETEXTS)}. Received: pretext={name!r}")
    return PRETEXTS[key]


def pretrain(
    pretext,
    windows,
    *,
    epochs=20,
    batch_size=64,
    fraction=0.1,
    learning_rate=1e-3,
    acceleration_channels=None,
    weighted=True,
    seed=None,
    patience=0,
    checkpoint=None,
    verbose=1,
    callbacks=None,
):
    """Trains a pretext model on unlabelled windows, resumably.

    Each epoch sees a fresh draw of ``fraction`` of the windows, weighted by
    acceleration variance (`keras_har.ssl.VarianceSampler`), as Dumbrava et
    al. (arXiv:2307.01168) do on Capture-24.

    With ``checkpoint``, the state after every epoch (weights, the Adam
    state, the sampler's generator, the early-stopping state and the loss so
    far) is written atomically to that ``.npz`` file, and a later call with
    the same file continues from the last finished epoch instead of starting
    over; a call whose run had already finished trains nothing and returns
    its result. A checkpoint written with other settings (another pretext
    configuration, windows, or any argument below but ``verbose`` and
    ``callbacks``) is refused. A resumed run draws the same windows as an
    uninterrupted one, and reaches the same weights bit for bit when nothing
    inside the model draws random numbers (tested for CPC on TinierHAR's
    backbone). Dropout (the CNN+GRU encoder has some) and SimCLR's
    augmentations are not restored: a resumed run continues the same
    training with other random draws.

    Args:
        pretext: a `keras_har.ssl.PretextModel` (CPC, Reconstruction, ...).
        windows: ``(N, T, C)`` unlabelled, standardised windows.
        epochs: pretraining epochs.
        batch_size: windows per batch.
        fraction: share of the windows drawn per epoch.
        learning_rate: Adam learning rate.
        acceleration_channels: channel indices scored for sampling (all when None).
        weighted: False draws windows uniformly.
        seed: seed of the sampler.
        patience: stop after this many epochs without a lower pretext loss
            and keep the weights of the lowest one (0: run every epoch).
        checkpoint: path of the ``.npz`` resume file, or None.
        verbose: Keras progress bar setting.
        callbacks: Keras callbacks.

    Returns:
        A Keras ``History`` whose ``history["loss"]`` holds every epoch's
        pretext loss, those of earlier calls included when resumed.

    Example:
    >>> import numpy as np
    >>> import keras_har
    >>> model = keras_har.ssl.Reconstruction(keras_har.TinierHARBackbone(input_shape=(32, 3)))
    >>> history = keras_har.ssl.pretrain(model, np.random.rand(64, 32, 3), epochs=1, fraction=0.5, verbose=0)
    >>> len(history.history["loss"])
    1
    """
    if not isinstance(patience, int) or patience < 0:
        raise ValueError(f"`patience` must be a non-negative integer. Received: patience={patience!r}")
    sampler = VarianceSampler(
        windows,
        batch_size=batch_size,
        fraction=fraction,
        acceleration_channels=acceleration_channels,
        weighted=weighted,
        seed=seed,
    )
    pretext.compile(optimizer=keras.optimizers.Adam(learning_rate))
    build_optimizer(pretext)
    stopping = None
    if patience:
        stopping = keras.callbacks.EarlyStopping(monitor="loss", patience=patience, restore_best_weights=True)
    callbacks = list(callbacks or []) + ([stopping] if stopping else [])
    state = None
    if checkpoint is not None:
        settings = {
            "pretext": type(pretext).__name__, "config": _jsonable(pretext.get_config()),
            "windows": list(sampler.windows.shape), "windows_sha256": arrays_fingerprint([sampler.windows]),
            "epochs": epochs, "batch_size": batch_size, "fraction": fraction, "learning_rate": learning_rate,
            "acceleration_channels": acceleration_channels, "weighted": weighted, "seed": seed, "patience": patience,
        }
        state = _PretrainCheckpoint(checkpoint, pretext, settings, sampler, stopping)
        callbacks.append(state)
        if state.restore():
            return state.finished_history()
    initial_epoch = len(state.loss) if state else 0
    history = pretext.fit(sampler, epochs=epochs, initial_epoch=initial_epoch, verbose=verbose,
                          callbacks=callbacks, shuffle=False)
    if state and state.loss:
        history.history["loss"] = list(state.loss)
        history.epoch = list(range(len(state.loss)))
    return history


def arrays_fingerprint(arrays):
    """A short hash of arrays' bytes, in order: a resume refuses other windows or another encoder."""
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:16]


class _PretrainCheckpoint(keras.callbacks.Callback):
    """Writes and restores `pretrain`'s state: one ``.npz`` per epoch, atomically.

    It runs after the early-stopping callback, so the state it writes holds
    that epoch's early-stopping decision, and it puts the early-stopping
    state back after Keras resets it at the start of ``fit``.
    """

    def __init__(self, path, pretext, settings, sampler, stopping):
        super().__init__()
        self.pretext = pretext
        self.path = pathlib.Path(path)
        if self.path.suffix != ".npz":
            raise ValueError(f"`checkpoint` must be a path ending in .npz. Received: checkpoint={str(path)!r}")
        self.settings = json.loads(json.dumps(settings))
        self.sampler = sampler
        self.stopping = stopping
        self.loss = []
        self._stopping_state = None

    def restore(self):
        """Loads the file if there is one into the model; True when its run had already finished."""
        if not self.path.is_file():
            return False
        try:
            with np.load(self.path, allow_pickle=False) as stored:
                record = json.loads(str(stored["state"]))
                arrays = {key: stored[key] for key in stored.files if key != "state"}
        except (OSError, ValueError, KeyError) as error:
            raise ValueError(f"{self.path} is not a pretraining checkpoint that keras_har can read: {error}") from error
        run_settings.compare(record["settings"], self.settings, where=str(self.path),
                             holds="the checkpoint of a pretraining with other settings",
                             remedy="pass another checkpoint path, or delete this file to start over")
        model = self.pretext
        model.set_weights(_unpack(arrays, "weight", record["weights"]))
        for variable, value in zip(model.optimizer.variables, _unpack(arrays, "optimizer", record["optimizer"])):
            variable.assign(value)
        self.sampler.rng.bit_generator.state = record["sampler_rng"]
        self.sampler.on_epoch_end()
        self.loss = list(record["loss"])
        if self.stopping is not None:
            self._stopping_state = dict(record["early_stopping"], best_weights=(
                _unpack(arrays, "best", record["best_weights"]) if record["best_weights"] else None))
        return record["stopped"] or len(self.loss) >= self.settings["epochs"]

    def finished_history(self):
        """The history of a finished run, with its final weights (the best ones under early stopping)."""
        best = (self._stopping_state or {}).get("best_weights")
        if best is not None:
            self.pretext.set_weights(best)
        history = keras.callbacks.History()
        history.history = {"loss": list(self.loss)}
        history.epoch = list(range(len(self.loss)))
        return history

    def on_train_begin(self, logs=None):
        if self.stopping is not None and self._stopping_state is not None:
            for key, value in self._stopping_state.items():
                setattr(self.stopping, key, value)

    def on_epoch_end(self, epoch, logs=None):
        self.loss.append(float(logs["loss"]))
        weights = self.model.get_weights()
        optimizer = [np.asarray(v) for v in self.model.optimizer.variables]
        best = self.stopping.best_weights if self.stopping is not None else None
        record = {
            "settings": self.settings, "loss": self.loss, "stopped": bool(self.model.stop_training),
            "sampler_rng": self.sampler.rng.bit_generator.state,
            "weights": len(weights), "optimizer": len(optimizer), "best_weights": len(best or []),
            "early_stopping": None if self.stopping is None else {
                "wait": int(self.stopping.wait), "best": float(self.stopping.best),
                "best_epoch": int(self.stopping.best_epoch), "stopped_epoch": int(self.stopping.stopped_epoch)},
        }
        arrays = {"state": np.asarray(json.dumps(record))}
        arrays.update(_pack("weight", weights))
        arrays.update(_pack("optimizer", optimizer))
        arrays.update(_pack("best", best or []))
        with atomic.atomic_path(self.path) as temporary:
            np.savez(temporary, **arrays)


def _pack(prefix, arrays):
    return {f"{prefix}_{i}": np.asarray(a) for i, a in enumerate(arrays)}


def _unpack(arrays, prefix, count):
    return [arrays[f"{prefix}_{i}"] for i in range(count)]


def save_pretrained(pretext, directory, metadata=None):
    """Writes ``encoder.keras`` (the feature extractor), ``pretext.keras`` and ``pretrain.json``.

    ``encoder.keras`` is what `keras_har.ssl.build_classifier` fine-tunes:
    window -> encoder -> projection, 256 features. ``pretext.keras`` keeps
    the pretext heads, for fine-tuning with the pretext loss still running.
    Each file is written to a temporary name and moved into place.

    Returns:
        The directory as a `pathlib.Path`.
    """
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_model_atomic(pretext.feature_model(), directory / ENCODER_FILE)
    save_model_atomic(pretext, directory / PRETEXT_FILE)
    record = {"pretext": type(pretext).__name__, "config": _jsonable(pretext.get_config())}
    record.update(_jsonable(metadata or {}))
    atomic.write_json(directory / METADATA_FILE, record)
    return directory


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def _existing(directory, file_name):
    path = pathlib.Path(directory) / file_name
    if not path.is_file():
        raise FileNotFoundError(
            f"No {file_name} in the pretrained directory (written by `keras-har pretrain`). "
            f"Received: encoder={str(directory)!r}"
        )
    return path


def load_encoder(directory):
    """Loads ``encoder.keras`` from a `save_pretrained` directory (safe mode)."""
    return load_model(_existing(directory, ENCODER_FILE), argument="encoder")


def load_pretext(directory):
    """Loads ``pretext.keras`` from a `save_pretrained` directory (safe mode)."""
    return load_model(_existing(directory, PRETEXT_FILE), argument="encoder")


def load_metadata(directory):
    """The ``pretrain.json`` record of a `save_pretrained` directory."""
    with open(_existing(directory, METADATA_FILE)) as stream:
        return json.load(stream)
