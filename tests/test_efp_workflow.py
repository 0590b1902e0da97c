"""rules/efp.smk on a tiny config: chunks -> gathered tables -> dedupe -> drawings.

Runs a throw-away Snakefile that includes only rules/efp.smk (so it does not
depend on the rest of the DAG), on prep files made from a synthetic data.h5.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.ipc as ipc
import pytest
import yaml

from leptonid.io import load_split, split_to_feather
from leptonid.synthetic import write_synthetic_h5

pytest.importorskip("energyflow")
pytestmark = pytest.mark.workflow

REPO = Path(__file__).resolve().parent.parent
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


def run(work: Path, *extra: str) -> subprocess.CompletedProcess:
    snakefile = work / "Snakefile"
    snakefile.write_text(
        f'configfile: "config.yaml"\n\n\ninclude: "{REPO}/rules/efp.smk"\n\n\n'
        "rule all:\n    input:\n"
        '        "results/efp/unique.csv",\n        "results/efp/gallery.pdf",\n'
        '        expand("results/efp/{image}/{split}.feather", image=["et", "ht"], split=["train", "test"]),\n'
    )
    (work / "config.yaml").write_text(yaml.safe_dump(CONFIG))
    cmd = [
        str(Path(sys.executable).parent / "snakemake"),
        "-s",
        str(snakefile),
        "-d",
        str(work),
        "--cores",
        "2",
        *extra,
    ]
    env = {"PYTHONPATH": str(REPO / "src"), "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)


def test_efp_rules_end_to_end(tmp_path: Path) -> None:
    work = tmp_path / "run"
    h5 = write_synthetic_h5(tmp_path / "data.h5", {"train": 30, "valid": 10, "test": 11}, seed=3)
    prep = {s: work / f"results/prep/{s}.feather" for s in ("train", "valid", "test")}
    split_to_feather(h5, prep)
    proc = run(work)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]

    # gathered table: event order of prep, float64 EFP columns, chunk files removed (temp)
    table = ipc.open_file(pa.memory_map(str(work / "results/efp/et/test.feather"))).read_all()
    events = load_split(prep["test"], ["event"])["event"]
    np.testing.assert_array_equal(table.column("event").to_numpy(), events)
    efp_cols = [c for c in table.column_names if c.startswith("EFP_")]
    from leptonid.efp import column_names, graphs_from_specs

    graphs = graphs_from_specs(CONFIG["efp"]["graph_sets"])
    assert efp_cols == column_names(graphs, CONFIG["efp"]["kappas"], CONFIG["efp"]["betas"])
    assert all(table.schema.field(c).type == pa.float64() for c in efp_cols)
    assert not list((work / "results/efp/et/test").glob("chunk_*.feather"))

    # values agree with energyflow on one event
    import energyflow as ef

    from leptonid.efp import particles_from_images

    img = load_split(prep["test"], ["et"], rows=(4, 5))["et"]
    z, eta, phi, mask = particles_from_images(img, "et")
    ev = np.stack([z[0][mask[0]], eta[0][mask[0]], phi[0][mask[0]]], axis=1)
    for g in graphs:
        ref = ef.EFP(list(g.edges), measure="hadr", kappa=2, beta=0.5, normed=False).compute(ev)
        assert table.column(f"EFP_{g.name}_k_2_b_0.5")[4].as_py() == pytest.approx(ref, rel=1e-10)

    unique = pd.read_csv(work / "results/efp/unique.csv", keep_default_na=False)
    assert set(unique["image"]) == {"et", "ht"}
    assert "EFP_1_0_0_k_1_b_0.5" not in set(unique["efp"])  # sum z = 1: constant
    md = (work / "results/efp/dedupe.md").read_text()
    assert "| et |" in md and "| ht |" in md
    svgs = sorted(p.name for p in (work / "results/efp/graphs").glob("*.svg"))
    assert svgs == sorted({f"EFP_{n}_{d}_{k}.svg" for n, d, k in zip(unique.n, unique.d, unique.k)})
    assert (work / "results/efp/gallery.png").stat().st_size > 0

    # nothing to do on a second run; changing betas reruns the chunks
    assert "Nothing to be done" in (lambda p: p.stdout + p.stderr)(run(work, "-n"))
    CONFIG["efp"]["betas"] = [1, 2]
    try:
        dry = run(work, "-n")
    finally:
        CONFIG["efp"]["betas"] = [0.5, 1, 2]
    assert "efp_chunk" in dry.stdout + dry.stderr
