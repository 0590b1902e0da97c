"""Shared fixtures: tiny files in the data.h5 layout (the workflow runner is tests/runner.py)."""

from __future__ import annotations

from pathlib import Path

import h5py
import pytest

from leptonid.synthetic import write_synthetic_h5


@pytest.fixture
def tiny_h5(tmp_path: Path) -> Path:
    """A valid data.h5 with 40/20/20 events."""
    return write_synthetic_h5(tmp_path / "data.h5", {"train": 40, "valid": 20, "test": 20}, seed=1)


@pytest.fixture
def tiny_pair(tmp_path: Path) -> tuple[Path, Path]:
    """A valid data.h5 and an 'unscaled' twin with the same labels."""
    counts = {"train": 40, "valid": 20, "test": 20}
    scaled = write_synthetic_h5(tmp_path / "data.h5", counts, seed=1)
    unscaled = write_synthetic_h5(tmp_path / "unscaled_data.h5", counts, seed=1, dtype="float64")
    with h5py.File(unscaled, "a") as f:
        for split in counts:
            f[f"et/{split}"][...] = f[f"et/{split}"][...] * 10.0  # physical units, same events
    return scaled, unscaled
