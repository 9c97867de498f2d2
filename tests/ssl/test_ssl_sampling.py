"""Variance-weighted sampling of unlabelled windows, resampling and pooling datasets."""

import numpy as np
import pytest

from keras_har import ssl
from keras_har.datasets import HARDataset


def test_probabilities_are_proportional_to_summed_variance():
    windows = np.zeros((3, 4, 2), "float32")
    windows[1, :, 0] = [0, 1, 0, 1]  # variance 0.25
    windows[2, :, 0] = [0, 2, 0, 2]  # variance 1
    windows[2, :, 1] = [0, 1, 0, 1]  # + 0.25
    np.testing.assert_allclose(ssl.variance_sampling_probabilities(windows), [0.0, 0.25 / 1.5, 1.25 / 1.5])


def test_only_acceleration_channels_count():
    windows = np.zeros((2, 4, 2), "float32")
    windows[0, :, 0] = [0, 1, 0, 1]
    windows[1, :, 1] = [0, 9, 0, 9]  # large variance on a channel that is not scored
    np.testing.assert_allclose(ssl.variance_sampling_probabilities(windows, acceleration_channels=[0]), [1.0, 0.0])


def test_constant_windows_are_drawn_uniformly():
    np.testing.assert_allclose(ssl.variance_sampling_probabilities(np.ones((4, 3, 1))), [0.25] * 4)


def test_sampler_draws_ten_percent_without_duplicates_and_redraws_each_epoch():
    windows = np.random.default_rng(0).normal(size=(500, 8, 3)).astype("float32")
    sampler = ssl.VarianceSampler(windows, batch_size=16, seed=0)
    first = sampler.indices.copy()
    assert len(first) == 50 and len(np.unique(first)) == 50
    assert len(sampler) == 4 and sampler[3].shape == (2, 8, 3)
    np.testing.assert_array_equal(np.concatenate([sampler[i] for i in range(4)]), windows[first])
    sampler.on_epoch_end()
    assert not np.array_equal(sampler.indices, first)


def test_sampler_frequencies_follow_variance():
    rng = np.random.default_rng(0)
    windows = rng.normal(size=(1000, 16, 3)).astype("float32")
    windows[:500] /= windows[:500].std(axis=1, keepdims=True)  # summed variance 3
    windows[500:] *= 3 ** 0.5 / windows[500:].std(axis=1, keepdims=True)  # summed variance 9
    windows[:10] = 0.0  # still windows are never drawn
    sampler = ssl.VarianceSampler(windows, fraction=0.01, seed=1)
    counts = np.zeros(1000)
    for _ in range(3000):
        counts[sampler.indices] += 1
        sampler.on_epoch_end()
    assert counts[:10].sum() == 0
    assert counts[500:].mean() / counts[10:500].mean() == pytest.approx(3.0, rel=0.06)


def test_sampler_rejects_bad_fraction():
    with pytest.raises(ValueError, match="Received: fraction=0"):
        ssl.VarianceSampler(np.ones((4, 3, 1)), fraction=0)


def test_resample_windows_keeps_a_slow_sine():
    time_100 = np.arange(400) / 100.0
    windows = np.sin(2 * np.pi * 2.0 * time_100)[None, :, None]
    resampled = ssl.resample_windows(windows, 100, 50)
    assert resampled.shape == (1, 200, 1)
    expected = np.sin(2 * np.pi * 2.0 * np.arange(200) / 50.0)
    np.testing.assert_allclose(resampled[0, 20:-20, 0], expected[20:-20], atol=1e-2)


def _dataset(name, rate, steps, channels):
    return HARDataset(
        name=name, X=np.ones((3, steps, len(channels)), "float32"), y=np.zeros(3), subjects=np.arange(3),
        class_names=["a"], channel_names=channels, sampling_rate_hz=rate, window_sec=steps / rate, step_sec=1.0,
    )


def test_pool_windows_puts_datasets_on_one_rate_window_and_channel_set():
    slow = _dataset("slow", 50.0, 100, ["acc_x", "acc_y", "acc_z"])
    fast = _dataset("fast", 100.0, 240, ["gyro_x", "acc_z", "acc_y", "acc_x"])
    fast.X[:, :, 3] = 7.0  # acc_x of the fast dataset
    pooled = ssl.pool_windows([slow, fast], 50.0, 100, channels=["acc_x", "acc_y", "acc_z"])
    assert pooled.shape == (6, 100, 3) and pooled.dtype == np.float32
    np.testing.assert_allclose(pooled[3:, 20:-20, 0], 7.0, rtol=1e-3)


def test_pool_windows_errors_name_the_problem():
    slow = _dataset("slow", 50.0, 100, ["acc_x"])
    with pytest.raises(ValueError, match=r"no channels \['gyro_x'\]"):
        ssl.pool_windows([slow], 50.0, 100, channels=["gyro_x"])
    with pytest.raises(ValueError, match="Received: window_length=150"):
        ssl.pool_windows([slow], 50.0, 150)
