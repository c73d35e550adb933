"""The papers' claims judged by tests across replicates: training seeds, and perturbation draws for chaos.

Every judgement returns a `Test`: the statistic's name, its per-replicate values, the estimate
across replicates with a 95% interval (`lib.phases.Estimate`), the test used, n, its p-value and
a verdict (``holds`` / ``fails`` / ``inconclusive``) with a one-sentence reason. The tests are
scipy's (``scipy.stats``); this module only chooses them and states the rules:

- `drop_test`: Phase I's drop, early over late adjacent S per seed; t interval on the mean log ratio.
- `transition_point` / `truncation_check` / `transition_across_seeds`: a transition *point* (a
  power law that meets a floor, log S = log(A t^-α + B)) against one power law, by a likelihood
  ratio calibrated by a parametric bootstrap with AR(1) residuals; the crossover t* must not move
  with the analysis window; p-values are combined over seeds and Phase II starts at the median t*.
- `paired_linear` / `linear_across_seeds` / `linear_trend`: the linear advantage (workshop paper,
  Fig 2): McNemar per seed, a paired one-sided test over seeds, Spearman trends with the switch point.
- `chaos_test` / `amplification`: early perturbations end farther (in barrier and in basin) than late ones.
- `size_and_power`: the false-decision rate and power of any of them on surrogate data, with the
  ready samplers ``*_samplers`` (null: no effect, or the claim's boundary; alternative: an effect);
  `rate`: a count of decisions as a rate with its exact interval.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, stats

from .phases import BARRIER_RESOLUTION, DROP_MIN, LEVEL, NOISE_RATIO, PHASE2_FALLBACK, Estimate
from .runtime import timing

VERDICTS = ("holds", "fails", "inconclusive")
ALPHA = 1 - LEVEL  # significance level of every test (0.05), the complement of the intervals' level
DROP_FACTOR = DROP_MIN  # 3x: the papers' "drops quickly" read as at least half an order of magnitude (~sqrt 10),
# the same drop the regime classifier asks of a fast first phase (lib.phases.DROP_MIN)
MIN_POINTS = 8  # checkpoints a transition fit needs: 3 parameters and enough left to estimate AR(1) noise
N_BOOT = 199  # parametric-bootstrap series for a transition point (p resolves down to 1/200)
PHI_MAX = 0.95  # AR(1) coefficient cap: beyond it the simulated noise is a random walk, not noise about a curve
TRUNCATION_FACTOR = float(np.sqrt(2))  # t* on [0, T/2] vs [0, T]: a t* made by the window moves by 2 (the window's
# own factor), a real one by its fit's error; sqrt 2 is the geometric midpoint of "still" (1) and "moves" (2)
WILCOXON_MIN = 6  # seeds from which the signed-rank test is used: with n seeds its smallest one-sided p is 2^-n,
# so at n = 5 only "all five positive" rejects at 0.05 and at n = 4 nothing does; below it, a t test
NEGLIGIBLE_COST = 0.005  # accuracy cost of switching (half a point) below which the lazy model loses nothing
TRUNCATION_SHARE = 0.5  # the truncation check must hold in at least this share of the seeds (protocol/claims.toml)
MIN_SEEDS = 3  # replicates below which no test across replicates decides (protocol/claims.toml)
BASIN_FRACTION = 0.5  # a draw ends in another basin when its barrier exceeds this fraction of the barrier
# between two independently trained seeds (half way to "as far as another training run")
N_RESAMPLES = 999  # bootstrap resamples for intervals (scipy.stats.bootstrap, percentile method)


@dataclass(frozen=True)
class Test:
    """One claim judged over replicates.

    statistic: what is measured; values: per replicate; estimate: across replicates with its 95%
    interval (None where there is none); test: the test used; n: replicates; p: its p-value
    (None where there is none); verdict: one of ``VERDICTS``; reason: one sentence; parts: sub-tests
    behind the verdict; details: the other numbers (fits, counts) by name.
    """

    statistic: str
    values: tuple
    estimate: Estimate | None
    test: str
    n: int
    p: float | None
    verdict: str
    reason: str
    parts: tuple = ()
    details: dict = field(default_factory=dict)


def _arr(name, x, min_n=1, positive=False) -> np.ndarray:
    a = np.asarray(x, dtype=float).ravel()
    if a.size < min_n:
        raise ValueError(f"{name} needs at least {min_n} value(s); got {a.size}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} must be finite")
    if positive and (a <= 0).any():
        raise ValueError(f"{name} must be positive")
    return a


def _same_len(**arrays):
    lens = {k: len(v) for k, v in arrays.items()}
    if len(set(lens.values())) > 1:
        raise ValueError("mismatched lengths: " + ", ".join(f"{k}={n}" for k, n in lens.items()))


def _t_interval(x) -> Estimate:
    """The mean with its two-sided t interval at LEVEL (nan bounds for one value, none for no spread)."""
    if len(x) < 2 or np.ptp(x) == 0:
        return Estimate(float(x[0]), *([float("nan")] * 2 if len(x) < 2 else [float(x[0])] * 2))
    ci = stats.ttest_1samp(x, 0.0).confidence_interval(confidence_level=LEVEL)
    return Estimate(float(np.mean(x)), float(ci.low), float(ci.high))


# ---------------------------------------------------------------- Phase I's drop

def drop_test(early, late, noise, factor: float = DROP_FACTOR) -> Test:
    """Phase I drops by more than ``factor``: per seed early / late adjacent S, across seeds the mean
    log ratio with its t interval. holds: the interval's lower end lies above log(factor); fails:
    its upper end lies below it and every seed's late level is resolved; else inconclusive.

    ``noise``: the noise floor of S per seed (or one for all). A late level below it is raised to it
    (the instrument resolves no less), and a seed whose late level is within ``NOISE_RATIO`` x noise
    gives only a lower bound of its ratio: it counts towards holds (conservatively) but not towards fails.
    """
    early, late = _arr("early", early, positive=True), _arr("late", late, positive=True)
    _same_len(early=early, late=late)
    noise = np.broadcast_to(_arr("noise", noise), late.shape) if np.ndim(noise) == 0 else _arr("noise", noise)
    _same_len(late=late, noise=noise)
    if (noise < 0).any() or not factor > 1:
        raise ValueError(f"noise must be non-negative and factor exceed 1; got factor {factor}")
    bounded = late <= NOISE_RATIO * noise
    ratio = early / np.maximum(late, noise)
    logr = np.log(ratio)
    est = _t_interval(logr)
    p = float(stats.ttest_1samp(logr, np.log(factor), alternative="greater").pvalue) if len(logr) > 1 and np.ptp(logr) > 0 \
        else None
    g = Estimate(*np.exp([est.value, est.lo, est.hi]).tolist())
    text = (f"geometric-mean drop {g.fmt(1)} over {len(ratio)} seeds against {factor:g}x"
            + (f", {int(bounded.sum())} seed(s) at the noise floor (lower bounds)" if bounded.any() else ""))
    if len(logr) < 2:
        verdict, why = "inconclusive", f"one seed: no spread to test against ({text})"
    elif est.above(np.log(factor)):
        verdict, why = "holds", f"the drop is decisively above {factor:g}x: {text}"
    elif est.below(np.log(factor)):
        verdict, why = ("inconclusive", f"the drop is below {factor:g}x but some ratios are only lower bounds: {text}") \
            if bounded.any() else ("fails", f"the drop is decisively below {factor:g}x: {text}")
    else:
        verdict, why = "inconclusive", f"the interval straddles {factor:g}x: {text}"
    return Test("early / late adjacent S", tuple(ratio.tolist()), g, "one-sample t on log ratio (one-sided p)",
                len(ratio), p, verdict, why, details={"log_ratio": est, "lower_bound": tuple(bounded.tolist()),
                                                       "factor": factor})


# ---------------------------------------------------------------- a transition point vs one power law

def _fit_power(x, y):
    slope, a = np.polyfit(x, y, 1)
    return float(a), float(-slope), float(((y - a - slope * x) ** 2).sum())


def _fit_floor(x, y, a0, al0, rss0):
    """log S = log(exp(a - α x) + exp(b)) by Levenberg–Marquardt from three starts; (a, α, b, rss). Where
    every start fails, the power law itself (a floor far below it)."""
    def res(p):
        return np.logaddexp(p[0] - p[1] * x, p[2]) - y

    def jac(p):
        w = 1 / (1 + np.exp(p[2] - p[0] + p[1] * x))  # the power-law share of S
        return np.column_stack([w, -x * w, 1 - w])

    k = max(3, len(x) // 3)
    a1, al1, _ = _fit_power(x[:k], y[:k])
    starts = [(a0, al0, y.min() - 3.0), (a1, al1, float(np.median(y[-k:]))), (a1, al1, float(y.min()))]
    best = (a0, al0, float(y.min()) - 50.0, rss0)
    for s in starts:
        try:
            r = optimize.least_squares(res, s, jac=jac, method="lm", max_nfev=200)
        except (ValueError, FloatingPointError):
            continue
        if np.isfinite(r.x).all() and 2 * r.cost < best[3]:
            best = (*map(float, r.x), float(2 * r.cost))
    return best


def _lr(x, y):
    a, al, rss0 = _fit_power(x, y)
    a1, al1, b1, rss1 = _fit_floor(x, y, a, al, rss0)
    lr = max(0.0, len(y) * np.log(max(rss0, 1e-300) / max(min(rss1, rss0), 1e-300)))
    t_star = float(np.exp(min((a1 - b1) / al1, 700.0))) if al1 > 0 else None  # capped: no overflow
    return lr, (a, al, rss0), (a1, al1, b1, rss1), t_star


def _ar1(r):
    phi = float(np.clip((r[1:] @ r[:-1]) / max(r[:-1] @ r[:-1], 1e-300), -PHI_MAX, PHI_MAX))
    return phi, float(np.std(r[1:] - phi * r[:-1], ddof=1))


def _ar1_noise(rng, n, phi, sigma, size=1):
    e = rng.normal(0, sigma, (size, n))
    e[:, 0] /= np.sqrt(1 - phi ** 2)  # stationary start
    for i in range(1, n):
        e[:, i] += phi * e[:, i - 1]
    return e


@timing("statistics: transition-point bootstrap")
def transition_point(ts, s, n_boot: int = N_BOOT, seed: int = 0, ar1: bool = True) -> Test:
    """A transition point in one series S(t) (t > 0): log S = log(A t^-α + B), B > 0, against one power
    law A t^-α, both fitted by least squares on log S. The statistic is the likelihood ratio
    n log(RSS_power / RSS_floor); its null distribution comes from ``n_boot`` series simulated from
    the fitted power law with AR(1) residuals (φ, σ fitted on the power law's residuals in checkpoint
    order, φ capped at ``PHI_MAX``; white noise with ``ar1=False``). t* = (A/B)^(1/α) is where the power law falls to the floor.

    holds: p < ALPHA and t* inside the observed range; fails: p >= ALPHA and the fitted floor is
    not reached inside the range (no t*, or beyond the last t); else inconclusive.
    """
    ts, s = _arr("ts", ts, MIN_POINTS, positive=True), _arr("s", s, MIN_POINTS, positive=True)
    _same_len(ts=ts, s=s)
    if (np.diff(ts) <= 0).any():
        raise ValueError("ts must be increasing")
    if n_boot < 1:
        raise ValueError(f"n_boot must be positive; got {n_boot}")
    x, y = np.log(ts), np.log(s)
    lr, (a, al, rss0), (a1, al1, b1, _), t_star = _lr(x, y)
    r = y - (a - al * x)
    phi, sigma = _ar1(r) if ar1 else (0.0, float(np.std(r, ddof=2)))
    rng = np.random.default_rng(seed)
    sims = a - al * x + _ar1_noise(rng, len(x), phi, sigma, n_boot)
    null = np.array([_lr(x, ys)[0] for ys in sims])
    p = float((1 + (null >= lr).sum()) / (1 + n_boot))
    inside = t_star is not None and ts[0] <= t_star <= ts[-1]
    text = (f"likelihood ratio {lr:.1f}, bootstrap p = {p:.3f}, t* = "
            + ("none (no decay)" if t_star is None else f"{t_star:.3g}") + f" on [{ts[0]:g}, {ts[-1]:g}]")
    if p < ALPHA and inside:
        verdict, why = "holds", f"a power law meeting a floor fits better than one power law: {text}"
    elif p >= ALPHA and (t_star is None or t_star > ts[-1]):
        verdict, why = "fails", f"one power law suffices and the fitted floor is not reached in the window: {text}"
    else:
        verdict, why = "inconclusive", (f"the floor {'is outside the window' if p < ALPHA else 'does not fit significantly better'}"
                                        f": {text}")
    return Test("likelihood ratio, power law + floor vs power law", (lr,), None,
                f"parametric bootstrap ({'AR(1)' if ar1 else 'white'} noise, {n_boot} series)", 1, p, verdict, why,
                details={"t_star": t_star, "A": float(np.exp(a1)), "alpha": al1, "B": float(np.exp(b1)),
                         "power": (float(np.exp(a)), al), "phi": phi, "sigma": sigma, "t_range": (ts[0], ts[-1])})


def truncation_check(ts, s) -> Test:
    """t* fitted on [0, T/2] and on [0, T] must agree within ``TRUNCATION_FACTOR`` (ratio of the larger to
    the smaller): holds where they agree, fails where t* moves with the window (an artefact),
    inconclusive where either window finds no t* inside it."""
    ts, s = _arr("ts", ts, MIN_POINTS, positive=True), _arr("s", s, MIN_POINTS, positive=True)
    _same_len(ts=ts, s=s)
    half = ts <= ts[-1] / 2
    if half.sum() < MIN_POINTS:
        raise ValueError(f"ts: the first half [0, T/2] holds {int(half.sum())} points, fewer than {MIN_POINTS}")
    found = []
    for keep in (half, np.ones_like(half)):
        t_star = _lr(np.log(ts[keep]), np.log(s[keep]))[3]
        found.append(t_star if t_star is not None and ts[0] <= t_star <= ts[keep][-1] else None)
    if None in found:
        return Test("t* on [0, T/2] / t* on [0, T]", tuple(found), None, "refit on half the window", 2, None,
                    "inconclusive", "t* is not found inside the window in both fits", details={"t_star": tuple(found)})
    ratio = found[0] / found[1]
    ok = max(ratio, 1 / ratio) <= TRUNCATION_FACTOR
    text = f"t* = {found[0]:.3g} on [0, T/2] and {found[1]:.3g} on [0, T] (ratio {ratio:.2f}, allowed {TRUNCATION_FACTOR:.2f})"
    return Test("t* on [0, T/2] / t* on [0, T]", tuple(found), Estimate(ratio, ratio, ratio), "refit on half the window",
                2, None, "holds" if ok else "fails",
                ("t* does not move with the window: " if ok else "t* moves with the window (an artefact): ") + text)


def transition_across_seeds(per_seed_results) -> Test:
    """Seeds' `transition_point` results combined: Fisher's method on their p-values; t* the median of the
    seeds' t* where found (verdict holds), its interval their range; Phase II's start (``details['phase2']``)
    that median, else ``PHASE2_FALLBACK`` x T. holds: combined p < ALPHA and t* found in at least half the
    seeds; fails: every seed fails; else inconclusive."""
    res = list(per_seed_results)
    if not res:
        raise ValueError("per_seed_results needs at least one seed")
    ps = np.array([r.p for r in res])
    comb = float(stats.combine_pvalues(ps, method="fisher").pvalue)
    found = [r.details["t_star"] for r in res if r.verdict == "holds"]
    T = max(r.details["t_range"][1] for r in res)
    est = Estimate(float(np.median(found)), float(min(found)), float(max(found))) if found else None
    phase2 = est.value if found else PHASE2_FALLBACK * T
    text = (f"combined p = {comb:.3g}, t* found in {len(found)} of {len(res)} seeds"
            + (f" (median {est.value:.3g}, range {est.lo:.3g}-{est.hi:.3g})" if found else ""))
    if comb < ALPHA and 2 * len(found) >= len(res):
        verdict, why = "holds", f"a transition point across seeds: {text}"
    elif all(r.verdict == "fails" for r in res):
        verdict, why = "fails", f"one power law suffices in every seed: {text}"
    else:
        verdict, why = "inconclusive", f"the seeds do not settle it: {text}"
    return Test("t* across seeds", tuple(r.details["t_star"] for r in res), est, "Fisher's combined p", len(res), comb,
                verdict, why, parts=tuple(res), details={"phase2": phase2, "n_found": len(found), "T": T})


# ---------------------------------------------------------------- the linear advantage

def paired_linear(switched_correct, standard_correct, n_resamples: int = N_RESAMPLES, seed: int = 0) -> Test:
    """One seed: 0/1 correctness per test example of the run switched to linearized training and of standard
    training to T. McNemar's exact test (binomial on the discordant pairs, one-sided: standard better);
    the accuracy difference standard - switched with a bootstrap interval over test examples.
    holds: p < ALPHA; fails: the switched run is better at ALPHA; else inconclusive."""
    sw, st_ = _arr("switched_correct", switched_correct), _arr("standard_correct", standard_correct)
    _same_len(switched_correct=sw, standard_correct=st_)
    if not np.isin(np.concatenate([sw, st_]), (0, 1)).all():
        raise ValueError("switched_correct and standard_correct must be 0/1")
    b, c = int(((st_ == 1) & (sw == 0)).sum()), int(((st_ == 0) & (sw == 1)).sum())
    d = st_ - sw
    p, p_less = (float(stats.binomtest(b, b + c, 0.5, alternative=a).pvalue) if b + c else 1.0 for a in ("greater", "less"))
    if np.ptp(d) == 0:
        est = Estimate(float(d[0]), float(d[0]), float(d[0]))
    else:
        ci = stats.bootstrap((d,), np.mean, n_resamples=n_resamples, method="percentile", batch=100,
                             confidence_level=LEVEL, rng=np.random.default_rng(seed)).confidence_interval
        est = Estimate(float(d.mean()), float(ci.low), float(ci.high))
    text = f"accuracy cost {100 * est.value:.2f} points [{100 * est.lo:.2f}, {100 * est.hi:.2f}], {b} vs {c} discordant, p = {p:.3g}"
    verdict = "holds" if p < ALPHA else "fails" if p_less < ALPHA else "inconclusive"
    why = {"holds": "switching costs accuracy", "fails": "the switched run is more accurate",
           "inconclusive": "no significant difference"}[verdict]
    return Test("standard - switched accuracy", tuple(d.tolist()), est, "McNemar exact (one-sided)", len(d), p,
                verdict, f"{why}: {text}", details={"discordant": (b, c)})


def linear_across_seeds(diffs) -> Test:
    """Per-seed accuracy differences standard - switched (fractions): a one-sided paired test that switching
    costs accuracy, the Wilcoxon signed-rank test from ``WILCOXON_MIN`` seeds, else the one-sample t
    test (see the constant). Estimate: the mean with its t interval. holds: p < ALPHA; fails: the
    interval's upper end lies below ``NEGLIGIBLE_COST`` (switching costs nothing that matters); else inconclusive."""
    d = _arr("diffs", diffs, 2)
    if len(d) >= WILCOXON_MIN:
        name = "Wilcoxon signed-rank (one-sided)"
        p = 1.0 if (d == 0).all() else float(stats.wilcoxon(d, alternative="greater").pvalue)
    else:
        name = f"one-sample t (one-sided; fewer than {WILCOXON_MIN} seeds)"
        p = (1.0 if d[0] <= 0 else 0.0) if np.ptp(d) == 0 else float(stats.ttest_1samp(d, 0.0, alternative="greater").pvalue)
    est = _t_interval(d)
    text = f"cost {100 * est.value:.2f} points [{100 * est.lo:.2f}, {100 * est.hi:.2f}] over {len(d)} seeds, p = {p:.3g}"
    if p < ALPHA:
        verdict, why = "holds", f"switching to the linearized model costs accuracy: {text}"
    elif est.below(NEGLIGIBLE_COST):
        verdict, why = "fails", f"switching costs less than {100 * NEGLIGIBLE_COST:g} points: {text}"
    else:
        verdict, why = "inconclusive", f"the cost is not significant: {text}"
    return Test("standard - switched accuracy", tuple(d.tolist()), est, name, len(d), p, verdict, why)


