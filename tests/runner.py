"""The one runner of the workflow tests: copies, runs, dry-run plans, result comparison.

Every test that runs Snakemake goes through :func:`run_workflow` (a config
written to a temporary directory, the repository's Snakefile) or, for a
private copy of the workflow, :func:`snakemake_command` and :func:`run`.
Nothing here edits the repository: tests that change a script work on
:func:`copy_workflow`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
# what a workflow copy needs (the rest of the repository is left out)
WORKFLOW_PARTS = ("Snakefile", "rules", "scripts", "schemas", "config.yaml", "report", "envs", "profiles", "src")
# CSV columns that measure the run (time, memory), not its result
TIMING_COLUMNS = re.compile(r"second|time|duration|elapsed|rss", re.IGNORECASE)
# files whose bytes legitimately differ between two identical runs
NOT_COMPARED = (".png", ".pdf", ".svg", ".keras", ".log", ".html", ".zip")


def snakemake_bin() -> str:
    """The snakemake next to the interpreter running the tests."""
    return str(Path(sys.executable).parent / "snakemake")


def copy_workflow(dst: Path) -> Path:
    """Copy the workflow sources (not results, not .git/.venv) to ``dst``; return its Snakefile."""
    dst.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", ".snakemake")
    for part in WORKFLOW_PARTS:
        src = REPO / part
        if src.is_dir():
            shutil.copytree(src, dst / part, ignore=ignore)
        elif src.exists():
            shutil.copy2(src, dst / part)
    return dst / "Snakefile"


def write_config(workdir: Path, config: Mapping) -> Path:
    """Write ``config`` as ``workdir/config.yaml`` and return the path."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(dict(config), sort_keys=False))
    return path


def snakemake_command(
    snakefile: Path, workdir: Path, *extra: str, cores: int = 2, configfile: Path | None = None
) -> list[str]:
    """``snakemake --snakefile S --directory W --configfile W/config.yaml --cores N EXTRA``."""
    return [
        snakemake_bin(),
        "--snakefile",
        str(snakefile),
        "--directory",
        str(workdir),
        "--configfile",
        str(configfile or workdir / "config.yaml"),
        "--cores",
        str(cores),
        *extra,
    ]


def quiet_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for workflow runs: one thread per numeric library, fixed hash seed."""
    env = dict(os.environ)
    env.update(
        {
            "PYTHONHASHSEED": "0",
            "OMP_NUM_THREADS": "1",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "CUDA_VISIBLE_DEVICES": env.get("CUDA_VISIBLE_DEVICES", ""),
        }
    )
    env.update(extra or {})
    return env


def run(
    cmd: Sequence[str], *, timeout: float, env: Mapping[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess:
    """Run a command, capture its output, raise with the output's tail if it fails."""
    proc = subprocess.run(
        list(cmd), capture_output=True, text=True, timeout=timeout, env=dict(env or quiet_env())
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"command failed ({proc.returncode}): {' '.join(cmd)}\n"
            f"--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-8000:]}"
        )
    return proc


JOB_STATS = re.compile(r"Job stats:\njob\s+count\n[-\s]+\n(?P<rows>(?:\S+\s+\d+\n)+)")


def job_counts(output: str) -> Counter:
    """Parse the first ``Job stats`` table of Snakemake's output into {rule: count}.

    The ``total`` row and the local ``all`` target are left out. An output that
    says "Nothing to be done" gives an empty Counter.
    """
    match = JOB_STATS.search(output)
    if match is None:
        if "Nothing to be done" in output:
            return Counter()
        raise AssertionError(f"no 'Job stats' table in Snakemake output:\n{output[-3000:]}")
    counts = Counter()
    for line in match.group("rows").splitlines():
        rule, count = line.split()
        if rule not in ("total", "all"):
            counts[rule] = int(count)
    return counts


