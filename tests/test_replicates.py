"""The replicate tests (lib.replicates) on planted data: each answers right where the answer is known,
keeps its false-decision rate near alpha on its null, has power at a large effect, and rejects bad input.

None of the planted effects below was tuned on the tests' output; the calibration tolerances are the
Clopper–Pearson intervals of the measured rates.
"""
import numpy as np
import pytest

from lib import replicates as R

TS = np.unique(np.round(np.geomspace(10, 10000, 40)))  # log-spaced checkpoints, as the runs record them


def _rng(seed=0):
    return np.random.default_rng(seed)


# ---------------------------------------------------------------- drop

def test_drop_tenfold_holds_and_no_drop_does_not():
    rng = _rng()
    late = np.exp(rng.normal(np.log(1e-3), 0.3, 5))
    ten = R.drop_test(late * 10 * np.exp(rng.normal(0, 0.3, 5)), late, 1e-6)
    assert ten.verdict == "holds" and ten.n == 5 and ten.estimate.above(R.DROP_FACTOR)
    assert ten.p < R.ALPHA and len(ten.values) == 5
    none = R.drop_test(late * np.exp(rng.normal(0, 0.3, 5)), late, 1e-6)
    assert none.verdict == "fails"
    edge = R.drop_test(late * R.DROP_FACTOR * np.exp(rng.normal(0, 0.3, 5)), late, 1e-6)
    assert edge.verdict in ("inconclusive", "fails") and edge.verdict != "holds"


def test_drop_at_the_noise_floor_is_a_lower_bound():
    late = np.full(5, 1e-3)
    noise = np.full(5, 1e-3)  # late at the noise: the true late level may be lower
    r = R.drop_test(np.array([1.1, 1.2, 1.0, 1.3, 1.15]) * 1e-3, late, noise)
    assert r.verdict == "inconclusive" and all(r.details["lower_bound"]) and "lower bound" in r.reason
    below = R.drop_test(np.full(5, 1e-2) * [1, 1.1, 0.9, 1.2, 1.05], np.full(5, 1e-6), 1e-3)  # late below the noise
    assert max(below.values) <= 12.1  # raised to the noise floor: ratio at most early / noise


# ---------------------------------------------------------------- transition point

def test_power_law_gives_no_transition_point_and_a_floor_does():
    null, alt = R.transition_samplers(TS, A=1.0, alpha=1.0, B=1e-3, phi=0.5, sigma=0.1)
    rng = _rng(1)
    p_null = [R.transition_point(*null(rng), n_boot=99, seed=i).p for i in range(10)]
    assert sum(p > 0.05 for p in p_null) >= 8 and 0.3 < np.mean(p_null) < 0.8  # about uniform under the null
    fits = [R.transition_point(*alt(rng), n_boot=99, seed=i) for i in range(5)]
    assert all(f.p <= 2 / 100 for f in fits) and sum(f.verdict == "holds" for f in fits) >= 4  # <= 1 of 99 as large
    t_star = np.median([f.details["t_star"] for f in fits])
    assert 500 < t_star < 2000  # planted: (A / B)^(1 / alpha) = 1000
    across = R.transition_across_seeds(fits)
    assert across.verdict == "holds" and across.p < 1e-3 and across.details["phase2"] == across.estimate.value
    nulls = R.transition_across_seeds([R.transition_point(*null(rng), n_boot=49, seed=i) for i in range(5)])
    assert nulls.verdict != "holds"
    if nulls.details["n_found"] == 0:
        assert nulls.details["phase2"] == pytest.approx(R.PHASE2_FALLBACK * TS[-1])


def test_ar1_null_is_wider_than_white_noise():
    """Correlated residuals bend a power law like a floor would: the AR(1) bootstrap must allow for it."""
    null, _ = R.transition_samplers(TS, phi=0.8, sigma=0.1)
    rng = _rng(6)
    data = [null(rng) for _ in range(10)]
    ar1 = np.array([R.transition_point(t, s, n_boot=99, seed=i).p for i, (t, s) in enumerate(data)])
    white = np.array([R.transition_point(t, s, n_boot=99, seed=i, ar1=False).p for i, (t, s) in enumerate(data)])
    assert (ar1 >= white).mean() >= 0.8 and ar1.mean() > white.mean() + 0.03


