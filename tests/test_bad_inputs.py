"""The corpus of bad inputs (tests/bad_inputs.py): one test per case, each asserting the exact failure.

Files go through ``leptonid validate`` (the checks of the rule
``validate_data``: :func:`leptonid.contract.check_inputs`); configs through
the config check that the Snakefile runs first
(:func:`leptonid.config.config_problems`). Runs of real Snakemake on bad
inputs: tests/test_workflow_data.py (a failing ``validate_data`` leaves no
output and earlier results untouched) and tests/test_config.py (a bad
config stops before any job; a missing data file stops at the config check
in a directory that holds an earlier run).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bad_inputs import BAD_CONFIGS, BAD_FILES, BadConfig, BadFile, valid_file
from runner import REPO
from leptonid.cli import main
from leptonid.config import config_problems, load_schema
from leptonid.efp.io import chunk_rows
from leptonid.io import split_to_feather

SCHEMA = load_schema(REPO / "schemas" / "config.schema.yaml")


@pytest.mark.parametrize("case", BAD_FILES, ids=[c.name for c in BAD_FILES])
def test_bad_file(case: BadFile, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, unscaled = case.make(tmp_path)
    argv = ["validate", str(data)] + (["--unscaled", str(unscaled)] if unscaled else [])
    assert main(argv) == 1
    err = capsys.readouterr().err.splitlines()
    expected = case.problems(data, unscaled)
    assert err[0] == f"{data}: {len(expected)} problem(s) with the data contract:"
    assert err[1:] == [f"  - {line}" for line in expected]


@pytest.mark.parametrize("case", BAD_CONFIGS, ids=[c.name for c in BAD_CONFIGS])
def test_bad_config(case: BadConfig) -> None:
    problems = config_problems(case.config, SCHEMA)
    assert case.expected in problems, problems


def test_the_corpus_starts_from_valid_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without the breakage the same files pass: each case fails for its own reason only."""
    data = valid_file(tmp_path / "data.h5")
    unscaled = valid_file(tmp_path / "unscaled_data.h5", dtype="float64")
    assert main(["validate", str(data), "--unscaled", str(unscaled)]) == 0
    assert "honour the data contract and hold the same events" in capsys.readouterr().out
    assert config_problems({"data": {"source": "synthetic", "synthetic_events": 8}, "efp": {"n_chunks": 8}}, SCHEMA) == []


def test_more_efp_chunks_than_events_in_a_file(tmp_path: Path) -> None:
    """Chunks larger than the data, for a data file (size unknown to the config check): efp_chunk says so."""
    outputs = {split: tmp_path / f"{split}.feather" for split in ("train", "valid", "test")}
    # split.chunk_events larger than the data is fine: one chunk holds everything
    split_to_feather(valid_file(tmp_path / "data.h5"), outputs, chunk_events=10**6)
    assert chunk_rows(outputs["test"], 19, 20) == (19, 20)
    with pytest.raises(ValueError) as err:
        chunk_rows(outputs["test"], 0, 21)
    assert str(err.value) == (
        f"{outputs['test']}: 20 events cannot fill 21 chunks "
        "(config key 'efp.n_chunks' is larger than the data; use at most 20)"
    )
