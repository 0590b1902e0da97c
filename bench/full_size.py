"""Peak memory of validate_data and split on a file of the authors' size, against reading the file whole.

    python bench/full_size.py [--quick] [--events N] [--workdir DIR] [--keep]

Writes a synthetic data.h5 and unscaled_data.h5 in the authors' layout
(default 220,000 events, the size of their files: 137,500 train, 39,523
valid, 42,977 test) to a temporary directory (deleted at the end unless
``--keep``), then, each in its own process:

- the baseline: every dataset of both files read whole into memory with h5py
  (what a script that loads the file does);
- ``validate_data``'s checks (:func:`leptonid.contract.check_inputs`: every
  value of both files, and the pair), which read in chunks;
- ``split`` as the rule runs it (:func:`leptonid.io.split_to_feather`, both
  files, streaming ``split.chunk_events`` at a time).

Prints wall time and peak resident memory of each (the whole process,
interpreter and libraries included), and last the summary:
``full size: validate <x> MiB, split <y> MiB peak (target < 1024 MiB): <a>x and <b>x less than reading the file whole``.
``--quick`` uses 20,000 events.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from _common import Measurement, measure

from leptonid.contract import check_inputs
from leptonid.io import split_to_feather
from leptonid.layout import SPLITS
from leptonid.synthetic import write_synthetic_h5

#: The authors' split sizes (test: 42,977 events; train: 1,075 batches of 128).
AUTHORS = {"train": 137_500, "valid": 39_523, "test": 42_977}
TARGET_MIB = 1024


def counts_for(events: int) -> dict[str, int]:
    """Per-split counts in the authors' proportions, summing to ``events``."""
    total = sum(AUTHORS.values())
    counts = {s: AUTHORS[s] * events // total for s in ("valid", "test")}
    counts["train"] = events - sum(counts.values())
    return {s: counts[s] for s in SPLITS}


def read_whole(data: Path, unscaled: Path) -> None:
    """The baseline: every dataset of both files in memory at once."""
    import h5py

    held = []
    for path in (data, unscaled):
        with h5py.File(path, "r") as f:
            f.visititems(lambda name, obj: held.append(obj[...]) if isinstance(obj, h5py.Dataset) else None)
    assert sum(a.nbytes for a in held) > 0


def validate(data: Path, unscaled: Path) -> None:
    problems = check_inputs(data, unscaled)
    if problems:
        raise AssertionError(problems)


def split(data: Path, unscaled: Path, outdir: Path) -> None:
    outputs = {s: outdir / f"{s}.feather" for s in SPLITS}
    split_to_feather(data, outputs, unscaled_source=unscaled, check_values=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 events")
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--workdir", type=Path, default=None, help="where to write the files (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the files")
    args = parser.parse_args()
    events = args.events or (20_000 if args.quick else sum(AUTHORS.values()))
    workdir = Path(tempfile.mkdtemp(prefix="leptonid-fullsize-", dir=args.workdir))
    try:
        counts = counts_for(events)
        data = write_synthetic_h5(workdir / "data.h5", counts, seed=1)
        unscaled = write_synthetic_h5(workdir / "unscaled_data.h5", counts, seed=1)
        size = data.stat().st_size + unscaled.stat().st_size
        print(f"{events:,} events ({', '.join(f'{s} {n:,}' for s, n in counts.items())}), "
              f"data.h5 + unscaled_data.h5: {size / 2**30:.2f} GiB")
        outdir = workdir / "prep"
        outdir.mkdir()
        results: list[Measurement] = [
            measure("read both files whole (h5py)", read_whole, data, unscaled),
            measure("validate_data (chunked checks)", validate, data, unscaled),
            measure("split (streaming)", split, data, unscaled, outdir),
        ]
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"{'step':<34} {'wall time':>10} {'peak memory':>12}")
    for m in results:
        print(f"{m.name:<34} {m.seconds:>9.1f}s {m.peak_mib:>8.0f} MiB")
    baseline, checked, streamed = results
    ok = "both under" if max(checked.peak_mib, streamed.peak_mib) < TARGET_MIB else "NOT both under"
    print(
        f"full size: validate {checked.peak_mib:.0f} MiB, split {streamed.peak_mib:.0f} MiB peak "
        f"({ok} the {TARGET_MIB} MiB target): {baseline.peak_mib / checked.peak_mib:.1f}x and "
        f"{baseline.peak_mib / streamed.peak_mib:.1f}x less than reading the files whole "
        f"({baseline.peak_mib:.0f} MiB)"
    )


if __name__ == "__main__":
    main()
