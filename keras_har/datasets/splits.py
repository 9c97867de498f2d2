"""Subject-wise splits as in the official TinierHAR experiments.

Every function returns numpy index arrays into a dataset's windows and is
built on scikit-learn's splitters. The official `train.py` evaluates each
dataset (all but Skoda) with `exp_mode="LOCV"`: it leaves out the groups of
subjects of the loader's `LOCV_keys` in turn (`paper_folds`), and inside each
fold trains on 90% of the remaining windows and validates on the other 10%
(`train_vali_quote=0.9`, `train_val_split`), with per-channel standardisation
fitted on the training subjects (`Standardizer`).
"""

import numpy as np
from sklearn.model_selection import (
    GroupKFold,
    GroupShuffleSplit,
    LeaveOneGroupOut,
    PredefinedSplit,
)

from keras_har.datasets.standardizer import Standardizer

# The official loaders' `LOCV_keys`: the subjects left out together in each
# fold, in fold order (zhaxidele/TinierHAR and teco-kit/ISWC22-HAR
# dataloaders/dataloader_*_har.py). MHEALTH's loader is only published as a
# .pyc; its groups are the paper's 5 folds of 2 consecutive subjects.
PAPER_SUBJECT_GROUPS = {
    "uci_har": [[1, 2, 3], [4, 5, 6], [7, 8, 9], [10, 11, 12], [13, 14, 15],
                [16, 17, 18], [19, 20, 21], [22, 23, 24], [25, 26, 27], [28, 29, 30]],
    "hapt": [[1, 2, 3], [4, 5, 6], [7, 8, 9], [10, 11, 12], [13, 14, 15],
             [16, 17, 18], [19, 20, 21], [22, 23, 24], [25, 26, 27], [28, 29, 30]],
    "usc_had": [[1, 2], [3, 4], [5, 6], [7, 8], [9, 10], [11, 12], [13, 14]],
    "wisdm": [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16], [17, 18, 19, 20],
              [21, 22, 23, 24], [25, 26, 27], [28, 29, 30], [31, 32, 33], [34, 35, 36]],
    "pamap2": [[1], [2], [3], [4], [5], [6], [7], [8], [9]],
    "mhealth": [[1, 2], [3, 4], [5, 6], [7, 8], [9, 10]],
    "motionsense": [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16],
                    [17, 18, 19, 20], [21, 22, 23, 24]],
    "daphnet": [[1], [2], [3], [4], [5], [6], [7], [8], [9], [10]],
}
# Names the official configs use for the same datasets.
_ALIASES = {"uci": "uci_har", "uschad": "usc_had", "dg": "daphnet"}

# UCI HAR's given split (and HAPT's Test/ files): the 9 test volunteers.
UCI_HAR_TEST_SUBJECTS = (2, 4, 9, 10, 12, 13, 18, 20, 24)

__all__ = [
    "PAPER_SUBJECT_GROUPS", "UCI_HAR_TEST_SUBJECTS", "Standardizer", "held_out_subjects", "k_per_class",
    "leave_one_subject_out", "paper_folds", "subject_kfold", "train_val_split",
]


def _subjects_array(subjects):
    subjects = np.asarray(subjects)
    if subjects.ndim != 1 or len(subjects) == 0:
        raise ValueError(f"`subjects` must be a non-empty 1-D array. Received: subjects.shape={subjects.shape}")
    return subjects


def _as_list(splits):
    return [(np.asarray(train, dtype=np.int64), np.asarray(test, dtype=np.int64)) for train, test in splits]


