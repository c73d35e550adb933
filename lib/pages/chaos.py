"""The chaos page: a tiny perturbation injected at t0 (`chaos_sweep`: every t0 and draw, the
null control, the seed-pair reference, the chaos transition), the perturbation size
(`size_sweep`), kernel jumps and outlier draws, the claims (chaos, and the second paper's "the
cone begins where the chaos ends") with the sentences the page glues, and the page's sweep jobs."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import perturbation as P
from .. import phases
from ..checks import check_int
from ..kernels import kernel_distance
from ..runtime import run_parallel
from ..training import Trajectory, checkpoint_iterations, train, train_all, trained
from .common import DENSE, PageSetup, check_grid, decay_note, seeds, window_end
from .cone import ConeAnalysis

CHAOS_SPACING = 2  # checkpoint spacings between dense t0s (2 x 25 = 50 iterations by default)
CHAOS_LAST = 0.8  # no t0 at or after this fraction of T (too little training left to diverge)


def chaos_grid(page: PageSetup, t0s=None) -> list[int]:
    """The perturbation times, checked against the base run's checkpoints. None: 0, then every
    ``CHAOS_SPACING`` checkpoint spacings up to the preset's ``dense`` fraction of T, then
    doubling, below ``CHAOS_LAST`` of T (default preset: 0, 50, 100, 200, 400, 800; ``full``:
    every 50 up to 400; each t0 costs a branch per draw)."""
    cfg = page.cfg
    its = checkpoint_iterations(cfg)
    if t0s is None:
        step = CHAOS_SPACING * cfg.ckpt_every
        t0s = list(range(0, max(step, int(page.preset.dense * cfg.steps)) + 1, step))
        t = 2 * t0s[-1]
        while t < CHAOS_LAST * cfg.steps:
            t0s.append(t)
            t *= 2
        t0s = [t for t in t0s if t in its]
    return check_grid("t0s", t0s, [t for t in its if t < cfg.steps])


def chaos_train_seeds(page: PageSetup) -> tuple[int, ...]:
    """The training seeds whose runs the chaos page perturbs: every seed of `seeds` where the preset
    says so (`Preset.every_seed`), else the page's seed only."""
    return tuple(seeds(page)) if page.preset.every_seed else (page.cfg.seed,)


def perturbations(size: float = 1e-7, mode: str = "entry", perturbation_seed: int = 0,
                  draws: int = 1) -> tuple[P.Perturbation, ...]:
    """The page's ``draws`` perturbations: one size and mode, seeds ``perturbation_seed``, +1, ..."""
    check_int("draws", draws, 1)
    return tuple(P.Perturbation(size=size, mode=mode, seed=perturbation_seed + k) for k in range(draws))


def _chaos_job(job) -> None:
    """Worker: one perturbed branch trained and compared with its base run (cached in the store), or
    (perturbation None) the unperturbed restart of the null control."""
    cfg, t0, p, spec = job
    if p is None:
        P.run_branch(P.BranchConfig(cfg, t0, None), progress=False)
    else:
        P.chaos_row(train(cfg, progress=False), t0, p, spec, progress=False)


def _chaos_label(job) -> str:
    cfg, t0, p = job[:3]
    if p is None:
        return f"seed {cfg.seed}, t0 = {t0}, unperturbed restart (null control)"
    return f"seed {cfg.seed}, t0 = {t0}, perturbation {p.size:g} draw {p.seed}"


def _job_done(job) -> bool:
    cfg, t0, p, spec = job
    if p is not None:
        return P.branch_done(P.BranchConfig(cfg, t0, p), spec)
    return trained(cfg, kind="branch", key=P.BranchConfig(cfg, t0, None))


