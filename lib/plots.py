"""Figures used by the book's pages (matplotlib; each function draws on an Axes and returns it)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import torch

from . import kernels as K
from .kernels import adjacent_distances, kernel_distance, mds, reference_distances
from .runtime import timing

if TYPE_CHECKING:  # the typed results the page figures draw (lib.pages imports this module's callers, not it)
    from .pages.chaos import ChaosSweep, KernelJumps
    from .pages.judging import RunRegime
    from .pages.linear import LinearSweep


# Figures are read at the site's column width (about 750 px): at most 10 inches wide, with text
# of 11.5-12 pt, so that it is 9 pt or more once scaled to the column. One idea per panel.
STYLE = {"font.size": 12, "axes.titlesize": 12, "axes.labelsize": 12, "xtick.labelsize": 11.5,
         "ytick.labelsize": 11.5, "legend.fontsize": 11.5, "figure.titlesize": 12}
plt.rcParams.update(STYLE)


def dt_colors(dts) -> list:
    """One colour per interval dt, the same on every page: the k-th smallest dt of the grid gets
    the k-th colour of a fixed palette (orange to purple; iterations themselves are blue)."""
    palette = ["#e66101", "#b2182b", "#5e3c99", "#1b7837", "#8c510a", "#01665e"]
    return [palette[i % len(palette)] for i, _ in enumerate(sorted(dts))]


def time_color(t: float, end: float):
    """The colour of iteration ``t`` of a run of ``end`` iterations, the same wherever an iteration
    is coloured (a reference τ, a perturbation time t0, the points of the cone picture)."""
    return _time_cmap()(min(1.0, max(0.0, t / end)) if end else 0.0)


def _time_cmap():
    """Blues without its near-white end, so early iterations stay visible."""
    from matplotlib.colors import LinearSegmentedColormap
    return LinearSegmentedColormap.from_list("time", plt.get_cmap("Blues")(np.linspace(0.3, 1.0, 256)))


def _ax(ax):
    return ax if ax is not None else plt.subplots(figsize=(5, 3.5))[1]


def training_curves(traj, axes=None):
    """Loss (left) and accuracy (right) against iteration: train (mean since the previous checkpoint) and test."""
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    for name, style in (("train", "-"), ("test", "o-")):
        for ax, metric in zip(axes, ("loss", "acc")):
            its, vals = traj.metric(f"{name}_{metric}")
            ax.plot(its, vals, style, ms=3, label=name)
    for ax, label in zip(axes, ("cross-entropy loss", "accuracy")):
        ax.set_xlabel("iteration t")
        ax.set_ylabel(label)
        ax.legend()
        for m in traj.cfg.milestones:
            if m < traj.cfg.steps:
                ax.axvline(m, color="grey", lw=0.8, ls=":")
    axes[0].set_yscale("log")
    return axes


def kernel_heatmap(h: torch.Tensor, labels: torch.Tensor | None = None, ax=None, title: str = ""):
    """An eNTK as an image (inputs sorted by class; class boundaries drawn)."""
    ax = _ax(ax)
    h = h.double().numpy()
    lim = np.abs(h).max()
    im = ax.imshow(h, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
    if labels is not None:
        edges = np.flatnonzero(np.diff(labels.numpy())) + 0.5
        for e in edges:
            ax.axhline(e, color="k", lw=0.3)
            ax.axvline(e, color="k", lw=0.3)
    ax.set_xlabel("probe input j (sorted by class)")
    ax.set_ylabel("probe input i")
    ax.set_title(title)
    plt.colorbar(im, ax=ax, fraction=0.046)
    return ax


def distance_matrix(s: torch.Tensor, iterations, ax=None, title: str = ""):
    """A pairwise kernel-distance matrix S(H(t_i), H(t_j)), annotated if small."""
    ax = _ax(ax)
    s = s.numpy() if isinstance(s, torch.Tensor) else np.asarray(s)
    im = ax.imshow(s, cmap="viridis", vmin=0)
    ticks = range(len(iterations))
    if len(iterations) <= 12:
        ax.set_xticks(ticks, [str(t) for t in iterations], rotation=45)
        ax.set_yticks(ticks, [str(t) for t in iterations])
        for i in ticks:
            for j in ticks:
                ax.text(j, i, f"{s[i, j]:.2f}", ha="center", va="center", fontsize=11,
                        color="w" if s[i, j] < 0.6 * s.max() else "k")
    else:
        idx = np.linspace(0, len(iterations) - 1, 6).round().astype(int)
        ax.set_xticks(idx, [str(iterations[i]) for i in idx])
        ax.set_yticks(idx, [str(iterations[i]) for i in idx])
    ax.set_xlabel("iteration t'")
    ax.set_ylabel("iteration t")
    ax.set_title(title)
    plt.colorbar(im, ax=ax, fraction=0.046, label="kernel distance S")
    return ax


def series(curves: dict, ax=None, xlabel: str = "iteration t", ylabel: str = "", logy: bool = False, title: str = "",
           colors=None):
    """Several (x, y) curves keyed by legend label (``colors``: one per curve, else the cycle)."""
    ax = _ax(ax)
    for i, (label, (x, y)) in enumerate(curves.items()):
        ax.plot(x, y, "-", lw=1.4, label=label, **({} if colors is None else {"color": colors[i]}))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.legend()
    return ax


def kernel_snapshot(kernels: dict, t: int, labels=None, ax=None):
    """The eNTK at checkpoint ``t`` with its distance to H(0) in the title (static figure and widget)."""
    t0 = min(kernels)
    ax = kernel_heatmap(kernels[t], labels, ax, title=f"H({t}),  S(H({t0}), H({t})) = {kernel_distance(kernels[t0], kernels[t]):.3f}")
    ax.title.set_fontsize(11)
    return ax


def _window_lines(ax, window_end, milestones=()):
    for m in milestones:
        ax.axvline(m, color="grey", lw=0.8, ls=":")
    if window_end is not None:
        ax.axvspan(window_end, ax.get_xlim()[1], color="grey", alpha=0.08, lw=0)


def adjacent_curves(kernels: dict, dts, ax=None, centered: bool = False, milestones=(), window_end=None):
    """Fig 1(b): S(θ(t), θ(t+dt)) against t, one curve per dt (log scale)."""
    dts = sorted(dts)
    ax = series({f"dt = {dt}": adjacent_distances(kernels, dt, centered) for dt in dts}, ax,
                ylabel=f"S(θ(t), θ(t+dt)){' centered' if centered else ''}", logy=True, colors=dt_colors(dts))
    _window_lines(ax, window_end, milestones)
    return ax


def reference_curves(kernels: dict, taus, ax=None, centered: bool = False, milestones=(), window_end=None):
    """Fig 1(a): S(θ(t), θ(τ)) against t, one curve per reference τ (τ marked by a dot)."""
    end = max(kernels)
    ax = series({f"τ = {tau}": reference_distances(kernels, tau, centered) for tau in taus}, ax,
                ylabel=f"S(θ(t), θ(τ)){' centered' if centered else ''}",
                colors=[time_color(tau, end) for tau in taus])
    for line, tau in zip(ax.get_lines(), taus):
        ax.plot([tau], [0], "o", color=line.get_color(), ms=4)
    _window_lines(ax, window_end, milestones)
    return ax


def cone_polar(kernels: dict, ax=None, centered: bool = False, until: int | None = None):
    """Fig 1(c): H(t) at angle arccos(1 - S(H(0), H(t))) and radius ||H(t)||/||H(0)||;
    H(0) black, later iterations darker. ``until``: only the kernels up to that iteration in
    colour, the later ones light grey (the axes stay those of the whole run)."""
    ts, ang, rad = K.cone_polar(kernels, centered)
    ax = _ax(ax)
    x = np.asarray(rad) * np.cos(ang)
    y = np.asarray(rad) * np.sin(ang)
    ts_arr = np.asarray(ts)
    if until is not None:
        later = ts_arr > until
        ax.scatter(x[later], y[later], color="0.85", s=10, edgecolors="none", zorder=0)
        keep = ~later
        keep[0] = False
        sc = ax.scatter(x[keep], y[keep], c=ts_arr[keep], cmap=_time_cmap(), s=14, edgecolors="none",
                        vmin=ts_arr[1] if len(ts_arr) > 1 else 0, vmax=ts_arr[-1])
    else:
        sc = ax.scatter(x[1:], y[1:], c=ts[1:], cmap=_time_cmap(), s=14, edgecolors="none")
    ax.plot([1], [0], "ko", ms=6, label="H(0)")
    ax.plot([0], [0], "k+", ms=8, label="zero kernel")
    r = max(max(rad), 1) * 1.05
    for a in (0, min(ang[1:], default=0), max(ang)):  # the cone: rays from the origin
        ax.plot([0, r * np.cos(a)], [0, r * np.sin(a)], color="grey", lw=0.6, ls="--")
    ax.set_xlabel("‖H(t)‖/‖H(0)‖ · cos(angle to H(0))")
    ax.set_ylabel("‖H(t)‖/‖H(0)‖ · sin(angle)")
    ax.set_aspect("equal", adjustable="datalim")
    plt.colorbar(sc, ax=ax, fraction=0.046, label="iteration t")
    ax.legend(loc="upper left")
    return ax


def mds_map(s, iterations, ax=None):
    """The kernels as points whose distances match the angles arccos(1 - S) (classical MDS);
    H(0) black, later iterations darker, consecutive checkpoints joined."""
    xy = mds(torch.as_tensor(s)).numpy()
    ax = _ax(ax)
    ax.plot(xy[:, 0], xy[:, 1], "-", color="lightgrey", lw=0.6, zorder=0)
    sc = ax.scatter(xy[1:, 0], xy[1:, 1], c=list(iterations)[1:], cmap=_time_cmap(), s=14, edgecolors="none")
    ax.plot(xy[:1, 0], xy[:1, 1], "ko", ms=6, label="H(0)")
    ax.set_xlabel("MDS coordinate 1 (radians)")
    ax.set_ylabel("MDS coordinate 2 (radians)")
    ax.set_aspect("equal", adjustable="datalim")
    plt.colorbar(sc, ax=ax, fraction=0.046, label="iteration t")
    ax.legend()
    return ax


def _t0_axis(ax, t0s):
    ax.set_xscale("symlog", linthresh=max(1, min([t for t in t0s if t > 0], default=1)))
    ax.set_xlim(0, 1.2 * max(t0s))
    ticks = [t for i, t in enumerate(t0s) if len(t0s) <= 8 or i % 2 == 0 or t == t0s[-1]]
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.minorticks_off()
    ax.set_xlabel("perturbation time t0")


CHAOS_PANELS = (("barrier_test", 1, "test loss barrier", True), ("disagreement", 100, "test disagreement (%)", False),
                ("rel_distance", 1, "‖θ - θ'‖ / ‖θ‖", True), ("kernel_distance", 1, "S between the endpoints' eNTKs", True))
SPAN_COLOURS = {"chaos": "tab:orange", "cone": "tab:green"}
LOG_FLOOR = 1e-6  # values below are drawn at this level on log axes (a barrier can be exactly 0)


def chaos_band(sweep: ChaosSweep, key: str, ax=None, scale: float = 1, ylabel: str = "", logy: bool = False, spans=None):
    """One chaos metric against t0: median over the draws with the range as a band, the range
    between pairs of training seeds as a grey band (the largest difference SGD makes), the null
    control (0) where the axis is linear, and the chaos / cone transition intervals as shaded spans."""
    ax = _ax(ax)
    v = scale * sweep.values(key)
    if logy:
        v = np.maximum(v, LOG_FLOOR)
    t0 = sweep.t0s
    ax.fill_between(t0, v.min(0), v.max(0), alpha=0.25, lw=0, color="tab:blue",
                    label=f"range over {len(v)} draws")
    ax.plot(t0, np.median(v, 0), "o-", ms=3.5, color="tab:blue", label="median over draws")
    ref = [scale * x for x in sweep.reference(key)]
    if ref:
        ax.axhspan(min(ref), max(ref), color="grey", alpha=0.2, lw=0)
        ax.axhline(float(np.median(ref)), color="grey", lw=1, ls="-.",
                   label=f"two training seeds ({len(ref)} pair{'s' if len(ref) > 1 else ''})")
    if not logy:
        ax.axhline(0, color="k", lw=0.8, ls=":", label="null control (bitwise 0)" if sweep.null.identical else
                   "null control: NOT 0")
    else:
        ax.set_yscale("log")
    for name, iv in (spans or {}).items():
        if iv is not None:
            hi = iv[1] if iv[1] is not None else 1.2 * max(t0)
            ax.axvspan(max(iv[0], 0), hi, color=SPAN_COLOURS.get(name, "grey"), alpha=0.15, lw=0,
                       label=f"{name} transition (95%)")
    ax.set_ylabel(ylabel)
    _t0_axis(ax, t0)
    return ax


def chaos_metrics(sweep: ChaosSweep, axes=None, spans=None):
    """The four chaos metrics (`CHAOS_PANELS`) on a 2 x 2 grid of `chaos_band` panels."""
    if axes is None:
        _, axes = plt.subplots(2, 2, figsize=(10, 7))
    for ax, (key, scale, label, logy) in zip(np.ravel(axes), CHAOS_PANELS):
        chaos_band(sweep, key, ax, scale, label, logy, spans)
    np.ravel(axes)[0].legend()
    return axes


def size_response(sizes, curves: dict, ax=None, fp32_size: float | None = None, key_label: str = "test loss barrier",
                  ranges: dict | None = None, range_size: float | None = None):
    """The response (e.g. the test barrier) against the perturbation size, one line per t0
    (``curves``: {t0: values}); the smallest size that changes at least half of the fp32 entries,
    if given; ``ranges`` {t0: (lo, hi)}: the range over the draws at ``range_size``, as error bars."""
    ax = _ax(ax)
    for t0, vals in curves.items():
        line, = ax.plot(sizes, [max(v, LOG_FLOOR) for v in vals], "o-", ms=4, label=f"t0 = {t0}")
        if ranges and t0 in ranges:
            lo, hi = (max(x, LOG_FLOOR) for x in ranges[t0])
            ax.plot([range_size, range_size], [lo, hi], "-", lw=6, alpha=0.3, color=line.get_color())
    ax.set_xscale("log")
    ax.set_yscale("log")
    if fp32_size is not None:
        ax.axvline(fp32_size, color="grey", ls="--", lw=1, label="from here, half the fp32 entries change")
    ax.set_xlabel("perturbation size (std of each entry)")
    ax.set_ylabel(key_label)
    ax.legend()
    return ax


def jump_panels(jumps: KernelJumps, axes=None, dt: int = 25, milestones=()):
    """Training loss, kernel norm and adjacent S on one time axis, the jumps marked (`chaos.kernel_jumps`)."""
    if axes is None:
        _, axes = plt.subplots(3, 1, figsize=(8, 7), sharex=True)
    its = jumps.iterations
    axes[0].plot([t for t, l in zip(its, jumps.loss) if l is not None], [l for l in jumps.loss if l is not None],
                 "-", lw=1.2)
    axes[0].set_yscale("log")
    axes[0].set_ylabel("training loss\n(window mean)")
    axes[1].plot(its, jumps.norm, "-", lw=1.2)
    axes[1].set_ylabel("‖H(t)‖_F")
    axes[2].plot(its[:-1], jumps.adjacent, "-", lw=1.2)
    axes[2].set_yscale("log")
    axes[2].set_ylabel(f"S(H(t), H(t+{dt}))")
    axes[2].set_xlabel("iteration t")
    for j in jumps.jumps:
        for ax in axes:
            ax.axvspan(j["t"], j["t_next"], color="tab:red", alpha=0.25, lw=0)
    for m in milestones:
        for ax in axes:
            ax.axvline(m, color="grey", lw=1, ls=":")
        axes[0].text(m, axes[0].get_ylim()[1], " lr decay", fontsize=11, va="top", color="grey")
    return axes


def linear_paths(rows, ax=None, split: str = "test", end: int | None = None, label=None):
    """Loss along αθ + (1-α)θ' between the base endpoint (α = 0... θ') and the perturbed one, each
    row coloured by its t0 (`time_color` over a run of ``end`` iterations; default the largest t0)."""
    ax = _ax(ax)
    t_max = end or max(r["t0"] for r in rows) or 1
    for i, r in enumerate(rows):
        ax.plot(r["alphas"], r[f"path_{split}"], "o-", ms=3, color=time_color(r["t0"], t_max),
                label=f"t0 = {r['t0']}" if label is None else label(i, r))
    ax.set_xlabel("α  (0: perturbed run's endpoint θ', 1: base run's endpoint θ)")
    ax.set_ylabel(f"{split} loss")
    ax.legend()
    return ax


def seed_band(curves, ax=None, ylabel: str = "", logy: bool = False, label: str = "median over seeds"):
    """Median and min-max band of several (x, y) curves on a shared x grid (one per seed)."""
    ax = _ax(ax)
    xs = sorted(set.intersection(*[set(x) for x, _ in curves]))
    ys = np.array([[dict(zip(x, y))[t] for t in xs] for x, y in curves])
    ax.fill_between(xs, ys.min(0), ys.max(0), alpha=0.25, lw=0, label=f"range over {len(curves)} seed(s)")
    ax.plot(xs, np.median(ys, 0), "-", lw=1.4, label=label)
    ax.set_xlabel("iteration t")
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    ax.legend()
    return ax


def regime_panel(run: RunRegime, dts, ax=None, centered: bool = False, window_end=None):
    """One run's adjacent distances S(θ(t), θ(t+dt)) for the smallest and largest dt (log scale),
    its noise floor (dashed; the measured one, at least the resolution of S), its transition interval (band) and its regime in the title.
    ``run``: a `lib.pages.judging.RunRegime`."""
    r = run.regime(centered)
    ax = _ax(ax)
    shown = sorted({dts[0], dts[-1]})
    colors = dict(zip(sorted(dts), dt_colors(dts)))
    for dt in shown:
        ts, s = adjacent_distances({t: h for t, h in run.kernels.items() if window_end is None or t <= window_end},
                                   dt, centered)
        ax.plot(ts, np.maximum(s, 1e-17), "-", lw=1.4, label=f"dt = {dt}", color=colors[dt])
    ax.axhline(r.noise, color="k", ls="--", lw=1, label="noise floor")
    if r.transition_interval is not None:
        ax.axvspan(*r.transition_interval, color="0.6", alpha=0.3, lw=0, label="transition (95%)")
    ax.set_yscale("log")
    ax.set_xlabel("iteration t")
    ax.set_ylabel(f"S(θ(t), θ(t+dt)){' centered' if centered else ''}")
    ax.set_title(f"{run.label}: {r.name}")
    ax.legend()
    return ax


def linear_panels(sweep: LinearSweep, steps: int, axes=None):
    """The linear page's figure (the workshop paper's Fig 2): test accuracy (left) and test loss
    (right) at T of θ_std→lin(T; t) against the switch point t, the standard run (dashed) with the
    range of the seeds' standard accuracy (grey band, accuracy panel), and the page seed's kernel
    transition (dotted). ``sweep``: a `lib.pages.linear.LinearSweep`."""
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    adv, sw = sweep.advantage, sweep.switch
    tr = adv.transitions[0] if adv.transitions else None
    for ax, key, label in zip(axes, ("test_acc", "test_loss"), ("test accuracy at T", "test loss at T")):
        ax.plot(sw, [sweep.final[t][key] for t in sw], "o-", ms=4, color="C0", label="θ_std→lin(T; t)")
        ax.axhline(sweep.reference[key], color="k", ls="--", lw=1, label="standard training")
        if key == "test_acc" and len(adv.standard) > 1:
            ax.axhspan(min(adv.standard), max(adv.standard), color="grey", alpha=0.25, lw=0,
                       label=f"standard, {len(adv.standard)} seeds")
        if tr is not None:
            ax.axvline(tr, color="grey", ls=":", lw=1.2, label=f"transition point (t = {tr})")
        ax.set_xscale("symlog", linthresh=sw[1] if len(sw) > 1 and sw[1] > 0 else 1)
        ax.set_xlim(0, 1.1 * steps)
        ax.set_xlabel("switch iteration t")
        ax.set_ylabel(label)
    axes[0].legend(loc="lower right")
    axes[0].figure.tight_layout()
    return axes[0].figure


# ---------------------------------------------------------------- figures a reader moves in the static site

@timing("widget frames")
def render_frames(draw, values, figsize=(8, 3.6), dpi: int = 80) -> list[bytes]:
    """PNG frames of ``draw(fig, value)`` for each of ``values``, rendered now (when the book is
    built) by the same plotting functions as the static figures."""
    import io
    out = []
    for v in values:
        fig = plt.figure(figsize=figsize)
        draw(fig, v)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi)
        plt.close(fig)
        out.append(buf.getvalue())
    return out


class Scrubber:
    """A figure a reader moves in the static site: one frame per value, a slider (keyboard:
    arrows, Home, End) picks the frame shown. The frames are inline PNGs and the control is the
    book's own ``_static/scrub.js``: no kernel, no server, no network. Without JavaScript the
    frame at ``start`` shows. In a notebook it displays the same (the live pages also keep their
    ipywidgets cells)."""

    def __init__(self, frames: list[bytes], values, label: str, caption: str, start: int = 0, alt: str = ""):
        if len(frames) != len(values) or not frames:
            raise ValueError("Scrubber needs one frame per value, and at least one")
        self.frames, self.values, self.label, self.caption = frames, [str(v) for v in values], label, caption
        self.start, self.alt = min(max(start, 0), len(frames) - 1), alt or caption

    def _repr_html_(self) -> str:
        import base64
        import html
        import json
        imgs = "".join(
            f'<img class="tp-frame" src="data:image/png;base64,{base64.b64encode(f).decode()}" '
            f'alt="{html.escape(self.alt)}, {html.escape(self.label)} = {html.escape(v)}"'
            f'{"" if i == self.start else " hidden"}>'
            for i, (f, v) in enumerate(zip(self.frames, self.values)))
        label = html.escape(self.label)
        return (f'<div class="tp-scrub" data-label="{label}" data-values="{html.escape(json.dumps(self.values))}">'
                f"{imgs}<div class=\"tp-control\"><label>{label} = <output class=\"tp-value\">"
                f"{html.escape(self.values[self.start])}</output></label>"
                f'<input class="tp-slider" type="range" min="0" max="{len(self.frames) - 1}" step="1" '
                f'value="{self.start}" disabled aria-label="{label}: move to change the figure"></div>'
                f'<div class="tp-caption">{html.escape(self.caption)}</div></div>')


MAX_FRAMES = 16  # frames per movable figure: enough to scrub, few enough to keep the site small


def _pick(values, n: int = MAX_FRAMES) -> list:
    values = list(values)
    if len(values) <= n:
        return values
    idx = np.unique(np.round(np.linspace(0, len(values) - 1, n)).astype(int))
    return [values[i] for i in idx]


def scrub_reference(kernels: dict, taus, end: int, centered: bool = True, start=None) -> Scrubber:
    """Fig 1(a) with the reference τ moved over the window's checkpoints (`reference_curves`, one τ
    a frame, a fixed y axis)."""
    taus = _pick(taus)
    top = max(max(reference_distances(kernels, tau, centered)[1]) for tau in taus) * 1.05

    def draw(fig, tau):
        ax = fig.add_subplot()
        reference_curves(kernels, [tau], ax, centered=centered, window_end=None)
        ax.set_ylim(0, top)
        ax.set_xlim(0, end)
        fig.tight_layout()

    i = taus.index(min(taus, key=lambda t: abs(t - start))) if start is not None else len(taus) // 2
    return Scrubber(render_frames(draw, taus), taus, "τ", f"S(θ(t), θ(τ)){' centered' if centered else ''} "
                    "against t for the reference τ chosen with the slider (the dot marks τ).", start=i,
                    alt="Fig 1(a), one reference")


def scrub_cone(kernels: dict, iterations, centered: bool = True) -> Scrubber:
    """Fig 1(c) with time moved through it: the kernels up to t in colour (`cone_polar`)."""
    ts = _pick([t for t in iterations if t > min(kernels)])

    def draw(fig, t):
        ax = fig.add_subplot()
        cone_polar(kernels, ax, centered=centered, until=t)
        ax.set_title(f"kernels up to t = {t}")
        fig.tight_layout()

    return Scrubber(render_frames(draw, ts, figsize=(6.5, 5)), ts, "t",
                    "The polar picture of the cone with the kernels up to iteration t in colour and the later "
                    "ones grey (centered kernels).", start=len(ts) - 1, alt="Fig 1(c) up to t")


def scrub_chaos(sweep: ChaosSweep, end: int, key: str = "barrier_test", split: str = "test") -> Scrubber:
    """The chaos page with t0 moved: left, the loss along the linear path between the base and each
    perturbed endpoint at that t0 (every draw, `linear_paths`); right, the test barrier against t0
    (`chaos_band`) with t0 marked."""
    t0s = _pick(sweep.t0s)
    low = min(min(r[f"path_{split}"]) for rows in sweep.draws for r in rows)
    high = max(max(r[f"path_{split}"]) for rows in sweep.draws for r in rows)

    def draw(fig, t0):
        a1, a2 = fig.subplots(1, 2)
        rows = [r for rows in sweep.draws for r in rows if r["t0"] == t0]
        linear_paths(rows, a1, split=split, end=end, label=lambda i, r: sweep.labels[i])
        a1.set_ylim(low - 0.05 * (high - low), high + 0.05 * (high - low))
        a1.set_title(f"t0 = {t0}: the path between the endpoints")
        chaos_band(sweep, key, a2, 1, "test loss barrier", logy=True)
        a2.axvline(t0, color="k", lw=1.2)
        a2.set_title("the barrier against t0")
        a2.get_legend().remove() if a2.get_legend() else None
        fig.tight_layout()

    return Scrubber(render_frames(draw, t0s, figsize=(10, 3.8)), t0s, "t0",
                    f"Left: the {split} loss along the straight line between the base run's endpoint and each "
                    "perturbed run's endpoint for the perturbation time t0 chosen with the slider (one curve a draw). "
                    "Right: the test loss barrier against t0 (median and range over the draws), t0 marked.",
                    alt="Chaos at one t0")


def scrub_linear(sweep: LinearSweep, base, steps: int) -> Scrubber:
    """The linear page with the switch point t moved: the training loss of the run switched to the
    linearized model at t beside standard training (one frame a switch point)."""
    sw = [t for t in sweep.switch if t < steps]
    its, loss = base.metric("train_loss")
    lo = min(v for v in loss if v > 0)
    hi = max(loss)

    def draw(fig, t):
        ax = fig.add_subplot()
        ax.plot(its, loss, color="k", lw=1.2, label="standard training")
        ax.plot(*sweep.runs[t].metric("train_loss"), "o-", ms=3, color=time_color(t, steps),
                label=f"linearized from t = {t}")
        ax.axvline(t, color=time_color(t, steps), ls=":", lw=1)
        ax.set_yscale("log")
        ax.set_ylim(lo / 1.5, hi * 1.5)
        ax.set_xlabel("iteration")
        ax.set_ylabel("train loss")
        ax.set_title(f"switch at t = {t}: test accuracy at T {100 * sweep.acc(t):.1f}%")
        ax.legend()
        fig.tight_layout()

    return Scrubber(render_frames(draw, sw), sw, "switch t",
                    "Training loss (the mean since the previous checkpoint) of θ_std→lin(T; t) for the switch "
                    "point t chosen with the slider, beside standard training; the title gives its test accuracy at T.", alt="Linearized run")


COPY_STYLE = {"perturbed": ("tab:orange", "o", "perturbed copies"), "sgd": ("tab:blue", "s", "SGD-noise copies")}


def copies_panel(copies, col: str, ax=None, scale: float = 1, ylabel: str = "", threshold: float | None = None,
                 logy: bool = False):
    """One metric of the chaos page's copies (`lib.pages.chaos.Copies`) against t0: median and range over the
    copies of each kind; ``threshold`` (in the plotted units) drawn as a dashed line (Frankle et al.'s 2 points)."""
    ax = _ax(ax)
    for kind, (color, marker, label) in COPY_STYLE.items():
        med, lo, hi = (np.asarray(v, float) * scale for v in copies.curve(kind, col))
        if np.isnan(med).all():
            continue
        if logy:
            med, lo, hi = (np.maximum(v, LOG_FLOOR) for v in (med, lo, hi))
        ax.fill_between(copies.t0s, lo, hi, color=color, alpha=0.2, lw=0)
        ax.plot(copies.t0s, med, marker=marker, ms=4, color=color, label=label)
    if threshold is not None:
        ax.axhline(threshold, color="k", ls="--", lw=1, label=f"threshold {threshold:g}")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("perturbation time t0 (iterations)")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=10)
    return ax


