"""Helpers shared by the benchmarks: run a function in a child process, measure wall time and peak memory."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))


@dataclass
class Measurement:
    name: str
    seconds: float
    peak_mib: float


def measure(name: str, fn, *args) -> Measurement:  # noqa: ANN001
    """Run ``fn(*args)`` in a forked child; return its wall time and peak resident memory."""
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # child
        try:
            fn(*args)
        except BaseException as err:  # noqa: BLE001
            print(f"{name} failed: {err!r}", file=sys.stderr)
            os._exit(1)
        os._exit(0)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"benchmark step {name!r} failed")
    return Measurement(name, seconds, usage.ru_maxrss / 1024)
