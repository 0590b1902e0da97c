#!/usr/bin/env python3
"""Submit one Snakemake jobscript with sbatch and print the job id.

Called by snakemake-executor-plugin-cluster-generic as ``submit.py JOBSCRIPT``.
The job's rule, wildcards, threads and resources are read from the
``# properties = {...}`` line Snakemake writes into the jobscript.
Edit ``build_command`` to target another batch system.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

PROPERTIES = re.compile(r"^# properties = (.*)$")


def read_properties(jobscript: Path) -> dict:
    """Return the job properties dict embedded in a Snakemake jobscript."""
    for line in jobscript.read_text().splitlines():
        match = PROPERTIES.match(line)
        if match:
            return json.loads(match.group(1))
    raise SystemExit(f"submit.py: no '# properties' line in {jobscript}")


def job_label(props: dict) -> tuple[str, str]:
    """(rule or group name, "k=v,..." wildcards) of a job."""
    name = props.get("rule") or f"group_{props.get('groupid', 'job')}"
    wildcards = props.get("wildcards") or {}
    return name, ",".join(f"{k}={v}" for k, v in sorted(wildcards.items()))


def log_path(props: dict) -> Path:
    """logs/cluster/<rule>/<wildcards>.%j.log (one file per batch job)."""
    name, wildcards = job_label(props)
    path = Path("logs") / "cluster" / name / f"{wildcards or 'job'}.%j.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def build_command(props: dict, jobscript: Path) -> list[str]:
    """sbatch command line for one job (rule name, cpus, memory, time, GPUs)."""
    res = props.get("resources") or {}
    name, wildcards = job_label(props)
    cmd = [
        "sbatch",
        "--parsable",
        f"--job-name=smk-{name}",
        f"--comment=rule_{name}_wildcards_{wildcards}",
        f"--output={log_path(props)}",
        f"--cpus-per-task={props.get('threads', 1)}",
    ]
    if res.get("slurm_partition"):
        cmd.append(f"--partition={res['slurm_partition']}")
    if res.get("slurm_account"):
        cmd.append(f"--account={res['slurm_account']}")
    if res.get("mem_mb"):
        cmd.append(f"--mem={int(res['mem_mb'])}")
    if res.get("runtime"):
        cmd.append(f"--time={int(res['runtime'])}")
    gpus = int(res.get("gpu") or 0)
    if gpus:
        model = res.get("gpu_model")
        cmd.append(f"--gpus={model}:{gpus}" if model else f"--gpus={gpus}")
    cmd.append(str(jobscript))
    return cmd


def main() -> int:
    jobscript = Path(sys.argv[-1])
    cmd = build_command(read_properties(jobscript), jobscript)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        sys.stderr.write(f"submit.py: {' '.join(cmd)} failed: {out.stderr}")
        return out.returncode
    print(out.stdout.strip().split(";")[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