def copy_paths(copies, t0: int, ax=None):
    """The test error (%) along the straight line between the base run's annealed endpoint (α = 1) and each copy's
    (α = 0) from ``t0``: perturbed copies orange, SGD-noise copies blue."""
    from .instability import KINDS
    ax = _ax(ax)
    seen = set()
    for r in copies.rows:
        if r["t0"] != t0:
            continue
        kind = KINDS[int(r["kind"])]
        color, marker, label = COPY_STYLE[kind]
        ax.plot(r["alphas"], 100 * (1 - np.asarray(r["path_anneal"])), marker=marker, ms=3, color=color,
                label=None if kind in seen else label)
        seen.add(kind)
    ax.set_xlabel("α (0: the copy, 1: the base run)")
    ax.set_ylabel("test error (%)")
    ax.legend(fontsize=10)
    return ax


def scrub_copies(copies) -> "Scrubber":
    """The chaos page with t0 moved: left, the test error along the linear path to every copy from that t0
    (`copy_paths`); right, the test-error barrier against t0 (`copies_panel`) with t0 marked."""
    t0s = _pick(copies.t0s)
    errs = [100 * (1 - a) for r in copies.rows for a in r["path_anneal"]]
    lo, hi = min(errs), max(errs)

    def draw(fig, t0):
        a1, a2 = fig.subplots(1, 2)
        copy_paths(copies, t0, a1)
        a1.set_ylim(lo - 0.05 * (hi - lo + 1e-9), hi + 0.05 * (hi - lo + 1e-9))
        a1.set_title(f"t0 = {t0}: the path to each copy")
        copies_panel(copies, "err_anneal", a2, 100, "test-error barrier (points)", threshold=2)
        a2.axvline(t0, color="k", lw=1.2)
        a2.set_title("the barrier against t0")
        fig.tight_layout()

    return Scrubber(render_frames(draw, t0s, figsize=(10, 3.8)), t0s, "t0",
                    "Left: the test error along the straight line between the base run's annealed endpoint and each "
                    "copy's from the t0 chosen with the slider (orange: perturbed copies, blue: SGD-noise copies). "
                    "Right: the test-error barrier against t0 (median and range), t0 marked.", alt="Chaos at one t0")
