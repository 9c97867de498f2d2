import json

import numpy as np
import pytest

import keras_har

splits = keras_har.datasets.splits


def _subjects(ids, per_subject=3):
    return np.repeat(np.asarray(ids), per_subject)


@pytest.mark.parametrize("name, folds, first_group", [
    ("uci_har", 10, [1, 2, 3]), ("hapt", 10, [1, 2, 3]), ("usc_had", 7, [1, 2]),
    ("wisdm", 10, [1, 2, 3, 4]), ("pamap2", 9, [1]), ("mhealth", 5, [1, 2]),
    ("motionsense", 6, [1, 2, 3, 4]), ("daphnet", 10, [1]),
])
def test_paper_folds_are_the_official_subject_groups(name, folds, first_group):
    groups = splits.PAPER_SUBJECT_GROUPS[name]
    all_subjects = sorted(s for group in groups for s in group)
    subjects = _subjects(all_subjects)[::-1]  # order of windows must not matter
    result = splits.paper_folds(name, subjects)
    assert len(result) == folds
    assert sorted(np.unique(subjects[result[0][1]]).tolist()) == first_group
    tested = np.concatenate([test for _, test in result])
    assert sorted(tested.tolist()) == list(range(len(subjects)))  # each window tested exactly once
    for (train, test), group in zip(result, groups):
        assert sorted(np.unique(subjects[test]).tolist()) == sorted(group)
        assert not set(subjects[train].tolist()) & set(group)
        assert len(train) + len(test) == len(subjects)


def test_paper_folds_wisdm_groups_have_the_official_sizes():
    sizes = [len(group) for group in splits.PAPER_SUBJECT_GROUPS["wisdm"]]
    assert sizes == [4, 4, 4, 4, 4, 4, 3, 3, 3, 3]


def test_paper_folds_accept_official_names_and_skip_absent_groups():
    folds = splits.paper_folds("uschad", _subjects([1, 2, 5, 6]))
    assert len(folds) == 2


def test_paper_folds_reject_unknown_dataset_and_subjects():
    with pytest.raises(ValueError, match=r"No official folds.*Received: dataset_name='oppo'"):
        splits.paper_folds("oppo", [1, 2])
    with pytest.raises(ValueError, match=r"Subjects \[10, 11\] are in no official pamap2 fold"):
        splits.paper_folds("pamap2", [1, 10, 11])


def test_leave_one_subject_out():
    subjects = np.array([5, 5, 2, 9, 2, 9])
    folds = splits.leave_one_subject_out(subjects)
    assert [np.unique(subjects[test]).tolist() for _, test in folds] == [[2], [5], [9]]
    assert all(len(train) + len(test) == 6 for train, test in folds)
    with pytest.raises(ValueError, match="at least 2 subjects"):
        splits.leave_one_subject_out([1, 1])


def test_subject_kfold_is_by_subject_and_seeded():
    subjects = _subjects(range(10), 4)
    folds = splits.subject_kfold(subjects, 5, seed=3)
    assert len(folds) == 5
    assert all(len(np.unique(subjects[test])) == 2 for _, test in folds)
    assert all(not set(subjects[train]) & set(subjects[test]) for train, test in folds)
    again = splits.subject_kfold(subjects, 5, seed=3)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, again))
    other = splits.subject_kfold(subjects, 5, seed=4)
    assert any(not np.array_equal(a[1], b[1]) for a, b in zip(folds, other))
    with pytest.raises(ValueError, match=r"from 2 to the number of subjects \(10\). Received: n_splits=11"):
        splits.subject_kfold(subjects, 11)


def test_train_val_split_default_is_the_official_random_window_split():
    indices = np.arange(100, 201)
    train, val = splits.train_val_split(indices, seed=7)
    assert (len(train), len(val)) == (90, 11)  # int(0.9 * 101) = 90
    assert sorted(np.concatenate([train, val]).tolist()) == indices.tolist()
    again = splits.train_val_split(indices, seed=7)
    assert np.array_equal(train, again[0])
    assert not np.array_equal(train, splits.train_val_split(indices, seed=8)[0])


def test_train_val_split_by_subject_and_stratified():
    subjects = _subjects(range(20), 5)
    y = np.tile([0, 1, 1, 1, 1], 20)
    indices = np.arange(100)
    train, val = splits.train_val_split(indices, subjects=subjects, val_fraction=0.1, seed=0)
    assert len(np.unique(subjects[val])) == 2
    assert not set(subjects[train]) & set(subjects[val])
    train, val = splits.train_val_split(indices, y=y, val_fraction=0.2, seed=0)
    assert np.bincount(y[val]).tolist() == [4, 16]
    with pytest.raises(ValueError, match="not both"):
        splits.train_val_split(indices, y=y, subjects=subjects)
    with pytest.raises(ValueError, match=r"whole dataset.*Received: len\(y\)=50"):
        splits.train_val_split(indices, y=y[:50])
    with pytest.raises(ValueError, match=r"Received: val_fraction=1.5"):
        splits.train_val_split(indices, val_fraction=1.5)


