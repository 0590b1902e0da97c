"""Command line: ``leptonid inspect FILE`` and ``leptonid validate FILE``."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from leptonid.contract import check_file, inventory_markdown


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``leptonid`` command; returns the exit status."""
    parser = argparse.ArgumentParser(prog="leptonid", description="Inspect and validate leptonid data files.")
    sub = parser.add_subparsers(dest="command", required=True)
    inspect = sub.add_parser("inspect", help="print the inventory of an HDF5 file (tree, class balance, HL ranges)")
    inspect.add_argument("file")
    validate = sub.add_parser("validate", help="exit 0 if FILE honours the data contract, 1 with its problems if not")
    validate.add_argument("file")
    args = parser.parse_args(argv)

    if args.command == "inspect":
        print(inventory_markdown(args.file))
        return 0
    problems, _ = check_file(args.file)
    if problems:
        print(f"{args.file}: {len(problems)} problem(s) with the data contract:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print(f"{args.file}: honours the data contract")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