def _sign_test(rhos, sign, what) -> Test:
    r = np.asarray(rhos, float)
    nz = r[np.isfinite(r) & (r != 0)]
    k = int((np.sign(nz) == sign).sum())
    p, p_opp = (float(stats.binomtest(k, len(nz), 0.5, alternative=a).pvalue) if len(nz) else 1.0 for a in ("greater", "less"))
    fin = r[np.isfinite(r)]
    est = Estimate(float(np.median(fin)), float(fin.min()), float(fin.max())) if len(fin) else None
    verdict = "holds" if p < ALPHA else "fails" if p_opp < ALPHA else "inconclusive"
    text = f"{what}: rho {'>' if sign > 0 else '<'} 0 in {k} of {len(nz)} seeds (sign test p = {p:.3g})"
    return Test(f"Spearman rho, {what} vs switch point", tuple(r.tolist()), est, "sign test (binomial) over seeds",
                len(r), p, verdict, text)


def linear_trend(switch_points, acc, loss) -> Test:
    """Later switching helps (Fig 2): per seed the Spearman rho of test accuracy, and of test loss, with the switch
    point; over seeds a sign test (binomial, one-sided: accuracy rises, loss falls). ``acc`` / ``loss``: one row per
    seed, one column per switch point. Estimate: the median rho, its interval the range over seeds (a
    1 - 2^(1-n) interval for the median: 94% at n = 5). holds: both hold; fails: either trend is reversed at ALPHA."""
    sp = _arr("switch_points", switch_points, 3)
    acc, loss = np.atleast_2d(np.asarray(acc, float)), np.atleast_2d(np.asarray(loss, float))
    for name, m in (("acc", acc), ("loss", loss)):
        if m.shape[1] != len(sp) or m.size == 0:
            raise ValueError(f"{name} needs one column per switch point ({len(sp)}); got shape {m.shape}")
    _same_len(acc=acc, loss=loss)
    rho = {k: [float(stats.spearmanr(sp, row).statistic) if np.ptp(row) > 0 else np.nan for row in m]
           for k, m in (("accuracy", acc), ("loss", loss))}
    parts = (_sign_test(rho["accuracy"], 1, "accuracy"), _sign_test(rho["loss"], -1, "loss"))
    vs = [t.verdict for t in parts]
    verdict = "holds" if vs == ["holds", "holds"] else "fails" if "fails" in vs else "inconclusive"
    return Test("Spearman rho, accuracy vs switch point", parts[0].values, parts[0].estimate, "sign test over seeds",
                len(acc), max(t.p for t in parts), verdict, "; ".join(t.reason for t in parts), parts=parts)


