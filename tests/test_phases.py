import math

import pytest
import torch

from lib import phases


def _basis(n=12, k=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(n * n, k, generator=g, dtype=torch.float64))
    return [q[:, i].reshape(n, n) for i in range(k)]


def synthetic(kind, t0=300, steps=1500, every=25, seed=0):
    """Kernels on a sphere: 'two-phase' rotates 1 rad by t0 then jitters in a fixed cone;
    'drift' rotates at a constant speed forever (no floor, no plateau)."""
    e = _basis(seed=seed)
    g = torch.Generator().manual_seed(seed + 1)
    out = {}
    for t in range(0, steps + 1, every):
        if kind == "two-phase":
            phi = min(t / t0, 1.0)
            h = math.cos(phi) * e[0] + math.sin(phi) * e[1]
            noise = sum(c * b for c, b in zip(torch.randn(3, generator=g, dtype=torch.float64), e[2:5]))
            h = h + 0.02 * noise
        else:
            phi = 1.5 * t / steps
            h = math.cos(phi) * e[0] + math.sin(phi) * e[1]
        out[t] = h * (1 + t / 100)  # growing norm: S must not care
    return out


def test_two_phase_series_passes_every_criterion():
    s = phases.cone_summary(synthetic("two-phase"), [25, 50, 100, 200], [150, 375, 750, 1125])
    assert min(s.drop.values()) > 3
    assert s.floor_spread < 0.5 * s.dt_spread
    assert all(p["plateaus"] for p in s.plateau.values())
    assert 250 <= s.transition <= 400  # planted at 300


def test_drifting_series_fails_floor_and_plateau():
    s = phases.cone_summary(synthetic("drift"), [25, 50, 100, 200], [150, 375, 750, 1125])
    assert s.floor_spread > 0.5 * s.dt_spread  # S grows with dt: no shared floor
    assert not any(p["plateaus"] for p in s.plateau.values())
    assert max(s.drop.values()) < 3


def test_window_and_bad_dt():
    k = synthetic("two-phase")
    s = phases.cone_summary(k, [25], [150], window_end=600)
    assert s.window == (0, 600)
    with pytest.raises(ValueError, match="dt=1000"):
        phases.cone_summary(k, [1000], [150], window_end=600)


def test_verdict_two_phases_with_interval_around_planted_transition():
    v = phases.verdict([synthetic("two-phase", seed=s) for s in range(3)], [25, 50, 100, 200],
                       [150, 375, 750, 1125])
    assert v.two_phases == "yes"
    lo, hi = v.interval
    assert lo <= 300 <= hi + 50 and hi - lo <= 150  # planted at 300 (the criterion reacts within a checkpoint or two)
    assert v.fraction("plateau") == 1.0


def test_verdict_none_on_drift():
    v = phases.verdict([synthetic("drift", seed=s) for s in range(3)], [25, 50, 100, 200], [150, 375, 750, 1125])
    assert v.two_phases == "no"
    assert v.fraction("shared floor") == 0 and v.fraction("plateau") == 0


def test_verdict_mixed_and_empty():
    v = phases.verdict([synthetic("two-phase"), synthetic("drift")], [25, 50, 100, 200], [150, 375])
    assert v.two_phases == "mixed"
    with pytest.raises(ValueError):
        phases.verdict([], [25], [150])