def chaos_rows(page: PageSetup, cfgs, t0s, perturbations, desc: str, more: dict | None = None,
               null_t0: int | None = None) -> dict:
    """{(training seed, t0, perturbation): `perturbation.chaos_row`} for every combination of
    ``cfgs``, ``t0s`` and ``perturbations``, and of ``more`` ({t0: further perturbations}), the
    branches (and, at ``null_t0``, the page's unperturbed restart) trained side by side in one pool
    of worker processes (`lib.runtime.run_parallel`)."""
    combos = [(t0, p) for p in perturbations for t0 in t0s]
    combos += [(t0, p) for t0, ps in (more or {}).items() for p in ps]
    jobs = [(c, t0, p, page.kernel) for c in cfgs for t0, p in combos]
    extra = [(page.cfg, null_t0, None, page.kernel)] if null_t0 is not None else []
    # the base runs first, in their own pool: workers that found one missing would each train it
    bases = {c.seed: t for c, t in zip(cfgs, train_all(cfgs, desc="base runs of the perturbed seeds"))}
    todo = [j for j in jobs + extra if not _job_done(j)]
    run_parallel(_chaos_job, todo, desc=desc, threads=page.cfg.threads, label=_chaos_label)
    return {(c.seed, t0, p): P.chaos_row(bases[c.seed], t0, p, page.kernel, progress=False)
            for c, t0, p, *_ in jobs}


@dataclass(frozen=True)
class ChaosSweep:
    """The chaos page's computation.

    base: the page's run; t0s: the perturbation times; perturbations: one `perturbation.Perturbation`
    per draw (same size, seeds 0, 1, ...); train_seeds: the training seeds perturbed (one below
    the ``full`` preset); draws: one list of rows per (training seed, draw), each row the
    `perturbation.chaos_row` of one t0; labels: "seed s, draw d" per entry of ``draws``; null: the
    unperturbed restart (`perturbation.NullControl`); seed_pairs: `perturbation.compare_endpoints`
    between the endpoints of two training seeds of the setting (the largest difference SGD
    makes here), with their labels; transition: the `phases.ChaosTransition` of the test barrier;
    compared: {t0: every row at t0} for the first and the last t0, which the chaos test compares, with
    the preset's ``test_draws`` draws there (the first ``draws`` of them are those of ``draws``).
    """

    base: Trajectory
    t0s: list
    perturbations: tuple
    train_seeds: tuple
    draws: tuple
    labels: tuple
    null: P.NullControl
    seed_pairs: tuple
    pair_labels: tuple
    transition: phases.ChaosTransition
    compared: dict

    def values(self, key: str) -> np.ndarray:
        """The metric ``key`` of every draw: an array (draws, t0s)."""
        return np.array([[r[key] for r in rows] for rows in self.draws], dtype=float)

    def reference(self, key: str) -> list[float]:
        """The metric ``key`` between pairs of training seeds."""
        return [r[key] for r in self.seed_pairs]


def chaos_sweep(page: PageSetup, t0s=None, size: float = 1e-7, mode: str = "entry", perturbation_seed: int = 0,
                draws: int | None = None) -> ChaosSweep:
    """The null control, ``draws`` perturbed branches per t0 (the preset's number by default; the
    training seeds of `seeds` in the ``full`` preset, else the page's seed), the seed-pair
    reference, and the chaos transition of the test barrier with its interval."""
    t0s = chaos_grid(page, t0s)
    ps = perturbations(size, mode, perturbation_seed, page.preset.draws if draws is None else draws)
    train_seeds = chaos_train_seeds(page)
    cfgs = [page.with_cfg(seed=s).cfg for s in train_seeds]
    pair_seeds = seeds(page)
    # every seed's base run first, side by side (the perturbed seeds are among them)
    ends = dict(zip(pair_seeds, train_all([page.with_cfg(seed=s).cfg for s in pair_seeds], desc="base runs of the seeds")))
    more = perturbations(size, mode, perturbation_seed, max(len(ps), page.preset.test_draws))[len(ps):]
    ends_t0 = sorted({t0s[0], t0s[-1]})
    # one pool: every branch, the further draws at the compared t0s and the null control
    rows = chaos_rows(page, cfgs, t0s, ps, desc="perturbed branches", more={t0: more for t0 in ends_t0},
                      null_t0=t0s[0])
    base = train(page.cfg)
    null = P.null_control(base, t0s[0], progress=False)
    keys = [(s, p) for s in train_seeds for p in ps]
    draw_rows = tuple([rows[(s, t0, p)] for t0 in t0s] for s, p in keys)
    pairs = [(a, b) for i, a in enumerate(pair_seeds) for b in pair_seeds[i + 1:]]
    seed_pairs = tuple(seed_pair(page, ends[a], ends[b]) for a, b in pairs)
    barriers = [[r["barrier_test"] for r in rows_] for rows_ in draw_rows]
    compared = {t0: tuple(rows[(s, t0, p)] for s, p in keys) + tuple(rows[(s, t0, p)] for s in train_seeds for p in more)
                for t0 in ends_t0}
    return ChaosSweep(base, t0s, ps, train_seeds, draw_rows, tuple(f"seed {s}, draw {p.seed}" for s, p in keys),
                      null, seed_pairs, tuple(f"seeds {a} and {b}" for a, b in pairs),
                      phases.chaos_transition(t0s, barriers), compared)


