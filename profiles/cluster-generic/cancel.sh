#!/bin/sh
# Cancel the batch jobs whose ids Snakemake passes (when it is interrupted).
exec scancel "$@"