# ---------------------------------------------------------------- chaos

def chaos_test(early, late, seed_barrier: float, fraction: float = BASIN_FRACTION,
               n_resamples: int = N_RESAMPLES, seed: int = 0) -> Test:
    """Early perturbations end farther than late ones. ``early`` / ``late``: test loss barriers, one per
    perturbation draw (seeds may be pooled); ``seed_barrier``: the median barrier between two training seeds.
    Mann–Whitney U (one-sided, early > late) on log barriers (floored at BARRIER_RESOLUTION); Fisher's exact
    test (one-sided) on the draws ending in another basin (barrier > ``fraction`` x seed_barrier); the
    effect is the ratio of medians with a bootstrap interval. holds: both tests reject at ALPHA; fails:
    U's p > 0.5 and no more early draws than late in another basin; else inconclusive."""
    e = np.maximum(_arr("early", early, 2), BARRIER_RESOLUTION)
    l_ = np.maximum(_arr("late", late, 2), BARRIER_RESOLUTION)
    if not (np.isfinite(seed_barrier) and seed_barrier > 0):
        raise ValueError(f"seed_barrier must be positive; got {seed_barrier}")
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must lie in (0, 1); got {fraction}")
    p_u = float(stats.mannwhitneyu(np.log(e), np.log(l_), alternative="greater").pvalue)
    cut = fraction * seed_barrier
    ke, kl = int((e > cut).sum()), int((l_ > cut).sum())
    p_f = float(stats.fisher_exact([[ke, len(e) - ke], [kl, len(l_) - kl]], alternative="greater").pvalue)

    def ratio(x, y, axis=-1):
        return np.median(x, axis=axis) / np.median(y, axis=axis)

    r0 = float(ratio(e, l_))
    if np.ptp(e) == 0 and np.ptp(l_) == 0:
        est = Estimate(r0, r0, r0)
    else:
        ci = stats.bootstrap((e, l_), ratio, n_resamples=n_resamples, method="percentile", vectorized=True,
                             confidence_level=LEVEL, rng=np.random.default_rng(seed)).confidence_interval
        est = Estimate(r0, float(ci.low), float(ci.high))
    text = (f"median barrier ratio early/late {est.fmt(2)}, U test p = {p_u:.3g}, another basin in {ke}/{len(e)} early "
            f"vs {kl}/{len(l_)} late draws (Fisher p = {p_f:.3g})")
    if p_u < ALPHA and p_f < ALPHA:
        verdict, why = "holds", f"early perturbations end farther and in other basins: {text}"
    elif p_u > 0.5 and ke / len(e) <= kl / len(l_):
        verdict, why = "fails", f"early barriers are not above late ones: {text}"
    else:
        verdict, why = "inconclusive", f"the tests do not both reject: {text}"
    u = Test("log barrier, early vs late", tuple(np.log(e).tolist()), None, "Mann-Whitney U (one-sided)",
             len(e) + len(l_), p_u, "holds" if p_u < ALPHA else "inconclusive", f"U test p = {p_u:.3g}")
    f = Test("draws in another basin", (ke / len(e), kl / len(l_)), None, "Fisher exact (one-sided)", len(e) + len(l_),
             p_f, "holds" if p_f < ALPHA else "inconclusive", f"Fisher p = {p_f:.3g}")
    return Test("median barrier early / late", tuple(e.tolist()), est, "Mann-Whitney U and Fisher exact",
                len(e) + len(l_), max(p_u, p_f), verdict, why, parts=(u, f),
                details={"late": tuple(l_.tolist()), "basin_cut": cut, "basin": (ke, kl)})


