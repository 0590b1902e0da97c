"""Incremental reruns: after a change, Snakemake reruns exactly what depends on it.

One complete run of the tiny config (module fixture, on a copy of the workflow)
is cloned for each test (``copytree`` keeps modification times and
``.snakemake/`` metadata). Each test changes one thing and compares the dry
run's job counts with an oracle:

* what must rerun is what ``--forcerun <the changed rule or file>`` plans on the
  unchanged clone (that rule/file and everything downstream of it), and
* named upstream rules must not appear.

A rule that a test needs and the workflow lacks is a failure, not a skip.
"""

from __future__ import annotations

import copy
import hashlib
import os
import shutil
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from runner import (
    copy_workflow,
    job_counts,
    list_rules,
    output_mtimes,
    planned_jobs,
    quiet_env,
    run,
    REPO,
    snakemake_command,
    tiny_config,
    tiny_simulation_config,
    write_config,
)

pytestmark = [pytest.mark.workflow, pytest.mark.timeout(900)]

RUN_TIMEOUT_S = 600
UPSTREAM_OF_TRAINING = (
    "make_synthetic",
    "simulate_chunk",
    "merge_simulation",
    "validate_simulation",
    "validate_data",
    "split",
)
EFP_RULES = ("efp_chunk", "efp_gather", "efp_dedupe", "efp_graphs")


@dataclass(frozen=True)
class BaseRun:
    snakefile: Path
    work: Path
    config: dict
    rules: frozenset[str]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> BaseRun:
    """A complete run of the tiny config on a private copy of the workflow."""
    root = tmp_path_factory.mktemp("reruns")
    snakefile = copy_workflow(root / "workflow")
    work = root / "base"
    config = tiny_config()
    write_config(work, config)
    run(snakemake_command(snakefile, work), timeout=RUN_TIMEOUT_S)
    return BaseRun(snakefile, work, config, frozenset(list_rules(snakefile, work)))


def clone(base: BaseRun, dst: Path, config: dict | None = None) -> Path:
    """Copy the base run's directory (mtimes and metadata kept), optionally with a new config."""
    shutil.copytree(base.work, dst, symlinks=True)
    if config is not None:
        write_config(dst, config)
    return dst


def require(base: BaseRun, *rules: str) -> None:
    missing = [r for r in rules if r not in base.rules]
    assert not missing, f"the workflow lacks rule(s) {', '.join(missing)} that this test exercises"


def forced_plan(base: BaseRun, work: Path, target: str) -> Counter:
    """What a dry run with ``--forcerun target`` plans: target and everything downstream."""
    return planned_jobs(base.snakefile, work, "--forcerun", target)


def test_complete_run_leaves_nothing_to_do(base: BaseRun) -> None:
    assert planned_jobs(base.snakefile, base.work) == Counter()
    # ... and --summary agrees: every output is there and needs no update
    proc = run(snakemake_command(base.snakefile, base.work, "--summary"), timeout=RUN_TIMEOUT_S)
    rows = [line.split("\t") for line in proc.stdout.splitlines()[1:] if "\t" in line]
    assert rows, proc.stdout
    assert {row[5] for row in rows} == {"no update"}, proc.stdout


def test_reordering_config_keys_reruns_nothing(base: BaseRun, tmp_path: Path) -> None:
    """Params are compared by value: the same settings in another key order change nothing."""
    work = clone(base, tmp_path / "run")
    text = yaml.safe_dump(base.config, sort_keys=True)
    assert text != yaml.safe_dump(base.config, sort_keys=False), "tiny config is already sorted"
    (work / "config.yaml").write_text(text)
    assert planned_jobs(base.snakefile, work) == Counter()


