"""Command line: ``leptonid inspect FILE`` and ``leptonid validate FILE``."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from leptonid.contract import check_inputs, inventory_markdown


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``leptonid`` command; returns the exit status."""
    parser = argparse.ArgumentParser(prog="leptonid", description="Inspect and validate leptonid data files.")
    sub = parser.add_subparsers(dest="command", required=True)
    inspect = sub.add_parser("inspect", help="print the inventory of an HDF5 file (tree, class balance, HL ranges)")
    inspect.add_argument("file")
    validate = sub.add_parser("validate", help="exit 0 if FILE honours the data contract, 1 with its problems if not")
    validate.add_argument("file")
    validate.add_argument("--unscaled", metavar="FILE", help="also check FILE as the unscaled twin of FILE (same events)")
    args = parser.parse_args(argv)

    if args.command == "inspect":
        print(inventory_markdown(args.file))
        return 0
    problems = check_inputs(args.file, args.unscaled)
    if problems:
        print(f"{args.file}: {len(problems)} problem(s) with the data contract:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    if args.unscaled is None:
        print(f"{args.file}: honours the data contract")
    else:
        print(f"{args.file} and {args.unscaled}: honour the data contract and hold the same events")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