def seed_pair(page: PageSetup, a: Trajectory, b: Trajectory) -> P.Comparison:
    """`perturbation.compare_runs` of two runs that differ in their training seed only (cached in the
    first run's folder)."""
    key = f"seedpair_{b.path.name}_{page.kernel.key}.pt"
    return P.cached_comparison(a.store, a.path / key, lambda: P.compare_runs(a, b, page.kernel))


@dataclass(frozen=True)
class SizeSweep:
    """The perturbation size against the response: rows[(t0, size)] is the `perturbation.chaos_row`
    of the first draw; t0s: the first t0 and a late one; sizes: the sizes compared."""

    t0s: tuple
    sizes: tuple
    rows: dict

    def curve(self, t0: int, key: str = "barrier_test") -> list[float]:
        return [self.rows[(t0, s)][key] for s in self.sizes]


def size_sweep(page: PageSetup, t0s, sizes=None, mode: str = "entry", perturbation_seed: int = 0) -> SizeSweep:
    """The response at each t0 of ``t0s`` to each perturbation size (the preset's sizes by default),
    one draw each, the branches trained in parallel."""
    sizes = tuple(page.preset.sizes if sizes is None else sizes)
    ps = [P.Perturbation(size=s, mode=mode, seed=perturbation_seed) for s in sizes]
    rows = chaos_rows(page, [page.cfg], list(t0s), ps, desc="perturbation sizes")
    return SizeSweep(tuple(t0s), sizes, {(t0, p.size): rows[(page.cfg.seed, t0, p)] for p in ps for t0 in t0s})


JUMP_FACTOR = 3.0  # an adjacent S at least this many times its neighbours' median is a kernel jump
JUMP_WINDOW = 4  # checkpoints on each side whose median is the jump's reference
TOP_INPUTS = 0.05  # the share of ||H(t+dt) - H(t)||^2 carried by this fraction of the probe inputs (rows)
OUTLIER_FACTOR = 3.0  # a draw's barrier at least this many times the median of its t0 (and above the threshold)


def _neighbour_ratio(values, i, window=JUMP_WINDOW) -> float:
    """values[i] over the median of the (known) values of ``window`` neighbours on each side."""
    lo = max(0, i - window)
    ref = [v for j, v in enumerate(values[lo:i + window + 1], start=lo) if j != i and v is not None and np.isfinite(v)]
    med = float(np.median(ref)) if ref else float("nan")
    return values[i] / med if med > 0 else float("nan")


@dataclass(frozen=True)
class KernelJumps:
    """Kernel jumps of one run and what comes with them.

    iterations: the checkpoints; loss: the mean training loss of the window ending at each
    checkpoint; norm: ||H(t)||_F; adjacent: S(H(t), H(t + dt)) (centered as the verdict, dt the
    checkpoint spacing) at ``iterations[:-1]``; top_share_typical: the median over all
    checkpoints of the share of ||ΔH||² carried by the top ``TOP_INPUTS`` of probe inputs; jumps:
    one dict per jump (t, S ratio to its neighbours' median, training-loss ratio of the window
    (t, t + dt], kernel-norm ratio H(t + dt) / H(t), top-input share); without: the run's
    `phases.Regime` with the kernels after each jump left out, beside ``with_``, the regime as judged.
    """

    iterations: list
    loss: list
    norm: list
    adjacent: list
    top_share_typical: float
    jumps: list
    with_: phases.Regime
    without: phases.Regime