def test_learning_rate_change_reruns_only_that_model(base: BaseRun, tmp_path: Path) -> None:
    require(base, "train")
    feature_set = base.config["training"]["feature_sets"][0]
    work = clone(base, tmp_path / "run")
    expected = forced_plan(base, work, f"results/models/{feature_set}/model.keras")

    config = copy.deepcopy(base.config)
    models = config["training"].setdefault("models", {})
    defaults = config["training"].get("defaults", {})
    old = models.get(feature_set, {}).get("learning_rate", defaults.get("learning_rate", 1e-3))
    models.setdefault(feature_set, {})["learning_rate"] = old / 2
    write_config(work, config)

    plan = planned_jobs(base.snakefile, work)
    assert plan == expected, plan
    assert plan["train"] == 1, plan
    if "evaluate" in base.rules:
        assert plan["evaluate"] == 1, plan
    assert not set(plan) & set(UPSTREAM_OF_TRAINING + EFP_RULES), plan
    # and Snakemake names the reason
    changes = run(snakemake_command(base.snakefile, work, "--list-changes", "params"), timeout=RUN_TIMEOUT_S)
    assert f"results/models/{feature_set}/model.keras" in changes.stdout


def test_efp_grid_change_reruns_efp_rules_and_dependents_only(base: BaseRun, tmp_path: Path) -> None:
    require(base, "efp_chunk")
    work = clone(base, tmp_path / "run")
    config = copy.deepcopy(base.config)
    expected = forced_plan(base, work, "efp_chunk")  # every chunk and all that depends on them
    efp = config.setdefault("efp", {})
    efp["betas"] = [*efp.get("betas", [1]), 2]  # one more angular exponent: a larger grid
    write_config(work, config)

    plan = planned_jobs(base.snakefile, work)
    assert plan == expected and plan["efp_chunk"] >= 2, plan
    assert not set(plan) & set(UPSTREAM_OF_TRAINING), plan
    if "train" in base.rules:
        efp_sets = [fs for fs in config["training"]["feature_sets"] if "efps" in fs]
        assert plan["train"] == len(efp_sets), plan  # the CNN and HL models are not retrained


def test_editing_a_script_reruns_its_rule(base: BaseRun, tmp_path: Path) -> None:
    rule, script = ("summarize", "summarize.py") if "summarize" in base.rules else ("split", "split.py")
    snakefile = copy_workflow(tmp_path / "workflow")  # a private copy: the repository is never edited
    work = clone(base, tmp_path / "run")
    mine = BaseRun(snakefile, work, base.config, base.rules)
    expected = forced_plan(mine, work, rule)
    assert planned_jobs(snakefile, work) == Counter()  # an identical copy changes nothing

    with open(snakefile.parent / "scripts" / script, "a") as fh:
        fh.write("\n# an edit\n")
    plan = planned_jobs(snakefile, work)
    assert plan == expected and plan[rule] == 1, plan
    assert "make_synthetic" not in plan and "validate_data" not in plan


def outputs_of(snakefile: Path, work: Path, rule: str, *extra: str) -> list[str]:
    """Output files of ``rule`` that exist in ``work`` (from ``--summary``)."""
    summary = run(snakemake_command(snakefile, work, "--summary", *extra), timeout=RUN_TIMEOUT_S).stdout
    rows = [line.split("\t") for line in summary.splitlines()]
    return [row[0] for row in rows if len(row) > 4 and row[2] == rule and (work / row[0]).is_file()]


