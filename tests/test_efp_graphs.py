"""Drawings of EFP multigraphs: edge and vertex counts read back from the artists."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from leptonid.efp import EFPGraph  # noqa: E402
from leptonid.efp.drawing import EDGE_GID, VERTEX_GID, draw_graph, save_gallery, save_graph_svgs  # noqa: E402

GRAPHS = [
    EFPGraph(1, 0, 0, ()),
    EFPGraph(2, 3, 0, ((0, 1), (0, 1), (0, 1))),  # triple edge
    EFPGraph(3, 3, 1, ((0, 1), (0, 2), (1, 2))),  # triangle
    EFPGraph(4, 7, 0, ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3), (2, 3))),  # K4 + double edge
]


@pytest.mark.parametrize("graph", GRAPHS, ids=lambda g: g.name)
def test_edges_and_vertices_read_back(graph):
    fig, ax = plt.subplots()
    draw_graph(ax, graph)
    edges = [line for line in ax.lines if line.get_gid() == EDGE_GID]
    assert len(edges) == graph.d
    (dots,) = [c for c in ax.collections if c.get_gid() == VERTEX_GID]
    assert len(dots.get_offsets()) == graph.n
    # the lines of a multi-edge are distinct curves with the same end points
    for a in edges:
        for b in edges:
            if a is not b:
                assert not np.allclose(a.get_xydata(), b.get_xydata())
    assert any(t.get_text() == f"EFP {graph.name}" for t in ax.texts)
    plt.close(fig)


def test_files(tmp_path):
    paths = save_graph_svgs(GRAPHS, tmp_path / "graphs")
    assert [p.name for p in paths] == [f"EFP_{g.name}.svg" for g in GRAPHS]
    svg = paths[3].read_text()
    assert svg.count(EDGE_GID) == 7
    save_gallery(GRAPHS, [tmp_path / "gallery.pdf", tmp_path / "gallery.png"], columns=3)
    assert (tmp_path / "gallery.pdf").read_bytes()[:4] == b"%PDF"
    assert (tmp_path / "gallery.png").read_bytes()[:4] == b"\x89PNG"
    assert not list(tmp_path.glob(".*tmp*"))
