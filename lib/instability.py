"""Chaos measured as Frankle et al. (2020) measure instability.

Two copies of one state θ_t0 are trained on to the same end: a *perturbed* copy (a tiny Gaussian
perturbation, the same data order) and an *SGD-noise* copy (no perturbation, another data order and
augmentation). Each copy's endpoint is compared with the base run's endpoint by the test-error
barrier on the linear path between them, at the end of a short anneal after T (Frankle et al.
measure at the end of training, after the learning rate decays) and at T itself.

- `error_barrier`: the test-error barrier (a fraction) of one path.
- `unstable`: Frankle et al.'s rule, a barrier above ``FRANKLE_BARRIER`` (2 points).
- `stratified_exact`: an exact conditional test of a common odds ratio over strata (training
  seeds), the product of the strata's hypergeometric laws (``scipy.stats.hypergeom``).
- `instability_test`, `sensitivity_test`, `chaos_cone`: the protocol's chaos claims
  (``protocol/claims.toml``: chaos_instability, chaos_sensitivity, chaos_cone).

The constants are the protocol's; `lib.protocol.check` verifies that they agree with it.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import stats

from .estimate import LEVEL, Estimate

FRANKLE_BARRIER = 0.02  # a pair is unstable when its test-error barrier exceeds 2 points (Frankle et al. 2020)
ANNEAL_STEPS = 500  # SGD iterations after T at a decayed learning rate before the primary barrier is measured
ANNEAL_LR_FACTOR = 0.1  # the anneal's learning rate, as a multiple of the run's (open_lth's decay factor)
UNSTABLE_SHARE = 0.5  # the chaos claim needs at least this share of the early perturbed copies unstable
SENSITIVITY_CHAOTIC = 0.5  # perturbed / SGD-noise endpoint distance at or above this: as consequential as SGD noise
SENSITIVITY_STABLE = 0.1  # ... below this: stable (an order of magnitude below SGD noise)
CHAOS_CONE_FACTOR = 2.0  # the chaos transition and t* agree within this factor (the chaos grid's doubling)
ALPHA = 1 - LEVEL


def error_barrier(alphas, accuracies) -> float:
    """max_α err(α) - [α err(1) + (1 - α) err(0)] on the path's test accuracies (a fraction; 0 where the
    path is convex in error)."""
    a = np.asarray(alphas, float)
    err = 1.0 - np.asarray(accuracies, float)
    if a.shape != err.shape or a.size < 2:
        raise ValueError(f"alphas and accuracies must have the same length >= 2; got {a.shape} and {err.shape}")
    return float(max(0.0, np.max(err - (a * err[-1] + (1 - a) * err[0]))))


def unstable(barrier: float) -> bool:
    """Frankle et al.'s rule."""
    return bool(barrier > FRANKLE_BARRIER)


def stratified_exact(early_unstable, early_n, late_unstable, late_n) -> float:
    """One-sided p of an exact conditional test that the odds of instability are higher early than late,
    with a common odds ratio over strata (one stratum per training seed): given each stratum's margins,
    the early unstable count is hypergeometric under the null; the sum over strata is their convolution.
    p = P(sum >= observed)."""
    e, ne, l_, nl = (np.atleast_1d(np.asarray(v, int)) for v in (early_unstable, early_n, late_unstable, late_n))
    if not (e.shape == ne.shape == l_.shape == nl.shape) or e.size == 0:
        raise ValueError("early_unstable, early_n, late_unstable and late_n need one entry per stratum")
    if (e < 0).any() or (l_ < 0).any() or (e > ne).any() or (l_ > nl).any():
        raise ValueError("counts must lie in [0, n] of their stratum")
    pmf = np.array([1.0])
    for k_e, n_e, k_l, n_l in zip(e, ne, l_, nl):
        m = k_e + k_l  # unstable in this stratum
        support = np.arange(0, min(m, n_e) + 1)
        # scipy's hypergeom(M population, n successes, N draws): draws = the early copies
        pmf = np.convolve(pmf, stats.hypergeom(n_e + n_l, m, n_e).pmf(support))
    observed = int(e.sum())
    return float(min(1.0, pmf[observed:].sum()))


def clopper_pearson(k: int, n: int) -> Estimate:
    """The share k / n with its exact 95% interval (scipy.stats.binomtest)."""
    if n <= 0:
        raise ValueError(f"n must be positive; got {n}")
    ci = stats.binomtest(int(k), int(n)).proportion_ci(LEVEL, method="exact")
    return Estimate(k / n, float(ci.low), float(ci.high))


