"""Pretraining a pretext model on unlabelled windows, and saving what it learnt."""

import json
import pathlib

import numpy as np

from keras_har import atomic
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
    verbose=1,
    callbacks=None,
):
    """Trains a pretext model on unlabelled windows.

    Each epoch sees a fresh draw of ``fraction`` of the windows, weighted by
    acceleration variance (`keras_har.ssl.VarianceSampler`), as Dumbrava et
    al. (arXiv:2307.01168) do on Capture-24.

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
        verbose: Keras progress bar setting.
        callbacks: Keras callbacks.

    Returns:
        The Keras ``History``.

    Example:
    >>> import numpy as np
    >>> import keras_har
    >>> model = keras_har.ssl.Reconstruction(keras_har.TinierHARBackbone(input_shape=(32, 3)))
    >>> history = keras_har.ssl.pretrain(model, np.random.rand(64, 32, 3), epochs=1, fraction=0.5, verbose=0)
    >>> len(history.history["loss"])
    1
    """
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
    return pretext.fit(sampler, epochs=epochs, verbose=verbose, callbacks=callbacks, shuffle=False)


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
