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

echo "install-slurm: missing ${need[*]}"
source "$(dirname "$(readlink -f "$0")")/apt.sh"
apt_install install-slurm slurm-wlm munge procps
echo "install-slurm: installed slurm-wlm $(dpkg-query -W -f='${Version}' slurm-wlm)"
