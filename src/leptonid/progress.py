"""Progress of long jobs: a tqdm bar on a terminal, the same bar as log lines in a job's log, one summary line.

In a workflow job ``sys.stderr`` is the rule's log file (``scripts/_workflow.py``):
the bar is then written as a plain log line every ``interval`` seconds
(count, rate and ETA, as tqdm formats them) instead of carriage returns.
Run by hand on a terminal, it is tqdm's usual live bar. Either way the job
ends with one summary line: ``<what>: <n> <unit> in <s> s (<rate> <unit>/s)``.
"""

from __future__ import annotations

import io
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from tqdm import tqdm

_LOG = logging.getLogger("leptonid.progress")


class _LogLines(io.TextIOBase):
    """A file for tqdm that turns each refresh of the bar into one log record."""

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger

    def write(self, text: str) -> int:
        line = text.replace("\r", "").replace("\x1b[A", "").strip()
        if line:
            self.logger.info("%s", line)
        return len(text)

    def flush(self) -> None:  # tqdm flushes after every write
        pass


def human_bytes(n: float) -> str:
    """``1536`` -> ``1.5 KiB``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def summary_line(what: str, n: float, seconds: float, unit: str = "events") -> str:
    """``<what>: <n> <unit> in <s> s (<rate> <unit>/s)``; bytes (``unit="B"``) in KiB, MiB, GiB."""
    rate = n / seconds if seconds > 0 else float("inf")
    if unit == "B":
        return f"{what}: {human_bytes(n)} in {seconds:.1f} s ({human_bytes(rate)}/s)"
    return f"{what}: {n:,.0f} {unit} in {seconds:.1f} s ({rate:,.1f} {unit}/s)"


@contextmanager
def progress(
    total: int | None,
    what: str,
    unit: str = "events",
    logger: logging.Logger | None = None,
    interval: float = 10.0,
    initial: int = 0,
    unit_scale: bool = False,
) -> Iterator[tqdm]:
    """A tqdm bar for ``total`` ``unit``; call ``bar.update(n)`` as work is done.

    On a terminal the bar is live; otherwise (a job's log) a line at most every
    ``interval`` seconds and at the end. The summary line is logged to
    ``logger`` when the block ends without an error. ``initial`` units were
    done before (a resumed download): the bar starts there and the summary
    counts only what this block did. ``unit_scale`` shows k/M/G prefixes
    (binary for bytes).
    """
    logger = logger or _LOG
    interactive = hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
    bar = tqdm(
        total=total,
        desc=what,
        unit=f" {unit}" if not unit_scale else unit,
        unit_scale=unit_scale,
        unit_divisor=1024 if unit == "B" else 1000,
        initial=initial,
        file=sys.stderr if interactive else _LogLines(logger),
        mininterval=0.1 if interactive else interval,
        miniters=1,
        dynamic_ncols=interactive,
        ncols=None if interactive else 100,
        ascii=not interactive,
        leave=True,
    )
    start = time.perf_counter()
    try:
        yield bar
    finally:
        bar.close()
    logger.info("%s", summary_line(what, bar.n - initial, time.perf_counter() - start, unit))
