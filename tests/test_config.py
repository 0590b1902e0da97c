"""Config validation: the schema's defaults, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conftest import REPO, run_workflow
from leptonid.config import check_config, config_problems, load_schema

SCHEMA = REPO / "schemas" / "config.schema.yaml"


def test_default_config_is_valid() -> None:
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    check_config(config, SCHEMA)
    assert config["data"]["source"] == "simulate"


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"dta": {}}, "config key 'dta': unknown key"),
        ({"split": {"chunk_events": "many"}}, "config key 'split.chunk_events': 'many' is not of type 'integer'"),
        ({"split": {"chunk_events": 0}}, "config key 'split.chunk_events': 0 is less than the minimum of 1"),
        ({"data": {"source": "magic"}}, "config key 'data.source': 'magic' is not one of"),
        ({"data": {"source": "file"}}, "config key 'data.path': required here but missing"),
        ({"split": {"compression": "gzip"}}, "config key 'split.compression': 'gzip' is not one of"),
    ],
)
def test_bad_config_names_the_key(config: dict, expected: str) -> None:
    problems = config_problems(config, load_schema(SCHEMA))
    assert any(p.startswith(expected) for p in problems), problems


@pytest.mark.workflow
def test_bad_config_stops_before_any_job(tmp_path: Path) -> None:
    proc = run_workflow(tmp_path, {"data": {"source": "synthetic"}, "split": {"chunk_evnts": 5}}, check=False)
    assert proc.returncode != 0
    assert "config key 'split.chunk_evnts': unknown key" in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists()