def planned_jobs(snakefile: Path, workdir: Path, *extra: str, timeout: float = 300) -> Counter:
    """Rules (with job counts) a dry run of the workflow in ``workdir`` would execute."""
    proc = run(snakemake_command(snakefile, workdir, "--dry-run", *extra), timeout=timeout)
    return job_counts(proc.stdout + proc.stderr)


def list_rules(snakefile: Path, workdir: Path, timeout: float = 120) -> set[str]:
    """Names of the rules the workflow defines (with the config in ``workdir``)."""
    proc = run(snakemake_command(snakefile, workdir, "--list-rules"), timeout=timeout)
    return {line.strip() for line in proc.stdout.splitlines() if re.fullmatch(r"\s*\w+\s*", line)}


def output_mtimes(root: Path, sub: str = "results") -> dict[str, int]:
    """``{relative path: mtime_ns}`` of every file under ``root/sub``."""
    base = root / sub
    return {
        str(p.relative_to(root)): p.stat().st_mtime_ns for p in sorted(base.rglob("*")) if p.is_file()
    }


def _compare_feather(a: Path, b: Path, rtol: float) -> None:
    import pyarrow.feather as feather
    import pyarrow.types as patypes

    ta, tb = feather.read_table(a), feather.read_table(b)
    assert ta.schema.names == tb.schema.names, f"{a.name}: columns differ"
    assert ta.num_rows == tb.num_rows, f"{a.name}: row counts differ"
    for name in ta.schema.names:
        ca, cb = ta.column(name).combine_chunks(), tb.column(name).combine_chunks()
        while patypes.is_list(ca.type) or patypes.is_fixed_size_list(ca.type) or patypes.is_large_list(ca.type):
            ca, cb = ca.flatten(), cb.flatten()
        va, vb = ca.to_numpy(zero_copy_only=False), cb.to_numpy(zero_copy_only=False)
        if va.dtype.kind == "f":
            np.testing.assert_allclose(va, vb, rtol=rtol, atol=1e-12, err_msg=f"{a.name}:{name}")
        else:
            assert np.array_equal(va, vb), f"{a.name}:{name} differs"


def _compare_h5(a: Path, b: Path, rtol: float) -> None:
    import h5py

    with h5py.File(a) as fa, h5py.File(b) as fb:
        names_a, names_b = [], []
        fa.visit(names_a.append)
        fb.visit(names_b.append)
        assert names_a == names_b, f"{a.name}: objects differ"
        for name in names_a:
            if isinstance(fa[name], h5py.Dataset):
                np.testing.assert_allclose(fa[name][...], fb[name][...], rtol=rtol, err_msg=f"{a.name}:{name}")


def _compare_csv(a: Path, b: Path, rtol: float) -> None:
    """Same columns and rows; numbers within ``rtol``; timing columns are not compared."""
    import pandas as pd

    da, db = pd.read_csv(a), pd.read_csv(b)
    assert list(da.columns) == list(db.columns) and len(da) == len(db), f"{a.name}: shape/columns differ"
    for name in da.columns:
        if TIMING_COLUMNS.search(str(name)):
            continue
        va, vb = da[name].to_numpy(), db[name].to_numpy()
        if va.dtype.kind in "fiu" and vb.dtype.kind in "fiu":
            np.testing.assert_allclose(va, vb, rtol=rtol, atol=1e-12, err_msg=f"{a.name}:{name}")
        else:
            assert list(va) == list(vb), f"{a.name}:{name} differs"


def _compare_json(a: Path, b: Path, rtol: float) -> None:
    def close(x, y, where: str) -> None:
        if isinstance(x, dict):
            assert isinstance(y, dict) and x.keys() == y.keys(), f"{where}: keys differ"
            for k in x:
                close(x[k], y[k], f"{where}.{k}")
        elif isinstance(x, list):
            assert isinstance(y, list) and len(x) == len(y), f"{where}: lengths differ"
            for i, (xi, yi) in enumerate(zip(x, y)):
                close(xi, yi, f"{where}[{i}]")
        elif isinstance(x, float) and isinstance(y, (int, float)):
            assert np.isclose(x, y, rtol=rtol, atol=1e-12) or (np.isnan(x) and np.isnan(y)), f"{where}: {x} != {y}"
        else:
            assert x == y, f"{where}: {x!r} != {y!r}"

    close(json.loads(a.read_text()), json.loads(b.read_text()), a.name)


