"""The grid of settings measured to choose the book's default (and read by the appendix page).

    python benchmarks/settings.py                       # every setting of the grid, then the table
    python benchmarks/settings.py --only lenet5 --no-chaos
    python benchmarks/settings.py --report              # the table from what is stored (no training)

Each setting is the default preset's (T = 2000, constant learning rate 0.1 over T as in the
papers' window, batch 128, weight decay 1e-4, augmentation, eNTK 'sum' on 200 probe inputs)
with one architecture, momentum and dataset of ``lib.experiments.SETTINGS_GRID``. For each it
runs the functions the pages run (cone regime over the preset's seeds, the chaos sweep, the
linear sweep) and prints every claim's verdict with the time it took. Chaos branches of
ResNet-20 cost ~100-300 s each on 2 cores; ``--no-chaos`` leaves them out (the chaos columns then
say "not run").
"""
import argparse
import time

import lib
from lib import pages


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default=None, help="run only settings whose name contains this")
    ap.add_argument("--no-chaos", action="store_true", help="skip the chaos sweep")
    ap.add_argument("--chaos-archs", default="lenet5", help="comma-separated architectures whose chaos is run")
    ap.add_argument("--report", action="store_true", help="only read what is stored")
    args = ap.parse_args()
    for s in pages.SETTINGS_GRID:
        name = pages.setting_name(s)
        if args.only and args.only not in name:
            continue
        t = time.time()
        page = pages.grid_page("default", s)
        chaos = not args.no_chaos and s["arch"] in args.chaos_archs.split(",")
        try:
            if args.report:
                row = pages.setting_claims(page, chaos=chaos, stored_only=True)
            else:
                row = pages.setting_claims(page, chaos=chaos)
        except lib.storage.NotStored as e:  # --report: this setting has not been computed
            print(f"{name}: not stored ({e})", flush=True)
            continue
        print(f"{name}: {row.summary()}  [{time.time() - t:.0f} s]", flush=True)


if __name__ == "__main__":
    main()