def _top_share(h1, h2, frac=TOP_INPUTS) -> float:
    rows = ((h2.double() - h1.double()) ** 2).sum(1)
    k = max(1, int(round(frac * len(rows))))
    return float(rows.topk(k).values.sum() / rows.sum())


def kernel_jumps(page: PageSetup, analysis: ConeAnalysis, centered: bool = phases.DECIDING_CENTERED) -> KernelJumps:
    """Find the jumps of the adjacent kernel distance of the page's run after its change point (at
    least ``JUMP_FACTOR`` times the median of ``JUMP_WINDOW`` checkpoints on each side, and
    ``phases.NOISE_RATIO`` times the instrument's noise floor) and put each beside the training
    loss, the kernel's norm and how concentrated the change is on a few inputs; judge the run again
    without the kernels after the jumps."""
    end = window_end(page.cfg)
    k, traj = analysis.kernels, analysis.traj
    its = [t for t in sorted(k) if t <= page.cfg.steps]
    loss_at = {m["iteration"]: m.get("train_loss") for m in traj.metrics}
    loss = [loss_at.get(t) for t in its]
    norm = [float(k[t].double().norm()) for t in its]
    adj = [kernel_distance(k[a], k[b], centered) for a, b in zip(its, its[1:])]
    shares = [_top_share(k[a], k[b]) for a, b in zip(its, its[1:])]
    r = analysis.run.regime(centered)
    # the fast first phase is not a jump: look after the change point (else after JUMP_WINDOW checkpoints)
    start = r.transition if r.transition is not None else its[min(JUMP_WINDOW, len(its) - 1)]
    jumps = []
    for i in range(len(adj)):
        ratio = _neighbour_ratio(adj, i)
        if its[i] >= start and ratio >= JUMP_FACTOR and adj[i] >= phases.NOISE_RATIO * r.noise:
            li = i + 1
            loss_ratio = _neighbour_ratio(loss, li) if loss[li] is not None else float("nan")
            jumps.append(dict(t=its[i], t_next=its[i + 1], s=adj[i], ratio=ratio, loss_ratio=loss_ratio,
                              norm_ratio=norm[i + 1] / norm[i], top_share=shares[i]))
    drop = {j["t_next"] for j in jumps}
    kept = {t: h for t, h in k.items() if t not in drop}
    taus = [t for t in r.taus if t in kept] or None  # the same references, where they were kept
    without = phases.regime(kept, analysis.dts, window_end=end, noise=r.noise, centered=centered, taus=taus)
    return KernelJumps(its, loss, norm, adj, float(np.median(shares)), jumps, r, without)


def chaos_outliers(sweep: ChaosSweep) -> list[dict]:
    """Draws whose test barrier is at least ``OUTLIER_FACTOR`` times the median of their t0 and above
    the transition's threshold, with the endpoints' test losses (α = 0: the perturbed run, α = 1: the
    base run) and their disagreement."""
    tr, out = sweep.transition, []
    for label, rows in zip(sweep.labels, sweep.draws):
        for i, r in enumerate(rows):
            if r["barrier_test"] >= max(OUTLIER_FACTOR * tr.median[i], tr.threshold) and r["barrier_test"] > 0:
                out.append(dict(t0=r["t0"], draw=label, barrier=r["barrier_test"], median=tr.median[i],
                                loss_perturbed=r["path_test"][0], loss_base=r["path_test"][-1],
                                disagreement=r["disagreement"]))
    return out


CHAOS_MIN_DRAWS = 3  # perturbation draws below which the chaos claim is inconclusive (one draw flipped across CPUs)