def compare_results(
    a: Path, b: Path, *, rtol: float = 1e-6, sub: str = "results", subset: bool = False
) -> list[str]:
    """Assert the results of two runs agree; return the relative paths compared.

    Same set of files (with ``subset``: ``b``'s files are among ``a``'s);
    Feather/HDF5/JSON/CSV compared by value (floats within ``rtol``; CSV timing
    columns such as ``seconds`` skipped), Markdown/text byte for byte; figures,
    models and logs only by presence (their bytes carry timestamps).
    """
    files_a = {str(p.relative_to(a)) for p in (a / sub).rglob("*") if p.is_file()}
    files_b = {str(p.relative_to(b)) for p in (b / sub).rglob("*") if p.is_file()}
    if subset:
        assert files_b <= files_a, f"only in {b}: {files_b - files_a}"
    else:
        assert files_a == files_b, f"only in {a}: {files_a - files_b}; only in {b}: {files_b - files_a}"
    compared = []
    for rel in sorted(files_b):
        fa, fb = a / rel, b / rel
        if rel.endswith(NOT_COMPARED):
            continue
        if rel.endswith(".feather"):
            _compare_feather(fa, fb, rtol)
        elif rel.endswith((".h5", ".hdf5")):
            _compare_h5(fa, fb, rtol)
        elif rel.endswith(".json"):
            _compare_json(fa, fb, rtol)
        elif rel.endswith(".csv"):
            _compare_csv(fa, fb, rtol)
        else:
            ta, tb = fa.read_bytes(), fb.read_bytes()
            ta, tb = ta.replace(bytes(a), b"<RUN>"), tb.replace(bytes(b), b"<RUN>")
            assert ta == tb, f"{rel} differs between {a} and {b}"
        compared.append(rel)
    return compared


def tiny_config() -> dict:
    """The tiny config of the workflow tests: synthetic data, one CNN + one dense model, a small EFP set.

    Every section is written out; a key the schema does not know makes the run
    fail at the config check (the test then fails instead of silently running less).
    """
    return {
        "data": {"source": "synthetic", "synthetic_seed": 3, "synthetic_events": 64},
        "training": {
            "feature_sets": ["et", "hl"],
            "defaults": {"epochs": 2, "batch_size": 32},
            "models": {"et": {"conv_blocks": 1, "filters": 4}},
            "resources": {"threads": 1},
        },
        "evaluation": {"bootstrap_resamples": 20},
        "efp": {
            "graph_sets": [["d<=3", "p==1"]],
            "kappas": [1],
            "betas": [1],
            "n_chunks": 2,
            "backend": "numpy",
            "batch_size": 16,
        },
    }


def run_workflow(
    workdir: Path,
    config: Mapping,
    targets: Sequence[str] = (),
    extra: Sequence[str] = (),
    check: bool = True,
    timeout: float = 1800,
) -> subprocess.CompletedProcess:
    """Run the repository's workflow in ``workdir`` with ``config`` (written to ``workdir/config.yaml``)."""
    write_config(workdir, config)
    cmd = snakemake_command(REPO / "Snakefile", workdir, *targets, *extra)
    return run(cmd, timeout=timeout, check=check)


def tiny_simulation_config() -> dict:
    """A tiny ``source: simulate`` config (two chunks per class, no multiparton interactions)."""
    return {
        "data": {"source": "simulate"},
        "simulation": {"n_per_class": 20, "n_chunks": 2, "seed": 5, "mpi": False},
    }
