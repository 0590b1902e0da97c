"""Workflow tests: Snakemake on a tiny config in a temporary directory, through validate_data and split."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from bad_inputs import reverse_events
from runner import REPO, output_mtimes, run_workflow, snakemake_bin
from leptonid.io import load_split, read_metadata

pytestmark = pytest.mark.workflow
TARGETS = ["results/data/inventory.md", "results/prep/train.feather", "results/prep/valid.feather", "results/prep/test.feather"]


def test_split_and_validate_on_a_file(tiny_pair: tuple[Path, Path], tmp_path: Path) -> None:
    scaled, unscaled = tiny_pair
    work = tmp_path / "run"
    config = {"data": {"source": "file", "path": str(scaled), "unscaled_path": str(unscaled)}}
    run_workflow(work, config, targets=TARGETS)
    inventory = (work / "results/data/inventory.md").read_text()
    assert inventory.count("honours the data contract") == 2
    loaded = load_split(work / "results/prep/test.feather", ["et", "y", "unscaled_mass"])
    with h5py.File(scaled) as f:
        np.testing.assert_array_equal(loaded["et"], f["et/test"][...])
    assert read_metadata(work / "results/prep/test.feather")["leptonid.source_path"] == str(scaled)
    # a second run has nothing to do
    dry = run_workflow(work, config, targets=TARGETS, extra=["-n"])
    assert "Nothing to be done" in dry.stdout + dry.stderr
    # a bad input in a directory that holds this run (tests/bad_inputs.py): the unscaled file's events
    # reversed. validate_data fails naming the file and dataset and leaves no inventory; split does not
    # run, so the earlier Feather files are untouched.
    prep_before = output_mtimes(work, "results/prep")
    reverse_events(unscaled)
    proc = run_workflow(work, config, targets=TARGETS, check=False)
    assert proc.returncode != 0
    assert f"{unscaled}: y/test: 12 labels differ from {scaled}, first at row 1" in proc.stdout + proc.stderr
    assert f"{unscaled}: y/test: 12 labels differ" in (work / "logs/validate_data.log").read_text()
    assert not (work / "results/data/inventory.md").exists()
    assert output_mtimes(work, "results/prep") == prep_before and len(prep_before) == 3


def test_bad_data_fails_naming_file_and_dataset(tiny_h5: Path, tmp_path: Path) -> None:
    with h5py.File(tiny_h5, "a") as f:
        f["hl/valid"][4, 1] = np.nan
    work = tmp_path / "run"
    proc = run_workflow(work, {"data": {"source": "file", "path": str(tiny_h5)}}, targets=TARGETS, check=False)
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert f"{tiny_h5}: hl/valid: 1 events with non-finite values" in output
    assert not (work / "results/data/inventory.md").exists()
    assert not (work / "results/prep").exists() or not any((work / "results/prep").iterdir())


def test_changing_a_split_param_reruns_only_split(tiny_h5: Path, tmp_path: Path) -> None:
    work = tmp_path / "run"
    config = {"data": {"source": "file", "path": str(tiny_h5)}}
    run_workflow(work, config, targets=TARGETS)
    config["split"] = {"chunk_events": 7}
    dry = run_workflow(work, config, targets=TARGETS, extra=["-n", "--quiet", "rules"])
    text = dry.stdout + dry.stderr
    assert "split" in text and "validate_data" not in text


def test_lint_is_clean(tmp_path: Path) -> None:
    import subprocess

    proc = subprocess.run(
        [snakemake_bin(), "--lint", "--cores", "1", "--snakefile", str(REPO / "Snakefile"), "--directory", str(REPO)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "Congratulations, your workflow is in a good condition!" in proc.stdout + proc.stderr, proc.stdout + proc.stderr
