"""Frankle et al.'s instability statistics (lib.instability)."""
import numpy as np
import pytest
from scipy import stats

from lib import instability as I


def test_one_stratum_is_fishers_exact_test():
    # early: 7 of 10 unstable, late: 1 of 10
    p = I.stratified_exact([7], [10], [1], [10])
    ref = stats.fisher_exact([[7, 3], [1, 9]], alternative="greater").pvalue
    assert p == pytest.approx(ref, rel=1e-9)


def test_strata_add_evidence_and_no_difference_is_not_significant():
    one = I.stratified_exact([6], [10], [1], [10])
    three = I.stratified_exact([6, 6, 6], [10, 10, 10], [1, 1, 1], [10, 10, 10])
    assert three < one < 0.05
    assert I.stratified_exact([3, 3], [10, 10], [3, 3], [10, 10]) > 0.4


def test_stratified_exact_rejects_bad_counts():
    with pytest.raises(ValueError, match="counts"):
        I.stratified_exact([11], [10], [0], [10])


def test_error_barrier_of_a_convex_and_a_bumped_path():
    a = np.linspace(0, 1, 11)
    assert I.error_barrier(a, 0.9 - 0.0 * a) == 0.0
    acc = np.full(11, 0.9)
    acc[5] = 0.8  # 10 points more error halfway
    assert I.error_barrier(a, acc) == pytest.approx(0.1)
    assert I.unstable(0.021) and not I.unstable(0.02)