def chaos_claim(sweep: ChaosSweep) -> str:
    """The chaos claim (early perturbations end elsewhere, late ones do not): ``fails`` if the null
    control is not bitwise identical (then nondeterminism, not chaos, is measured) or if no draw
    shows chaos at the first t0 (every barrier below ``phases.CHAOS_MIN_BARRIER``); ``inconclusive`` with fewer than ``CHAOS_MIN_DRAWS`` draws per t0 (one
    draw gave opposite answers on two processors); else judged on the drop of the median barrier
    from the first t0 to the late ones (`phases.ChaosTransition.drop`, 95% interval over the draws):
    ``holds`` if it lies above ``phases.CHAOS_DROP``, ``fails`` if it lies below
    ``phases.CHAOS_NO_DROP``, ``inconclusive`` otherwise. (A threshold crossing on the median alone
    flipped between processors: 3 draws of a heavy-tailed barrier.)"""
    tr = sweep.transition
    # no chaos only if every draw says so: the median alone said "no chaos" with 1 thread and not with 2
    if not sweep.null.identical or tr.hi[0] < phases.CHAOS_MIN_BARRIER:
        return "fails"
    if len(sweep.perturbations) < CHAOS_MIN_DRAWS:
        return "inconclusive"
    if tr.drop.above(phases.CHAOS_DROP):
        return "holds"
    return "fails" if tr.drop.below(phases.CHAOS_NO_DROP) else "inconclusive"


def cone_agreement(page: PageSetup, sweep: ChaosSweep, cone: ConeAnalysis,
                   centered: bool = phases.DECIDING_CENTERED) -> phases.Agreement:
    """The second paper's claim (the cone begins where the chaos ends): the chaos transition's
    interval against the cone transitions of the setting's seeds (`phases.agreement`)."""
    regs = [r.regime(centered) for r in cone.setting.runs]
    spacing = min(b - a for a, b in zip(sweep.t0s, sweep.t0s[1:]))
    return phases.agreement(sweep.transition, [r.transition for r in regs], [r.transition_interval for r in regs],
                            resolution=min(spacing, page.cfg.ckpt_every))


