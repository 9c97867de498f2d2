"""Each HAR augmentation does what it claims, on tiny windows."""

import numpy as np
import pytest

from keras_har.ssl import Augmenter, augmentations as aug


def _windows(shape=(4, 20, 6), seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def test_jitter_adds_gaussian_noise_of_sigma():
    x = _windows()
    expected = x + np.random.default_rng(5).normal(0.0, 0.2, size=x.shape)
    np.testing.assert_allclose(aug.jitter(x, np.random.default_rng(5), sigma=0.2), expected, rtol=1e-6)


def test_scaling_uses_one_factor_per_window_and_channel():
    x = _windows()
    factors = np.random.default_rng(3).normal(1.0, 0.1, size=(4, 1, 6))
    np.testing.assert_allclose(aug.scaling(x, np.random.default_rng(3)), x * factors, rtol=1e-6)


def test_rotation_turns_every_triplet_by_the_same_rotation():
    x = np.zeros((2, 3, 6), "float32")
    x[:, :, :3] = np.eye(3)  # accelerometer: the three unit vectors at t = 0, 1, 2
    x[:, :, 3:] = 2 * np.eye(3)  # gyroscope: the same, scaled
    rotated = aug.rotation(x, np.random.default_rng(0))
    for window in rotated:
        matrix = window[:, :3].T  # columns: images of the unit vectors
        np.testing.assert_allclose(matrix @ matrix.T, np.eye(3), atol=1e-5)
        assert np.linalg.det(matrix) == pytest.approx(1.0, abs=1e-5)
        np.testing.assert_allclose(window[:, 3:], 2 * window[:, :3], atol=1e-5)
    assert not np.allclose(rotated[0], x[0])


def test_rotation_keeps_the_norm_of_each_triplet():
    x = _windows()
    rotated = aug.rotation(x, np.random.default_rng(1))
    norms = lambda w: np.linalg.norm(w.reshape(4, 20, 2, 3), axis=-1)  # noqa: E731
    np.testing.assert_allclose(norms(rotated), norms(x), rtol=1e-5)


def test_rotation_needs_channel_triplets():
    with pytest.raises(ValueError, match="Received: channels=4"):
        aug.rotation(np.zeros((1, 5, 4)), np.random.default_rng(0))


def test_permutation_reorders_contiguous_segments():
    x = np.tile(np.arange(40, dtype="float32")[None, :, None], (3, 1, 2))
    permuted = aug.permutation(x, np.random.default_rng(0), num_segments=4)
    for window in permuted[:, :, 0]:
        np.testing.assert_array_equal(np.sort(window), np.arange(40))
        assert np.count_nonzero(np.diff(window) != 1) <= 3  # at most 3 cuts between 4 runs
    np.testing.assert_array_equal(permuted[:, :, 0], permuted[:, :, 1])
    assert not np.array_equal(permuted, x)


def test_time_warp_keeps_end_points_and_order():
    ramp = np.tile(np.linspace(0, 1, 50, dtype="float32")[None, :, None], (3, 1, 2))
    warped = aug.time_warp(ramp, np.random.default_rng(0), sigma=0.3)
    np.testing.assert_allclose(warped[:, [0, -1]], ramp[:, [0, -1]], atol=1e-6)
    assert (np.diff(warped, axis=1) >= -1e-7).all()
    assert not np.allclose(warped, ramp, atol=1e-3)
    x = _windows()
    np.testing.assert_allclose(aug.time_warp(x, np.random.default_rng(0), sigma=0.0), x, atol=1e-5)


def test_channel_shuffle_permutes_whole_channels():
    x = _windows()
    shuffled = aug.channel_shuffle(x, np.random.default_rng(0))
    for before, after in zip(x, shuffled):
        sources = [int(np.flatnonzero((before == after[:, [c]]).all(axis=0))[0]) for c in range(6)]
        assert sorted(sources) == list(range(6))
    assert not np.array_equal(shuffled, x)


def test_augmenter_probability_zero_changes_nothing_and_one_changes_all():
    x = _windows()
    np.testing.assert_array_equal(Augmenter(["jitter"], probability=0.0, seed=0)(x), x)
    changed = Augmenter(["jitter"], probability=1.0, seed=0)(x)
    assert (np.abs(changed - x).reshape(4, -1).max(axis=1) > 0).all()


def test_augmenter_rejects_unknown_names():
    with pytest.raises(ValueError, match=r"Received: transforms=\['flip'\]"):
        Augmenter(["flip"])
