"""Benchmark the split (data.h5 -> per-split Feather) against the tutorial's naive way and a plain fast one.

    python bench/split.py [--quick] [--events N] [--workdir DIR]

Builds a synthetic data.h5 in the real layout (default 200,000 events:
137,500 train, 19,523 valid, 42,977 test), then, side by side in one run and
each in its own process, on the same events:

- copies the file's bytes (the floor: read and write every byte in user space);
- our streaming split (:func:`leptonid.io.split_to_feather`);
- a plain fast baseline: per split, read each dataset whole with h5py, make
  pyarrow columns (images as FixedSizeList, no pandas, no pickle) and write
  one Feather file;
- the tutorial's naive way: load every dataset of every split with h5py,
  build pandas frames, pickle them, then write Feather.

The three splits write the same columns (``event``, ``et``, ``ht``, the 7 HL
features, ``mass``, ``y``, lz4-compressed) and are checked to hold the same
values. Prints wall time and peak memory of each, then the ratios; the line
against the plain baseline comes before the headline ratio against the
tutorial, which is the last line:
``split speedup: <ratio>x, memory: <ratio>x less``.
"""

from __future__ import annotations

import argparse
import pickle
import shutil
import tempfile
from pathlib import Path

import numpy as np

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


def plain(source: Path, outdir: Path) -> None:
    """A plain fast way: one split at a time, whole datasets, pyarrow FixedSizeList columns, Feather."""
    import h5py
    import pyarrow as pa
    import pyarrow.feather as feather

    def image(block: np.ndarray) -> pa.Array:
        flat = np.ascontiguousarray(block, dtype=np.float32).reshape(-1)
        return pa.FixedSizeListArray.from_arrays(pa.array(flat), int(np.prod(block.shape[1:])))

    with h5py.File(source, "r") as f:
        for split in SPLITS:
            hl = f["hl"][split][:]
            y = f["y"][split][:]
            columns = {"event": pa.array(np.arange(y.shape[0], dtype=np.int64))}
            columns["et"] = image(f["et"][split][:])
            columns["ht"] = image(f["ht"][split][:])
            columns |= {name: pa.array(np.ascontiguousarray(hl[:, i])) for i, name in enumerate(HL_FEATURES)}
            columns["mass"] = pa.array(f["mass"][split][:].reshape(-1))
            columns["y"] = pa.array(y)
            feather.write_feather(pa.table(columns), outdir / f"{split}.feather", compression="lz4")


def naive(source: Path, outdir: Path) -> None:
    """The tutorial's way: everything in memory, pandas, pickle, then Feather."""
    import h5py
    import pandas as pd

    with h5py.File(source, "r") as f:
        data = {key: {split: f[key][split][:] for split in f[key]} for key in f}
    for split in SPLITS:
        n = data["y"][split].shape[0]
        frame = pd.DataFrame({"event": np.arange(n, dtype=np.int64)})
        frame["et"] = list(data["et"][split].reshape(n, -1))
        frame["ht"] = list(data["ht"][split].reshape(n, -1))
        for i, name in enumerate(HL_FEATURES):
            frame[name] = data["hl"][split][:, i]
        frame["mass"] = data["mass"][split][:, 0]
        frame["y"] = data["y"][split]
        with open(outdir / f"{split}.pkl", "wb") as out:
            pickle.dump(frame, out)
        with open(outdir / f"{split}.pkl", "rb") as inp:
            frame = pickle.load(inp)
        frame.to_feather(outdir / f"{split}.feather", compression="lz4")


def fingerprint(outdir: Path) -> dict[str, tuple]:
    """Per split: column names, rows, and sums of every column (images flattened), to compare the methods."""
    import pyarrow.compute as pc
    import pyarrow.feather as feather

    out = {}
    for split in SPLITS:
        table = feather.read_table(outdir / f"{split}.feather")
        sums = []
        for column in table.columns:
            values = pc.list_flatten(column) if hasattr(column.type, "value_type") else column
            sums.append(float(pc.sum(pc.cast(values, "float64")).as_py()))
        out[split] = (tuple(table.column_names), table.num_rows, np.array(sums))
    return out


def same_outputs(a: dict[str, tuple], b: dict[str, tuple]) -> bool:
    return all(
        a[s][:2] == b[s][:2] and np.allclose(a[s][2], b[s][2], rtol=1e-9, atol=1e-6) for s in SPLITS
    )


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
        methods = (
            ("copy bytes", copy_bytes),
            ("leptonid split", ours),
            ("plain (h5py+arrow)", plain),
            ("naive (tutorial)", naive),
        )
        results: list[Measurement] = []
        prints: dict[str, dict] = {}
        for name, fn in methods:
            out = tmp / name.split()[0]
            out.mkdir()
            target = out / "copy.h5" if fn is copy_bytes else out
            results.append(measure(name, fn, source, target))
            if fn is not copy_bytes:
                prints[name] = fingerprint(out)
            shutil.rmtree(out)
        reference = prints["leptonid split"]
        for name, found in prints.items():
            if not same_outputs(found, reference):
                raise SystemExit(f"{name} wrote other outputs than leptonid split:\n{found}\n{reference}")
        print(f"outputs: the same columns and values for {', '.join(prints)}")
        copy, mine, fast, base = results
        print(f"{'method':<20} {'wall s':>8} {'peak MiB':>9} {'events/s':>10}")
        for m in results:
            print(f"{m.name:<20} {m.seconds:8.2f} {m.peak_mib:9.0f} {total / m.seconds:10.0f}")
        print(f"leptonid split vs copying the bytes: {mine.seconds / copy.seconds:.2f}x the time")
        print(f"split speedup vs plain baseline: {fast.seconds / mine.seconds:.2f}x, "
              f"memory: {fast.peak_mib / mine.peak_mib:.1f}x less")
        print(f"split speedup: {base.seconds / mine.seconds:.1f}x, memory: {base.peak_mib / mine.peak_mib:.1f}x less")

if __name__ == "__main__":
    main()