def chaos_texts(page: PageSetup, sweep: ChaosSweep, cone: ConeAnalysis, agree: phases.Agreement) -> dict[str, str]:
    """The chaos page's numbers and sentences, by the glue name the page uses: the grid, the null
    control, the seed-pair reference, the barrier and disagreement at the first and last t0, the
    transition and the claim's verdict, and the agreement with the cone transitions."""
    cfg, tr, p0 = page.cfg, sweep.transition, sweep.perturbations[0]
    dense_frac = page.preset.dense
    dense = [t for t in sweep.t0s if t <= max(dense_frac * cfg.steps, CHAOS_SPACING * cfg.ckpt_every)]
    pair_b, pair_d = sweep.reference("barrier_test"), sweep.reference("disagreement")
    dis = 100 * sweep.values("disagreement")
    null = sweep.null
    t_chaos = {"transition": f"at $t_0 =$ {tr.transition} (95% interval {tr.interval_text()}, "
                             f"found in {tr.found:.0%} of the bootstrap resamples)",
               "no chaos": "not defined: the median barrier at the first t0 is below the chaos level",
               "no transition": "not found: the median barrier does not stay below the threshold on this grid"}[tr.name]
    peak = int(np.argmax(tr.median))
    vs_seeds = ""
    if pair_b:
        far = tr.median[peak] >= 0.1 * np.median(pair_b)
        vs_seeds = (f"For scale: the largest median barrier on the grid, {tr.median[peak]:.3g} at t0 = "
                    f"{sweep.t0s[peak]}, is {np.median(pair_b) / max(tr.median[peak], 1e-12):.0f} times smaller than "
                    f"the barrier between two training seeds ({np.median(pair_b):.3g}): in this setting a perturbation "
                    + ("can send the run as far as another seed would." if far
                       else "never sends the run as far as another seed would."))

    def seed_transition(r) -> str:
        g = r.regime()
        return "none" if g.transition is None else f"{g.transition} [{g.transition_interval[0]}, {g.transition_interval[1]}]"

    return {
        "ch_size": f"{p0.size:g}", "ch_T": cfg.steps, "ch_draws": len(sweep.perturbations),
        "ch_train_seeds": "the base run" if len(sweep.train_seeds) == 1 else f"each of {len(sweep.train_seeds)} training seeds",
        "ch_spacing": dense[1] - dense[0] if len(dense) > 1 else "(no dense part)",
        "ch_dense": dense[-1], "ch_dense_frac": f"{dense_frac:.0%}", "full_dense": f"{DENSE.dense:.0%}",
        "ch_cost": f"{len(sweep.t0s) * len(sweep.perturbations)}", "ch_decay": decay_note(cfg),
        "ch_setting": f"{page.setting}; perturbation {p0.mode} {p0.size:g}; {page.arithmetic(sweep.base)}",
        "null_t0": null.t0,
        "null_identical": "bitwise identical" if null.identical else
        f"NOT identical (largest difference {null.max_abs_diff:.3g}): the sweep below measures nondeterminism",
        "pairs": ", ".join(sweep.pair_labels) or "none (one seed)",
        "pair_barrier": f"{min(pair_b):.3f} to {max(pair_b):.3f}" if pair_b else "n/a",
        "pair_dis": f"{100 * min(pair_d):.1f}% to {100 * max(pair_d):.1f}%" if pair_d else "n/a",
        "b_first": f"{tr.median[0]:.3f} [{tr.lo[0]:.3f}, {tr.hi[0]:.3f}]",
        "b_last": f"{tr.median[-1]:.4f} [{tr.lo[-1]:.4f}, {tr.hi[-1]:.4f}]",
        "t_first": sweep.t0s[0], "t_last": sweep.t0s[-1],
        "dis_first": f"{np.median(dis[:, 0]):.1f}% [{dis[:, 0].min():.1f}, {dis[:, 0].max():.1f}]",
        "dis_last": f"{np.median(dis[:, -1]):.1f}% [{dis[:, -1].min():.1f}, {dis[:, -1].max():.1f}]",
        "chaos_fraction": f"{phases.CHAOS_FRACTION:g}", "chaos_min_barrier": f"{phases.CHAOS_MIN_BARRIER:g}",
        "threshold": f"{tr.threshold:.4f}", "t_chaos": t_chaos, "vs_seeds": vs_seeds,
        "chaos_late": phases.CHAOS_LATE, "chaos_drop": f"{phases.CHAOS_DROP:g}",
        "chaos_no_drop": f"{phases.CHAOS_NO_DROP:g}", "drop": tr.drop.fmt(1), "chaos_verdict": chaos_claim(sweep),
        "agree_verdict": agree.verdict, "agree_reason": agree.reason, "agree_span": f"{phases.AGREE_MAX_SPAN:g}",
        "cone_per_seed": "; ".join(f"{r.label}: {seed_transition(r)}" for r in cone.setting.runs),
    }