def log_interval(values) -> tuple[Estimate, float, float]:
    """Geometric mean of positive ``values`` with its t interval, and the one-sided p-values that the
    log mean is above / below 0 are computed by the caller: returns (estimate, mean log, sd log)."""
    v = np.log(np.asarray(values, float))
    if v.size < 2 or np.ptp(v) == 0:
        m = float(v.mean())
        return Estimate(math.exp(m), math.exp(m), math.exp(m)), m, 0.0
    ci = stats.ttest_1samp(v, 0.0).confidence_interval(LEVEL)
    return Estimate(math.exp(v.mean()), math.exp(ci.low), math.exp(ci.high)), float(v.mean()), float(v.std(ddof=1))


def one_sided_log(values, threshold: float, alternative: str) -> float:
    """p of a one-sample t test of mean log(values) against log(threshold) (``greater`` or ``less``)."""
    v = np.log(np.asarray(values, float))
    if v.size < 2:
        return 1.0
    if np.ptp(v) == 0:
        above = v[0] > math.log(threshold)
        return 0.0 if (above if alternative == "greater" else v[0] < math.log(threshold)) else 1.0
    return float(stats.ttest_1samp(v, math.log(threshold), alternative=alternative).pvalue)


# ---------------------------------------------------------------- the copies and their comparisons

KINDS = ("perturbed", "sgd")  # a copy: perturbed (same data order) or SGD noise (another data order, no perturbation)
SGD_SEED_BASE = 1000  # SGD-noise copy k of training seed s takes the batch order of seed SGD_SEED_BASE * (k + 1) + s
COLUMNS = ("t0", "kind", "copy", "err_const", "err_anneal", "loss_const", "loss_anneal", "dis_const", "dis_anneal",
           "dist_const", "dist_anneal", "kernel_anneal")  # one row per copy: `copy_row`'s numbers in this order


def anneal_config(cfg, steps: int | None = None):
    """The run trained on for ``steps`` (default ``ANNEAL_STEPS``) after T at ``ANNEAL_LR_FACTOR`` x its learning
    rate (its first T iterations are those of ``cfg``: the batches depend on (seed, iteration) only)."""
    import dataclasses
    if any(m < cfg.steps for m in cfg.milestones):
        raise ValueError(f"cfg: the learning rate already decays before T ({cfg.milestones}); the anneal follows a constant window")
    steps = ANNEAL_STEPS if steps is None else steps
    return dataclasses.replace(cfg, steps=cfg.steps + steps, milestones=(cfg.steps,), gamma=ANNEAL_LR_FACTOR)


def window_end(cfg) -> int:
    """T of an annealed configuration (`anneal_config`): where the constant learning rate ends."""
    return min([m for m in cfg.milestones if m < cfg.steps], default=cfg.steps)


def branch_config(cfg, t0: int, kind: str, k: int, size: float = 1e-7, mode: str = "entry"):
    """The `perturbation.BranchConfig` of copy ``k`` of ``kind`` from the annealed run ``cfg`` at ``t0``."""
    from .checks import check_choice
    from .perturbation import BranchConfig, Perturbation
    check_choice("kind", kind, KINDS)
    if kind == "perturbed":
        return BranchConfig(cfg, t0, Perturbation(size=size, mode=mode, seed=k))
    return BranchConfig(cfg, t0, None, data_seed=SGD_SEED_BASE * (k + 1) + cfg.seed)


def _compare_at(base, branch, spec, t: int) -> dict:
    from dataclasses import replace

    from .kernels import kernel_distance, trajectory_kernels
    from .perturbation import compare_endpoints
    row = compare_endpoints(base.cfg, base.state_dict(t), branch.state_dict(t))
    ks = [trajectory_kernels(r, [t], **spec.kwargs, progress=False)[t] for r in (base, branch)]
    return replace(row, kernel_distance=kernel_distance(*ks)).as_data()


def copy_row(base, t0: int, kind: str, k: int, spec, size: float = 1e-7, mode: str = "entry") -> dict:
    """Train (or open) copy ``k`` of ``kind`` of the annealed base run ``base`` from ``t0`` and compare it with
    the base run at T (constant learning rate) and at the annealed end (each comparison cached in the copy's
    folder). Returns {column of ``COLUMNS``: value} plus the two comparisons ("const", "anneal")."""
    from .perturbation import run_branch
    br = run_branch(branch_config(base.cfg, t0, kind, k, size, mode), base.store, progress=False)
    T, end = window_end(base.cfg), base.cfg.steps
    comp = {name: base.store.cached(br.path / f"compare_{name}_{spec.key}.pt", lambda t=t: _compare_at(base, br, spec, t))
            for name, t in (("const", T), ("anneal", end))}
    err = {n: error_barrier(c["alphas"], c["path_test_acc"]) for n, c in comp.items()}
    row = dict(t0=t0, kind=KINDS.index(kind), copy=k, err_const=err["const"], err_anneal=err["anneal"],
               loss_const=comp["const"]["barrier_test"], loss_anneal=comp["anneal"]["barrier_test"],
               dis_const=comp["const"]["disagreement"], dis_anneal=comp["anneal"]["disagreement"],
               dist_const=comp["const"]["rel_distance"], dist_anneal=comp["anneal"]["rel_distance"],
               kernel_anneal=comp["anneal"]["kernel_distance"])
    return dict(row, alphas=comp["anneal"]["alphas"], path_anneal=comp["anneal"]["path_test_acc"])


