"""The grid of settings measured to choose the book's default (and read by the appendix page).

    python benchmarks/settings.py                       # every setting of the grid, then the table
    python benchmarks/settings.py --only LeNet-5 --chaos-archs ''
    python benchmarks/settings.py --report              # the table from what is stored (no training)

Each setting is the default preset's (T = 2000, constant learning rate 0.1 over T as in the
papers' window, batch 128, weight decay 1e-4, augmentation, eNTK 'sum' on 200 probe inputs)
with one architecture, momentum and dataset of ``lib.pages.settings.SETTINGS_GRID``. For each it
runs the functions the pages run (cone regime over the preset's seeds, the chaos sweep, the
linear sweep) and prints every claim's verdict with the time it took. Chaos branches of
ResNet-20 cost ~100-300 s each on 2 cores, so only ``--chaos-archs`` (LeNet-5 by default) get one;
for the others the chaos columns say "not run" unless the store has their sweep.
"""
import argparse
import time

import lib
from lib.pages import common, settings


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="default", help="the preset whose settings are used (default: default)")
    ap.add_argument("--only", default=None, help="run only settings whose name contains this (e.g. 'LeNet-5')")
    ap.add_argument("--chaos-archs", default="lenet5",
                    help="comma-separated architectures whose chaos sweep is computed ('' for none); the others' "
                         "is read from the run store where it is there")
    ap.add_argument("--report", action="store_true", help="only read what is stored (train nothing)")
    args = ap.parse_args()
    base = common.setup(preset=args.preset)
    rows = []
    for s in settings.SETTINGS_GRID:
        name = settings.setting_name(s)
        if args.only and args.only not in name:
            continue
        t = time.time()
        page = settings.grid_page(base, s)
        chaos = s["arch"] in args.chaos_archs.split(",")
        try:
            if args.report:
                row = settings.setting_claims(page, stored_only=True)
            else:
                row = settings.setting_claims(page, chaos=chaos)
                if not chaos:
                    row = settings.where_claims_hold_row(page, row)
        except lib.storage.NotStored as e:
            print(f"{name}: not stored ({e})", flush=True)
            continue
        except lib.data.DataUnavailable as e:
            print(f"{name}: {e}", flush=True)
            continue
        print(f"{name}: {row.summary()}  [{time.time() - t:.0f} s]", flush=True)
        rows.append(row)
    if rows:
        print("\n" + markdown(settings.claims_table(rows)) + "\n\n" + markdown(settings.measures_table(rows)))


def markdown(df) -> str:
    """A DataFrame as a Markdown table (index first)."""
    cols = [df.index.name or ""] + list(df.columns)
    lines = ["| " + " | ".join(map(str, cols)) + " |", "|" + " --- |" * len(cols)]
    lines += ["| " + " | ".join(map(str, [i, *r])) + " |" for i, r in zip(df.index, df.itertuples(index=False))]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
