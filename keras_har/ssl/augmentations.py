"""Sensor-window augmentations used for contrastive HAR pretraining.

Every function takes a batch of windows ``(batch, T, C)`` and a
``numpy.random.Generator`` and returns a new float32 array of the same shape;
inputs are never modified. The set follows Um et al. (2017) and Tang et al.,
"Exploring Contrastive Learning in Human Activity Recognition for Healthcare"
(2020): jitter, scaling, rotation, permutation, time-warp and channel shuffle.
"""

import numpy as np
from scipy.interpolate import CubicSpline

__all__ = [
    "AUGMENTATIONS",
    "Augmenter",
    "channel_shuffle",
    "jitter",
    "permutation",
    "rotation",
    "scaling",
    "time_warp",
]


def _check_windows(windows):
    windows = np.asarray(windows, dtype=np.float32)
    if windows.ndim != 3:
        raise ValueError(
            "`windows` must be a batch of shape (batch, time, channels). "
            f"Received: windows.shape={windows.shape}"
        )
    return windows


def jitter(windows, rng, sigma=0.05):
    """Adds Gaussian noise ``N(0, sigma^2)`` to every sample.

    Example:
    >>> import numpy as np
    >>> import keras_har
    >>> keras_har.ssl.augmentations.jitter(np.zeros((1, 4, 3)), np.random.default_rng(0)).shape
    (1, 4, 3)
    """
    windows = _check_windows(windows)
    return (windows + rng.normal(0.0, sigma, size=windows.shape)).astype(np.float32)


def scaling(windows, rng, sigma=0.1):
    """Multiplies each channel of each window by one factor drawn from ``N(1, sigma^2)``.

    Example:
    >>> import numpy as np
    >>> import keras_har
    >>> keras_har.ssl.augmentations.scaling(np.ones((2, 4, 3)), np.random.default_rng(0)).shape
    (2, 4, 3)
    """
    windows = _check_windows(windows)
    factors = rng.normal(1.0, sigma, size=(windows.shape[0], 1, windows.shape[2]))
    return (windows * factors).astype(np.float32)


