"""A run's settings, written once and checked on every resume.

A folder that a command fills over several calls (cross-validation folds,
tuning trials) holds results that are only comparable if they were produced
with the same settings. The first call writes the settings as JSON; every
later call compares its own and refuses, naming each difference, rather than
silently mixing results of two different runs.

This module imports neither TensorFlow nor Keras.
"""

import json
import os

from keras_har import atomic


class _Absent:
    """A key that one of two compared settings lacks."""

    def __repr__(self):
        return "(absent)"


_ABSENT = _Absent()


def environment_choice(variable, choices):
    """The value of environment variable ``variable``, one of ``choices`` (unset or empty: the first).

    Case and surrounding spaces are ignored; any other value is refused with
    the variable's name.

    Example:
    >>> import os
    >>> from keras_har.run_settings import environment_choice
    >>> os.environ.pop("KERAS_HAR_EXAMPLE", None)
    >>> environment_choice("KERAS_HAR_EXAMPLE", ("off", "on"))
    'off'
    """
    value = os.environ.get(variable, "").strip().lower() or choices[0]
    if value not in choices:
        raise ValueError(f"{variable} must be one of {list(choices)} (or unset: {choices[0]}). "
                         f"Received: {os.environ[variable]!r}")
    return value


def check_or_write(path, settings, *, holds, remedy, write=True):
    """Writes ``settings`` to ``path``, or checks them against the file already there.

    Args:
        path: the JSON file, inside the run's folder.
        settings: a JSON-serialisable dict.
        holds: what the folder holds, for the message ("folds of a
            different run").
        remedy: what the user can do, for the message.
        write: write the file when it is missing (False for a process that
            only reads, such as a distributed tuning worker).

    Raises:
        ValueError: the file holds other settings; the message lists every
            key that differs and the value asked for now.

    Example:
    >>> import keras_har.run_settings
    >>> keras_har.run_settings.check_or_write("/tmp/keras_har_run.json", {"epochs": 1},
    ...     holds="folds of a different run", remedy="use a new folder")  # doctest: +SKIP
    """
    settings = json.loads(json.dumps(settings))
    if os.path.exists(path):
        with open(path, encoding="utf-8") as file:
            previous = json.load(file)
        compare(previous, settings, where=os.path.dirname(path), holds=holds, remedy=remedy)
        return
    if write:
        atomic.write_json(path, settings)


def compare(previous, settings, *, where, holds, remedy):
    """Refuses, naming every key that differs, when ``settings`` are not the ``previous`` ones.

    Args:
        previous: the stored settings (a dict).
        settings: the settings asked for now (JSON-serialisable).
        where: the folder or file that holds the stored ones, for the message.
        holds: what it holds, for the message.
        remedy: what the user can do, for the message.

    Raises:
        ValueError: the settings differ.

    Example:
    >>> import keras_har.run_settings
    >>> keras_har.run_settings.compare({"epochs": 1}, {"epochs": 2}, where="runs/a", holds="another run",
    ...                                remedy="use a new folder")
    Traceback (most recent call last):
    ...
    ValueError: runs/a holds another run; use a new folder. Differs in: ['epochs'] (stored: epochs=1). Received: epochs=2
    >>> keras_har.run_settings.compare({"epochs": 1}, {"epochs": 1, "units": None}, where="runs/a",
    ...                                holds="another run", remedy="use a new folder")
    Traceback (most recent call last):
    ...
    ValueError: runs/a holds another run; use a new folder. Differs in: ['units'] (stored: units=(absent)). Received: units=None
    """
    settings = json.loads(json.dumps(settings))
    if previous != settings:
        # A key only one side has differs too, even where the other side's value is None.
        changed = sorted(key for key in set(previous) | set(settings)
                         if previous.get(key, _ABSENT) != settings.get(key, _ABSENT))
        raise ValueError(
            f"{where} holds {holds}; {remedy}. Differs in: {changed} (stored: "
            + ", ".join(f"{k}={previous.get(k, _ABSENT)!r}" for k in changed)
            + "). Received: " + ", ".join(f"{k}={settings.get(k, _ABSENT)!r}" for k in changed)
        )