def copy_done(cfg, t0: int, kind: str, k: int, spec, store=None) -> bool:
    from . import storage
    folder = (store or storage.RunStore()).existing_dir("branch", branch_config(cfg, t0, kind, k))
    return folder is not None and (folder / f"compare_anneal_{spec.key}.pt").exists()


# ---------------------------------------------------------------- the protocol's chaos claims

def _rows(rows, t0, kind):
    return [r for r in rows if r["t0"] == t0 and r["kind"] == KINDS.index(kind)]


def instability_test(rows_by_seed: dict, first: int, last: int, endpoint: str = "anneal"):
    """The claim 'chaos_instability' (protocol/claims.toml) from {training seed: rows of `copy_row`}: the share of
    unstable perturbed copies at the ``first`` and ``last`` t0, strata the training seeds, `stratified_exact`;
    not applicable where the SGD-noise copies from the first t0 are stable (their median error barrier at most
    ``FRANKLE_BARRIER``). Returns a `lib.replicates.Test` (verdict holds / fails / inconclusive / not applicable)."""
    from .replicates import Test
    col = f"err_{endpoint}"
    seeds = sorted(rows_by_seed)
    sgd0 = [r[col] for s in seeds for r in _rows(rows_by_seed[s], first, "sgd")]
    counts = {t: [(sum(unstable(r[col]) for r in _rows(rows_by_seed[s], t, "perturbed")),
                   len(_rows(rows_by_seed[s], t, "perturbed"))) for s in seeds] for t in (first, last)}
    ke, ne = sum(k for k, _ in counts[first]), sum(n for _, n in counts[first])
    kl, nl = sum(k for k, _ in counts[last]), sum(n for _, n in counts[last])
    values = tuple(r[col] for s in seeds for r in _rows(rows_by_seed[s], first, "perturbed"))
    details = dict(sgd_first=tuple(sgd0), counts=counts, seeds=tuple(seeds), endpoint=endpoint, first=first, last=last,
                   sgd_unstable=(sum(unstable(b) for b in sgd0), len(sgd0)))
    stat = f"share of perturbed copies unstable (test-error barrier > {100 * FRANKLE_BARRIER:g} points)"
    if ne == 0 or nl == 0 or not sgd0:
        return Test(stat, values, None, "stratified exact", ne + nl, None, "inconclusive",
                    "no perturbed or SGD-noise copies at the compared t0s", details=details)
    share = clopper_pearson(ke, ne)
    late_share = clopper_pearson(kl, nl)
    text = (f"{ke} of {ne} perturbed copies unstable at t0 = {first} ({share.fmt(2)}), {kl} of {nl} at t0 = {last}; "
            f"SGD-noise copies from t0 = {first}: {details['sgd_unstable'][0]} of {len(sgd0)} unstable, median barrier "
            f"{100 * float(np.median(sgd0)):.2f} points; {len(seeds)} training seeds")
    if not float(np.median(sgd0)) > FRANKLE_BARRIER:
        return Test(stat, values, share, "stratified exact", ne + nl, None, "not applicable",
                    f"the SGD-noise copies from t0 = {first} are stable by Frankle et al.'s rule, so a tiny perturbation "
                    f"cannot be more consequential than SGD noise here: {text}", details={**details, "late": late_share})
    p = stratified_exact([k for k, _ in counts[first]], [n for _, n in counts[first]],
                         [k for k, _ in counts[last]], [n for _, n in counts[last]])
    if p < ALPHA and share.value >= UNSTABLE_SHARE:
        verdict, why = "holds", "early perturbed copies are unstable, late ones are not"
    elif share.hi < UNSTABLE_SHARE:
        verdict, why = "fails", f"fewer than {UNSTABLE_SHARE:.0%} of the early perturbed copies are unstable"
    else:
        verdict, why = "inconclusive", "the difference between early and late is not established"
    return Test(stat, values, share, "exact stratified test of a common odds ratio (one-sided)", ne + nl, p, verdict,
                f"{why}: {text}, p = {p:.3g}", details={**details, "late": late_share})