def test_stratified_split_works_with_a_few_windows_per_class():
    # Two labelled windows of each of 12 classes: one of each validates, one trains.
    y = np.repeat(np.arange(12), 2)
    indices = np.arange(100, 124)
    labels = np.zeros(124, dtype=int)
    labels[indices] = y
    train, val = splits.train_val_split(indices, y=labels, val_fraction=0.1, seed=3)
    assert np.bincount(labels[val]).tolist()[-12:] == [1] * 12
    assert np.bincount(labels[train]).tolist()[-12:] == [1] * 12
    assert sorted(np.concatenate([train, val]).tolist()) == indices.tolist()
    # A class with one window keeps it for training; a class of five gives one (round(0.1 * 5) is 0, at least 1).
    few = np.array([0, 1, 1, 1, 1, 1])
    train, val = splits.train_val_split(np.arange(6), y=few, val_fraction=0.1, seed=0)
    assert few[val].tolist() == [1] and 0 in train and len(train) == 5
    drawn = {tuple(splits.train_val_split(np.arange(6), y=few, val_fraction=0.1, seed=seed)[1]) for seed in range(6)}
    assert len(drawn) > 1  # the seed picks which window validates
    with pytest.raises(ValueError, match="Every class has a single window.*Received: 3 windows of 3 classes"):
        splits.train_val_split(np.arange(3), y=np.arange(3), val_fraction=0.5)


def test_k_per_class_is_seeded_nested_and_keeps_small_classes_whole():
    y = np.array([0] * 30 + [1] * 3 + [2] * 12)
    five = splits.k_per_class(y, 5, seed=1)
    assert np.bincount(y[five]).tolist() == [5, 3, 5]
    assert np.array_equal(five, splits.k_per_class(y, 5, seed=1))
    assert not np.array_equal(five, splits.k_per_class(y, 5, seed=2))
    ten = splits.k_per_class(y, 10, seed=1)
    assert set(five.tolist()) <= set(ten.tolist())
    assert np.bincount(y[splits.k_per_class(y, 100)]).tolist() == [30, 3, 12]
    with pytest.raises(ValueError, match=r"positive integer. Received: k=0"):
        splits.k_per_class(y, 0)


# --- Standardizer ----------------------------------------------------------------


def test_standardizer_per_channel_statistics_match_pandas_convention():
    rng = np.random.default_rng(0)
    X = rng.normal([1.0, -5.0, 20.0], [0.5, 2.0, 10.0], size=(40, 25, 3)).astype(np.float32)
    scaler = splits.Standardizer().fit(X)
    flat = X.reshape(-1, 3).astype(np.float64)
    np.testing.assert_allclose(scaler.mean_, flat.mean(0), rtol=1e-6)
    np.testing.assert_allclose(scaler.std_, flat.std(0, ddof=1), rtol=1e-6)
    assert scaler.mean_.dtype == np.float32 and scaler.mean_.shape == (3,)
    Z = scaler.transform(X)
    assert Z.dtype == np.float32 and Z.shape == X.shape
    np.testing.assert_allclose(Z.reshape(-1, 3).mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(scaler.inverse_transform(Z), X, rtol=1e-5, atol=1e-4)


def test_standardizer_is_fitted_on_training_windows_only():
    train, test = np.zeros((2, 4, 1)) + [[[1.0]], [[3.0]]], np.full((1, 4, 1), 100.0)
    scaler = splits.Standardizer().fit(train)
    assert scaler.transform(test)[0, 0, 0] == pytest.approx((100 - 2) / scaler.std_[0])


def test_standardizer_floors_a_constant_channel():
    X = np.ones((3, 5, 2), dtype=np.float32)
    X[..., 1] = np.arange(15).reshape(3, 5)
    scaler = splits.Standardizer().fit(X)
    assert scaler.std_[0] == np.float32(1e-8)
    assert np.all(scaler.transform(X)[..., 0] == 0)


def test_standardizer_save_load_and_dict_round_trip(tmp_path):
    scaler = splits.Standardizer().fit(np.random.default_rng(1).normal(size=(10, 8, 4)))
    path = tmp_path / "sub" / "standardizer.json"
    scaler.save(path)
    assert sorted(json.loads(path.read_text())) == ["mean", "min_std", "std"]
    assert [p.name for p in path.parent.iterdir()] == ["standardizer.json"]
    loaded = splits.Standardizer.load(path)
    np.testing.assert_array_equal(loaded.mean_, scaler.mean_)
    np.testing.assert_array_equal(loaded.std_, scaler.std_)
    again = splits.Standardizer.from_dict(json.loads(json.dumps(scaler.to_dict())))
    X = np.random.default_rng(2).normal(size=(2, 8, 4))
    np.testing.assert_array_equal(again.transform(X), scaler.transform(X))
    assert keras_har.datasets.Standardizer is splits.Standardizer


def test_standardizer_errors():
    with pytest.raises(ValueError, match="not fitted"):
        splits.Standardizer().transform(np.zeros((1, 2, 3)))
    scaler = splits.Standardizer().fit(np.random.default_rng(0).normal(size=(4, 5, 3)))
    with pytest.raises(ValueError, match=r"3 channels.*Received: X.shape=\(1, 5, 2\)"):
        scaler.transform(np.zeros((1, 5, 2)))
    with pytest.raises(ValueError, match="NaN"):
        splits.Standardizer().fit(np.array([[[np.nan]], [[1.0]]]))
    with pytest.raises(ValueError, match="positive 'std'"):
        splits.Standardizer.from_dict({"mean": [0.0], "std": [0.0]})
    with pytest.raises(FileNotFoundError, match=r"Received: path=.*nope.json"):
        splits.Standardizer.load("nope.json")
