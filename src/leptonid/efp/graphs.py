"""EFP multigraphs, their enumeration with energyflow, and EFP column names.

Graphs are the prime (connected) multigraphs of the energy flow polynomials
(Komiske, Metodiev, Thaler, JHEP 04 (2018) 013), named ``<n>_<d>_<k>`` (n
vertices, d edges, k energyflow's index). Column names are
``EFP_<n>_<d>_<k>_k_<kappa>_b_<beta>`` with numbers formatted by
:func:`format_number` (``-1``, ``0``, ``0.5``, ``2``). Full tables order
them graph-major: for each graph, for each kappa, for each beta.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

__all__ = ["EFPGraph", "graphs_from_specs", "format_number", "efp_column_names", "parse_column"]


@dataclass(frozen=True)
class EFPGraph:
    """A prime EFP multigraph: ``n`` vertices, ``d`` edges, index ``k``, edge list."""

    n: int
    d: int
    k: int
    edges: tuple[tuple[int, int], ...]

    @property
    def name(self) -> str:
        """``<n>_<d>_<k>``, as in the column names."""
        return f"{self.n}_{self.d}_{self.k}"


def graphs_from_specs(selections: Sequence[Sequence[str]]) -> list[EFPGraph]:
    """Enumerate EFP graphs with energyflow's ``EFPSet`` selection strings.

    ``selections`` is a list of selections, each a list of ``EFPSet.sel``
    strings, e.g. ``[["d<=7", "p==1"], ["d<=8", "p==1", "c==4"]]``. The union
    is returned without repeats, ordered by (d, n, k). Only connected graphs
    (p == 1) are supported; composite EFPs are products of prime ones.
    """
    import energyflow  # imported lazily: only graph enumeration needs it

    seen: dict[tuple[int, int, int], EFPGraph] = {}
    for sel in selections:
        if isinstance(sel, str):
            raise ValueError(f"each EFP selection must be a list of strings, got {sel!r}")
        efpset = energyflow.EFPSet(*sel, measure="hadr", normed=False)
        cols = list(efpset.cols)
        for graph, spec in zip(efpset.graphs(), efpset.specs):
            n, d, k, p = (int(spec[cols.index(c)]) for c in ("n", "d", "k", "p"))
            if p != 1:
                raise ValueError(f"selection {sel} contains composite EFP {n}_{d}_{k}; add 'p==1'")
            seen[(n, d, k)] = EFPGraph(n, d, k, tuple((int(a), int(b)) for a, b in graph))
    return sorted(seen.values(), key=lambda g: (g.d, g.n, g.k))


def format_number(x: float) -> str:
    """Format kappa/beta for column names: integers without a point, else ``repr``.

    ``-1 -> '-1'``, ``0.0 -> '0'``, ``0.5 -> '0.5'``, ``2.0 -> '2'``, ``0.25 -> '0.25'``.
    """
    x = float(x)
    if not np.isfinite(x):
        raise ValueError(f"kappa/beta must be finite, got {x}")
    return str(int(x)) if x == int(x) else repr(x)


def efp_column_names(graphs: Sequence[EFPGraph], kappas: Sequence[float], betas: Sequence[float]) -> list[str]:
    """Names ``EFP_<n>_<d>_<k>_k_<kappa>_b_<beta>``, graph-major then kappa then beta."""
    return [
        f"EFP_{g.name}_k_{format_number(kp)}_b_{format_number(bt)}" for g in graphs for kp in kappas for bt in betas
    ]


def parse_column(name: str) -> tuple[int, int, int, float, float]:
    """Inverse of :func:`efp_column_names` for one name: ``(n, d, k, kappa, beta)``."""
    parts = name.split("_")
    if len(parts) != 8 or parts[0] != "EFP" or parts[4] != "k" or parts[6] != "b":
        raise ValueError(f"not an EFP column name (EFP_<n>_<d>_<k>_k_<kappa>_b_<beta>): {name!r}")
    try:
        return int(parts[1]), int(parts[2]), int(parts[3]), float(parts[5]), float(parts[7])
    except ValueError:
        raise ValueError(f"not an EFP column name: {name!r}") from None