def assert_deleting_one_output_rebuilds_only_it(snakefile: Path, work: Path, rule: str, *extra: str) -> None:
    """Delete one existing output of ``rule`` (an .h5 if any): the next run redoes that job and its dependents only.

    What must rerun is what ``--forcerun <the deleted file>`` plans on the intact
    directory; the other outputs of ``rule`` keep their modification times, and
    the rebuilt file is the same as before (chunks are seeded per chunk).
    """
    outputs = outputs_of(snakefile, work, rule, *extra)
    assert len(outputs) >= 2, f"{len(outputs)} {rule} outputs on disk: cannot tell rebuilding one from all"
    data_outputs = [p for p in outputs if p.endswith(".h5")]
    victim = (data_outputs or outputs)[-1]
    before = output_mtimes(work)
    content = (work / victim).read_bytes()
    expected = planned_jobs(snakefile, work, *extra, "--forcerun", victim)  # targets before --forcerun
    (work / victim).unlink()

    plan = planned_jobs(snakefile, work, *extra)
    assert plan == expected, (
        f"after deleting {victim} Snakemake plans {dict(plan)}, expected {dict(expected)}. "
        f"An empty plan means {rule}'s outputs are only intermediate: Snakemake does not rebuild a "
        "missing intermediate whose consumers are up to date. List them among rule all's targets."
    )
    assert plan[rule] == 1, plan
    run(snakemake_command(snakefile, work, *extra), timeout=RUN_TIMEOUT_S)
    after = output_mtimes(work)
    # outputs of other jobs of the rule (a job's outputs share a stem: chunks/signal_0.{h5,json})
    same_job = Path(victim).with_suffix("")
    others = [p for p in outputs if Path(p).with_suffix("") != same_job]
    assert others, outputs
    assert all(before[p] == after[p] for p in others), "other chunks were rebuilt"
    if victim.endswith(".h5"):  # seeded per chunk: byte-identical (a .json summary holds timings)
        assert (work / victim).read_bytes() == content, f"rebuilt {victim} differs"


def test_deleting_one_efp_chunk_rebuilds_only_that_chunk(base: BaseRun, tmp_path: Path) -> None:
    """EFP chunks are temp() (deleted once gathered); kept with --notemp, one deleted chunk is the only one redone."""
    require(base, "efp_chunk")
    work = clone(base, tmp_path / "run")
    n_chunks = base.config["efp"]["n_chunks"]
    chunks = [f"results/efp/et/train/chunk_{i}.feather" for i in range(n_chunks)]
    run(snakemake_command(base.snakefile, work, "--notemp", *chunks), timeout=RUN_TIMEOUT_S)
    assert all((work / c).is_file() for c in chunks)
    assert_deleting_one_output_rebuilds_only_it(base.snakefile, work, "efp_chunk", "--notemp", *chunks)


SIM_TARGET = "results/simulation/data.h5"


@pytest.fixture(scope="module")
def sim_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny simulation (two chunks per class) run to data.h5 (only; nothing downstream)."""
    work = tmp_path_factory.mktemp("sim") / "base"
    write_config(work, tiny_simulation_config())
    run(snakemake_command(REPO / "Snakefile", work, SIM_TARGET), timeout=RUN_TIMEOUT_S)
    return work


def digests(root: Path, patterns: tuple[str, ...]) -> dict[str, str]:
    """``{relative path: sha256}`` of the files under ``root`` matching ``patterns``."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for pattern in patterns
        for p in sorted(root.glob(pattern))
    }


