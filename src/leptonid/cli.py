"""Command line: ``leptonid inspect FILE``, ``leptonid validate FILE`` and ``leptonid show FILE``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Sequence

from leptonid.contract import check_inputs, inventory_markdown
from leptonid.layout import SPLITS


def _show(args: argparse.Namespace) -> int:
    """Draw one candidate (or the class means) of FILE into a PNG and print its values."""
    from leptonid import display

    stem = Path(args.file).stem
    if args.mean:
        png = args.png or f"{stem}_{args.split}_mean.png"
        means = display.class_means(args.file, args.split)
        physical = display.read_event(args.file, args.split, 0).physical
        display.plot_means(means, [png], title=f"{Path(args.file).name}: {args.split}, mean image per class",
                           physical=physical)
        for c in (1, 0):
            print(f"{display.CLASS_NAMES[c]}: {means[c]['n']} events, mean ECal sum {means[c]['et'].sum():.4g}, "
                  f"mean HCal sum {means[c]['ht'].sum():.4g}")
    else:
        png = args.png or f"{stem}_{args.split}_{args.event}.png"
        event = display.read_event(args.file, args.split, args.event)
        display.plot_event(event, [png])
        print(f"{args.file}: {args.split} event {event.index}, label y = {event.label} "
              f"({display.CLASS_NAME[event.label]})")
        for line in display.feature_lines(event.features, event.features_physical):
            print(f"  {line}")
    print(f"wrote {png}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``leptonid`` command; returns the exit status."""
    parser = argparse.ArgumentParser(prog="leptonid", description="Inspect, validate and look at leptonid data files.")
    sub = parser.add_subparsers(dest="command", required=True)
    inspect = sub.add_parser("inspect", help="print the inventory of an HDF5 file (tree, class balance, HL ranges)")
    inspect.add_argument("file")
    validate = sub.add_parser("validate", help="exit 0 if FILE honours the data contract, 1 with its problems if not")
    validate.add_argument("file")
    validate.add_argument("--unscaled", metavar="FILE", help="also check FILE as the unscaled twin of FILE (same events)")
    show = sub.add_parser(
        "show",
        help="draw one candidate (ECal and HCal images, its 7 HL features and mass, its label) or the class means",
        description="Draw one candidate of FILE (any file in the data.h5 layout) into a PNG: ECal and HCal images "
        "on a log colour scale with eta/phi axes, its 7 HL features and mass, its label; print the values.",
    )
    show.add_argument("file")
    show.add_argument("--split", default="test", choices=SPLITS, help="split to read (default: test)")
    show.add_argument("--event", type=int, default=0, help="row of the event in the split (default: 0)")
    show.add_argument("--mean", action="store_true", help="draw the mean images of each class instead of one event")
    show.add_argument("--png", help="output PNG (default: <file stem>_<split>_<event or mean>.png here)")
    args = parser.parse_args(argv)

    try:
        if args.command == "show":
            if args.png and not args.png.endswith(".png"):
                raise ValueError(f"--png {args.png}: the output must end in .png")
            return _show(args)
        if args.command == "inspect":
            print(inventory_markdown(args.file))
            return 0
    except BrokenPipeError:  # output piped into e.g. head, which stopped reading
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (OSError, ValueError, KeyError) as exc:
        print(f"leptonid {args.command}: {exc}", file=sys.stderr)
        return 1
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