def jump_texts(sweep: ChaosSweep, jumps: KernelJumps, outliers: list[dict]) -> dict[str, str]:
    """The chaos page's sentences on outlier draws (`chaos_outliers`) and kernel jumps
    (`kernel_jumps`), by glue name."""
    tr, J = sweep.transition, jumps.jumps
    worse = [o for o in outliers if o["loss_perturbed"] > o["loss_base"]]
    spike = [j for j in J if j["loss_ratio"] >= JUMP_FACTOR]
    after = [t0 for t0 in sweep.t0s if J and t0 < J[0]["t"]]
    return {
        "outlier_factor": f"{OUTLIER_FACTOR:g}", "jump_factor": f"{JUMP_FACTOR:g}", "jump_window": JUMP_WINDOW,
        "top_inputs": f"{TOP_INPUTS:.0%}", "n_outliers": len(outliers),
        "outlier_text": "No draw stands out." if not outliers else
        (f"{len(worse)} of these {len(outliers)} outliers end with a higher test loss than the base run (the "
         "perturbed run settled in a worse place, rather than in an equally good basin separated by a barrier). "
         "The transition is estimated on the median over draws, so a single outlier moves it only when it is "
         "the median."),
        "jump_text": "The adjacent distance has no jump by this definition." if not J else
        (f"It has {len(J)} jump(s), at t = " + ", ".join(str(j["t"]) for j in J) + ". "
         f"{len(spike)} of them coincide with a training-loss spike (the window's loss at least {JUMP_FACTOR:g} "
         "times its neighbours'); the kernel's norm changes by a factor "
         + ", ".join(f"{j['norm_ratio']:.2f}" for j in J) + f" across them; and the top {TOP_INPUTS:.0%} of the "
         "probe inputs carry " + ", ".join(f"{100 * j['top_share']:.0f}%" for j in J)
         + f" of the change ‖ΔH‖² (typically {100 * jumps.top_share_typical:.0f}% between adjacent checkpoints)."),
        "jump_branches": "" if not after else
        (f"The branches from t0 = {after[0]} to {after[-1]} start before the first jump and train through it with "
         f"their own parameters: the median barrier goes from {tr.median[0]:.3g} at t0 = {sweep.t0s[0]} to "
         f"{min(tr.median):.3g} at t0 = {sweep.t0s[int(np.argmin(tr.median))]} and {tr.median[-1]:.3g} at the "
         f"last t0, {sweep.t0s[-1]}."),
        "jump_effect": "" if not J else
        (f"Judged again without the kernels after the jumps, the run's regime is {jumps.without.name} (with them: "
         f"{jumps.with_.name}); the change point is {jumps.without.transition} (with them: "
         f"{jumps.with_.transition})."),
    }


# ---------------------------------------------------------------- the page's sweep jobs (python -m lib sweep chaos)

SWEEP_OPTIONS = {"t0s": dict(type=int, nargs="*", help="perturbation times"),
                 "draws": dict(type=int, help="perturbation draws per t0 (the preset's by default)")}  # python -m lib sweep's options for this page


def jobs(page: PageSetup, extra: dict) -> list[list[tuple[str, object, dict]]]:
    """The page's work as (step, value, extra) jobs in phases: first the base run with its null control
    and every other training seed (perturbed where the preset perturbs every seed, and the seed-pair
    reference), then one job per (t0, draw, training seed perturbed). ``extra``: t0s, draws (the
    preset's by default), size, mode, perturbation_seed."""
    extra = dict(extra)
    t0s = chaos_grid(page, extra.pop("t0s", None))
    draws = extra.pop("draws", page.preset.draws)
    check_int("draws", draws, 1)
    own = page.cfg.seed  # the page's own seed keeps job names without a seed (markers stay valid)

    def t0_extra(s, d):
        return {**extra, "draw": d, **({} if s == own else {"train_seed": s})}
    compared = sorted({t0s[0], t0s[-1]})
    return [[("base", t0s[0], extra)] + [("seed", s, extra) for s in seeds(page) if s != own],
            [("t0", t, t0_extra(s, d)) for s in chaos_train_seeds(page) for d in range(draws) for t in t0s]
            + [("t0", t, t0_extra(s, d)) for s in chaos_train_seeds(page)
               for d in range(draws, max(draws, page.preset.test_draws)) for t in compared]]


def run_job(page: PageSetup, step: str, value, extra: dict) -> None:
    """Compute one job of `jobs` into the run store."""
    if step == "seed":  # another training seed: trained only
        train(page.with_cfg(seed=value).cfg)
        return
    base = train(page.with_cfg(seed=extra.get("train_seed", page.cfg.seed)).cfg)
    if step == "base":
        P.null_control(base, value)
        return
    p = perturbations(extra.get("size", 1e-7), extra.get("mode", "entry"),
                      extra.get("perturbation_seed", 0) + extra.get("draw", 0))[0]
    P.chaos_row(base, value, p, page.kernel)


# ---------------------------------------------------------------- Frankle et al.'s instability (protocol version 2)

