"""The classification scores every keras_har route reports.

One macro-F1 for cross-validation, tuning, the SSL study and the export
report: `macro_f1`, scikit-learn's ``f1_score(average="macro")``, as the
official TinierHAR code computes it. It averages over the classes present in
the true labels or the predictions, so a test fold that lacks a class (and
never predicts it) is not charged a zero for it.

Where a fixed label set is really meant (a class never seen still counts as
F1 = 0), `macro_f1_over_labels` says so in its name. The two agree whenever
every class occurs in ``y_true`` or ``y_pred``.
"""

import numpy as np


def _check_labels(y_true, y_pred):
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1 or len(y_true) == 0:
        raise ValueError(
            "`y_true` and `y_pred` must be non-empty 1-D arrays of the same length. "
            f"Received: y_true.shape={y_true.shape}, y_pred.shape={y_pred.shape}"
        )
    return y_true.astype("int64"), y_pred.astype("int64")


def macro_f1(y_true, y_pred):
    """Macro-averaged F1 over the classes present in ``y_true`` or ``y_pred``.

    scikit-learn's ``f1_score(y_true, y_pred, average="macro")``, the
    definition of the official TinierHAR code. Every present class has a
    defined F1 (``2 TP / (2 TP + FP + FN)`` with a non-zero denominator), so
    the result carries no zero-division convention.

    Args:
        y_true: integer labels ``(N,)``.
        y_pred: predicted labels, same shape.

    Returns:
        A float in ``[0, 1]``.

    Example:
    >>> import keras_har.metrics
    >>> keras_har.metrics.macro_f1([0, 0, 1], [0, 0, 1])   # class 2 absent: not counted
    1.0
    """
    from sklearn.metrics import f1_score

    y_true, y_pred = _check_labels(y_true, y_pred)
    return float(f1_score(y_true, y_pred, average="macro", zero_division=0))


def macro_f1_over_labels(y_true, y_pred, num_classes):
    """Macro-averaged F1 over the fixed label set ``0 .. num_classes - 1``.

    A class absent from both ``y_true`` and ``y_pred`` scores F1 = 0 and still
    counts in the mean, so this is never above `macro_f1` and is lower as soon
    as a class is missing. Use it only where a fixed label set is meant; the
    reported macro-F1 of keras_har is `macro_f1`.

    Args:
        y_true: integer labels ``(N,)`` in ``[0, num_classes)``.
        y_pred: predicted labels, same shape.
        num_classes: K, the size of the label set.

    Returns:
        A float in ``[0, 1]``.

    Example:
    >>> import keras_har.metrics
    >>> keras_har.metrics.macro_f1_over_labels([0, 0, 1], [0, 0, 1], 3)   # class 2 counts as 0
    0.6666666666666666
    """
    from sklearn.metrics import f1_score

    y_true, y_pred = _check_labels(y_true, y_pred)
    return float(f1_score(y_true, y_pred, average="macro", labels=np.arange(num_classes), zero_division=0))


def classification_scores(y_true, y_pred, num_classes):
    """Accuracy, macro-F1, weighted-F1 and the confusion matrix.

    ``macro_f1`` is `macro_f1` (over the classes present); ``weighted_f1`` is
    scikit-learn's ``f1_score(average="weighted")``.

    Args:
        y_true: integer labels ``(N,)`` in ``[0, num_classes)``.
        y_pred: predicted labels, same shape.
        num_classes: K, the size of the confusion matrix.

    Returns:
        A dict with ``accuracy``, ``macro_f1``, ``weighted_f1`` (floats) and
        ``confusion`` (``(K, K)`` int64 array, rows are true classes).

    Example:
    >>> import keras_har.metrics
    >>> keras_har.metrics.classification_scores([0, 1, 1], [0, 1, 0], 2)["accuracy"]
    0.6666666666666666
    """
    from sklearn.metrics import f1_score

    y_true, y_pred = _check_labels(y_true, y_pred)
    for name, labels in (("y_true", y_true), ("y_pred", y_pred)):
        if labels.min() < 0 or labels.max() >= num_classes:
            raise ValueError(
                f"`{name}` must hold labels in [0, {num_classes}). "
                f"Received: {name} range=[{labels.min()}, {labels.max()}]"
            )
    confusion = np.zeros((num_classes, num_classes), dtype="int64")
    np.add.at(confusion, (y_true, y_pred), 1)
    return {
        "accuracy": float(np.trace(confusion) / len(y_true)),
        "macro_f1": macro_f1(y_true, y_pred),
        "weighted_f1": float(f1_score(y_true, y_pred, average="weighted", zero_division=0)),
        "confusion": confusion,
    }


def model_macro_f1(model, windows, labels, *, batch_size=512):
    """`macro_f1` of a logits (or probabilities) model's argmax on ``windows``.

    Args:
        model: a Keras model whose last axis scores the classes.
        windows: ``(N, T, C)`` inputs.
        labels: ``(N,)`` integer labels.
        batch_size: prediction batch size (memory only; the score does not
            depend on it).

    Returns:
        A float in ``[0, 1]``.
    """
    predictions = np.argmax(model.predict(windows, batch_size=batch_size, verbose=0), axis=-1)
    return macro_f1(labels, predictions)
