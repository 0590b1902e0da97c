#!/usr/bin/env bash
# Set up leptonid on a fresh machine and run it.
#
#   ./bootstrap.sh workflow [snakemake args...]  create .venv, then run the whole workflow
#   ./bootstrap.sh report [snakemake args...]    create .venv, bring the workflow's results up to date,
#                                                then write results/report.html (one self-contained file)
#   ./bootstrap.sh test [pytest args...]         create .venv, then run the test suite
#   ./bootstrap.sh install                       only create/update .venv
#
# The environment is built from requirements/lock.txt (exact versions, installed
# with --no-deps) and rebuilt only when the lock file changes. energyflow needs
# wasserstein, whose metadata asks for numpy<2 and whose wheels fail to import
# under numpy 2: we build wasserstein 1.1.0 from source against the locked numpy 2.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")"

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
VENV="${LEPTONID_VENV:-.venv}"
LOCK=requirements/lock.txt

install() {
    local stamp="$VENV/.leptonid-lock.sha256"
    local want
    want=$(cat "$LOCK" pyproject.toml bootstrap.sh | sha256sum | cut -d' ' -f1)
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        return 0
    fi
    "$PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 11), f"leptonid needs Python 3.11, found {sys.version}"'
    echo "bootstrap: creating $VENV from $LOCK (a few minutes the first time)" >&2
    "$PYTHON" -m venv "$VENV"
    local pip=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
    # Exact versions of everything, no resolver: two installs give the same environment.
    "${pip[@]}" install --no-deps -r "$LOCK"
    # wasserstein from source against numpy 2 (its metadata pins numpy<2; we ignore that on purpose).
    "${pip[@]}" install --no-deps --no-build-isolation --no-binary wasserstein wasserstein==1.1.0
    "${pip[@]}" install --no-deps --no-build-isolation -e .
    TF_CPP_MIN_LOG_LEVEL=3 "$VENV/bin/python" -c 'import numpy, energyflow, h5py, pyarrow, keras, snakemake, leptonid; assert int(numpy.__version__.split(".")[0]) >= 2'
    echo "$want" > "$stamp"
}

cmd="${1:-}"
[[ $# -gt 0 ]] && shift
case "$cmd" in
    install)
        install
        ;;
    workflow)
        install
        exec "$VENV/bin/snakemake" --cores all "$@"
        ;;
    report)
        install
        # the report needs every result: run what is missing or out of date first
        "$VENV/bin/snakemake" --cores all "$@"
        exec "$VENV/bin/snakemake" --report results/report.html "$@"
        ;;
    test)
        install
        exec "$VENV/bin/python" -m pytest "$@"
        ;;
    *)
        echo "usage: $0 {workflow|report|test|install} [args...]" >&2
        exit 2
        ;;
esac
