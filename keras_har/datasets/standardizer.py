"""Per-channel z-score normalisation fitted on training windows only."""

import json
import pathlib

import numpy as np

from keras_har import atomic


class Standardizer:
    """Per-channel z-score: `(x - mean_) / std_`.

    The official TinierHAR code (`datanorm_type="standardization"`,
    `dataloaders/utils.py` `Normalizer`) fits one mean and one standard
    deviation per channel on the training subjects' data of each fold and
    applies them to training, validation and test data alike. This class does
    the same from windows: fit it on the training windows of a fold only.
    Like pandas (which the reference uses), the standard deviation is the
    sample one (`ddof=1`). It is floored at `min_std` so a constant channel
    maps to 0 rather than dividing by zero; the reference instead adds
    float64 machine epsilon, which differs only for channels of near-zero
    spread.

    Two differences from the reference, both small: it averages the samples
    of the (overlapping) training windows, where the reference averages
    every sample of the training recordings once, including samples in no
    kept window; and the training windows here exclude the fold's test
    subjects exactly as the reference's do.

    Attributes:
        mean_: per-channel mean, shape `(C,)`, float32 (after `fit`).
        std_: per-channel standard deviation, shape `(C,)`, float32.

    Example:
        >>> import numpy as np
        >>> import keras_har
        >>> x = np.random.default_rng(0).normal(3.0, 2.0, (100, 50, 6))
        >>> scaler = keras_har.datasets.Standardizer().fit(x)
        >>> z = scaler.transform(x)
        >>> bool(abs(z.mean()) < 1e-5)
        True
    """

    def __init__(self, min_std=1e-8):
        self.min_std = float(min_std)
        self.mean_ = None
        self.std_ = None

    def fit(self, X):
        """Fits the statistics on `X` of shape `(..., C)`; returns `self`."""
        X = np.asarray(X)
        if X.ndim < 2 or X.size == 0:
            raise ValueError(f"`X` must be a non-empty array of shape (..., C). Received: X.shape={X.shape}")
        samples = X.reshape(-1, X.shape[-1]).astype(np.float64)
        if not np.isfinite(samples).all():
            raise ValueError("`X` holds NaN or infinite values; the statistics would be NaN.")
        ddof = 1 if len(samples) > 1 else 0
        self.mean_ = samples.mean(axis=0).astype(np.float32)
        self.std_ = np.maximum(samples.std(axis=0, ddof=ddof), self.min_std).astype(np.float32)
        return self

    def _check_fitted(self, X):
        if self.mean_ is None:
            raise ValueError("This Standardizer is not fitted yet: call `fit` on training windows first.")
        if X.shape[-1] != len(self.mean_):
            raise ValueError(
                f"`X` must have {len(self.mean_)} channels in its last axis, as the fitted data. "
                f"Received: X.shape={X.shape}"
            )

    def transform(self, X):
        """Returns `(X - mean_) / std_` as float32."""
        X = np.asarray(X, dtype=np.float32)
        self._check_fitted(X)
        return (X - self.mean_) / self.std_

    def inverse_transform(self, X):
        """Undoes `transform`."""
        X = np.asarray(X, dtype=np.float32)
        self._check_fitted(X)
        return X * self.std_ + self.mean_

    def fit_transform(self, X):
        """`fit(X)` then `transform(X)`."""
        return self.fit(X).transform(X)

    def to_dict(self):
        """The statistics as a JSON-able dict (lists of floats)."""
        if self.mean_ is None:
            raise ValueError("This Standardizer is not fitted yet: nothing to save.")
        return {"mean": self.mean_.tolist(), "std": self.std_.tolist(), "min_std": self.min_std}

    @classmethod
    def from_dict(cls, config):
        """Rebuilds a fitted Standardizer from `to_dict()`'s output."""
        try:
            mean = np.asarray(config["mean"], dtype=np.float32)
            std = np.asarray(config["std"], dtype=np.float32)
        except (KeyError, TypeError) as error:
            raise ValueError(f"`config` must hold 'mean' and 'std' lists. Received: config={config!r}") from error
        if mean.ndim != 1 or mean.shape != std.shape or (std <= 0).any():
            raise ValueError(
                "`config` must hold equally long 'mean' and positive 'std' lists. "
                f"Received: mean={mean.tolist()}, std={std.tolist()}"
            )
        scaler = cls(min_std=config.get("min_std", 1e-8))
        scaler.mean_, scaler.std_ = mean, std
        return scaler

    def save(self, path):
        """Writes the statistics to a JSON file (atomically)."""
        atomic.write_json(path, self.to_dict())

    @classmethod
    def load(cls, path):
        """Reads a Standardizer written by `save`."""
        path = pathlib.Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"Standardizer file not found. Received: path={path}")
        with open(path) as file:
            return cls.from_dict(json.load(file))
