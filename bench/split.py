"""Benchmark the split (data.h5 -> per-split Feather) against the tutorial's naive way.

    python bench/split.py [--quick] [--events N] [--workdir DIR]

Builds a synthetic data.h5 in the real layout (default 200,000 events:
137,500 train, 19,523 valid, 42,977 test), then, side by side in one run and
each in its own process: copies the file's bytes (the floor: read and
write every byte in user space), runs our
streaming split, and runs the naive way (load every dataset fully with h5py,
build pandas frames, pickle them, then write Feather). Prints wall time and
peak memory of each and the ratios; the last line reads
``split speedup: <ratio>x, memory: <ratio>x less``.
"""

from __future__ import annotations

import argparse
import pickle
import shutil
import tempfile
from pathlib import Path

from _common import Measurement, measure

from leptonid.io import split_to_feather
from leptonid.layout import HL_FEATURES, SPLITS
from leptonid.synthetic import write_synthetic_h5


def copy_bytes(source: Path, target: Path, block: int = 8 << 20) -> None:
    """Read the file's bytes and write them (in user space: no reflink or sendfile shortcut)."""
    with open(source, "rb") as inp, open(target, "wb") as out:
        while chunk := inp.read(block):
            out.write(chunk)


def ours(source: Path, outdir: Path) -> None:
    split_to_feather(source, {s: outdir / f"{s}.feather" for s in SPLITS}, check_values=False)


def naive(source: Path, outdir: Path) -> None:
    """The tutorial's way: everything in memory, pandas, pickle, then Feather."""
    import h5py
    import pandas as pd

    with h5py.File(source, "r") as f:
        data = {key: {split: f[key][split][:] for split in f[key]} for key in f}
    for split in SPLITS:
        n = data["y"][split].shape[0]
        frame = pd.DataFrame({name: data["hl"][split][:, i] for i, name in enumerate(HL_FEATURES)})
        frame["et"] = list(data["et"][split].reshape(n, -1))
        frame["ht"] = list(data["ht"][split].reshape(n, -1))
        frame["mass"] = data["mass"][split][:, 0]
        frame["y"] = data["y"][split]
        with open(outdir / f"{split}.pkl", "wb") as out:
            pickle.dump(frame, out)
        with open(outdir / f"{split}.pkl", "rb") as inp:
            frame = pickle.load(inp)
        frame.to_feather(outdir / f"{split}.feather")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="20,000 events instead of 200,000 (under a minute)")
    parser.add_argument("--events", type=int, default=None, help="total events (default 200,000)")
    parser.add_argument("--workdir", type=Path, default=None, help="where to put the files (default: a temp dir)")
    args = parser.parse_args()
    total = args.events or (20_000 if args.quick else 200_000)
    counts = {"train": round(total * 0.6875), "test": round(total * 0.214885)}
    counts["valid"] = total - counts["train"] - counts["test"]

    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        tmp = Path(tmp)
        source = write_synthetic_h5(tmp / "data.h5", counts, seed=1)
        size_gib = source.stat().st_size / 2**30
        print(f"synthetic data.h5: {total} events, {size_gib:.2f} GiB")
        results: list[Measurement] = []
        for name, fn in (("copy bytes", copy_bytes), ("leptonid split", ours), ("naive (tutorial)", naive)):
            out = tmp / name.split()[0]
            out.mkdir()
            target = out / "copy.h5" if fn is copy_bytes else out
            results.append(measure(name, fn, source, target))
            shutil.rmtree(out)
        copy, mine, base = results
        print(f"{'method':<18} {'wall s':>8} {'peak MiB':>9} {'events/s':>10}")
        for m in results:
            print(f"{m.name:<18} {m.seconds:8.2f} {m.peak_mib:9.0f} {total / m.seconds:10.0f}")
        print(f"leptonid split vs copying the bytes: {mine.seconds / copy.seconds:.2f}x the time")
        print(f"split speedup: {base.seconds / mine.seconds:.1f}x, memory: {base.peak_mib / mine.peak_mib:.1f}x less")


if __name__ == "__main__":
    main()
