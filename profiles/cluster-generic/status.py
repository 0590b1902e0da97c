#!/usr/bin/env python3
"""Print ``running``, ``success`` or ``failed`` for one batch job id.

Called by snakemake-executor-plugin-cluster-generic as ``status.py JOBID``.
Asks ``scontrol show job`` (controller memory, MinJobAge) first, then ``sacct``
(accounting); a job neither knows is reported ``running`` until Snakemake's
own checks give up, so a transient controller hiccup never fails a job.
"""

import subprocess
import sys

RUNNING = {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED",
           "REQUEUED", "RESIZING", "SIGNALING", "STAGE_OUT", "PREEMPTED"}


def state_from_scontrol(job_id: str) -> str | None:
    out = subprocess.run(["scontrol", "show", "job", "-o", job_id],
                         capture_output=True, text=True, timeout=60)
    for token in out.stdout.split():
        if token.startswith("JobState="):
            return token.split("=", 1)[1]
    return None


def state_from_sacct(job_id: str) -> str | None:
    out = subprocess.run(["sacct", "-X", "-n", "-P", "-j", job_id, "-o", "State"],
                         capture_output=True, text=True, timeout=60)
    lines = [line.split()[0] for line in out.stdout.splitlines() if line.strip()]
    return lines[-1] if out.returncode == 0 and lines else None


def classify(state: str | None) -> str:
    """Map a SLURM job state to the three words Snakemake understands."""
    if state is None or state in RUNNING:
        return "running"
    return "success" if state == "COMPLETED" else "failed"


def main() -> int:
    job_id = sys.argv[-1]
    try:
        state = state_from_scontrol(job_id) or state_from_sacct(job_id)
    except (OSError, subprocess.TimeoutExpired):
        state = None
    print(classify(state))
    return 0


if __name__ == "__main__":
    sys.exit(main())
