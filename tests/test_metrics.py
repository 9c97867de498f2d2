"""keras_har.metrics: the one macro-F1, the fixed-label-set variant and the classification scores."""

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score

from keras_har import metrics

# A test fold with classes 0 and 1 only, out of K = 3 (class 2 is neither
# true nor predicted). Class 0: TP=1, FP=0, FN=1 -> F1 = 2/3.
# Class 1: TP=2, FP=1, FN=0 -> F1 = 4/5. Class 2: no window -> F1 = 0.
FOLD_TRUE = [0, 0, 1, 1]
FOLD_PRED = [0, 1, 1, 1]


def test_macro_f1_averages_over_the_classes_present():
    assert metrics.macro_f1(FOLD_TRUE, FOLD_PRED) == pytest.approx((2 / 3 + 4 / 5) / 2)   # 11/15


def test_macro_f1_over_labels_counts_the_missing_class_as_zero():
    assert metrics.macro_f1_over_labels(FOLD_TRUE, FOLD_PRED, 3) == pytest.approx((2 / 3 + 4 / 5 + 0) / 3)  # 22/45


def test_the_two_definitions_differ_only_when_a_class_is_missing():
    assert metrics.macro_f1(FOLD_TRUE, FOLD_PRED) != pytest.approx(metrics.macro_f1_over_labels(FOLD_TRUE, FOLD_PRED, 3))
    assert metrics.macro_f1(FOLD_TRUE, FOLD_PRED) == pytest.approx(metrics.macro_f1_over_labels(FOLD_TRUE, FOLD_PRED, 2))


def test_a_class_only_predicted_counts_in_macro_f1():
    # Class 2 is predicted once but never true: F1 = 0, and it is in the mean.
    # Class 0: TP=1, FP=0, FN=1 -> 2/3; class 1: TP=2, FP=0, FN=0 -> 1.
    assert metrics.macro_f1([0, 0, 1, 1], [0, 2, 1, 1]) == pytest.approx((2 / 3 + 1 + 0) / 3)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_scores_equal_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    # Class 4 is never true, class 5 never true nor predicted: the averages
    # must run over the classes scikit-learn counts.
    y_true = rng.integers(0, 4, 200)
    y_pred = np.where(rng.random(200) < 0.6, y_true, rng.integers(0, 5, 200))
    scores = metrics.classification_scores(y_true, y_pred, num_classes=6)
    assert scores["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, average="macro"), abs=1e-12)
    assert scores["weighted_f1"] == pytest.approx(f1_score(y_true, y_pred, average="weighted"), abs=1e-12)
    assert scores["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred), abs=1e-12)
    assert scores["confusion"].shape == (6, 6)
    assert scores["confusion"].sum() == 200
    assert scores["confusion"][5].sum() == 0


def test_classification_scores_on_a_fold_lacking_a_class():
    scores = metrics.classification_scores(FOLD_TRUE, FOLD_PRED, num_classes=3)
    assert scores["macro_f1"] == pytest.approx(11 / 15)
    assert scores["accuracy"] == pytest.approx(3 / 4)
    assert scores["confusion"].tolist() == [[1, 1, 0], [0, 2, 0], [0, 0, 0]]


def test_model_macro_f1_scores_the_argmax():
    class FixedLogits:
        def predict(self, windows, batch_size, verbose):
            return np.eye(3)[FOLD_PRED][: len(windows)]

    assert metrics.model_macro_f1(FixedLogits(), np.zeros((4, 8, 3)), FOLD_TRUE) == pytest.approx(11 / 15)


@pytest.mark.parametrize("function", [metrics.macro_f1, lambda t, p: metrics.macro_f1_over_labels(t, p, 3)])
def test_mismatched_lengths_are_refused(function):
    with pytest.raises(ValueError, match="Received: y_true.shape=\\(3,\\), y_pred.shape=\\(2,\\)"):
        function([0, 1, 1], [0, 1])


def test_labels_outside_the_confusion_matrix_are_refused():
    with pytest.raises(ValueError, match=r"`y_pred` must hold labels in \[0, 2\)"):
        metrics.classification_scores([0, 1], [0, 2], num_classes=2)