def amplification(dist, eps_norm) -> dict:
    """‖θ − θ'‖ / ‖ε‖ per t0: {t0: Estimate(median, min, max) over draws}. ``dist``: {t0: distances over the
    draws}; ``eps_norm``: the perturbations' norm, one for all, or {t0: norms} (one, or one per draw)."""
    if not isinstance(dist, dict) or not dist:
        raise ValueError("dist must be a non-empty mapping {t0: distances}")
    out = {}
    for t0, v in dist.items():
        d, e = _arr(f"dist[{t0}]", v), _arr(f"eps_norm[{t0}]", eps_norm[t0] if isinstance(eps_norm, dict) else eps_norm,
                                            positive=True)
        if len(e) not in (1, len(d)):
            raise ValueError(f"eps_norm[{t0}] needs one norm or one per draw ({len(d)}); got {len(e)}")
        r = d / e
        out[t0] = Estimate(float(np.median(r)), float(r.min()), float(r.max()))
    return out


# ---------------------------------------------------------------- calibration

@dataclass(frozen=True)
class Calibration:
    """A test's decisions on surrogate data: false: the rate of ``holds`` under the null (no effect, or
    the claim's boundary); power: the rate of ``holds`` under the alternative; each with its
    Clopper–Pearson interval at LEVEL; n_rep: data sets drawn for each."""

    false: Estimate
    power: Estimate
    n_rep: int


