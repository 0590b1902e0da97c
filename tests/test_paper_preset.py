"""presets/paper.yaml is the whole paper: its EFP set, its split sizes, and a plan with every stage."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from leptonid.efp.graphs import graphs_from_specs
from leptonid.simulation.writer import split_sizes
from runner import REPO, job_counts, run, snakemake_command

PRESET = REPO / "presets" / "paper.yaml"
# Collado et al. (PRD 103, 116028): test N = 42,977, train about 137,500 (1,075
# batches of 128), 220,000 events in all; energyflow's EFPSet("d<=7","p==1") has 490
# graphs, EFPSet("d<=8","p==1","c==4") 23; kappa in {-1, 0, 0.5, 1, 2}, beta in {0.5, 1, 2}.
PAPER_SPLITS = {"train": 137_500, "valid": 39_523, "test": 42_977}
PAPER_GRID = ({-1, 0, 0.5, 1, 2}, {0.5, 1, 2})
# rules a plain run never plans: synthetic data (data.source synthetic) and the opt-in search
# other data sources (synthetic, url) and the opt-in hyperparameter search
NOT_IN_THE_PAPER_RUN = {"make_synthetic", "download", "tune_trial", "tune_summary", "tune"}


def preset() -> dict:
    return yaml.safe_load(PRESET.read_text())


def test_preset_efp_set_is_the_papers() -> None:
    efp = preset()["efp"]
    assert efp["graph_sets"] == [["d<=7", "p==1"], ["d<=8", "p==1", "c==4"]]
    assert (set(efp["kappas"]), set(efp["betas"])) == PAPER_GRID
    d7, c4 = graphs_from_specs([efp["graph_sets"][0]]), graphs_from_specs([efp["graph_sets"][1]])
    assert (len(d7), len(c4)) == (490, 23)
    union = graphs_from_specs(efp["graph_sets"])
    keys = {(g.n, g.d, g.k) for g in union}
    assert keys == {(g.n, g.d, g.k) for g in d7} | {(g.n, g.d, g.k) for g in c4}
    # the c==4 graphs with d <= 7 are in both sets: 509 distinct graphs, 7,635 EFPs per image
    assert len(union) * 15 == 7_635


def test_preset_simulation_has_the_papers_split_sizes() -> None:
    sim = preset()["simulation"]
    assert split_sizes(2 * sim["n_per_class"], sim["split"]) == PAPER_SPLITS


@pytest.mark.slow
def test_dry_run_of_the_preset_plans_every_stage(tmp_path: Path) -> None:
    """The preset as it is but for its chunk counts (1,633 jobs take minutes to plan; 2 chunks plan the same stages)."""
    cfg = preset()
    cfg["simulation"]["n_chunks"] = cfg["efp"]["n_chunks"] = 2
    small = tmp_path / "paper_small_chunks.yaml"
    small.write_text(yaml.safe_dump(cfg, sort_keys=False))
    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")  # what `configfile:` reads first
    proc = run(snakemake_command(REPO / "Snakefile", tmp_path, "--dry-run", configfile=small), timeout=300)
    jobs = job_counts(proc.stdout + proc.stderr)
    n_fs = len(cfg["training"]["feature_sets"])
    assert "hl_and_efps" in cfg["training"]["feature_sets"]  # so the guided search is planned
    expected = {
        "simulate_chunk": 2 * 2, "merge_simulation": 1, "validate_simulation": 1,
        "validate_data": 1, "split": 1,
        "efp_chunk": 2 * 3 * 2, "efp_gather": 2 * 3, "efp_dedupe": 1, "efp_graphs": 1,
        "train": n_fs, "evaluate": n_fs, "summarize": 1,
        "guided_search": 1, "select_efps": 1, "search_summary": 1,
        "data_figures": 1, "report": 1,
    }
    assert dict(jobs) == expected
    sources = [REPO / "Snakefile", *sorted((REPO / "rules").glob("*.smk"))]
    rules = {name for path in sources for name in re.findall(r"^rule (\w+):", path.read_text(), re.M)} - {"all"}
    assert set(expected) == rules - NOT_IN_THE_PAPER_RUN  # every stage of the workflow


def test_every_rule_that_runs_something_has_a_benchmark_file_named_after_it() -> None:
    """bench/paper_size.py reads benchmarks/<rule>.tsv or benchmarks/<rule>/...: every job is measured."""
    sources = [REPO / "Snakefile", *sorted((REPO / "rules").glob("*.smk"))]
    blocks = [b for path in sources for b in re.split(r"^(?=rule \w+:)", path.read_text(), flags=re.M)]
    checked = []
    for block in blocks:
        match = re.match(r"rule (\w+):", block)
        if match is None or not re.search(r"^    (script|shell|run):", block, re.M):
            continue  # target-only rules (all, tune) run nothing
        rule = match.group(1)
        bench = re.search(r'^    benchmark:\n        "([^"]+)"', block, re.M)
        assert bench, f"rule {rule} has no benchmark: file"
        assert re.fullmatch(rf"benchmarks/{rule}(\.tsv|/.+\.tsv)", bench.group(1)), (rule, bench.group(1))
        checked.append(rule)
    assert len(checked) >= 19
