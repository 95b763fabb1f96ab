"""The 95 % binomial (Wilson) interval shown next to every test accuracy."""

import math

import numpy as np
import pytest

from seqcompare import metrics


@pytest.mark.parametrize("accuracy, n, low, high", [
    (0.5, 100, 0.4038, 0.5962),            # the textbook case: 50 of 100
    (0.0, 100, 0.0, 0.0370),               # no success: the upper bound is z²/(n + z²)
    (1.0, 20, 0.8389, 1.0),                # all right on 20 items: far from certain
    (0.9954, 10_000, 0.9938, 0.9966),      # the digits table's GRU
])
def test_wilson_interval_matches_the_closed_form(accuracy, n, low, high):
    lo, hi = metrics.interval(accuracy, n)
    assert lo == pytest.approx(low, abs=1e-4) and hi == pytest.approx(high, abs=1e-4)
    assert lo <= accuracy <= hi


def test_the_interval_narrows_with_the_test_set_and_overlaps_for_one_digit_apart():
    widths = [hi - lo for lo, hi in (metrics.interval(0.9, n) for n in (100, 1_000, 10_000))]
    assert widths[0] > widths[1] > widths[2] and widths[1] / widths[2] == pytest.approx(math.sqrt(10), rel=0.05)
    gru, lenet = metrics.interval(0.9954, 10_000), metrics.interval(0.9955, 10_000)
    assert gru[0] < lenet[1] and lenet[0] < gru[1]                     # GRU .9954 vs LeNet .9955: noise
    assert metrics.with_interval(0.9834, 10_000) == "0.9834 (0.981–0.986)"
    assert all(math.isnan(v) for v in metrics.interval(0.5, 0))


@pytest.mark.parametrize("labels, average, seed", [
    (list(range(10)), "macro", 0), (list(range(10)), "macro", 1), ([0, 1], "binary", 2), ([0, 1], "binary", 3)])
def test_classification_equals_scikit_learn(labels, average, seed):
    """The numpy counts give scikit-learn's values to the last bit, degenerate slices included."""
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(seed)
    cases = [(rng.integers(0, len(labels), n), rng.integers(0, len(labels), n)) for n in (1, 7, 500, 10_000)]
    cases += [(np.zeros(20, int), np.zeros(20, int)),                   # one class only: no positive predicted
              (np.ones(20, int), np.zeros(20, int)),                    # nothing right
              (rng.integers(0, 2, 50), np.full(50, labels[-1]))]        # one answer for everything
    for y_true, y_pred in cases:
        ours = metrics.classification(y_true, y_pred, labels, average)
        p, r, f, _ = sk.precision_recall_fscore_support(y_true, y_pred, labels=labels, average=average,
                                                        zero_division=0)
        assert (ours["precision"], ours["recall"], ours["f1"]) == (float(p), float(r), float(f))
        assert ours["accuracy"] == float(sk.accuracy_score(y_true, y_pred))
        assert ours["confusion_matrix"] == sk.confusion_matrix(y_true, y_pred, labels=labels).tolist()
        assert ours["n"] == len(y_true)


def test_classification_refuses_labels_and_predictions_of_different_lengths():
    with pytest.raises(ValueError, match="3 true labels but 2 predictions"):
        metrics.classification([0, 1, 1], [0, 1], [0, 1], "binary")