def rate(k, n) -> Estimate:
    """``k`` successes in ``n`` trials as a rate, with its Clopper–Pearson interval at LEVEL."""
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=LEVEL, method="exact")
    return Estimate(k / n, float(ci.low), float(ci.high))


def size_and_power(test_fn, null_sampler, alt_sampler, n_rep: int = 200, seed: int = 0) -> Calibration:
    """Run ``test_fn`` on ``n_rep`` data sets from each sampler (``sampler(rng)`` returns the positional
    arguments of ``test_fn``, a tuple, or its keyword arguments, a dict) and count the ``holds``."""
    if n_rep < 1:
        raise ValueError(f"n_rep must be positive; got {n_rep}")
    rng = np.random.default_rng(seed)

    def count(sampler):
        k = 0
        for _ in range(n_rep):
            a = sampler(rng)
            k += (test_fn(**a) if isinstance(a, dict) else test_fn(*a)).verdict == "holds"
        return k
    return Calibration(rate(count(null_sampler), n_rep), rate(count(alt_sampler), n_rep), n_rep)


def drop_samplers(n: int = 5, effect: float = 10.0, sd: float = 0.5, factor: float = DROP_FACTOR):
    """(null, alt) for `drop_test`: per seed log(early/late) ~ Normal(log r, sd), r = ``factor`` (the claim's
    boundary) under the null and ``effect`` under the alternative; ``sd``: the seeds' spread of log ratios
    measured on the data; late levels resolved (noise 0)."""
    def make(r):
        def sample(rng):
            late = np.exp(rng.normal(np.log(1e-3), 0.3, n))
            return late * np.exp(rng.normal(np.log(r), sd, n)), late, 0.0
        return sample
    return make(factor), make(effect)


