"""Synthetic files in the layout of ``data.h5``, for tests and benchmarks.

These are random numbers with a little class-dependent structure, not
physics (the simulation is :mod:`leptonid.simulation`). They let the
workflow, the benchmarks and the tests run on files of any size.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from leptonid.layout import FEATURE_SHAPES, HL_FEATURES, SPLITS


def synthetic_split(n_events: int, rng: np.random.Generator, dtype: str = "float32") -> dict[str, np.ndarray]:
    """One split of random events: sparse images, HL features, mass, balanced labels."""
    y = (np.arange(n_events) % 2).astype(np.int8)
    rng.shuffle(y)
    data: dict[str, np.ndarray] = {"y": y}
    for image in ("et", "ht"):
        shape = FEATURE_SHAPES[image]
        values = rng.exponential(1.0, size=(n_events, *shape)).astype(dtype)
        values[rng.random(values.shape) < 0.9] = 0.0  # sparse like a calorimeter
        centre = shape[0] // 2
        values[:, centre, centre, 0] += (5.0 + 5.0 * y).astype(dtype)  # a core brighter for electrons
        data[image] = values
    hl = rng.normal(size=(n_events, len(HL_FEATURES))) + 0.8 * y[:, None]
    data["hl"] = hl.astype(dtype)
    data["mass"] = (rng.gamma(2.0, 5.0, size=(n_events, 1)) * (1.0 + y[:, None])).astype(dtype)
    return data


def write_synthetic_h5(
    path: str | Path,
    n_events: dict[str, int] | int,
    seed: int = 0,
    dtype: str = "float32",
    chunk_events: int = 4096,
) -> Path:
    """Write a synthetic ``data.h5`` with ``n_events`` per split (int, or per-split dict).

    Events are generated chunk by chunk, so any size fits in memory.
    """
    counts = {split: n_events for split in SPLITS} if isinstance(n_events, int) else dict(n_events)
    rng = np.random.default_rng(seed)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        for split, n in counts.items():
            datasets = {
                group: f.create_dataset(f"{group}/{split}", shape=(n, *shape), dtype="int8" if group == "y" else dtype)
                for group, shape in FEATURE_SHAPES.items()
            }
            for start in range(0, n, chunk_events):
                stop = min(n, start + chunk_events)
                for group, values in synthetic_split(stop - start, rng, dtype).items():
                    datasets[group][start:stop] = values
    return path
