"""Compute a chosen list of EFP columns only (e.g. the de-duplicated ones).

:func:`plan_for_columns` turns column names ``EFP_<n>_<d>_<k>_k_<kappa>_b_<beta>``
into a :class:`ColumnPlan`: one group per beta, holding the graphs and the
kappas that some requested column needs at that beta. :class:`ColumnCalculator`
evaluates each group with an :class:`~leptonid.efp.engine.EFPCalculator`
(graphs of a group still share their sub-contractions, kappas are still one
batch axis) and returns the requested columns in the requested order. Only
the graphs x kappas of each beta are evaluated, never a graph or a (kappa,
beta) point that no requested column uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from leptonid.efp.engine import EFPCalculator
from leptonid.efp.graphs import EFPGraph, format_number, graphs_from_specs, parse_column

__all__ = ["ColumnGroup", "ColumnPlan", "plan_for_columns", "ColumnCalculator"]


@dataclass(frozen=True)
class ColumnGroup:
    """Graphs and kappas evaluated together at one beta."""

    beta: float
    graphs: tuple[EFPGraph, ...]
    kappas: tuple[float, ...]

    @property
    def size(self) -> int:
        """Number of values per event this group evaluates."""
        return len(self.graphs) * len(self.kappas)


@dataclass(frozen=True)
class ColumnPlan:
    """Requested columns, the groups that compute them, and where each column comes from.

    ``take[j] = (group, index)``: column j is output ``index`` (graph-major,
    then kappa) of group ``group``.
    """

    columns: tuple[str, ...]
    groups: tuple[ColumnGroup, ...]
    take: tuple[tuple[int, int], ...]

    @property
    def n_evaluated(self) -> int:
        """Values per event actually evaluated (>= the number of columns)."""
        return sum(g.size for g in self.groups)


def _canonical(n: int, d: int, k: int, kappa: float, beta: float) -> str:
    return f"EFP_{n}_{d}_{k}_k_{format_number(kappa)}_b_{format_number(beta)}"


def plan_for_columns(columns: Sequence[str], graphs: Sequence[EFPGraph] | None = None) -> ColumnPlan:
    """Plan the evaluation of exactly these EFP columns, in this order.

    Arguments:
        columns: names ``EFP_<n>_<d>_<k>_k_<kappa>_b_<beta>`` as written by
            :func:`~leptonid.efp.graphs.efp_column_names` (no repeats).
        graphs: the graphs the names refer to (e.g. ``graphs_from_specs(graph_sets)``);
            by default they are enumerated with energyflow by ``(n, d)``.

    Raises ``ValueError`` for malformed, non-canonical or repeated names, a
    beta <= 0, or a graph not among ``graphs``.
    """
    parsed = []
    for name in columns:
        n, d, k, kappa, beta = parse_column(name)
        if _canonical(n, d, k, kappa, beta) != name:
            raise ValueError(f"{name!r} is not a canonical EFP column name ({_canonical(n, d, k, kappa, beta)!r})")
        if beta <= 0:
            raise ValueError(f"{name}: beta must be > 0")
        parsed.append((f"{n}_{d}_{k}", kappa, beta))
    if len(set(columns)) != len(columns):
        raise ValueError("requested EFP columns are not unique")
    needed = {g for g, _, _ in parsed}
    if graphs is None:
        nd = sorted({tuple(int(x) for x in g.split("_")[:2]) for g in needed})
        graphs = graphs_from_specs([[f"n=={n}", f"d=={d}", "p==1"] for n, d in nd]) if nd else []
    by_name = {g.name: g for g in graphs}
    missing = sorted(needed - set(by_name))
    if missing:
        raise ValueError(f"EFP graphs {missing} are not in the given graph set")
    groups: list[ColumnGroup] = []
    for beta in sorted({b for _, _, b in parsed}):
        names = {g for g, _, b in parsed if b == beta}
        kappas = tuple(sorted({kp for _, kp, b in parsed if b == beta}))
        group_graphs = tuple(sorted((by_name[g] for g in names), key=lambda g: (g.d, g.n, g.k)))
        groups.append(ColumnGroup(beta, group_graphs, kappas))
    index = {
        (g.name, kp, grp.beta): (gi, i * len(grp.kappas) + j)
        for gi, grp in enumerate(groups)
        for i, g in enumerate(grp.graphs)
        for j, kp in enumerate(grp.kappas)
    }
    return ColumnPlan(tuple(columns), tuple(groups), tuple(index[p] for p in parsed))


class ColumnCalculator:
    """Compute the columns of a :class:`ColumnPlan`; same interface as ``EFPCalculator``.

    Keyword arguments (``backend``, ``batch_size``, ...) go to every group's
    :class:`~leptonid.efp.engine.EFPCalculator`.
    """

    def __init__(self, plan: ColumnPlan, **kwargs: Any) -> None:
        self.plan = plan
        self.calculators = [EFPCalculator(g.graphs, g.kappas, [g.beta], **kwargs) for g in plan.groups]

    @property
    def columns(self) -> list[str]:
        """Output column names: the requested ones, in the requested order."""
        return list(self.plan.columns)

    def compute(self, z: np.ndarray, eta: np.ndarray, phi: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Values ``(N, len(columns))`` float64 for padded particle arrays ``(N, M)``."""
        out = np.empty((len(z), len(self.plan.columns)))
        take = np.asarray(self.plan.take, dtype=np.int64).reshape(-1, 2)
        for gi, calc in enumerate(self.calculators):
            cols = np.flatnonzero(take[:, 0] == gi)
            out[:, cols] = calc.compute(z, eta, phi, mask)[:, take[cols, 1]]
        return out
