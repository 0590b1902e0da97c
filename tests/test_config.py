"""Config validation: the schema's defaults, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from runner import REPO, run_workflow
from leptonid.config import check_config, config_problems, load_schema
from leptonid.feature_sets import FEATURE_SETS
from leptonid.simulation.chunk import CHUNK_DEFAULTS, MERGE_KEYS, VALIDATION_KEYS

SCHEMA = REPO / "schemas" / "config.schema.yaml"


def test_default_config_is_valid() -> None:
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    check_config(config, SCHEMA)
    assert config["data"]["source"] == "simulate"


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"split": {"compression": "gzip"}}, "config key 'split.compression': 'gzip' is not one of"),
        ({"training": {"models": {"HL": {"epochs": 2}}}}, "config key 'training.models.HL': unknown feature set 'HL'"),
        ({"search": {"reference": "cnn"}}, "config key 'search.reference': unknown feature set 'cnn'"),
        ({"search": {"reference": "hl"}}, "config key 'search.reference': 'hl' cannot guide the search"),
        ({"search": {"images": ["ht"]}, "efp": {"images": ["et"]}}, "config key 'search.images': 'ht' has no EFPs"),
        ({"search": {"protocol": "peek"}}, "config key 'search.protocol': 'peek' is not one of"),
    ],
)
def test_bad_config_names_the_key(config: dict, expected: str) -> None:
    """Settings of the search and models; the corpus of bad configs is in tests/bad_inputs.py."""
    problems = config_problems(config, load_schema(SCHEMA))
    assert any(p.startswith(expected) for p in problems), problems


@pytest.mark.workflow
def test_bad_config_stops_before_any_job(tmp_path: Path) -> None:
    proc = run_workflow(tmp_path, {"data": {"source": "synthetic"}, "split": {"chunk_evnts": 5}}, check=False)
    assert proc.returncode != 0
    assert "config key 'split.chunk_evnts': unknown key" in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists()


def test_feature_set_names_have_one_source() -> None:
    """The schema lists no feature-set names; the library's FEATURE_SETS is the list the check uses."""
    training = load_schema(SCHEMA)["properties"]["training"]["properties"]
    assert "enum" not in training["feature_sets"]["items"] and "propertyNames" not in training["models"]
    for name in FEATURE_SETS:
        config = {"training": {"feature_sets": [name], "models": {name: {}}}}
        if name == "hl_and_mass_and_efps":
            config["search"] = {"base": "hl_and_mass"}
        assert not config_problems(config, load_schema(SCHEMA)), name
    problems = config_problems({"training": {"feature_sets": ["hl_and_mass_and_efps"]}}, load_schema(SCHEMA))
    assert problems == [
        "config key 'training.feature_sets.0': 'hl_and_mass_and_efps' needs the guided search from base "
        "'hl_and_mass', but search.base is 'hl'"
    ]


def test_simulation_chunk_keys_match_the_schema() -> None:
    """Every key of the schema's simulation section is a chunk key or a merge key, and chunk defaults agree."""
    section = load_schema(SCHEMA)["properties"]["simulation"]["properties"]
    assert set(section) == set(CHUNK_DEFAULTS) | set(MERGE_KEYS) | set(VALIDATION_KEYS)
    for key, default in CHUNK_DEFAULTS.items():
        assert section[key]["default"] == default, key


@pytest.mark.workflow
def test_missing_data_path_stops_at_the_config_check_even_after_an_earlier_run(tmp_path: Path) -> None:
    """A directory with earlier results must not plan "nothing but the report" for a data file that is not there."""
    (tmp_path / "results" / "report.md").parent.mkdir(parents=True)
    (tmp_path / "results" / "report.md").write_text("an earlier run\n")
    proc = run_workflow(tmp_path, {"data": {"source": "file", "path": "/no/such/file.h5"}}, extra=["-n"], check=False)
    assert proc.returncode != 0
    assert "config key 'data.path': /no/such/file.h5 does not exist" in proc.stdout + proc.stderr
