"""Pretext losses: InfoNCE (CPC), NT-Xent (SimCLR) and reconstruction MSE.

Each takes batched tensors and returns a scalar mean loss, so that the
pretext models and the unit tests (which compare with numpy) share one
definition.
"""

from keras_har.backend import tf


def info_nce_loss(predictions, targets):
    """CPC's InfoNCE loss for one prediction step.

    For each time step ``s``, the prediction for window ``b`` is scored
    against the true future encodings of every window in the batch; the
    window's own future is the positive, the other windows' futures at the
    same time step are the negatives (as in Haresamudram et al.'s CPC for
    HAR). The loss is the cross-entropy of picking the positive, averaged over
    windows and time steps.

    Args:
        predictions: ``(batch, steps, dim)``, ``W_k c_t`` for each step ``t``.
        targets: ``(batch, steps, dim)``, the encodings ``z_{t+k}``.

    Returns:
        A scalar tensor.

    Example:
    >>> import numpy as np
    >>> import keras_har
    >>> z = np.eye(3, dtype="float32")[:, None, :] * 10
    >>> float(keras_har.ssl.info_nce_loss(z, z)) < 1e-3
    True
    """
    predictions = tf.convert_to_tensor(predictions, tf.float32)
    targets = tf.convert_to_tensor(targets, tf.float32)
    # logits[s, b, c] = <prediction of window b, true future of window c> at step s
    logits = tf.einsum("bsd,csd->sbc", predictions, targets)
    batch = tf.shape(logits)[1]
    labels = tf.broadcast_to(tf.range(batch)[None, :], tf.shape(logits)[:2])
    losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    return tf.reduce_mean(losses)


def nt_xent_loss(view_a, view_b, temperature=0.1):
    """SimCLR's normalised temperature-scaled cross-entropy (NT-Xent).

    The ``2B`` projections are L2-normalised; each one's positive is the other
    view of the same window, and its negatives are the other ``2B - 2``
    projections. Similarities are cosines divided by ``temperature``.

    Args:
        view_a: ``(batch, dim)`` projections of the first views.
        view_b: ``(batch, dim)`` projections of the second views.
        temperature: softmax temperature, > 0.

    Returns:
        A scalar tensor: the mean over all ``2B`` anchors.

    Example:
    >>> import numpy as np
    >>> import keras_har
    >>> a = np.eye(4, dtype="float32")
    >>> bool(keras_har.ssl.nt_xent_loss(a, a) < keras_har.ssl.nt_xent_loss(a, a[::-1]))
    True
    """
    if not float(temperature) > 0:
        raise ValueError(f"`temperature` must be > 0. Received: temperature={temperature!r}")
    view_a = tf.math.l2_normalize(tf.convert_to_tensor(view_a, tf.float32), axis=-1)
    view_b = tf.math.l2_normalize(tf.convert_to_tensor(view_b, tf.float32), axis=-1)
    both = tf.concat([view_a, view_b], axis=0)
    batch = tf.shape(view_a)[0]
    logits = tf.matmul(both, both, transpose_b=True) / temperature
    # An anchor is never its own negative: push self-similarity out of the softmax.
    logits -= tf.eye(2 * batch) * 1e9
    labels = tf.concat([tf.range(batch, 2 * batch), tf.range(batch)], axis=0)
    losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    return tf.reduce_mean(losses)


def reconstruction_loss(windows, reconstructions):
    """Mean squared error between windows and their reconstructions.

    Example:
    >>> import numpy as np
    >>> import keras_har
    >>> float(keras_har.ssl.reconstruction_loss(np.zeros((1, 2, 2)), np.ones((1, 2, 2))))
    1.0
    """
    windows = tf.convert_to_tensor(windows, tf.float32)
    reconstructions = tf.convert_to_tensor(reconstructions, tf.float32)
    return tf.reduce_mean(tf.square(windows - reconstructions))
