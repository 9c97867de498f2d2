"""The checks every route into training applies to windows, labels and subjects.

One implementation, used by `keras_har.datasets.HARDataset` (also what the
tuner searches on), the `.npz` reader, the self-supervised
loaders and the export, so that the same bad input gets the same clear error
whichever command it reaches:

- windows must be finite: a NaN or infinite value is refused with the array's
  name and the first bad index, instead of training on it and reporting a
  meaningless score;
- labels must be integer class indices `0..K-1`: labels that count from 1 are
  refused rather than silently training a `K+1`-class model, and text labels
  are refused by name (map them to indices, and keep the names as
  `class_names`);
- subject ids must be integers (text ids are refused by name).

This module imports neither TensorFlow nor Keras.
"""

import os
import zipfile

import numpy as np


def check_finite(array, name):
    """Raises ValueError if `array` holds a NaN or infinite value.

    Args:
        array: any numeric array, e.g. windows `(N, T, C)`.
        name: the array's name, for the message (`"x"`, `"test_windows"`).

    Raises:
        ValueError: naming `name`, the first bad index (a window index for a
            3-D array) and how many values are bad.

    Example:
        >>> import numpy as np
        >>> from keras_har.datasets.validation import check_finite
        >>> check_finite(np.zeros((2, 4, 3)), "x")
        >>> check_finite(np.array([[0.0], [np.nan]]), "x")
        Traceback (most recent call last):
        ...
        ValueError: `x` holds NaN or infinite values (1 of 2), first at index 1 (position (1, 0)). ...
    """
    array = np.asarray(array)
    if array.dtype.kind not in "fc":
        if array.dtype.kind in "iub":
            return
        raise ValueError(f"`{name}` must hold numbers. Received: {name}.dtype={array.dtype}")
    bad = ~np.isfinite(array)
    if not bad.any():
        return
    position = tuple(int(i) for i in np.argwhere(bad)[0])
    raise ValueError(
        f"`{name}` holds NaN or infinite values ({int(bad.sum())} of {bad.size}), first at index "
        f"{position[0]} (position {position}). Training or scoring on them gives meaningless results; "
        f"repair or drop those windows. Received: {name}[{position[0]}] holds a non-finite value"
    )


def _is_text(array):
    return array.dtype.kind in "USO"


def check_labels(y, name="y", *, num_classes=None):
    """Checks class labels and returns them as int64.

    The rule for every route: labels are integer class indices `0..K-1`.
    With `num_classes` (the dataset names its classes) every label must be
    below it. Without it `K` is `max(y) + 1`, so every index `0..max(y)`
    must occur: a class with no window at all means labels that do not count
    from 0 (1-based labels would otherwise train a model with one dead extra
    class).

    Args:
        y: labels, shape `(N,)`.
        name: the array's name, for the message.
        num_classes: the number of classes `K`, or None to infer it.

    Returns:
        `y` as an int64 array.

    Raises:
        ValueError: text or fractional labels, negative labels, labels not
            below `num_classes`, or (without `num_classes`) missing indices.

    Example:
        >>> from keras_har.datasets.validation import check_labels
        >>> check_labels([0, 1, 1, 2]).tolist()
        [0, 1, 1, 2]
        >>> check_labels([1, 2, 3])
        Traceback (most recent call last):
        ...
        ValueError: `y` must hold class indices 0..K-1 ...
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"`{name}` must be a 1-D array of class indices. Received: {name}.shape={y.shape}")
    if _is_text(y):
        sample = sorted({str(v) for v in y[:1000]})[:3]
        raise ValueError(
            f"`{name}` must hold integer class indices 0..K-1, not text. Map each class name to its index and "
            f"pass the names as `class_names` (a CSV folder with a metadata file does this for you; see the "
            f"README). Received: {name} values such as {sample}"
        )
    y = _integers(y, name, "class indices")
    if not len(y):
        return y
    if y.min() < 0:
        bad = int(np.flatnonzero(y < 0)[0])
        raise ValueError(
            f"`{name}` must hold class indices 0..K-1. Received: {name}[{bad}]={int(y[bad])}"
        )
    if num_classes is not None:
        if y.max() >= num_classes:
            bad = int(np.flatnonzero(y >= num_classes)[0])
            raise ValueError(
                f"`{name}` must hold class indices in [0, {num_classes}) for the {num_classes} classes. "
                f"Received: {name}[{bad}]={int(y[bad])}"
            )
        return y
    missing = sorted(set(range(int(y.max()) + 1)) - set(np.unique(y).tolist()))
    if missing:
        hint = " They look 1-based: subtract 1." if missing == [0] else ""
        raise ValueError(
            f"`{name}` must hold class indices 0..K-1 with every class present, or the dataset must name its "
            f"classes; class indices {missing[:10]} have no window, so a {int(y.max()) + 1}-class model would "
            f"be trained with dead outputs.{hint} Received: {name} values {np.unique(y)[:10].tolist()}"
        )
    return y


def check_subjects(subjects, name="subjects"):
    """Checks subject ids (integers) and returns them as int64.

    Example:
        >>> from keras_har.datasets.validation import check_subjects
        >>> check_subjects([3, 3, 7]).tolist()
        [3, 3, 7]
    """
    subjects = np.asarray(subjects)
    if _is_text(subjects):
        sample = sorted({str(v) for v in subjects[:1000]})[:3]
        raise ValueError(
            f"`{name}` must hold integer subject ids, not text. Number your subjects (a CSV folder maps "
            f"subject names to numbers for you; see the README). Received: {name} values such as {sample}"
        )
    return _integers(subjects, name, "subject ids")


def _integers(values, name, what):
    """``values`` as int64: floats must be finite whole numbers, other non-integer dtypes are refused."""
    if values.dtype.kind == "f":
        check_finite(values, name)
        if len(values) and not np.all(values == np.round(values)):
            bad = int(np.flatnonzero(values != np.round(values))[0])
            raise ValueError(f"`{name}` must hold integer {what}. Received: {name}[{bad}]={values[bad]!r}")
    elif values.dtype.kind not in "iub":
        raise ValueError(f"`{name}` must hold integer {what}. Received: {name}.dtype={values.dtype}")
    return values.astype(np.int64)


def open_npz(path, argument="dataset"):
    """Opens an `.npz` file with pickling off, with a clear error for anything else.

    Args:
        path: the file.
        argument: the argument it came from, for the message.

    Returns:
        A dict of the arrays in the file.

    Raises:
        FileNotFoundError: no such file.
        ValueError: "not an .npz archive: PATH", or an array that holds
            Python objects (named).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No such .npz file: {path}. Received: {argument}={path!r}")
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"not an .npz archive: {path} (expected a file written by numpy.savez). Received: {argument}={path!r}"
        )
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {}
            for key in archive.files:
                try:
                    arrays[key] = archive[key]
                except ValueError as error:
                    raise ValueError(
                        f"{path}: array {key!r} holds Python objects, which keras_har does not unpickle; "
                        f"save it as numbers or fixed-width strings (numpy.asarray(values, dtype=str)). "
                        f"Received: {argument}={path!r}"
                    ) from error
    except (OSError, zipfile.BadZipFile, EOFError) as error:
        raise ValueError(f"not an .npz archive: {path} ({error}). Received: {argument}={path!r}") from error
    return arrays
