#!/usr/bin/env bash
# Install Debian's chromium, with which tests/test_workflow_e2e.py opens the HTML
# report headless (screenshot, AUC table, ROC figure) as a person would.
# Idempotent; non-interactive; must run as root on Debian 12 (bookworm).
# Exits 0 when a chromium is already on PATH without touching apt.
set -euo pipefail

for cmd in chromium chromium-browser google-chrome google-chrome-stable; do
    if command -v "$cmd" >/dev/null 2>&1; then
        echo "install-chromium: $cmd already installed ($("$cmd" --version 2>/dev/null || echo unknown version))"
        exit 0
    fi
done

source "$(dirname "$(readlink -f "$0")")/apt.sh"
apt_install install-chromium chromium fonts-dejavu-core
echo "install-chromium: installed $(chromium --version)"
