"""rules/efp.smk on a tiny config: chunks -> gathered tables -> dedupe -> drawings.

Runs the main workflow up to the EFP targets on a synthetic data.h5.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import energyflow as ef
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

from runner import run_workflow
from leptonid.efp import (
    compute_chunk,
    efp_column_names,
    graphs_from_specs,
    particles_from_images,
    plan_for_columns,
    unique_columns,
)
from leptonid.io import load_split
from leptonid.synthetic import write_synthetic_h5

pytestmark = pytest.mark.workflow

CONFIG = {
    "efp": {
        "graph_sets": [["d<=3", "p==1"], ["d<=6", "p==1", "c==4"]],
        "kappas": [0, 1, 2],
        "betas": [0.5, 1, 2],
        "images": ["et", "ht"],
        "n_chunks": 2,
        "backend": "numpy",
        "batch_size": 16,
        "dedupe_tolerance": 1e-6,
        "resources": {"mem_mb": 1000, "gather_mem_mb": 1000, "runtime": 10, "gpu": 0},
    }
}


TARGETS = [
    "results/efp/unique.csv",
    "results/efp/gallery.pdf",
    *(f"results/efp/{image}/{split}.feather" for image in ("et", "ht") for split in ("train", "valid", "test")),
]


def run(work: Path, h5: Path, *extra: str) -> subprocess.CompletedProcess:
    """The main workflow on a synthetic data.h5, up to the EFP targets."""
    config = {"data": {"source": "file", "path": str(h5)}, **CONFIG}
    return run_workflow(work, config, targets=TARGETS, extra=list(extra), check=False)


def test_efp_rules_end_to_end(tmp_path: Path) -> None:
    work = tmp_path / "run"
    h5 = write_synthetic_h5(tmp_path / "data.h5", {"train": 30, "valid": 10, "test": 11}, seed=3)
    prep = {s: work / f"results/prep/{s}.feather" for s in ("train", "valid", "test")}
    proc = run(work, h5)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]

    # gathered train table: event order of prep, every EFP of the grid, float64, chunk files removed (temp)
    table = ipc.open_file(pa.memory_map(str(work / "results/efp/et/train.feather"))).read_all()
    events = load_split(prep["train"], ["event"])["event"]
    np.testing.assert_array_equal(table.column("event").to_numpy(), events)
    efp_cols = [c for c in table.column_names if c.startswith("EFP_")]
    graphs = graphs_from_specs(CONFIG["efp"]["graph_sets"])
    assert efp_cols == efp_column_names(graphs, CONFIG["efp"]["kappas"], CONFIG["efp"]["betas"])
    assert all(table.schema.field(c).type == pa.float64() for c in efp_cols)
    assert not list((work / "results/efp/et/train").glob("chunk_*.feather"))

    # values agree with energyflow on one event
    img = load_split(prep["train"], ["et"], rows=(4, 5))["et"]
    z, eta, phi, mask = particles_from_images(img, "et")
    ev = np.stack([z[0][mask[0]], eta[0][mask[0]], phi[0][mask[0]]], axis=1)
    for g in graphs:
        ref = ef.EFP(list(g.edges), measure="hadr", kappa=2, beta=0.5, normed=False).compute(ev)
        assert table.column(f"EFP_{g.name}_k_2_b_0.5")[4].as_py() == pytest.approx(ref, rel=1e-10)

    unique = pd.read_csv(work / "results/efp/unique.csv", keep_default_na=False)
    assert set(unique["image"]) == {"et", "ht"}
    assert "EFP_1_0_0_k_1_b_0.5" not in set(unique["efp"])  # sum z = 1: constant
    # valid and test hold only the kept columns (rule efp_chunk with an input `unique`), in unique.csv order,
    # with the values a full-grid computation gives
    kept = unique_columns(work / "results/efp/unique.csv", "et")
    engine = CONFIG["efp"]
    test_table = ipc.open_file(pa.memory_map(str(work / "results/efp/et/test.feather"))).read_all()
    assert test_table.column_names == ["event", *kept]
    full = tmp_path / "full.feather"
    n_test = compute_chunk(prep["test"], full, "et", 0, 1, engine["graph_sets"], engine["kappas"], engine["betas"])
    assert n_test == test_table.num_rows
    full_table = ipc.open_file(pa.memory_map(str(full))).read_all()
    for name in kept:
        np.testing.assert_allclose(
            test_table.column(name).to_numpy(), full_table.column(name).to_numpy(), rtol=1e-12, atol=0
        )
    out = tmp_path / "kept.feather"
    plan = plan_for_columns(kept, graphs)
    assert compute_chunk(prep["test"], out, "et", 0, 1, engine["graph_sets"], [], [], plan=plan) == n_test
    assert ipc.open_file(pa.memory_map(str(out))).read_all().equals(test_table)
    md = (work / "results/efp/dedupe.md").read_text()
    assert "| et |" in md and "| ht |" in md
    svgs = sorted(p.name for p in (work / "results/efp/graphs").glob("*.svg"))
    assert svgs == sorted({f"EFP_{n}_{d}_{k}.svg" for n, d, k in zip(unique.n, unique.d, unique.k)})
    assert (work / "results/efp/gallery.png").stat().st_size > 0

    # nothing to do on a second run; changing betas reruns the chunks
    assert "Nothing to be done" in (lambda p: p.stdout + p.stderr)(run(work, h5, "-n"))
    CONFIG["efp"]["betas"] = [1, 2]
    try:
        dry = run(work, h5, "-n")
    finally:
        CONFIG["efp"]["betas"] = [0.5, 1, 2]
    assert "efp_chunk" in dry.stdout + dry.stderr
