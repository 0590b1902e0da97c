"""The tiny workflow through ``profiles/slurm`` on a real single-node SLURM cluster.

The cluster (``tests/cluster/slurm.py``: munged + slurmctld + slurmd on 127.0.0.1,
one fake GPU as a GRES, partitions ``cpu`` and ``gpu`` as the profile's
placeholders name them) is brought up for this module and stopped by process id
afterwards. There is no accounting, so the executor polls with
``--slurm-status-command squeue`` (MinJobAge is high enough for it).

Skipped with the reason when the machine cannot host the cluster (not root,
``slurm-wlm``/``munge`` missing: run ``.ci/install-slurm.sh``), unless
``LEPTONID_REQUIRE_SLURM=1`` (set by ``.ci/run``), where that is a failure.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

from cluster.slurm import ClusterSpec, SlurmCluster, slurm_cluster, unavailable_reason
from runner import (
    REPO,
    compare_results,
    quiet_env,
    run,
    snakemake_command,
    tiny_config,
    write_config,
)
from leptonid.synthetic import write_synthetic_h5

pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.timeout(1500)]

PROFILE = REPO / "profiles" / "slurm"
# the site's own profile (partitions cpu/gpu, as the test cluster names them)
SITE_PROFILE = REPO / "profiles" / "site-example"
RUN_TIMEOUT_S = 900
# fast polling for a test: first status check after 1 s, then every 2 s (MinJobAge 3600 >> 3 x 1 s)
POLL_ARGS = ("--seconds-between-status-checks", "2")
SLURM_TEST_ARGS = (
    "--workflow-profile",
    str(PROFILE),
    "--profile",
    str(SITE_PROFILE),
    "--slurm-status-command",
    "squeue",
    "--slurm-init-seconds-before-status-checks",
    "1",
    "--jobs",
    "4",
    *POLL_ARGS,
)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    reason = unavailable_reason()
    if reason:
        if os.environ.get("LEPTONID_REQUIRE_SLURM") == "1":
            pytest.fail(f"LEPTONID_REQUIRE_SLURM=1 but {reason}")
        pytest.skip(reason)
    # declare enough CPUs/memory for the profile's requests (nothing is enforced without cgroups)
    spec = ClusterSpec(cpus=max(os.cpu_count() or 1, 4), real_memory_mb=64000)
    with slurm_cluster(tmp_path_factory.mktemp("slurm"), spec) as running:
        yield running


@pytest.fixture(scope="module")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny config run locally (profiles/default), the reference for cluster runs."""
    work = tmp_path_factory.mktemp("local")
    write_config(work, tiny_config())
    run(snakemake_command(REPO / "Snakefile", work), timeout=RUN_TIMEOUT_S)
    return work


def profile_settings(profile: Path = PROFILE) -> dict:
    return yaml.safe_load((profile / "config.yaml").read_text())


def test_workflow_profiles_hold_no_site_settings() -> None:
    """Partitions and accounts live in the site's profile; the workflow's profiles do not set resources."""
    for name in ("slurm", "cluster-generic", "htcondor"):
        settings = profile_settings(REPO / "profiles" / name)
        assert "default-resources" not in settings or "slurm_partition" not in settings["default-resources"], name
        for rule, res in (settings.get("set-resources") or {}).items():
            assert "slurm_partition" not in res and "slurm_account" not in res, (name, rule)
    site = profile_settings(SITE_PROFILE)
    assert site["default-resources"]["slurm_partition"] and site["set-resources"]["train"]["slurm_partition"]


# --- reading what Snakemake did from its log ---------------------------------

JOB_BLOCK = re.compile(r"^(?P<local>local)?rule (?P<rule>\w+):\n(?P<body>(?:    .*\n)+)", re.MULTILINE)
SUBMITTED = re.compile(r"Job (?P<job>\d+) has been submitted with SLURM jobid (?P<slurm>\d+) \(log: (?P<log>[^)]+)\)")


def jobs_in_log(text: str) -> dict[str, dict]:
    """``{snakemake jobid: {"rule", "wildcards", "gpu"}}`` for every job block Snakemake printed."""
    jobs = {}
    for block in JOB_BLOCK.finditer(text):
        body = block.group("body")
        jobid = re.search(r"^\s+jobid: (\d+)$", body, re.MULTILINE)
        if jobid is None:
            continue
        resources = re.search(r"^\s+resources: (.*)$", body, re.MULTILINE)
        gpu = re.search(r"(?:^|, )gpu=(\d+)", resources.group(1)) if resources else None
        wildcards = re.search(r"^\s+wildcards: (.*)$", body, re.MULTILINE)
        jobs[jobid.group(1)] = {
            "rule": block.group("rule"),
            "local": bool(block.group("local")),
            "wildcards": ",".join(sorted(wildcards.group(1).split(", "))) if wildcards else "",
            "gpu": int(gpu.group(1)) if gpu else 0,
        }
    return jobs


def submissions_in_log(text: str) -> dict[str, list[tuple[str, Path]]]:
    """``{snakemake jobid: [(slurm jobid, slurm log file), ...]}`` (several after retries)."""
    subs: dict[str, list[tuple[str, Path]]] = defaultdict(list)
    for match in SUBMITTED.finditer(text):
        subs[match.group("job")].append((match.group("slurm"), Path(match.group("log"))))
    return subs


def run_on_slurm(cluster: SlurmCluster, work: Path, *targets: str, check: bool = True):
    cmd = snakemake_command(REPO / "Snakefile", work, *SLURM_TEST_ARGS, *targets)
    return run(cmd, timeout=RUN_TIMEOUT_S, env=quiet_env(cluster.env), check=check)


# --- the tests ---------------------------------------------------------------


