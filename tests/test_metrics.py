"""The 95 % binomial (Wilson) interval shown next to every test accuracy."""

import math

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
