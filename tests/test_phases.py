"""The regime classifier on synthetic kernel series with a planted answer for every regime.

Kernels are points of R^(n x n) built from an orthonormal basis e_0, e_1, ... (float64): a planted
rotation from e_0 towards e_1 (the fast phase), and jitter or a random process in other basis
directions. For small angles S = 1 - cos ≈ angle^2 / 2, which is what the classifier's
statistics rest on; none of the series below was tuned on the classifier's output.
"""
import math

import numpy as np
import pytest
import torch

from lib import phases

STEPS, EVERY = 1500, 25
DTS = [25, 50, 100, 200]


def _basis(k, n=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(n * n, k, generator=g, dtype=torch.float64))
    return [q[:, i].reshape(n, n) for i in range(k)]


def _times():
    return list(range(0, STEPS + 1, EVERY))


def _rotation(t, t0, angle):
    """Angle reached at t: constant speed up to t0, then stop."""
    return angle * min(t / t0, 1.0) if t0 else 0.0


def series(kind, seed=0, t0=300):
    """A planted kernel series {t: H}; the norm grows with t (S must not care)."""
    rng = np.random.default_rng(seed + 100)
    dims = 60
    unit = math.sqrt(20 / dims)  # jitter sizes below are per direction for 20 directions
    e = _basis(2 + dims, seed=seed)
    ts = _times()
    jitter_dirs = e[2:]

    def point(phi, coords):
        h = math.cos(phi) * e[0] + math.sin(phi) * e[1]
        return h + sum(float(c) * d for c, d in zip(coords, jitter_dirs))

    out = {}
    if kind == "cone":  # 1.5 rad by t0, then i.i.d. jitter inside a fixed cone
        for t in ts:
            out[t] = point(_rotation(t, t0, 1.5), rng.normal(0, unit * 0.01, dims))
    elif kind == "lazy":  # the same fast phase, then frozen up to arithmetic-size jitter
        for t in ts:
            out[t] = point(_rotation(t, t0, 1.5), rng.normal(0, unit * 1e-6, dims) if t >= t0 else np.zeros(dims))
    elif kind == "drift":  # constant speed over the whole window, small jitter
        for t in ts:
            out[t] = point(1.2 * t / STEPS, rng.normal(0, unit * 0.002, dims))
    elif kind == "random-walk":  # angle^2 grows like t
        walk = np.cumsum(rng.normal(0, unit * 0.02, (len(ts), dims)), axis=0)
        for t, w in zip(ts, walk):
            out[t] = point(0.0, w)
    elif kind == "slow-growth":  # the fast phase, then fractional Brownian motion with Hurst 0.2 from t0:
        # S(t, tau) grows like (t - tau)^0.4 without bound (slow, unbounded: not a cone)
        x = np.array([t - t0 for t in ts if t > t0], float)
        hh = 0.2
        cov = 0.5 * (x[:, None] ** (2 * hh) + x[None, :] ** (2 * hh) - np.abs(x[:, None] - x[None, :]) ** (2 * hh))
        chol = np.linalg.cholesky(cov + 1e-12 * np.eye(len(x)))
        path = chol @ rng.normal(0, unit * 0.003, (len(x), dims))
        path = np.vstack([np.zeros((len(ts) - len(x), dims)), path])
        for t, w in zip(ts, path):
            out[t] = point(_rotation(t, t0, 1.5), w)
    elif kind == "sqrt":  # fractional Brownian motion, Hurst 1/4: S(t, tau) grows like sqrt(t - tau)
        x = np.array(ts[1:], float)
        hh = 0.25
        cov = 0.5 * (x[:, None] ** (2 * hh) + x[None, :] ** (2 * hh) - np.abs(x[:, None] - x[None, :]) ** (2 * hh))
        chol = np.linalg.cholesky(cov + 1e-12 * np.eye(len(x)))
        path = np.vstack([np.zeros(dims), chol @ rng.normal(0, unit * 0.01, (len(x), dims))])
        for t, w in zip(ts, path):
            out[t] = point(0.0, w)
    elif kind.startswith("ou-"):  # the fast phase, then an Ornstein-Uhlenbeck process (mean-reverting)
        tc, x = float(kind[3:]), np.zeros(dims)
        a = math.exp(-EVERY / tc)
        for t in ts:
            x = a * x + math.sqrt(1 - a * a) * rng.normal(0, unit * 0.01, dims)
            out[t] = point(_rotation(t, t0, 1.5), x)
    elif kind == "power-law":  # one smooth regime: jitter whose size decays like a power law, no break
        for t in ts:
            out[t] = point(0.0, rng.normal(0, unit * 0.3 * (1 + t / EVERY) ** -0.5, dims))
    else:
        raise ValueError(kind)
    return {t: h * (1 + t / 100) for t, h in out.items()}


PLANTED = {"cone": "cone", "lazy": "lazy", "drift": "drifting", "random-walk": "drifting",
           "slow-growth": "unsaturated", "power-law": "no-transition"}
NOISE = {"lazy": 1e-9}  # the planted instrument noise (S of the lazy series' jitter is ~1e-10)


@pytest.mark.parametrize("kind", sorted(PLANTED))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_planted_regime_is_found(kind, seed):
    r = phases.regime(series(kind, seed), DTS, noise=NOISE.get(kind, 0.0))
    assert r.name == PLANTED[kind], (kind, seed, r.reason)


