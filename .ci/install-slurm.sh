#!/usr/bin/env bash
# Install the Debian packages needed by the single-node SLURM test cluster
# (tests/cluster/slurm.py): slurm-wlm (slurmctld + slurmd + client tools) and munge.
# Idempotent; non-interactive; must run as root on Debian 12 (bookworm).
# Exits 0 when everything is already installed without touching apt.
set -euo pipefail

need=()
for cmd in slurmctld slurmd sbatch squeue sinfo munged mungekey; do
    command -v "$cmd" >/dev/null 2>&1 || need+=("$cmd")
done
if [ "${#need[@]}" -eq 0 ]; then
    echo "install-slurm: slurm-wlm and munge already installed"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install-slurm: missing ${need[*]} and not root; cannot install" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
timeout 600 apt-get update -q
timeout 900 apt-get install -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    slurm-wlm munge procps
echo "install-slurm: installed slurm-wlm $(dpkg-query -W -f='${Version}' slurm-wlm)"
