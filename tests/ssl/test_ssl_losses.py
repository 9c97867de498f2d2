"""The pretext losses against numpy computations on tiny inputs."""

import numpy as np
import pytest

from keras_har import ssl


def _log_softmax(logits):
    logits = logits - logits.max(axis=-1, keepdims=True)
    return logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))


def test_info_nce_matches_numpy():
    rng = np.random.default_rng(0)
    predictions = rng.normal(size=(3, 2, 4)).astype("float32")
    targets = rng.normal(size=(3, 2, 4)).astype("float32")
    expected = []
    for step in range(2):
        logits = predictions[:, step] @ targets[:, step].T  # (window, candidate future)
        expected.append(-np.diag(_log_softmax(logits)).mean())
    np.testing.assert_allclose(float(ssl.info_nce_loss(predictions, targets)), np.mean(expected), rtol=1e-5)


def test_info_nce_hand_value():
    # Two windows, one step, orthogonal futures: logits [[1, 0], [0, 1]].
    futures = np.array([[[1.0, 0.0]], [[0.0, 1.0]]], "float32")
    expected = np.log(1 + np.exp(-1.0))
    np.testing.assert_allclose(float(ssl.info_nce_loss(futures, futures)), expected, rtol=1e-6)


def test_nt_xent_matches_numpy():
    rng = np.random.default_rng(1)
    view_a = rng.normal(size=(4, 5)).astype("float32")
    view_b = rng.normal(size=(4, 5)).astype("float32")
    both = np.concatenate([view_a, view_b])
    both /= np.linalg.norm(both, axis=1, keepdims=True)
    logits = both @ both.T / 0.5
    np.fill_diagonal(logits, -np.inf)
    positives = np.r_[np.arange(4, 8), np.arange(4)]
    expected = -_log_softmax(logits)[np.arange(8), positives].mean()
    np.testing.assert_allclose(float(ssl.nt_xent_loss(view_a, view_b, temperature=0.5)), expected, rtol=1e-5)


def test_nt_xent_two_views_of_one_window_beat_unrelated_windows():
    rng = np.random.default_rng(2)
    windows = rng.normal(size=(8, 16)).astype("float32")
    other_view = windows + rng.normal(scale=0.1, size=windows.shape).astype("float32")
    unrelated = rng.normal(size=(8, 16)).astype("float32")
    same = float(ssl.nt_xent_loss(windows, other_view))
    different = float(ssl.nt_xent_loss(windows, unrelated))
    assert same < 0.1 < different


def test_nt_xent_rejects_bad_temperature():
    with pytest.raises(ValueError, match="Received: temperature=0"):
        ssl.nt_xent_loss(np.ones((2, 2)), np.ones((2, 2)), temperature=0)


def test_reconstruction_loss_is_mean_squared_error():
    windows = np.arange(12, dtype="float32").reshape(1, 4, 3)
    reconstructions = windows + np.array([1.0, -2.0, 0.0], "float32")
    assert float(ssl.reconstruction_loss(windows, reconstructions)) == pytest.approx(5.0 / 3.0)
