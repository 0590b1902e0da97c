"""EFP files of the workflow: one chunk of a split, and the gathered table.

A chunk file and a gathered file are Feather (Arrow IPC) with an ``event``
column (int64, the row index in the source data.h5, in the order of
``results/prep/{split}.feather``) and one float64 column per EFP.
Gathered files are written uncompressed so that de-duplication can
memory-map them column by column.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from leptonid.atomic import atomic_output
from leptonid.efp.columns import ColumnCalculator, ColumnPlan
from leptonid.efp.engine import EFPCalculator
from leptonid.efp.graphs import graphs_from_specs
from leptonid.efp.particles import particles_from_images
from leptonid.io import UNSCALED_PREFIX, column_names, count_rows, load_split
from leptonid.progress import progress

__all__ = ["iter_chunks", "chunk_rows", "compute_chunk", "gather_chunks"]

log = logging.getLogger(__name__)


def iter_chunks(n_rows: int, n_chunks: int) -> list[tuple[int, int]]:
    """Row ranges ``[start, stop)`` of ``n_chunks`` near-equal chunks of ``n_rows`` rows."""
    if n_chunks < 1:
        raise ValueError(f"n_chunks must be >= 1, got {n_chunks}")
    edges = np.linspace(0, n_rows, n_chunks + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def chunk_rows(path: str | Path, chunk: int, n_chunks: int) -> tuple[int, int]:
    """Row range ``[start, stop)`` of chunk ``chunk`` of ``n_chunks`` of a split file.

    More chunks than events is an error (config key ``efp.n_chunks``): it
    would only make jobs with nothing to do.
    """
    if not 0 <= chunk < n_chunks:
        raise ValueError(f"chunk {chunk} out of range for n_chunks={n_chunks}")
    n_rows = count_rows(path)
    if n_chunks > n_rows:
        raise ValueError(
            f"{path}: {n_rows} events cannot fill {n_chunks} chunks "
            f"(config key 'efp.n_chunks' is larger than the data; use at most {n_rows})"
        )
    return iter_chunks(n_rows, n_chunks)[chunk]


def _write(table: pa.Table, path: str | Path, compression: str | None) -> None:
    with atomic_output(path) as tmp:
        with (
            pa.OSFile(str(tmp), "wb") as sink,
            ipc.new_file(sink, table.schema, options=ipc.IpcWriteOptions(compression=compression)) as writer,
        ):
            writer.write_table(table, max_chunksize=65536)


def compute_chunk(
    prep_path: str | Path,
    out_path: str | Path,
    image: str,
    chunk: int,
    n_chunks: int,
    graph_sets: Sequence[Sequence[str]],
    kappas: Sequence[float],
    betas: Sequence[float],
    backend: str = "numpy",
    batch_size: int = 64,
    plan: ColumnPlan | None = None,
) -> int:
    """Compute the EFPs of one chunk of a split; return the number of events written.

    By default every graph of ``graph_sets`` on the ``kappas`` x ``betas``
    grid; with ``plan`` (from :func:`~leptonid.efp.columns.plan_for_columns`)
    only its columns, in its order (``graph_sets``, ``kappas`` and ``betas``
    are then not used).
    """
    start, stop = chunk_rows(prep_path, chunk, n_chunks)
    # EFPs need pixel ET in GeV: the standardised images of data.h5 are not ET
    column = f"{UNSCALED_PREFIX}{image}" if f"{UNSCALED_PREFIX}{image}" in column_names(prep_path) else image
    data = load_split(prep_path, ["event", column], rows=(start, stop))
    data[image] = data.pop(column)
    calc: EFPCalculator | ColumnCalculator
    if plan is None:
        calc = EFPCalculator(graphs_from_specs(graph_sets), kappas, betas, backend=backend, batch_size=batch_size)
        what = f"{len(calc.graphs)} graphs x {len(calc.kappas)} kappa x {len(calc.betas)} beta"
    else:
        calc = ColumnCalculator(plan, backend=backend, batch_size=batch_size)
        what = f"selected columns ({plan.n_evaluated} values evaluated in {len(plan.groups)} beta groups)"
    t0 = time.perf_counter()
    z, eta, phi, mask = particles_from_images(data[image], image)
    parts = [np.empty((0, len(calc.columns)))]
    step = max(16 * batch_size, 1)  # events per progress update (the engine batches within each)
    with progress(len(z), f"{image} EFPs, rows {start}-{stop}", "events", log) as bar:
        for i in range(0, len(z), step):
            parts.append(calc.compute(z[i : i + step], eta[i : i + step], phi[i : i + step], mask[i : i + step]))
            bar.update(len(parts[-1]))
    values = np.concatenate(parts)
    dt = time.perf_counter() - t0
    n_part = mask.sum(axis=1)
    log.info("%s: pixels from column %r of %s", image, column, prep_path)
    log.info(
        "%s rows %d-%d: %d events, %s = %d EFPs, particles %s, %.1f s (%.1f events/s)",
        image,
        start,
        stop,
        len(z),
        what,
        len(calc.columns),
        f"{n_part.min()}-{n_part.max()} (mean {n_part.mean():.0f})" if len(z) else "-",
        dt,
        len(z) / max(dt, 1e-9),
    )
    arrays = [pa.array(np.asarray(data["event"], dtype=np.int64))]
    arrays += [pa.array(values[:, j]) for j in range(values.shape[1])]
    _write(pa.Table.from_arrays(arrays, names=["event", *calc.columns]), out_path, "lz4")
    return len(z)


def gather_chunks(prep_path: str | Path, chunk_paths: Sequence[str | Path], out_path: str | Path) -> int:
    """Concatenate chunk files in order (one chunk in memory at a time).

    Checks that all chunks have the same columns and that their ``event``
    columns, joined, equal the split file's ``event`` column.
    """
    if not chunk_paths:
        raise ValueError("no EFP chunk files to gather")
    schemas, events = [], []
    for path in chunk_paths:
        with pa.memory_map(str(path)) as source:
            reader = ipc.open_file(source)
            schemas.append(reader.schema)
            events.append(reader.read_all().column("event").to_numpy())
    for path, schema in zip(chunk_paths, schemas):
        if not schema.equals(schemas[0]):
            raise ValueError(f"{path}: columns differ from {chunk_paths[0]}; rerun the chunks with one config")
    expected = load_split(prep_path, ["event"])["event"]
    got = np.concatenate(events)
    if len(got) != len(expected) or not np.array_equal(got, expected):
        raise ValueError(
            f"EFP chunks have {len(got)} events that do not match the {len(expected)} events of {prep_path} "
            "in order; was the split rewritten or n_chunks changed?"
        )
    with atomic_output(out_path) as tmp:
        with pa.OSFile(str(tmp), "wb") as sink, ipc.new_file(sink, schemas[0]) as writer:
            for path in chunk_paths:
                with pa.memory_map(str(path)) as source:
                    writer.write_table(ipc.open_file(source).read_all(), max_chunksize=65536)
    return len(got)
