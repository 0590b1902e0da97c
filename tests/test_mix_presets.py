"""presets/mix/: the background-mix scan (heavy-flavour share 0.2, 0.5, 0.8) on the default sample."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from leptonid.config import config_problems, load_schema
from leptonid.metrics import GAP_FEATURE_SETS
from runner import REPO, job_counts, run, snakemake_command

PRESETS = sorted((REPO / "presets" / "mix").glob("hf-*.yaml"))


def merged(preset: Path) -> dict:
    """config.yaml with the preset laid over it, section by section, as Snakemake does."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    for section, values in yaml.safe_load(preset.read_text()).items():
        config[section] = {**config.get(section, {}), **values}
    return config


def test_the_scan_points_and_what_each_trains() -> None:
    fractions = []
    for preset in PRESETS:
        config = merged(preset)
        assert config_problems(config, load_schema(REPO / "schemas" / "config.schema.yaml"), REPO) == []
        fraction = config["simulation"]["heavy_flavour_fraction"]
        assert preset.name == f"hf-{fraction}.yaml"
        assert set(GAP_FEATURE_SETS) <= set(config["training"]["feature_sets"])
        # everything else is the default's: only the mix differs between points
        default = yaml.safe_load((REPO / "config.yaml").read_text())
        assert {k: v for k, v in config["simulation"].items() if k != "heavy_flavour_fraction"} == default["simulation"]
        fractions.append(fraction)
    assert fractions == [0.2, 0.5, 0.8]


def test_a_scan_point_plans_the_simulation_and_the_gap(tmp_path: Path) -> None:
    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")
    targets = ("results/tables/auc.md", "results/simulation/validation.md")
    cmd = snakemake_command(REPO / "Snakefile", tmp_path, "--dry-run", *targets, configfile=PRESETS[0])
    text = run(cmd, timeout=300).stdout
    jobs = job_counts(text)
    assert jobs["simulate_chunk"] == 8 and jobs["train"] == 2 and jobs["summarize"] == 1, jobs
    assert "efp_chunk" not in jobs and "guided_search" not in jobs
