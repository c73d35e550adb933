"""The chaos transition over draws and its agreement with the cone, on synthetic barrier curves
with a planted answer (lib.phases.chaos_transition, lib.phases.agreement)."""
import numpy as np
import pytest

from lib import phases

T0S = [0, 50, 100, 150, 200, 250, 300, 350, 400, 800]


def _draws(step_at, n=5, noise=0.3, high=0.5, low=0.002, seed=0):
    """Barriers at ``high`` before the planted step and ``low`` from it on, with log-normal noise."""
    rng = np.random.default_rng(seed)
    clean = np.array([high if t < step_at else low for t in T0S])
    return clean * np.exp(rng.normal(0, noise, (n, len(T0S))))


@pytest.mark.parametrize("step_at", [100, 200, 350])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_planted_step_is_inside_the_interval(step_at, seed):
    tr = phases.chaos_transition(T0S, _draws(step_at, seed=seed))
    assert tr.name == "transition" and tr.transition == step_at
    lo, hi = tr.interval
    assert hi is not None and lo < step_at <= hi  # the barrier fell after lo, by step_at
    assert tr.found == 1.0 and tr.n_draws == 5


def test_one_outlier_draw_does_not_move_the_median_transition():
    b = _draws(150)
    b[0, T0S.index(400)] = 0.4  # one draw relapses late, as t0 = 200 did on one processor
    tr = phases.chaos_transition(T0S, b)
    assert tr.transition == 150 and tr.hi[T0S.index(400)] == pytest.approx(0.4)
    assert tr.interval[1] is not None or tr.found < 1  # the relapse may widen the interval, never hides it


def test_flat_noisy_curve_has_no_transition():
    rng = np.random.default_rng(3)
    tr = phases.chaos_transition(T0S, 0.3 * np.exp(rng.normal(0, 0.5, (5, len(T0S)))))
    assert tr.name == "no transition" and tr.transition is None and tr.interval is None
    assert tr.found < 0.5


def test_no_chaos_when_the_first_barrier_is_tiny():
    tr = phases.chaos_transition(T0S, _draws(100, high=0.005, low=0.0001))
    assert tr.name == "no chaos" and tr.transition is None


def test_bad_input_names_the_problem():
    with pytest.raises(ValueError, match="one column per t0"):
        phases.chaos_transition(T0S, np.ones((3, 4)))
    with pytest.raises(ValueError, match="increasing"):
        phases.chaos_transition([0, 100, 50], np.ones((3, 3)))


def _chaos_at(step_at):
    return phases.chaos_transition(T0S, _draws(step_at))


def test_agreement_holds_when_the_intervals_overlap():
    a = phases.agreement(_chaos_at(200), [175, 200], [(150, 225), (175, 250)], resolution=25)
    assert a.verdict == "holds" and a.ratio.lo <= 1 <= a.ratio.hi


def test_agreement_fails_when_the_intervals_are_disjoint():
    a = phases.agreement(_chaos_at(100), [600, 650], [(550, 700), (600, 725)], resolution=25)
    assert a.verdict == "fails" and a.ratio.hi < 1


def test_agreement_inconclusive_without_a_cone_transition_in_every_seed():
    a = phases.agreement(_chaos_at(200), [175, None], [(150, 225), None], resolution=25)
    assert a.verdict == "inconclusive" and "every seed" in a.reason


def test_agreement_inconclusive_without_chaos_transition():
    rng = np.random.default_rng(3)
    flat = phases.chaos_transition(T0S, 0.3 * np.exp(rng.normal(0, 0.5, (5, len(T0S)))))
    assert phases.agreement(flat, [175], [(150, 225)], resolution=25).verdict == "inconclusive"


def test_agreement_inconclusive_when_an_overlap_comes_from_a_coarse_interval():
    a = phases.agreement(_chaos_at(200), [400], [(25, 1500)], resolution=25)  # cone interval spans 60x
    assert a.verdict == "inconclusive" and "coarse" in a.reason


