"""Data for the search: loading and subject folds (standardisation: `keras_har.datasets.Standardizer`)."""

import numpy as np
from sklearn.model_selection import GroupKFold, GroupShuffleSplit

from keras_har.datasets import validation

# With --folds 1 this share of the subjects is held out to score a trial.
HOLDOUT_SUBJECT_FRACTION = 0.2


class SearchData:
    """Windows, labels and subject ids that a search trains and scores on.

    Args:
        name: dataset name, for the reports.
        x: float windows ``(N, T, C)``.
        y: integer labels ``(N,)``, ``0..K-1``.
        subjects: subject id per window ``(N,)``.
        num_classes: K; defaults to ``max(y) + 1``.

    Example:
    >>> import numpy as np
    >>> from keras_har.tuning.data import SearchData
    >>> data = SearchData("toy", np.zeros((4, 8, 3)), np.array([0, 1, 0, 1]), np.array([1, 1, 2, 2]))
    >>> data.input_shape, data.num_classes
    ((8, 3), 2)
    """

    def __init__(self, name, x, y, subjects, num_classes=None):
        x = np.asarray(x)
        if x.ndim != 3:
            raise ValueError(f"`x` must have shape (windows, T, C). Received: x.shape={x.shape}")
        # The same rules as keras_har.datasets.HARDataset: one implementation.
        validation.check_finite(x, "x")
        x = x.astype("float32", copy=False)
        y = validation.check_labels(y, "y", num_classes=num_classes)
        subjects = validation.check_subjects(subjects, "subjects")
        if y.shape != (len(x),) or subjects.shape != (len(x),):
            raise ValueError(
                f"`y` and `subjects` must hold one value per window, shape ({len(x)},). "
                f"Received: y.shape={y.shape}, subjects.shape={subjects.shape}"
            )
        self.name = name
        self.x, self.y, self.subjects = x, y, subjects
        self.num_classes = int(num_classes if num_classes is not None else y.max() + 1)

    @property
    def input_shape(self):
        return tuple(int(d) for d in self.x.shape[1:])


def load_search_data(dataset, *, data_home=None):
    """Loads a dataset by name (`keras_har.datasets.load_dataset`) or from an ``.npz`` file.

    Args:
        dataset: a dataset name such as ``"uci_har"`` or ``"hapt"``, or a path
            to an ``.npz`` file holding arrays ``x`` ``(N, T, C)``, ``y`` and
            ``subjects`` (your own data, or tiny test data; see
            `keras_har.datasets.load_npz`).
        data_home: where the named datasets live (see `keras_har.datasets`).

    Returns:
        A `SearchData`.

    Example:
    >>> from keras_har.tuning.data import load_search_data
    >>> data = load_search_data("hapt", data_home="/path/to/datasets")  # doctest: +SKIP
    """
    from keras_har.datasets import load_dataset

    loaded = load_dataset(dataset, data_home=data_home)
    return SearchData(loaded.name, loaded.X, loaded.y, loaded.subjects, num_classes=loaded.num_classes)


def subject_folds(subjects, folds, seed=0):
    """Splits windows by subject: ``folds`` train/score index pairs.

    ``folds=1`` holds out 20% of the subjects (at least one); ``folds>1`` is
    scikit-learn's shuffled `GroupKFold`, so no subject is on both sides.

    Args:
        subjects: subject id per window.
        folds: number of folds, at least 1 and at most the subject count.
        seed: shuffling seed.

    Returns:
        A list of ``(train_indices, score_indices)``.

    Example:
    >>> import numpy as np
    >>> from keras_har.tuning.data import subject_folds
    >>> len(subject_folds(np.repeat(np.arange(6), 3), folds=3))
    3
    """
    subjects = np.asarray(subjects)
    unique = np.unique(subjects)
    if isinstance(folds, bool) or not isinstance(folds, (int, np.integer)) or folds < 1:
        raise ValueError(f"`folds` must be a positive integer. Received: folds={folds!r}")
    if len(unique) < max(2, folds):
        raise ValueError(
            f"`folds` needs at least max(2, folds) subjects; the data has {len(unique)}. "
            f"Received: folds={folds}"
        )
    indices = np.arange(len(subjects))
    if folds == 1:
        held_out = max(1, int(round(HOLDOUT_SUBJECT_FRACTION * len(unique))))
        splitter = GroupShuffleSplit(n_splits=1, test_size=held_out, random_state=seed)
    else:
        splitter = GroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [(train, score) for train, score in splitter.split(indices, groups=subjects)]

