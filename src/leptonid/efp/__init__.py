"""Energy flow polynomials (Komiske, Metodiev, Thaler, JHEP 04 (2018) 013) of calorimeter images.

Modules, one job each:

* :mod:`~leptonid.efp.graphs`: EFP multigraphs, enumeration with energyflow, column names;
* :mod:`~leptonid.efp.particles`: images -> padded particle arrays (z, eta, phi, mask);
* :mod:`~leptonid.efp.plan`: compile a graph set into one memoised evaluation plan;
* :mod:`~leptonid.efp.kernels`: contraction kernels (eliminations, K4 cores);
* :mod:`~leptonid.efp.evaluate`: evaluate a plan on one padded batch;
* :mod:`~leptonid.efp.engine`: :class:`EFPCalculator`, batches of events on a (kappa, beta) grid (numpy or jax);
* :mod:`~leptonid.efp.columns`: compute a chosen list of columns only;
* :mod:`~leptonid.efp.io`: chunk files of the workflow and their gathering;
* :mod:`~leptonid.efp.dedupe`: de-duplication of EFP columns, ``unique.csv``;
* :mod:`~leptonid.efp.drawing`: drawings of the multigraphs (imported on its own: matplotlib).
"""

from __future__ import annotations

from leptonid.efp.columns import ColumnCalculator, ColumnGroup, ColumnPlan, plan_for_columns
from leptonid.efp.dedupe import (
    DedupeResult,
    canonical_order,
    dedupe_columns,
    dedupe_feather,
    dedupe_markdown,
    unique_columns,
    write_unique_csv,
)
from leptonid.efp.engine import EFPCalculator, compute_efps
from leptonid.efp.graphs import EFPGraph, efp_column_names, format_number, graphs_from_specs, parse_column
from leptonid.efp.io import chunk_rows, compute_chunk, gather_chunks, iter_chunks
from leptonid.efp.particles import particles_from_images
from leptonid.efp.plan import Plan, compile_plan

__all__ = [
    "EFPGraph",
    "graphs_from_specs",
    "format_number",
    "efp_column_names",
    "parse_column",
    "particles_from_images",
    "Plan",
    "compile_plan",
    "EFPCalculator",
    "compute_efps",
    "ColumnGroup",
    "ColumnPlan",
    "plan_for_columns",
    "ColumnCalculator",
    "iter_chunks",
    "chunk_rows",
    "compute_chunk",
    "gather_chunks",
    "DedupeResult",
    "canonical_order",
    "dedupe_columns",
    "dedupe_feather",
    "dedupe_markdown",
    "unique_columns",
    "write_unique_csv",
]
