"""Command line: ``python -m lib sweep <page> ...`` (see `lib.sweep`)."""
import sys


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] != "sweep":
        print("usage: python -m lib sweep {cone,chaos,linear,counterexample} [--preset P] [--executor local|slurm] "
              "[--store PATH] [--status] ... (python -m lib sweep --help)", file=sys.stderr)
        return 2
    from .sweep import main as sweep_main
    return sweep_main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
