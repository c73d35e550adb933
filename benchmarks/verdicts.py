"""Every regime the book relies on, with its statistics, and the intro table's verdicts, under
this process's arithmetic: run it twice with different arithmetic to check that no verdict
depends on the processor, each time with its own run store, e.g.

    TWOPHASE_STORE=/tmp/native python benchmarks/verdicts.py
    TWOPHASE_STORE=/tmp/avx2 ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 python benchmarks/verdicts.py
    TWOPHASE_STORE=/tmp/t1 python benchmarks/verdicts.py --threads 1 --archs

Prints Markdown tables: the regime of the default preset's setting (every seed), of both
counterexample candidates, of ResNet-20 and VGG-16 (``--archs``), of the cone page's two
controls, and the claims table of the intro page (``--no-claims`` skips it: it trains the chaos
and linear-advantage runs). Everything is cached in the run store, as the pages do.
"""
from __future__ import annotations

import argparse
import time

from lib import runtime
from lib.pages import common, cone, intro, judging


def table(rows: list[dict]) -> str:
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + " --- |" * len(keys)]
    lines += ["| " + " | ".join(str(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--archs", nargs="*", default=["resnet20", "vgg16"])
    ap.add_argument("--no-claims", action="store_true")
    a = ap.parse_args()
    page = common.setup(preset="default", threads=a.threads)
    print(f"arithmetic: {runtime.arithmetic_text(runtime.arithmetic(a.threads))}\n")
    t = time.time()
    results = {"default": cone.cone_analysis(page).setting}
    for name in common.COUNTEREXAMPLES:
        results[name] = judging.judge_setting(common.variant(page, name), common.seeds(page), common.cone_grids(page)[0])
    for arch in a.archs:
        p = common.setup(preset="default", arch=arch, threads=a.threads)
        results[arch] = cone.cone_analysis(p).setting
    controls = cone.cone_controls(page)
    rows = [{"setting": n, "verdict (raw)": r.raw.sentence, "verdict (centered)": r.centered.sentence,
             "transitions (raw)": r.raw.transition_interval} for n, r in results.items()]
    print(table(rows), "\n")
    runs = [dict(setting=n, **row) for n, r in results.items() for row in judging.regime_rows(r.runs)]
    runs += [dict(setting="control", **row) for row in judging.regime_rows([controls.lazy, controls.real])]
    print(table(runs), "\n")
    if not a.no_claims:
        claims = intro.claims(page)
        print(table([{k: r[k] for k in ("claim", "build", "held out", "effect [95%]", "p (Holm)", "raw S (build)")}
                     for r in claims.rows]))
    print(f"\n{time.time() - t:.0f} s")


if __name__ == "__main__":
    main()
