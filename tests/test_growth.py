"""The protocol's cone rule (lib.growth): the growth ratio, the late motion, and surrogates whose answer is known."""
import numpy as np
import pytest
import torch

from lib import growth, saturation


def _series(n=30, steps=81, spacing=25, scale=0.05, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, n, dtype=torch.float64, generator=g)
    h, out = a @ a.T, {}
    for i in range(steps):
        b = torch.randn(n, n, dtype=torch.float64, generator=g) * scale
        h = h + (b + b.T) / 2
        out[i * spacing] = h.clone()
    return out


def test_growth_ratio_of_a_random_walk_is_about_four_and_of_a_shuffle_about_one():
    k = _series()
    assert 3.0 < growth.growth_ratio(k, 100) < 5.0
    assert 0.7 < growth.growth_ratio(saturation.shuffled(k, 100, seed=1), 100) < 1.4


def test_a_kernel_that_converges_to_a_fixed_point_is_lazy_not_a_cone():
    ks = [growth.fixed_point(_series(seed=s), 100) for s in range(4)]
    g = [growth.growth_ratio(k, 100) for k in ks]
    t = [growth.tail_ratio(k, None, noise=1e-8) for k in ks]
    rule = growth.cone_rule(g, t)
    assert rule.verdict == "fails" and rule.regime == "lazy" and rule.evolving_verdict == "fails"


def test_shuffled_kernels_are_a_cone_and_a_random_walk_keeps_rising():
    base = [_series(seed=s) for s in range(5)]
    shuf = [saturation.shuffled(k, 100, seed=i) for i, k in enumerate(base)]
    r = growth.cone_rule([growth.growth_ratio(k, 100) for k in shuf], [growth.tail_ratio(k, None, 1e-8) for k in shuf])
    assert r.verdict == "holds" and r.regime == "cone"
    r = growth.cone_rule([growth.growth_ratio(k, 100) for k in base], [growth.tail_ratio(k, None, 1e-8) for k in base])
    assert r.verdict == "fails" and r.regime == "rising"


def test_the_rule_uses_the_protocols_margins(monkeypatch):
    g, t = [1.6, 1.7, 1.65], [10.0, 12.0, 11.0]
    assert growth.cone_rule(g, t).verdict == "inconclusive"
    monkeypatch.setattr(growth, "GROWTH_FLAT", 2.0)
    assert growth.cone_rule(g, t).verdict == "holds"


def test_log_test_needs_two_positive_replicates():
    with pytest.raises(ValueError, match="values"):
        growth.log_test([1.0], 1.4, 2.0)


def test_calibration_rows_count_every_verdict():
    ks = [_series(seed=s, steps=41) for s in range(2)]
    rows = growth.calibrate_cone(ks, 100, 1000, [1e-8, 1e-8], n_seeds=2, n_rep=2)
    assert {r["surrogate"] for r in rows} == set(growth.CONE_SURROGATES)
    for r in rows:
        assert sum(r["counts"].values()) == 2 and 0 <= r["right_rate"] <= 1
    fixed = next(r for r in rows if r["surrogate"].startswith("fixed point"))
    assert fixed["counts"]["fails"] == 2