def test_tiny_workflow_runs_through_slurm_like_locally(
    cluster: SlurmCluster, local_run: Path, tmp_path: Path
) -> None:
    remote = tmp_path / "slurm"
    write_config(remote, tiny_config())

    proc = run_on_slurm(cluster, remote)
    text = proc.stdout + proc.stderr
    every = {j: info for j, info in jobs_in_log(text).items() if info["rule"] != "all"}
    jobs = {j: info for j, info in every.items() if not info["local"]}
    subs = submissions_in_log(text)
    assert jobs, text[-3000:]

    # the light rules (localrules) ran here, without a SLURM job
    local = {info["rule"] for info in every.values() if info["local"]}
    assert {"summarize", "report", "efp_graphs"} <= local, local
    # every other job went through SLURM, once, and SLURM ran it to completion
    assert set(subs) == set(jobs), f"not submitted: {set(jobs) - set(subs)}; submitted local: {set(subs) - set(jobs)}"
    slurm_jobs = {j["JobId"]: j for j in cluster.all_jobs()}
    finished = {j["JobId"] for j in cluster.completed_jobs()}
    partitions = {}
    for jobid, info in jobs.items():
        ((slurm_id, slurm_log),) = subs[jobid]
        seen = slurm_jobs[slurm_id]
        assert seen["JobState"] == "COMPLETED", seen
        assert slurm_id in finished, f"job {slurm_id} missing from the job-completion log"
        assert seen["Comment"].startswith(f"rule_{info['rule']}"), seen
        assert slurm_log.exists() and slurm_log.stem == slurm_id, slurm_log
        # GPU rules asked SLURM for their GPUs, CPU rules for none
        tres = seen.get("TresPerJob", "")
        if info["gpu"]:
            assert f"gres:gpu:{info['gpu']}" in tres, (info, seen)
        else:
            assert "gpu" not in tres, (info, seen)
        partitions[info["rule"]] = seen["Partition"]
    rules = {info["rule"] for info in jobs.values()}
    if "train" in rules:
        assert any(info["gpu"] for info in jobs.values()), "tiny config trains no GPU model"
        assert partitions["train"] == profile_settings(SITE_PROFILE)["set-resources"]["train"]["slurm_partition"]
    cpu_partition = profile_settings(SITE_PROFILE)["default-resources"]["slurm_partition"]
    assert {p for r, p in partitions.items() if r != "train"} == {cpu_partition}, partitions

    # the results are those of the local run
    compared = compare_results(local_run, remote)
    assert any(path.endswith(".feather") for path in compared), compared


def test_cluster_generic_profile_submits_through_its_scripts(
    cluster: SlurmCluster, local_run: Path, tmp_path: Path
) -> None:
    """profiles/cluster-generic (submit.py/status.py/cancel.sh around sbatch) on the same cluster.

    Runs up to the split and, if the workflow trains, one CNN (a GPU job) and one dense model.
    """
    profile = REPO / "profiles" / "cluster-generic"
    work = tmp_path / "generic"
    config = tiny_config()
    write_config(work, config)
    targets = ["results/prep/test.feather"]
    targets += [f"results/models/{fs}/history.csv" for fs in config.get("training", {}).get("feature_sets", [])]
    before = {j["JobId"] for j in cluster.all_jobs()}
    profiles = ("--workflow-profile", str(profile), "--profile", str(SITE_PROFILE))
    cmd = snakemake_command(REPO / "Snakefile", work, *profiles, "--jobs", "4", *POLL_ARGS, *targets)
    proc = run(cmd, timeout=RUN_TIMEOUT_S, env=quiet_env(cluster.env))
    text = proc.stdout + proc.stderr
    jobs = {j: info for j, info in jobs_in_log(text).items() if info["rule"] != "all"}
    new = [j for j in cluster.all_jobs() if j["JobId"] not in before]
    assert len(new) == len(jobs) and all(j["JobState"] == "COMPLETED" for j in new), new
    gpu_of = {f"rule_{info['rule']}_wildcards_{info['wildcards']}": info["gpu"] for info in jobs.values()}
    for job in new:
        gpu = gpu_of[job["Comment"]]  # submit.py's --comment names rule and wildcards
        assert ("gres:gpu" in job.get("TresPerJob", "")) == bool(gpu), job
    if any(info["rule"] == "train" for info in jobs.values()):
        assert any(gpu_of.values()), "no GPU job among the trainings"
    assert (work / "logs" / "cluster").is_dir()
    compare_results(local_run, work, subset=True)


def test_failing_job_is_retried_reported_and_leaves_no_outputs(cluster: SlurmCluster, tmp_path: Path) -> None:
    bad = write_synthetic_h5(tmp_path / "bad.h5", {"train": 40, "valid": 20, "test": 20}, seed=2)
    with h5py.File(bad, "a") as f:
        f["hl/valid"][3, 2] = np.nan  # validate_data fails on it at run time
    work = tmp_path / "fail"
    config = {**tiny_config(), "data": {"source": "file", "path": str(bad)}}
    write_config(work, config)
    before = {j["JobId"] for j in cluster.all_jobs()}

    proc = run_on_slurm(cluster, work, "results/data/inventory.md", check=False)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0, text[-3000:]
    assert "Error in rule validate_data" in text
    assert "hl/valid: 1 events with non-finite values" in text  # the job's own log, shown
    attempts = [
        j for j in cluster.all_jobs() if j["JobId"] not in before and j["Comment"].startswith("rule_validate_data")
    ]
    assert len(attempts) == profile_settings()["retries"] + 1, attempts
    assert all(j["JobState"] == "FAILED" for j in attempts), attempts
    assert not (work / "results" / "data" / "inventory.md").exists()
    prep = work / "results" / "prep"
    assert not prep.exists() or not any(prep.iterdir())
