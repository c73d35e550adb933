"""The book's pages, one module each: what a page computes, judges and glues.

- `common`: presets (`Preset`), page parameters (`PageParams`), `setup` -> `PageSetup`, the
  analysis window, the kernel-analysis grids, seeds and setting variants;
- `judging`: one run or a setting over its seeds judged by `lib.phases.regime`;
- `cone` (book/cone.md), `chaos` (book/chaos.md), `linear` (book/linear.md),
  `counterexample` (book/counterexample.md), `intro` (book/intro.md: every claim in one table),
  `settings` (book/settings.md: the claims over a grid of settings), `paper` (book/paper.md:
  paper-scale runs read from their stored summaries, `lib.summary`);
- `verdicts`: each claim of the protocol (`lib.protocol`) judged by its rule across replicates (seeds,
  draws), Holm-adjusted, for the intro and the pages;
- `summaries`: a page's stored runs written as summaries (``python -m lib sweep ... --summary``).

``SWEEPS`` is the registry that ``python -m lib sweep`` reads: each page that a sweep can compute
offers ``jobs(page, extra)`` (its work in phases of (step, value, extra) jobs) and
``run_job(page, step, value, extra)`` (one job into the run store).
"""
from . import chaos, common, cone, counterexample, intro, judging, linear, paper, settings, summaries, verdicts  # noqa: F401

SWEEPS = {"cone": cone, "chaos": chaos, "linear": linear, "counterexample": counterexample}