def transition_samplers(ts, A: float = 1.0, alpha: float = 1.0, B: float = 1e-2, phi: float = 0.5, sigma: float = 0.1):
    """(null, alt) for `transition_point`: log S = log(A t^-α) (null) or log(A t^-α + B) (alt) plus AR(1) noise
    with coefficient ``phi`` and innovation sd ``sigma`` (both fitted on data, see ``details``)."""
    x = np.log(_arr("ts", ts, MIN_POINTS, positive=True))

    def make(b):
        def sample(rng):
            return np.exp(x), np.exp(np.log(A * np.exp(-alpha * x) + b) + _ar1_noise(rng, len(x), phi, sigma)[0])
        return sample
    return make(0.0), make(B)


def linear_samplers(n_seeds: int = 5, n_test: int = 1000, acc: float = 0.9, gap: float = 0.03, sd: float = 0.005,
                    corr: float = 0.8, per_seed: bool = False):
    """(null, alt) for `linear_across_seeds` (``per_seed``: for `paired_linear`, one seed's arrays): correctness
    of standard and switched runs on ``n_test`` examples as correlated Bernoulli (Gaussian copula with
    correlation ``corr``), standard accuracy ``acc``, switched ``acc - gap`` (null: gap 0) with a seed-to-seed
    spread ``sd`` of the gap (measured on the data)."""
    if not 0 < acc < 1 or not 0 <= corr < 1:
        raise ValueError("acc must lie in (0, 1) and corr in [0, 1)")

    def correct(rng, g):
        z = rng.normal(size=n_test)
        e = np.sqrt(corr) * z + np.sqrt(1 - corr) * rng.normal(size=(2, n_test))
        p = np.clip([acc, acc - g], 1e-6, 1 - 1e-6)
        return (e < stats.norm.ppf(p)[:, None]).astype(float)  # rows: standard, switched

    def make(g):
        def sample(rng):
            if per_seed:
                std, sw = correct(rng, g)
                return sw, std
            return (np.array([np.subtract(*correct(rng, g + rng.normal(0, sd))).mean() for _ in range(n_seeds)]),)
        return sample
    return make(0.0), make(gap)


def chaos_samplers(n: int = 10, early_median: float = 0.5, late_median: float = 0.01, early_sd: float = 1.0,
                   late_sd: float = 1.0, seed_barrier: float = 0.5):
    """(null, alt) for `chaos_test`: ``n`` log-normal barriers early and ``n`` late (median, sd of the log:
    measured on data). The null draws both from the early distribution (chaos that never ends: about half
    the draws in another basin, so that both tests are in play); the alternative early from it, late from the late one."""
    def make(lm, lsd):
        def sample(rng):
            return (np.exp(rng.normal(np.log(early_median), early_sd, n)), np.exp(rng.normal(np.log(lm), lsd, n)),
                    seed_barrier)
        return sample
    return make(early_median, early_sd), make(late_median, late_sd)