def test_truncation_check_flags_a_moving_t_star():
    x = np.log(TS)
    moving = R.truncation_check(TS, np.exp(-2 * x + 0.05 * x ** 2))  # a log-parabola: flattens without a floor
    assert moving.verdict == "fails" and "artefact" in moving.reason
    still = R.truncation_check(TS, TS ** -1.0 + 1e-3)
    assert still.verdict == "holds" and still.estimate.value == pytest.approx(1, abs=0.2)
    assert R.truncation_check(TS, TS ** -1.0).verdict == "inconclusive"


# ---------------------------------------------------------------- linear advantage

def test_mcnemar_identical_predictions_and_a_planted_cost():
    c = (_rng().random(500) < 0.9).astype(float)
    same = R.paired_linear(c, c)
    assert same.p == 1.0 and same.verdict == "inconclusive" and same.estimate.value == 0
    _, alt = R.linear_samplers(n_test=2000, gap=0.05, per_seed=True)
    cost = R.paired_linear(*alt(_rng(2)), n_resamples=199)
    assert cost.verdict == "holds" and cost.estimate.lo > 0 and cost.details["discordant"][0] > cost.details["discordant"][1]


def test_linear_across_seeds():
    rng = _rng(3)
    cost = R.linear_across_seeds(0.03 + rng.normal(0, 0.005, 5))
    assert cost.verdict == "holds" and cost.test.startswith("one-sample t")
    zero = R.linear_across_seeds(rng.normal(0, 0.001, 5))
    assert zero.verdict == "fails"  # tightly around zero: below the negligible cost
    assert R.linear_across_seeds(rng.normal(0, 0.03, 5)).verdict != "holds"
    assert R.linear_across_seeds(0.03 + rng.normal(0, 0.005, 8)).test.startswith("Wilcoxon")


def test_linear_trend():
    rng = _rng(4)
    sp = np.array([100, 200, 400, 800, 1600, 3200])
    acc = 0.90 + 0.01 * np.arange(6) + rng.normal(0, 0.002, (5, 6))
    loss = 0.40 - 0.02 * np.arange(6) + rng.normal(0, 0.004, (5, 6))
    up = R.linear_trend(sp, acc, loss)
    assert up.verdict == "holds" and up.estimate.value > 0.8 and up.parts[1].estimate.value < -0.8
    assert R.linear_trend(sp, acc[:, ::-1], loss).verdict == "fails"
    flat = R.linear_trend(sp, rng.normal(0.9, 0.01, (5, 6)), rng.normal(0.4, 0.01, (5, 6)))
    assert flat.verdict != "holds"


# ---------------------------------------------------------------- chaos

def test_chaos():
    rng = _rng(5)
    late = np.exp(rng.normal(np.log(0.01), 1, 10))
    early = np.exp(rng.normal(np.log(0.6), 0.5, 10))
    r = R.chaos_test(early, late, seed_barrier=0.5)
    assert r.verdict == "holds" and r.estimate.lo > 10 and r.details["basin"][0] > r.details["basin"][1]
    same = R.chaos_test(np.exp(rng.normal(np.log(0.01), 1, 10)), late, seed_barrier=0.5)
    assert same.verdict != "holds"
    assert R.chaos_test(late / 10, late, seed_barrier=0.5).verdict == "fails"
    farther_same_basin = R.chaos_test(late * 30, late, seed_barrier=50.0)  # U rejects, no draw leaves the basin
    assert farther_same_basin.parts[0].p < 0.01 and farther_same_basin.details["basin"] == (0, 0)
    assert farther_same_basin.verdict == "inconclusive"
    zero = R.chaos_test(np.zeros(10), np.zeros(10), seed_barrier=0.5)  # floored at the resolution, not -inf
    assert zero.verdict == "fails" and zero.estimate.value == 1
    amp = R.amplification({100: [2.0, 4.0, 6.0], 1000: [0.1, 0.2, 0.3]}, 0.5)
    assert amp[100].value == 8 and (amp[100].lo, amp[100].hi) == (4, 12) and amp[1000].value == pytest.approx(0.4)
    per_draw = R.amplification({10: [2.0, 4.0]}, {10: [1.0, 4.0]})
    assert (per_draw[10].lo, per_draw[10].hi) == (1, 2)


# ---------------------------------------------------------------- calibration: 5 seeds, 10 draws