@dataclass(frozen=True)
class Copies:
    """The chaos page's copies of one training seed (`lib.instability`): ``base`` the annealed run, ``T`` where its
    constant learning rate ends, ``t0s`` the grid, ``rows`` one `instability.copy_row` per copy, ``null`` the
    unperturbed restart at the first t0 (`perturbation.NullControl`)."""

    base: Trajectory
    T: int
    t0s: list
    rows: list
    null: P.NullControl

    def values(self, t0: int, kind: str, col: str) -> list[float]:
        from ..instability import KINDS
        return [r[col] for r in self.rows if r["t0"] == t0 and r["kind"] == KINDS.index(kind)]

    def curve(self, kind: str, col: str) -> tuple[list, list, list]:
        """(median, min, max) over copies of ``kind`` per t0 (NaN where there are none)."""
        v = [self.values(t0, kind, col) for t0 in self.t0s]
        return ([float(np.median(x)) if x else np.nan for x in v], [min(x) if x else np.nan for x in v],
                [max(x) if x else np.nan for x in v])


def _copy_job(job) -> None:
    cfg, t0, kind, k, spec, size, mode = job
    from .. import instability as I
    I.copy_row(train(cfg, progress=False), t0, kind, k, spec, size, mode)


def anneal_steps(page: PageSetup) -> int | None:
    """The protocol's anneal after T; the smoke preset anneals for a quarter of its T (it judges nothing)."""
    return page.cfg.steps // 4 if page.preset.name == "smoke" else None


def copies(page: PageSetup, t0s=None, size: float = 1e-7, mode: str = "entry", draws: int | None = None,
           sgd: int = 1) -> Copies:
    """Every t0 of the grid: ``draws`` perturbed copies (the preset's number by default) and ``sgd`` SGD-noise
    copies of the page's seed, trained on past T through the protocol's anneal and compared with the base run
    at T and after the anneal; the copies train side by side (`lib.runtime.run_parallel`)."""
    from .. import instability as I
    t0s = chaos_grid(page, t0s)
    draws = page.preset.draws if draws is None else draws
    check_int("draws", draws, 1)
    check_int("sgd", sgd, 0)
    P.Perturbation(size=size, mode=mode)  # checks size and mode before anything is trained
    cfg = I.anneal_config(page.cfg, anneal_steps(page))
    base = train(cfg)
    plan = [(t0, "perturbed", k) for t0 in t0s for k in range(draws)] + [(t0, "sgd", k) for t0 in t0s for k in range(sgd)]
    todo = [(cfg, t0, kind, k, page.kernel, size, mode) for t0, kind, k in plan
            if not I.copy_done(cfg, t0, kind, k, page.kernel, base.store)]
    run_parallel(_copy_job, todo, desc="copies", threads=cfg.threads,
                 label=lambda j: f"t0 = {j[1]}, {j[2]} copy {j[3]}")
    rows = [I.copy_row(base, t0, kind, k, page.kernel, size, mode) for t0, kind, k in plan]
    null = P.null_control(base, t0s[0], progress=False)
    return Copies(base, I.window_end(cfg), t0s, rows, null)


def per_t0_table(rows_by_seed: dict, t0s) -> list[dict]:
    """One row per t0: the perturbed and the SGD-noise copies unstable (k of n, annealed endpoint), their median
    test-error barriers, and the sensitivity across seeds (geometric mean [95%], where two seeds have both)."""
    from .. import instability as I
    out = []
    for t0 in t0s:
        cells = {}
        for kind, name in (("perturbed", "perturbed"), ("sgd", "SGD noise")):
            v = [r["err_anneal"] for rows in rows_by_seed.values() for r in rows
                 if r["t0"] == t0 and r["kind"] == I.KINDS.index(kind)]
            cells[f"{name}: unstable"] = f"{sum(map(I.unstable, v))} of {len(v)}" if v else "none"
            cells[f"{name}: median barrier (points)"] = f"{100 * float(np.median(v)):.2f}" if v else ""
        sens = I.sensitivities(rows_by_seed, t0)
        cells["sensitivity"] = (I.log_interval(sens)[0].fmt(3) if len(sens) >= 2 else
                                f"{sens[0]:.3g} (one seed)" if sens else "")
        out.append({"t0": t0, **cells})
    return out
