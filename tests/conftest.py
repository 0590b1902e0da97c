"""Shared fixtures: tiny files in the data.h5 layout, and a runner for the workflow."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import h5py
import pytest
import yaml

from leptonid.synthetic import write_synthetic_h5

REPO = Path(__file__).resolve().parent.parent


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


def snakemake_bin() -> str:
    """The snakemake of the interpreter running the tests."""
    return str(Path(sys.executable).parent / "snakemake")


def run_workflow(
    workdir: Path, config: dict, targets: list[str] | None = None, extra: list[str] | None = None, check: bool = True
) -> subprocess.CompletedProcess:
    """Run the workflow in ``workdir`` with ``config`` written to ``workdir/config.yaml``."""
    workdir.mkdir(parents=True, exist_ok=True)
    configfile = workdir / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    cmd = [
        snakemake_bin(),
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(configfile),
        "--cores",
        "2",
        *(targets or []),
        *(extra or []),
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-5000:]}\n{proc.stderr[-10000:]}")
    return proc