def paper_folds(dataset_name, subjects):
    """The official leave-group-of-subjects-out folds for a dataset.

    Args:
        dataset_name: one of `PAPER_SUBJECT_GROUPS` (also the official names
            "uci", "uschad", "dg").
        subjects: subject id of every window (`HARDataset.subjects`).

    Returns:
        A list of `(train_idx, test_idx)` in the official fold order; a
        fold none of whose subjects is present is skipped.

    Example:
        >>> import numpy as np
        >>> import keras_har
        >>> subjects = np.repeat(np.arange(1, 11), 5)
        >>> folds = keras_har.datasets.splits.paper_folds("mhealth", subjects)
        >>> len(folds), sorted(set(subjects[folds[0][1]].tolist()))
        (5, [1, 2])
    """
    name = _ALIASES.get(dataset_name, dataset_name)
    if name not in PAPER_SUBJECT_GROUPS:
        raise ValueError(
            f"No official folds for this dataset; known: {sorted(PAPER_SUBJECT_GROUPS)}. "
            f"Received: dataset_name={dataset_name!r}"
        )
    subjects = _subjects_array(subjects)
    fold_of_subject = {s: fold for fold, group in enumerate(PAPER_SUBJECT_GROUPS[name]) for s in group}
    unknown = sorted(set(np.unique(subjects).tolist()) - set(fold_of_subject))
    if unknown:
        raise ValueError(
            f"Subjects {unknown} are in no official {name} fold (its subjects are "
            f"{sorted(fold_of_subject)}). Received: subjects with ids {unknown}"
        )
    test_fold = np.array([fold_of_subject[s] for s in subjects.tolist()])
    return _as_list(PredefinedSplit(test_fold).split())


def held_out_subjects(subjects, test_subjects):
    """One fold that tests on the subjects named and trains on all others (`PredefinedSplit`).

    Args:
        subjects: subject id of every window (`HARDataset.subjects`).
        test_subjects: the subject ids to hold out.

    Returns:
        A list with one `(train_idx, test_idx)`.

    Example:
        >>> import keras_har
        >>> [(train, test)] = keras_har.datasets.splits.held_out_subjects([1, 1, 2, 3], [2, 3])
        >>> train.tolist(), test.tolist()
        ([0, 1], [2, 3])
    """
    subjects = _subjects_array(subjects)
    try:
        test_subjects = sorted({int(subject) for subject in test_subjects})
    except (TypeError, ValueError):
        raise ValueError(
            f"`test_subjects` must be integer subject ids. Received: test_subjects={test_subjects!r}"
        ) from None
    present = np.unique(subjects).tolist()
    unknown = sorted(set(test_subjects) - set(present))
    if not test_subjects or unknown:
        raise ValueError(
            f"Subjects {unknown} are not in the data; its subjects are {present}. "
            f"Received: test_subjects={test_subjects}"
        )
    if set(present) <= set(test_subjects):
        raise ValueError(
            f"Holding out every subject ({present}) leaves none to train on. Received: test_subjects={test_subjects}"
        )
    test_fold = np.where(np.isin(subjects, test_subjects), 0, -1)
    return _as_list(PredefinedSplit(test_fold).split())


def leave_one_subject_out(subjects):
    """One fold per subject, in increasing subject id (`LeaveOneGroupOut`).

    Example:
        >>> import keras_har
        >>> len(keras_har.datasets.splits.leave_one_subject_out([3, 3, 1, 2]))
        3
    """
    subjects = _subjects_array(subjects)
    if len(np.unique(subjects)) < 2:
        raise ValueError(f"Leaving one subject out needs at least 2 subjects. Received: subjects={np.unique(subjects)}")
    return _as_list(LeaveOneGroupOut().split(subjects, groups=subjects))


def subject_kfold(subjects, n_splits, seed=0):
    """`n_splits` folds of whole subjects, shuffled by `seed` (`GroupKFold`).

    Example:
        >>> import numpy as np
        >>> import keras_har
        >>> folds = keras_har.datasets.splits.subject_kfold(np.arange(10).repeat(3), 5)
        >>> [len(test) for _, test in folds]
        [6, 6, 6, 6, 6]
    """
    subjects = _subjects_array(subjects)
    count = len(np.unique(subjects))
    if not isinstance(n_splits, (int, np.integer)) or not 2 <= n_splits <= count:
        raise ValueError(
            f"`n_splits` must be an integer from 2 to the number of subjects ({count}). Received: n_splits={n_splits}"
        )
    splitter = GroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return _as_list(splitter.split(subjects, groups=subjects))