@pytest.mark.slow
def test_second_run_in_another_directory_is_byte_identical(base: BaseRun, tmp_path: Path) -> None:
    """Same config and seed, another directory: byte-identical data, Feather and EFP files, the same CPU scores.

    The second run stops at what these need (the data, the split, the EFPs of
    one image, one network); the model itself is loaded in Keras's safe mode.
    """
    require(base, "train", "efp_gather")
    work = tmp_path / "again"
    write_config(work, base.config)
    feature_set = "hl"
    assert feature_set in base.config["training"]["feature_sets"]
    efps = [f"results/efp/et/{split}.feather" for split in ("train",)]
    predictions = [f"results/predictions/{feature_set}/{split}.feather" for split in ("valid", "test")]
    run(snakemake_command(base.snakefile, work, *efps, *predictions), timeout=RUN_TIMEOUT_S)
    patterns = ("results/synthetic/*.h5", "results/prep/*.feather", *efps, *predictions)
    first, second = digests(base.work, patterns), digests(work, patterns)
    assert len(first) == 1 + 3 + len(efps) + len(predictions), first
    assert second == first
    # the scores themselves (equal bytes imply it; this names the file if not) and the model in safe mode
    from leptonid.io import load_split
    from leptonid.models import load_model

    test = load_split(base.work / "results/prep/test.feather", ["hl"])
    stored = pd.read_feather(work / predictions[-1])
    model = load_model(work / f"results/models/{feature_set}/model.keras")
    scores = model.predict({"hl": test["hl"]}, verbose=0).reshape(-1)
    np.testing.assert_allclose(scores, stored["score"].to_numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_deleting_one_simulation_chunk_rebuilds_only_that_chunk(sim_base: Path, tmp_path: Path) -> None:
    """Simulate two chunks per class, delete one, and only it (and the merge) is redone, byte for byte."""
    snakefile = REPO / "Snakefile"
    work = tmp_path / "sim"
    shutil.copytree(sim_base, work, symlinks=True)  # mtimes and .snakemake/ metadata kept
    target = SIM_TARGET
    # rule all lists the chunks among its targets (rules/common.smk); do the same here
    chunks = sorted(str(p.relative_to(work)) for p in (work / "results/simulation/chunks").iterdir())
    assert chunks, "no simulation chunks on disk"
    assert_deleting_one_output_rebuilds_only_it(snakefile, work, "simulate_chunk", target, *chunks)
    # the chunk and the merge were redone in another directory than sim_base's: the same bytes
    # (with tests/test_simulation.py, which regenerates chunks and merges twice)
    patterns = ("results/simulation/*.h5", "results/simulation/truth.feather", "results/simulation/chunks/*.h5")
    first, second = digests(sim_base, patterns), digests(work, patterns)
    assert len(first) == 3 + 4 and "results/simulation/truth.feather" in first, first
    assert second == first


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def test_sigkill_during_training_then_resume(base: BaseRun, tmp_path: Path) -> None:
    """Kill Snakemake (and its job) mid-training; the next run redoes only the unfinished work.

    The split output is deleted first, so the killed run completes ``split``
    before it starts training: the resumed run must not redo it.
    """
    require(base, "train")
    feature_set = base.config["training"]["feature_sets"][0]
    config = copy.deepcopy(base.config)
    # long enough to be caught running (and a change, so that it must rerun)
    config["training"].setdefault("models", {}).setdefault(feature_set, {})["epochs"] = 60
    work = clone(base, tmp_path / "run", config)
    (work / "results" / "prep" / "test.feather").unlink()
    train_log = work / "logs" / "train" / f"{feature_set}.log"
    train_log.unlink(missing_ok=True)

    cmd = snakemake_command(base.snakefile, work, "--cores", "1")
    with open(tmp_path / "killed.out", "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=quiet_env(), start_new_session=True)
        try:
            started = f"training {feature_set} on"
            _wait_for(lambda: train_log.exists() and started in train_log.read_text(errors="replace"), 600, started)
        finally:
            os.killpg(proc.pid, signal.SIGKILL)  # Snakemake and the job it runs, by process group id
            proc.wait(timeout=30)
    at_kill = output_mtimes(work)
    assert "results/prep/test.feather" in at_kill, "split did not finish before the kill"

    # as after any crash, Snakemake's lock is left behind: remove it, then look at the plan
    run(snakemake_command(base.snakefile, work, "--unlock"), timeout=RUN_TIMEOUT_S)
    plan = planned_jobs(base.snakefile, work)
    assert plan["train"] >= 1, plan
    assert not set(plan) & set(UPSTREAM_OF_TRAINING + EFP_RULES), plan

    resumed = run(snakemake_command(base.snakefile, work), timeout=RUN_TIMEOUT_S)
    text = resumed.stdout + resumed.stderr
    assert "IncompleteFilesException" not in text
    assert job_counts(text) == plan
    after = output_mtimes(work)
    assert set(after) == set(output_mtimes(base.work)), "stray or missing files after the resume"
    finished_before = [p for p in at_kill if p.startswith(("results/prep/", "results/data/", "results/synthetic/"))]
    assert finished_before and all(at_kill[p] == after[p] for p in finished_before), "finished work was redone"
    assert planned_jobs(base.snakefile, work) == Counter()
