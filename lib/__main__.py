"""Command line: ``python -m lib sweep <page> ...`` (`lib.sweep`), ``python -m lib campaign ...``
(`lib.campaign`), ``python -m lib protocol`` (`lib.protocol`)."""
import sys

COMMANDS = {"sweep": "sweep", "campaign": "campaign", "protocol": "protocol"}  # subcommand: module


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in COMMANDS:
        print("usage: python -m lib sweep {cone,chaos,linear,counterexample} [--preset P] [--executor local|slurm] "
              "[--store PATH] [--status] ... (python -m lib sweep --help)\n"
              "       python -m lib campaign NAME [--status] (python -m lib campaign --help)\n"
              "       python -m lib protocol [--hash]", file=sys.stderr)
        return 2
    import importlib
    return importlib.import_module(f"lib.{COMMANDS[argv[0]]}").main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