def train_val_split(indices, y=None, subjects=None, val_fraction=0.1, seed=0):
    """Splits training windows into training and validation windows.

    With neither `y` nor `subjects` this is what the official code does
    (`dataloader_base.py`): shuffle the training windows at random and keep
    the first `int((1 - val_fraction) * n)` for training; validation windows
    then come from the same subjects as training windows (and may overlap
    them in time, the windows overlapping by half). Given `subjects`, whole
    subjects are held out instead (`GroupShuffleSplit`); given `y`, the split
    keeps class proportions, class by class, so that it also works with a
    few labelled windows per class: each class with ``n >= 2`` windows gives
    ``round(val_fraction * n)`` of them to validation, at least one and at
    most ``n - 1``; a class with a single window keeps it for training.
    (scikit-learn's ``StratifiedShuffleSplit`` refuses classes of one
    window and validation sets smaller than the number of classes.)

    Args:
        indices: indices of the training windows.
        y: optional labels of ALL windows of the dataset (`HARDataset.y`),
            looked up with `indices`.
        subjects: optional subject ids of ALL windows (`HARDataset.subjects`).
        val_fraction: fraction of windows (or of subjects) for validation.
        seed: random seed.

    Returns:
        `(train_idx, val_idx)`, both subsets of `indices`.

    Example:
        >>> import numpy as np
        >>> import keras_har
        >>> train, val = keras_har.datasets.splits.train_val_split(np.arange(100))
        >>> len(train), len(val)
        (90, 10)
    """
    indices = np.asarray(indices, dtype=np.int64)
    if indices.ndim != 1 or len(indices) < 2:
        raise ValueError(
            f"`indices` must be a 1-D array of at least 2 indices. Received: indices.shape={indices.shape}"
        )
    if not 0 < val_fraction < 1:
        raise ValueError(f"`val_fraction` must be between 0 and 1. Received: val_fraction={val_fraction}")
    if y is not None and subjects is not None:
        raise ValueError("Give `y` (stratified split) or `subjects` (split by subject), not both.")
    for arg_name, values in (("y", y), ("subjects", subjects)):
        if values is not None and len(values) <= indices.max():
            raise ValueError(
                f"`{arg_name}` must hold one entry per window of the whole dataset (it is indexed by "
                f"`indices`, whose largest entry is {indices.max()}). Received: len({arg_name})={len(values)}"
            )
    if subjects is not None:
        groups = np.asarray(subjects)[indices]
        splitter = GroupShuffleSplit(n_splits=1, test_size=val_fraction, random_state=seed)
        train, val = next(splitter.split(indices, groups=groups))
    elif y is not None:
        train, val = _per_class_split(np.asarray(y)[indices], val_fraction, seed)
    else:
        order = np.random.default_rng(seed).permutation(len(indices))
        cut = int((1 - val_fraction) * len(indices))
        train, val = order[:cut], order[cut:]
    return indices[train], indices[val]


def _per_class_split(labels, val_fraction, seed):
    rng = np.random.default_rng(seed)
    train, val = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        count = 0 if len(members) < 2 else min(max(int(round(val_fraction * len(members))), 1), len(members) - 1)
        val.append(members[:count])
        train.append(members[count:])
    val = np.sort(np.concatenate(val))
    if len(val) == 0:
        raise ValueError(
            "Every class has a single window, so none can be kept for validation without leaving its class "
            f"untrained. Received: {len(labels)} windows of {len(np.unique(labels))} classes"
        )
    return np.sort(np.concatenate(train)), val


def k_per_class(y, k, seed=0):
    """Picks `k` labelled windows of every class at random, reproducibly.

    For few-label fine-tuning ("Don't freeze", k in 1, 2, 5, 10, 50, 100). A
    class with fewer than `k` windows keeps all it has; an absent class
    contributes nothing. The same `seed` gives the same windows, and a larger
    `k` with the same seed keeps every window a smaller `k` picked.

    Args:
        y: class index of every candidate window.
        k: windows per class, a positive integer.
        seed: random seed.

    Returns:
        Sorted indices into `y`.

    Example:
        >>> import numpy as np
        >>> import keras_har
        >>> y = np.array([0, 0, 0, 1, 1, 2])
        >>> len(keras_har.datasets.splits.k_per_class(y, 2))
        5
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"`y` must be a 1-D array of class indices. Received: y.shape={y.shape}")
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"`k` must be a positive integer. Received: k={k}")
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(y):
        members = np.flatnonzero(y == label)
        # A full permutation per class, then its first k: nested across k.
        chosen.append(members[rng.permutation(len(members))[:k]])
    return np.sort(np.concatenate(chosen)) if chosen else np.array([], dtype=np.int64)