def _calibrated(cal):
    assert cal.false.lo <= R.ALPHA, f"false-decision rate {cal.false.fmt(3)} above alpha"
    assert cal.power.value >= 0.8, f"power {cal.power.fmt(3)} at a large effect"


def test_size_and_power_drop():
    _calibrated(R.size_and_power(R.drop_test, *R.drop_samplers(n=5, effect=10.0, sd=0.5), n_rep=200))


def test_size_and_power_linear():
    _calibrated(R.size_and_power(R.linear_across_seeds, *R.linear_samplers(n_seeds=5, gap=0.03, sd=0.01), n_rep=200))


def test_size_and_power_mcnemar():
    def fn(sw, st):
        return R.paired_linear(sw, st, n_resamples=49)
    _calibrated(R.size_and_power(fn, *R.linear_samplers(n_test=1000, gap=0.03, per_seed=True), n_rep=200))


def test_size_and_power_chaos():
    _calibrated(R.size_and_power(lambda e, l_, b: R.chaos_test(e, l_, b, n_resamples=99),
                                 *R.chaos_samplers(n=10, early_median=0.5, late_median=0.01), n_rep=200))


def test_size_and_power_transition_point():
    null, alt = R.transition_samplers(TS, A=1.0, alpha=1.0, B=1e-3, phi=0.5, sigma=0.1)
    _calibrated(R.size_and_power(lambda t, s: R.transition_point(t, s, n_boot=39), null, alt, n_rep=40))


def test_size_and_power_linear_trend():
    sp = np.array([100, 200, 400, 800, 1600, 3200])

    def sampler(slope):
        def sample(rng):  # 5 seeds; accuracy rises and loss falls by `slope` per switch point, noise 0.01
            return sp, 0.9 + slope * np.arange(6) + rng.normal(0, 0.01, (5, 6)), \
                0.4 - slope * np.arange(6) + rng.normal(0, 0.01, (5, 6))
        return sample
    _calibrated(R.size_and_power(R.linear_trend, sampler(0.0), sampler(0.01), n_rep=200))


def test_calibration_catches_an_anticonservative_test():
    """The calibration check has teeth: judging the drop against 1.5x while the null sits at 3x is wrong."""
    cal = R.size_and_power(lambda *a: R.drop_test(*a, factor=1.5), *R.drop_samplers(n=5), n_rep=100)
    assert cal.false.lo > R.ALPHA


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("call, name", [
    (lambda: R.drop_test([], [], 0.0), "early"),
    (lambda: R.drop_test([1, 2], [1, 2, 3], 0.0), "late"),
    (lambda: R.drop_test([1, 2], [1, 2], [0.1]), "noise"),
    (lambda: R.drop_test([1, 2], [1, 2], 0.0, factor=0.5), "factor"),
    (lambda: R.drop_test([1, -2], [1, 2], 0.0), "early"),
    (lambda: R.transition_point(TS, TS[:-1] ** -1.0), "ts"),
    (lambda: R.transition_point(TS[:5], TS[:5] ** -1.0), "ts"),
    (lambda: R.transition_across_seeds([]), "per_seed_results"),
    (lambda: R.paired_linear([1, 0], [1, 0, 1]), "switched_correct"),
    (lambda: R.paired_linear([1, 2], [1, 0]), "0/1"),
    (lambda: R.linear_across_seeds([]), "diffs"),
    (lambda: R.linear_trend([1, 2, 3], np.ones((2, 3)), np.ones((2, 4))), "loss"),
    (lambda: R.chaos_test([1, 2], [1, 2], 0.5, fraction=1.5), "fraction"),
    (lambda: R.chaos_test([1, 2], [1, 2], 0.5, fraction=0.0), "fraction"),
    (lambda: R.chaos_test([], [1, 2], 0.5), "early"),
    (lambda: R.chaos_test([1, 2], [1, 2], 0.0), "seed_barrier"),
    (lambda: R.amplification({10: [1.0, 2.0]}, 0.0), "eps_norm"),
    (lambda: R.amplification({10: [1.0, 2.0]}, {10: [1.0, 2.0, 3.0]}), r"eps_norm\[10\]"),
    (lambda: R.amplification({}, 1.0), "dist"),
    (lambda: R.size_and_power(R.drop_test, *R.drop_samplers(), n_rep=0), "n_rep"),
])
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()