def test_cone_statistics_and_transition_interval():
    r = phases.regime(series("cone"), DTS)
    lo, hi = r.transition_interval
    assert lo <= r.transition <= hi
    assert 250 <= r.transition <= 350 and lo <= 300 <= hi  # planted at 300
    assert r.floor_slope.below(phases.FLOOR_SLOPE_MAX) and r.ref_growth_pooled.below(phases.REF_GROWTH_MAX)
    assert r.phase_two == r.transition and all(tau >= r.transition for tau in r.taus)  # as in the papers
    assert r.saturation.name == "cone" and r.saturation.profile.window[0] == r.transition
    assert r.dbic > phases.CHANGE_POINT_BIC and r.drop > phases.DROP_MIN


def test_drift_and_random_walk_floor_slopes_are_near_theory():
    """S ≈ angle^2 / 2: a constant-speed drift has floors growing like dt^2, a random walk like dt."""
    assert phases.regime(series("drift"), DTS).floor_slope.value == pytest.approx(2.0, abs=0.3)
    assert phases.regime(series("random-walk"), DTS).floor_slope.value == pytest.approx(1.0, abs=0.4)


@pytest.mark.parametrize("tc,expected", [(5, "cone"), (240, "cone"), (20000, "drifting")])
def test_mean_reverting_motion(tc, expected):
    """Not a planted answer the classifier was written for: after the same fast phase, an
    Ornstein-Uhlenbeck process. Decorrelating faster than the smallest dt it is confined to a cone;
    with a correlation time of a fifth of the Phase-II window (240 of 1,200) D(L) still levels off
    inside the window (a cone); with one far beyond the window it is a random walk (drifting)."""
    names = [phases.regime(series(f"ou-{tc}", seed), DTS).name for seed in range(3)]
    assert names == [expected] * 3, names


def test_lazy_needs_the_noise_floor():
    """Without a measured noise floor the frozen kernel's jitter is motion; with it, it is noise."""
    k = series("lazy")
    assert phases.regime(k, DTS, noise=1e-9).name == "lazy"
    assert phases.regime(k, DTS, noise=0.0).name != "lazy"


def test_a_kernel_moving_below_the_noise_floor_is_not_lazy():
    """A floor set above a drifting kernel's adjacent distances makes them 'noise'; D at long lags
    still rises far above it: not lazy. A floor near D at the longest lag leaves reference curves
    (longer apart) that rise, which a frozen kernel's would not: inconclusive, not lazy."""
    k = series("drift")
    moving = phases.regime(k, DTS)
    assert moving.name == "drifting" and moving.ref_growth_pooled.above(phases.REF_GROWTH_MAX)
    big = 2 * max(moving.floor[dt].hi for dt in DTS)
    r = phases.regime(k, DTS, noise=big)
    assert r.noise_ratio.hi <= phases.NOISE_RATIO and r.name != "lazy", r.reason
    above = moving.saturation.profile.D[-1] / 2  # D at every lag within 3x of it; the reference curves rise past it
    r = phases.regime(k, DTS, noise=above)
    assert r.name == "inconclusive" and "reference curves keep rising" in r.reason, r.reason


def test_transition_interval_is_a_bootstrap_that_widens_with_noise():
    """The break's interval comes from resampled residuals: a sharp planted break gives a narrow
    interval around it, the same break under thirty times the jitter a wider one."""
    ts = np.arange(0, 1501, 25)
    rng = np.random.default_rng(0)
    clean = np.where(ts < 300, (ts + 25.0) ** -1.0, 0.5 / 325)  # a power law, then a floor half its last value
    widths = []
    for sd in (0.02, 0.6):
        s = clean * np.exp(rng.normal(0, sd, len(ts)))
        dbic, t, (lo, hi), drop = phases.change_point(ts, s, 25, 1e-12)
        assert lo <= t <= hi and lo <= 300 <= hi, (sd, t, lo, hi)
        widths.append(hi - lo)
        if sd == 0.02:
            assert abs(t - 300) <= 25 and hi - lo <= 100 and dbic > phases.CHANGE_POINT_BIC, (t, lo, hi, dbic)
    assert widths[0] < widths[1], widths


def test_only_sources_that_differ_within_a_pair_set_the_floor():
    from lib.kernels import FLOOR_SOURCES, noise_value
    assert FLOOR_SOURCES == ("arithmetic",)
    assert noise_value({"arithmetic": [1e-9, 3e-9], "bn batches": [2e-3]}) == 3e-9
    assert noise_value({"bn batches": [2e-3]}) == 0.0 and noise_value({}) == 0.0


@pytest.mark.parametrize("kind", ["cone", "drift", "power-law"])
def test_regime_is_invariant_to_scaling(kind):
    k = series(kind)
    a = phases.regime(k, DTS)
    b = phases.regime({t: 37.0 * h for t, h in k.items()}, DTS)
    assert a.name == b.name and a.transition == b.transition
    assert a.floor_slope.value == pytest.approx(b.floor_slope.value, rel=1e-6)


def test_setting_regime_decisive_only_when_seeds_agree():
    cones = [phases.regime(series("cone", s), DTS) for s in range(3)]
    assert phases.setting_regime(cones).name == "cone"
    mixed = cones[:2] + [phases.regime(series("drift"), DTS)]
    v = phases.setting_regime(mixed)
    assert v.name == "inconclusive" and v.names == ["cone", "cone", "drifting"]
    lo, hi = phases.setting_regime(cones).transition_interval
    assert lo <= 300 <= hi
    with pytest.raises(ValueError):
        phases.setting_regime([])


def test_window_and_bad_dt():
    k = series("cone")
    r = phases.regime(k, [25], window_end=900)
    assert r.window == (0, 900)
    with pytest.raises(ValueError, match="dt=1000"):
        phases.regime(k, [1000], window_end=900)