def sensitivities(rows_by_seed: dict, t0: int, endpoint: str = "anneal") -> list[float]:
    """Per training seed: the median over perturbed copies of the endpoint distance over the median over SGD-noise
    copies' (both from θ_t0); seeds without both kinds are left out."""
    out = []
    for s in sorted(rows_by_seed):
        pert = [r[f"dist_{endpoint}"] for r in _rows(rows_by_seed[s], t0, "perturbed")]
        sgd = [r[f"dist_{endpoint}"] for r in _rows(rows_by_seed[s], t0, "sgd")]
        if pert and sgd and np.median(sgd) > 0:
            out.append(max(float(np.median(pert)) / float(np.median(sgd)), 1e-12))
    return out


def sensitivity_test(rows_by_seed: dict, first: int, last: int, endpoint: str = "anneal"):
    """The claim 'chaos_sensitivity': the seeds' sensitivities at the first and last t0, t intervals on the logs."""
    from .replicates import Test
    a, b = sensitivities(rows_by_seed, first, endpoint), sensitivities(rows_by_seed, last, endpoint)
    stat = "sensitivity: perturbed / SGD-noise endpoint distance"
    if len(a) < 2 or len(b) < 2:
        return Test(stat, tuple(a), None, "t intervals on log sensitivity", len(a), None, "inconclusive",
                    f"fewer than two training seeds with both kinds of copy at t0 = {first} and {last}",
                    details=dict(first=tuple(a), last=tuple(b)))
    ea, eb = log_interval(a)[0], log_interval(b)[0]
    p_chaotic = one_sided_log(a, SENSITIVITY_CHAOTIC, "greater")
    p_stable = one_sided_log(b, SENSITIVITY_STABLE, "less")
    text = (f"{ea.fmt(3)} at t0 = {first}, {eb.fmt(3)} at t0 = {last} over {len(a)} seeds (chaotic at or above "
            f"{SENSITIVITY_CHAOTIC:g}, stable below {SENSITIVITY_STABLE:g})")
    if ea.lo > SENSITIVITY_CHAOTIC and eb.hi < SENSITIVITY_STABLE:
        verdict, p, why = "holds", max(p_chaotic, p_stable), "from as consequential as SGD noise to stable"
    elif ea.hi < SENSITIVITY_STABLE or eb.lo > SENSITIVITY_CHAOTIC:
        verdict, p = "fails", None
        why = "never as consequential as SGD noise" if ea.hi < SENSITIVITY_STABLE else "never stable"
    else:
        verdict, p, why = "inconclusive", max(p_chaotic, p_stable), "the intervals do not settle it"
    return Test(stat, tuple(a), ea, "t intervals on log sensitivity (one-sided at the margins)", len(a), p, verdict,
                f"{why}: {text}", details=dict(first=tuple(a), last=tuple(b), first_est=ea, last_est=eb))


def chaos_transition(rows_by_seed: dict, t0s, endpoint: str = "anneal") -> tuple[int | None, dict]:
    """The first t0 whose sensitivity interval lies below ``SENSITIVITY_STABLE`` (None: none), and {t0: the
    geometric mean with its interval} where at least two seeds have both kinds of copy."""
    curve = {}
    for t0 in sorted(t0s):
        v = sensitivities(rows_by_seed, t0, endpoint)
        if len(v) >= 2:
            curve[t0] = log_interval(v)[0]
    found = next((t for t, e in curve.items() if e.hi < SENSITIVITY_STABLE), None)
    return found, curve


def chaos_cone(transition: int | None, t_star: float):
    """The claim 'chaos_cone': the chaos transition against t* within ``CHAOS_CONE_FACTOR``."""
    from .replicates import Test
    stat = "chaos transition / t*"
    if transition is None or not t_star > 0:
        return Test(stat, (), None, f"equivalence within a factor {CHAOS_CONE_FACTOR:g}", 1, None, "inconclusive",
                    "no chaos transition on the grid (no t0 whose sensitivity interval lies below "
                    f"{SENSITIVITY_STABLE:g})" if transition is None else "no t*")
    r = max(transition, 1) / t_star
    spread = max(r, 1 / r)
    verdict = "holds" if spread <= CHAOS_CONE_FACTOR else "fails" if spread > CHAOS_CONE_FACTOR ** 2 else "inconclusive"
    return Test(stat, (r,), Estimate(r, r, r), f"equivalence within a factor {CHAOS_CONE_FACTOR:g}", 1, None, verdict,
                f"the chaos transition at t0 = {transition} against t* = {t_star:.0f}: ratio {r:.2f} "
                f"(agree within {CHAOS_CONE_FACTOR:g}x, differ beyond {CHAOS_CONE_FACTOR ** 2:g}x)")