def test_kernel_jumps_finds_a_planted_jump_and_its_loss_spike():
    """lib.pages.chaos.kernel_jumps on a synthetic run: a kernel displaced at one checkpoint, with a
    training-loss spike in the window that ends there, and a smooth series elsewhere."""
    from types import SimpleNamespace

    import torch

    from lib.pages import chaos, common
    g = torch.Generator().manual_seed(0)
    n, its = 12, list(range(0, 1001, 25))
    base, drift, kick = (torch.randn(n, n, generator=g, dtype=torch.float64) for _ in range(3))
    sym = lambda m: m @ m.T  # noqa: E731
    kernels = {t: sym(base + 0.3 * (1 - np.exp(-t / 100)) * drift + 0.002 * torch.randn(n, n, generator=g,
                                                                                          dtype=torch.float64)
                      + (0.3 * kick if t == 500 else 0)) for t in its}
    metrics = [dict(iteration=t, train_loss=(5.0 if t == 500 else 0.1)) for t in its]
    page = common.setup(preset="default", steps=1000)
    regime = phases.regime(kernels, [25, 50], window_end=1000, noise=1e-9, centered=True)
    analysis = SimpleNamespace(kernels=kernels, traj=SimpleNamespace(metrics=metrics), dts=[25, 50],
                               run=SimpleNamespace(regime=lambda centered=True: regime))
    j = chaos.kernel_jumps(page, analysis)
    ts = [x["t"] for x in j.jumps]
    assert 475 in ts and 500 in ts and len(ts) == 2  # into and out of the displaced kernel
    into = next(x for x in j.jumps if x["t"] == 475)
    assert into["loss_ratio"] > 10 and into["t_next"] == 500
    assert j.without.name in phases.REGIMES and len(j.adjacent) == len(its) - 1


def test_drop_decides_the_claim_and_is_robust_to_exact_zeros():
    step = phases.chaos_transition(T0S, _draws(200, high=0.5, low=0.002))
    assert step.drop.above(phases.CHAOS_DROP)  # a 250-fold planted drop
    zeros = _draws(200)
    zeros[:, -2:] = 0.0  # late barriers exactly 0 (seen on a GPU): a finite drop, not a division by zero
    assert np.isfinite(phases.chaos_transition(T0S, zeros).drop.value)
    rng = np.random.default_rng(5)
    flat = phases.chaos_transition(T0S, 0.3 * np.exp(rng.normal(0, 0.3, (5, len(T0S)))))
    assert flat.drop.below(phases.CHAOS_NO_DROP) and flat.drop.lo < 1 < flat.drop.hi


# ---------------------------------------------------------------- the linear advantage's verdict

def _adv(standard, linear_at, transitions=(200, 225, 250), n_test=1000, late=(0.99, 0.99, 0.99)):
    k = len(standard)
    return phases.linear_advantage(seeds=range(k), transitions=transitions[:k], at=[t and 400 for t in transitions[:k]],
                                   late=1600, standard=standard, linear_at=linear_at, linear_late=late[:k],
                                   n_test=n_test)


def test_linear_advantage_holds_fails_and_is_inconclusive_where_planted():
    # a room of ~3 points against a spread of 0.4: switching to the lazy model at the transition costs accuracy
    a = _adv([0.90, 0.902, 0.904], [0.87, 0.871, 0.875])
    assert a.verdict == "holds" and a.room.lo > a.resolution and abs(a.resolution - 0.004) < 1e-12
    assert abs(a.room.value - 0.030) < 1e-9 and (a.room.lo, a.room.hi) == pytest.approx((0.029, 0.031)) and a.gain is not None
    # the linearized model better by 3 points in every seed
    assert _adv([0.87, 0.871, 0.875], [0.90, 0.902, 0.904]).verdict == "fails"
    # a room of 0.1 points within a spread of 0.5 (a data set with no accuracy left): too coarse to say
    c = _adv([0.980, 0.983, 0.985], [0.979, 0.982, 0.984])
    assert c.verdict == "inconclusive" and "within the seed-to-seed spread" in c.reason
    # one seed: the spread is unknown; a seed without a transition: nothing to switch at
    assert _adv([0.90], [0.80]).verdict == "inconclusive"
    d = _adv([0.90, 0.90, 0.90], [0.80, None, 0.80], transitions=(200, None, 250))
    assert d.verdict == "inconclusive" and "no kernel transition" in d.reason
    # the resolution is never finer than one test example
    e = _adv([0.9, 0.9, 0.9], [0.899, 0.899, 0.899], n_test=100)
    assert e.resolution == 0.01 and e.verdict == "inconclusive"


def test_linear_advantage_rejects_bad_input():
    with pytest.raises(ValueError, match="one entry per seed"):
        phases.linear_advantage([0, 1], [1, 2], [1, 2], 5, [0.9], [0.8, 0.8], [0.9, 0.9], n_test=10)
    with pytest.raises(ValueError, match="n_test must be a positive integer"):
        phases.linear_advantage([0], [1], [1], 5, [0.9], [0.8], [0.9], n_test=0)