def _random_rotation_matrices(count, rng, max_angle_rad):
    # Rodrigues' formula: a uniformly random axis and a uniform angle.
    axes = rng.normal(size=(count, 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    angles = rng.uniform(-max_angle_rad, max_angle_rad, size=count)
    cross = np.zeros((count, 3, 3))
    cross[:, 0, 1], cross[:, 0, 2] = -axes[:, 2], axes[:, 1]
    cross[:, 1, 0], cross[:, 1, 2] = axes[:, 2], -axes[:, 0]
    cross[:, 2, 0], cross[:, 2, 1] = -axes[:, 1], axes[:, 0]
    sin, cos = np.sin(angles)[:, None, None], np.cos(angles)[:, None, None]
    return np.eye(3)[None] + sin * cross + (1 - cos) * cross @ cross


def rotation(windows, rng, max_angle_rad=np.pi):
    """Rotates each window as if the device were worn at another orientation.

    Channels are taken as consecutive x/y/z triplets (accelerometer,
    gyroscope, ...); one random 3D rotation per window is applied to every
    triplet, because all sensors on one device turn together.

    Example:
    >>> import numpy as np
    >>> import keras_har
    >>> keras_har.ssl.augmentations.rotation(np.ones((1, 4, 6)), np.random.default_rng(0)).shape
    (1, 4, 6)
    """
    windows = _check_windows(windows)
    if windows.shape[2] % 3:
        raise ValueError(
            "rotation needs channels in x/y/z triplets, so a channel count divisible by 3. "
            f"Received: channels={windows.shape[2]}"
        )
    batch, steps, channels = windows.shape
    matrices = _random_rotation_matrices(batch, rng, max_angle_rad)
    triplets = windows.reshape(batch, steps, channels // 3, 3)
    rotated = np.einsum("bij,btgj->btgi", matrices, triplets)
    return rotated.reshape(batch, steps, channels).astype(np.float32)


def permutation(windows, rng, num_segments=4):
    """Cuts each window at random points into segments and shuffles their order.

    Example:
    >>> import numpy as np
    >>> import keras_har
    >>> x = np.arange(8, dtype="float32").reshape(1, 8, 1)
    >>> sorted(keras_har.ssl.augmentations.permutation(x, np.random.default_rng(0)).ravel().tolist())
    [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    """
    windows = _check_windows(windows)
    steps = windows.shape[1]
    if not 1 <= num_segments <= steps:
        raise ValueError(
            f"`num_segments` must be between 1 and the window length {steps}. "
            f"Received: num_segments={num_segments!r}"
        )
    output = np.empty_like(windows)
    for index, window in enumerate(windows):
        cuts = np.sort(rng.choice(np.arange(1, steps), size=num_segments - 1, replace=False))
        segments = np.split(window, cuts, axis=0)
        order = rng.permutation(len(segments))
        output[index] = np.concatenate([segments[i] for i in order], axis=0)
    return output


def time_warp(windows, rng, sigma=0.2, num_knots=4):
    """Stretches and squeezes time smoothly, keeping the first and last samples.

    A random speed curve (a cubic spline through ``num_knots + 2`` knots drawn
    from ``N(1, sigma^2)``) is integrated into a monotone time map from
    ``[0, T-1]`` onto itself, and every channel is linearly resampled along
    it. ``sigma=0`` gives back the window unchanged.

    Example:
    >>> import numpy as np
    >>> import keras_har
    >>> x = np.random.default_rng(0).normal(size=(1, 16, 3))
    >>> np.allclose(keras_har.ssl.augmentations.time_warp(x, np.random.default_rng(0), sigma=0), x, atol=1e-6)
    True
    """
    windows = _check_windows(windows)
    batch, steps, channels = windows.shape
    time = np.arange(steps, dtype=np.float64)
    knot_positions = np.linspace(0, steps - 1, num_knots + 2)
    output = np.empty_like(windows)
    for index, window in enumerate(windows):
        # Speeds are kept positive so that the warped time stays monotone.
        speeds = np.clip(rng.normal(1.0, sigma, size=num_knots + 2), 0.1, None)
        speed = CubicSpline(knot_positions, speeds)(time).clip(0.1, None)
        warped = np.concatenate([[0.0], np.cumsum(speed[1:])])
        warped *= (steps - 1) / warped[-1]
        for channel in range(channels):
            output[index, :, channel] = np.interp(warped, time, window[:, channel])
    return output


def channel_shuffle(windows, rng):
    """Randomly reorders the channels of each window.

    Example:
    >>> import numpy as np
    >>> import keras_har
    >>> x = np.arange(3, dtype="float32").reshape(1, 1, 3)
    >>> sorted(keras_har.ssl.augmentations.channel_shuffle(x, np.random.default_rng(0)).ravel().tolist())
    [0.0, 1.0, 2.0]
    """
    windows = _check_windows(windows)
    output = np.empty_like(windows)
    for index, window in enumerate(windows):
        output[index] = window[:, rng.permutation(windows.shape[2])]
    return output


AUGMENTATIONS = {
    "jitter": jitter,
    "scaling": scaling,
    "rotation": rotation,
    "permutation": permutation,
    "time_warp": time_warp,
    "channel_shuffle": channel_shuffle,
}


class Augmenter:
    """Applies a random subset of augmentations to each window.

    Each named transform is applied to each window independently with
    probability ``probability``, in the order given.

    Args:
        transforms: names from ``keras_har.ssl.augmentations.AUGMENTATIONS``.
        probability: chance that a transform is applied to a window.
        seed: seed of the augmenter's own random generator.

    Example:
    >>> import numpy as np
    >>> import keras_har
    >>> augment = keras_har.ssl.Augmenter(["jitter", "scaling"], probability=1.0, seed=0)
    >>> augment(np.zeros((2, 8, 3))).shape
    (2, 8, 3)
    """

    def __init__(self, transforms=("jitter", "scaling", "rotation", "time_warp"), probability=0.5, seed=None):
        transforms = list(transforms)
        unknown = [name for name in transforms if name not in AUGMENTATIONS]
        if unknown:
            raise ValueError(
                f"Unknown augmentation. Known: {sorted(AUGMENTATIONS)}. Received: transforms={transforms!r}"
            )
        if not 0.0 <= float(probability) <= 1.0:
            raise ValueError(f"`probability` must be in [0, 1]. Received: probability={probability!r}")
        self.transforms = transforms
        self.probability = float(probability)
        self.rng = np.random.default_rng(seed)

    def __call__(self, windows):
        windows = _check_windows(windows).copy()
        for name in self.transforms:
            chosen = self.rng.random(windows.shape[0]) < self.probability
            if chosen.any():
                windows[chosen] = AUGMENTATIONS[name](windows[chosen], self.rng)
        return windows
