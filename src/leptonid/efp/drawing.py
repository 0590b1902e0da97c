"""Drawings of EFP multigraphs in the style of the EFP paper.

Vertices are black dots on a regular polygon (one vertex: a dot; two: a
horizontal pair); an edge of multiplicity m is drawn as m separate lines,
straight for the middle one (m odd) and symmetric quadratic curves for the
others. Every edge line carries ``gid="efp-edge"`` and the vertex dots
``gid="efp-vertex"``, so drawings can be checked from the figure's artists.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np

from leptonid.efp.graphs import EFPGraph

__all__ = ["vertex_positions", "draw_graph", "save_graph_svgs", "save_gallery"]

EDGE_GID = "efp-edge"
VERTEX_GID = "efp-vertex"


def vertex_positions(n: int) -> np.ndarray:
    """Positions ``(n, 2)`` of n vertices on a regular polygon of radius 1."""
    if n < 1:
        raise ValueError(f"a graph needs at least one vertex, got n={n}")
    if n == 1:
        return np.zeros((1, 2))
    start = math.pi if n == 2 else math.pi / 2 + (math.pi / n if n % 2 == 0 else 0)
    ang = start - 2 * math.pi * np.arange(n) / n
    return np.stack([np.cos(ang), np.sin(ang)], axis=1)


def _curve(p: np.ndarray, q: np.ndarray, bend: float, n_pts: int = 30) -> np.ndarray:
    """Quadratic Bezier from p to q whose control point is offset by ``bend`` x |pq| sideways."""
    mid = (p + q) / 2
    d = q - p
    normal = np.array([-d[1], d[0]])
    ctrl = mid + bend * normal
    t = np.linspace(0, 1, n_pts)[:, None]
    return (1 - t) ** 2 * p + 2 * (1 - t) * t * ctrl + t**2 * q


def draw_graph(ax, graph: EFPGraph, label: bool = True, color: str = "black") -> None:  # noqa: ANN001
    """Draw one multigraph on a matplotlib Axes (no axis frame)."""
    pos = vertex_positions(graph.n)
    counts = Counter(tuple(sorted(e)) for e in graph.edges)
    for (a, b), m in sorted(counts.items()):
        bends = (np.arange(m) - (m - 1) / 2) * 0.25
        for bend in bends:
            pts = _curve(pos[a], pos[b], float(bend))
            ax.plot(pts[:, 0], pts[:, 1], color=color, lw=1.6, solid_capstyle="round", gid=EDGE_GID, zorder=1)
    ax.scatter(pos[:, 0], pos[:, 1], s=40, color=color, zorder=2, gid=VERTEX_GID)
    ax.set_xlim(-1.35, 1.35)
    ax.set_ylim(-1.35, 1.35)
    ax.set_aspect("equal")
    ax.axis("off")
    if label:
        ax.text(0.5, -0.02, f"EFP {graph.name}", transform=ax.transAxes, ha="center", va="top", fontsize=8)


def save_graph_svgs(graphs: Sequence[EFPGraph], outdir: str | Path) -> list[Path]:
    """One SVG per graph, ``<outdir>/EFP_<n>_<d>_<k>.svg``; returns the paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from leptonid.atomic import atomic_output

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = []
    for g in graphs:
        fig, ax = plt.subplots(figsize=(1.4, 1.5))
        draw_graph(ax, g)
        path = outdir / f"EFP_{g.name}.svg"
        with atomic_output(path) as tmp:
            fig.savefig(tmp, format="svg", bbox_inches="tight")
        plt.close(fig)
        paths.append(path)
    return paths


def save_gallery(graphs: Sequence[EFPGraph], paths: Sequence[str | Path], columns: int = 10) -> None:
    """A grid of all graphs with their names under them, saved to each path (PDF/PNG by suffix)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from leptonid.atomic import atomic_output

    if not graphs:
        raise ValueError("no graphs to draw")
    columns = max(1, min(columns, len(graphs)))
    rows = -(-len(graphs) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(1.3 * columns, 1.4 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, g in zip(axes.flat, graphs):
        draw_graph(ax, g)
    fig.tight_layout()
    for path in paths:
        with atomic_output(path) as tmp:
            fig.savefig(tmp, format=Path(path).suffix.lstrip("."), dpi=150)
    plt.close(fig)
