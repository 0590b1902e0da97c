"""Shared set-up of the workflow scripts (imported first by every ``scripts/*.py``).

Makes ``leptonid`` importable from ``src/`` even in an environment where it
is not installed (``--software-deployment-method conda``), and sends
logging, warnings and stray output to the rule's log file, while an error's
message still reaches the terminal.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))

# read by TensorFlow when it starts (scripts import it after this module):
# quiet C++ logs, deterministic kernels
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")


def setup(snakemake) -> logging.Logger:  # noqa: ANN001 - the object Snakemake injects
    """Log to ``snakemake.log[0]`` and return the logger of the rule."""
    terminal = sys.__stderr__
    log_file = open(snakemake.log[0], "w", buffering=1)  # noqa: SIM115 - lives as long as the job
    sys.stdout = sys.stderr = log_file
    logging.basicConfig(
        stream=log_file, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )
    logging.captureWarnings(True)

    def excepthook(kind, value, tb):  # noqa: ANN001
        traceback.print_exception(kind, value, tb, file=log_file)
        print(f"[{snakemake.rule}] {kind.__name__}: {value}", file=terminal)

    sys.excepthook = excepthook
    return logging.getLogger(f"leptonid.{snakemake.rule}")
