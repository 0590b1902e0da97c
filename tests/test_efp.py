"""Batched EFP engine: agreement with energyflow, particles from images, names."""

from __future__ import annotations

import energyflow as ef
import numpy as np
import pytest

from leptonid import layout
from leptonid.efp import (
    ColumnCalculator,
    EFPCalculator,
    EFPGraph,
    compile_plan,
    efp_column_names,
    format_number,
    graphs_from_specs,
    iter_chunks,
    parse_column,
    particles_from_images,
    plan_for_columns,
)
from leptonid.efp.plan import max_elim_degree

KAPPAS = [-1, 0, 0.5, 1, 2]
BETAS = [0.5, 1, 2]
PAPER_SETS = [["d<=7", "p==1"], ["d<=8", "p==1", "c==4"]]
RTOL = 1e-10


def random_events(n_events: int, max_particles: int, seed: int):
    """Padded (z, eta, phi, mask) with 1 and 2 particle events and a phi wrap-around."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(3, max_particles + 1, n_events)
    counts[0], counts[1] = 1, 2
    mask = np.arange(max_particles)[None, :] < counts[:, None]
    z = np.where(mask, rng.random((n_events, max_particles)) + 1e-3, 0.0)
    z /= z.sum(axis=1, keepdims=True)
    eta = np.where(mask, rng.normal(0, 0.2, z.shape), 0.0)
    phi = np.where(mask, rng.normal(0, 0.2, z.shape), 0.0)
    phi[2, :2] = [3.1, -3.1]  # dphi wraps around 2 pi
    return z, eta, phi, mask


def energyflow_values(graphs, kappas, betas, z, eta, phi, mask) -> np.ndarray:
    """energyflow's values, shape (N, G, K, NB)."""
    events = [np.stack([z[i][mask[i]], eta[i][mask[i]], phi[i][mask[i]]], axis=1) for i in range(len(z))]
    out = np.empty((len(z), len(graphs), len(kappas), len(betas)))
    for ik, kappa in enumerate(kappas):
        for ib, beta in enumerate(betas):
            efpset = ef.EFPSet(*[g.edges for g in graphs], measure="hadr", beta=beta, kappa=kappa, normed=False)
            out[:, :, ik, ib] = efpset.batch_compute(events, n_jobs=1)
    return out


def assert_close(ours: np.ndarray, ref: np.ndarray) -> None:
    both_zero = (ours == 0) & (ref == 0)
    rel = np.abs(ours - ref) / np.where(ref == 0, 1.0, np.abs(ref))
    rel[both_zero] = 0
    assert np.all(np.isfinite(ours))
    assert rel.max() < RTOL, f"max relative difference {rel.max():.3g}"


@pytest.fixture(scope="module")
def paper_graphs() -> list[EFPGraph]:
    return graphs_from_specs(PAPER_SETS)


def test_graph_enumeration_gives_the_paper_counts(paper_graphs):
    """The paper's graph sets: 490 prime graphs with d <= 7 and 23 with d <= 8 and chromatic number 4."""
    d7 = graphs_from_specs([["d<=7", "p==1"]])
    c4 = graphs_from_specs([["d<=8", "p==1", "c==4"]])
    assert (len(d7), len(c4)) == (490, 23)
    # the union: the 4 graphs of d <= 7 with c == 4 are in both
    assert len(paper_graphs) == len({g.name for g in d7 + c4}) == 509
    assert all(g.d == len(g.edges) for g in paper_graphs)


def test_d5_set_matches_energyflow_numpy():
    graphs = graphs_from_specs([["d<=5", "p==1"]])
    z, eta, phi, mask = random_events(7, 14, seed=1)
    ours = EFPCalculator(graphs, KAPPAS, BETAS, batch_size=3).compute(z, eta, phi, mask)
    ref = energyflow_values(graphs, KAPPAS, BETAS, z, eta, phi, mask)
    assert_close(ours.reshape(ref.shape), ref)


def _sample(graphs: list[EFPGraph], n: int, seed: int) -> list[EFPGraph]:
    """All graphs that contain K4 plus a random sample of the rest."""
    heavy = [g for g in graphs if g.d >= 6 and len(g.edges) >= 6 and _has_k4(g)]
    rest = [g for g in graphs if g not in heavy]
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(rest), size=n, replace=False)
    return heavy + [rest[i] for i in sorted(pick)]


def _has_k4(g: EFPGraph) -> bool:
    from itertools import combinations

    simple = {tuple(sorted(e)) for e in g.edges}
    verts = sorted({v for e in simple for v in e})
    return any(all(p in simple for p in combinations(q, 2)) for q in combinations(verts, 4))


def test_paper_set_sample_matches_energyflow(paper_graphs):
    graphs = _sample(paper_graphs, 40, seed=2)
    assert any(_has_k4(g) for g in graphs) and any(g.d == 8 for g in graphs)
    z, eta, phi, mask = random_events(5, 9, seed=3)
    # heavy_elements this small splits the O(M^4) part into blocks of one conditioned vertex
    calc = EFPCalculator(graphs, KAPPAS, BETAS, batch_size=2, heavy_batch=1, heavy_elements=300)
    ours = calc.compute(z, eta, phi, mask)
    ref = energyflow_values(graphs, KAPPAS, BETAS, z, eta, phi, mask)
    assert_close(ours.reshape(ref.shape), ref)


def test_jax_backend_matches_energyflow(paper_graphs):
    graphs = _sample(paper_graphs, 8, seed=4)
    z, eta, phi, mask = random_events(4, 8, seed=5)
    kappas, betas = [-1, 0.5, 2], [0.5, 2]
    ours = EFPCalculator(graphs, kappas, betas, backend="jax", batch_size=4).compute(z, eta, phi, mask)
    ref = energyflow_values(graphs, kappas, betas, z, eta, phi, mask)
    assert_close(ours.reshape(ref.shape), ref)


def _treewidth3(graphs: list[EFPGraph]) -> list[EFPGraph]:
    out = []
    for g in graphs:
        adj: dict[int, set[int]] = {}
        for a, b in g.edges:
            adj.setdefault(a, set()).add(b)
            adj.setdefault(b, set()).add(a)
        if max_elim_degree(adj) > 2:
            out.append(g)
    return out


@pytest.mark.parametrize("backend", ["numpy", "jax"])
def test_k4_core_graphs_match_energyflow(paper_graphs, backend):
    """Every O(M^4) graph of the paper sets (K4 cores, with and without a subdivided edge)."""
    graphs = _treewidth3(paper_graphs)
    assert {"4_6_21", "5_7_84", "4_8_60", "6_8_347"} <= {g.name for g in graphs}
    z, eta, phi, mask = random_events(6, 16, seed=8)
    kappas, betas = ([-1, 0, 1], [0.5, 2]) if backend == "jax" else (KAPPAS, BETAS)
    ours = EFPCalculator(graphs, kappas, betas, backend=backend, batch_size=3).compute(z, eta, phi, mask)
    ref = energyflow_values(graphs, kappas, betas, z, eta, phi, mask)
    assert_close(ours.reshape(ref.shape), ref)


def test_k4_cores_in_one_event_chunks_match_energyflow(monkeypatch):
    """K4 cores evaluated one event at a time, each cut to its own multiplicity."""
    import leptonid.efp.kernels as kernels

    monkeypatch.setattr(kernels, "K4_CACHE_ELEMENTS", 1)
    graphs = [g for g in graphs_from_specs([["d<=7", "p==1"]]) if g.name in ("4_6_21", "4_7_36", "5_7_81", "5_7_84")]
    z, eta, phi, mask = random_events(5, 13, seed=9)
    ours = EFPCalculator(graphs, KAPPAS, BETAS, batch_size=5, pad_multiple=16).compute(z, eta, phi, mask)
    ref = energyflow_values(graphs, KAPPAS, BETAS, z, eta, phi, mask)
    assert_close(ours.reshape(ref.shape), ref)


def test_d7_k4_graphs_share_one_symmetric_core():
    """The four O(M^4) graphs of d<=7 are K4 cores over one shared S tensor (no conditioned vertex)."""
    graphs = graphs_from_specs([["d<=7", "p==1"]])
    plan = compile_plan([g.edges for g in graphs])
    summary = plan.cost_summary()
    assert summary.get("K") == 4 and not any(k.startswith("cond_") or k == "C" for k in summary)
    cores = {(n.weight, tuple(c for c, pos in n.children if pos == (3,))) for n in plan.nodes if n.op == "K"}
    assert len(cores) == 1


@pytest.mark.slow
def test_all_paper_graphs_match_energyflow(paper_graphs):
    z, eta, phi, mask = random_events(4, 10, seed=6)
    ours = EFPCalculator(paper_graphs, KAPPAS, BETAS).compute(z, eta, phi, mask)
    ref = energyflow_values(paper_graphs, KAPPAS, BETAS, z, eta, phi, mask)
    assert_close(ours.reshape(ref.shape), ref)


def test_images_on_pixel_grid_match_energyflow():
    """Real pixel geometry (ECal and upsampled HCal), via particles_from_images."""
    graphs = graphs_from_specs([["d<=4", "p==1"]])
    rng = np.random.default_rng(7)
    for image, shape in (("et", (3, 31, 31, 1)), ("ht", (3, 32, 32, 1))):
        imgs = np.where(rng.random(shape) < 0.02, rng.exponential(1.0, shape), 0.0).astype(np.float32)
        imgs[0] = 0
        imgs[0, 5, 7, 0] = 2.0  # one-pixel image
        z, eta, phi, mask = particles_from_images(imgs, image)
        ours = EFPCalculator(graphs, [0, 1], [1, 2]).compute(z, eta, phi, mask)
        ref = energyflow_values(graphs, [0, 1], [1, 2], z, eta, phi, mask)
        assert_close(ours.reshape(ref.shape), ref)


def test_rows_come_back_in_input_order():
    graphs = graphs_from_specs([["d<=3", "p==1"]])
    z, eta, phi, mask = random_events(11, 12, seed=8)
    calc = EFPCalculator(graphs, [1], [1], batch_size=4, pad_multiple=4)
    full = calc.compute(z, eta, phi, mask)
    perm = np.random.default_rng(9).permutation(len(z))
    again = calc.compute(z[perm], eta[perm], phi[perm], mask[perm])
    np.testing.assert_allclose(again, full[perm], rtol=1e-12)
    one_by_one = np.concatenate([calc.compute(z[i : i + 1], eta[i : i + 1], phi[i : i + 1]) for i in range(3)])
    np.testing.assert_allclose(one_by_one, full[:3], rtol=1e-12)


def test_one_and_two_particle_events_have_known_values():
    graphs = graphs_from_specs([["d<=2", "p==1"]])  # 1_0_0, 2_1_0, 2_2_0, 3_2_0
    names = [g.name for g in graphs]
    z = np.array([[1.0, 0.0], [0.25, 0.75]])
    eta = np.array([[0.1, 0.0], [0.0, 0.3]])
    phi = np.array([[0.2, 0.0], [0.0, 0.4]])
    out = EFPCalculator(graphs, [1], [2]).compute(z, eta, phi).reshape(2, len(graphs))
    theta2 = 0.3**2 + 0.4**2  # beta = 2: theta = dR^2
    assert out[0, names.index("1_0_0")] == 1.0
    assert np.all(out[0, [names.index(n) for n in ("2_1_0", "2_2_0", "3_2_0")]] == 0)
    assert out[1, names.index("2_1_0")] == pytest.approx(2 * 0.25 * 0.75 * theta2, rel=1e-14)
    assert out[1, names.index("2_2_0")] == pytest.approx(2 * 0.25 * 0.75 * theta2**2, rel=1e-14)


def test_plan_shares_sub_contractions(paper_graphs):
    plan = compile_plan([g.edges for g in paper_graphs])
    summary = plan.cost_summary()
    n_heavy_graphs = sum(_has_k4(g) for g in paper_graphs)
    # treewidth-2 graphs share a handful of O(M^3) products; K4 graphs share the O(M^4) ones
    assert summary.get("matmul", 0) < 30 < len(paper_graphs)
    assert summary.get("cond_matmul", 0) < n_heavy_graphs
    assert summary.get("generic", 0) == 0


def test_particles_from_images_geometry():
    img = np.zeros((2, 31, 31), dtype=np.float32)
    img[0, 15, 15], img[0, 0, 30] = 3.0, 1.0
    z, eta, phi, mask = particles_from_images(img, "et")
    assert z.shape == (2, 2) and mask.tolist() == [[True, True], [False, False]]
    np.testing.assert_allclose(z[0], [0.25, 0.75])  # row-major: pixel (0, 30) first
    eta_c, phi_c = layout.pixel_centres("et")
    assert (eta[0, 0], phi[0, 0]) == (eta_c[0], phi_c[30])
    assert (eta[0, 1], phi[0, 1]) == (0.0, 0.0)
    assert np.all(z[1] == 0)
    with pytest.raises(ValueError, match="shape"):
        particles_from_images(np.zeros((2, 32, 32)), "et")
    with pytest.raises(ValueError, match="unknown image"):
        particles_from_images(img, "hl")


def test_names_and_formatting():
    assert [format_number(x) for x in (-1, 0.0, 0.5, 2.0, 0.25)] == ["-1", "0", "0.5", "2", "0.25"]
    g = EFPGraph(2, 1, 0, ((0, 1),))
    names = efp_column_names([g], [-1, 0.5], [1, 2])
    assert names == ["EFP_2_1_0_k_-1_b_1", "EFP_2_1_0_k_-1_b_2", "EFP_2_1_0_k_0.5_b_1", "EFP_2_1_0_k_0.5_b_2"]
    assert parse_column(names[2]) == (2, 1, 0, 0.5, 1.0)
    with pytest.raises(ValueError):
        parse_column("EFP_2_1_0")


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="not connected"):
        compile_plan([[(0, 1), (2, 3)]])
    with pytest.raises(ValueError, match="self-loop"):
        compile_plan([[(0, 0)]])
    g = [EFPGraph(2, 1, 0, ((0, 1),))]
    with pytest.raises(ValueError, match="backend"):
        EFPCalculator(g, [1], [1], backend="torch")
    with pytest.raises(ValueError, match="beta"):
        EFPCalculator(g, [1], [0.0])
    with pytest.raises(ValueError, match="composite"):
        graphs_from_specs([["d<=2"]])
    standardised = np.full((2, 31, 31, 1), -0.1)
    with pytest.raises(ValueError, match="negative pixels.*unscaled"):
        particles_from_images(standardised, "et")


def test_iter_chunks_cover_rows_once():
    chunks = iter_chunks(10, 3)
    assert chunks[0][0] == 0 and chunks[-1][1] == 10
    assert all(a[1] == b[0] for a, b in zip(chunks, chunks[1:]))
    assert iter_chunks(2, 4)[-1] == (2, 2)
    with pytest.raises(ValueError):
        iter_chunks(10, 0)


@pytest.mark.parametrize("backend", ["numpy", "jax"])
def test_treewidth_4_graph_uses_the_generic_einsum_and_matches_energyflow(backend):
    """K5 (5_10_770, in EFPSet("d<=10")): no K4 core, no conditioning vertex, so batched einsums."""
    (k5,) = [g for g in graphs_from_specs([["n==5", "d==10", "p==1"]]) if len(set(g.edges)) == 10]
    assert k5.name == "5_10_770"
    assert compile_plan([k5.edges]).cost_summary().get("generic", 0) >= 2
    z, eta, phi, mask = random_events(4, 7, seed=10)
    kappas, betas = [0.5, 1], [1, 2]
    ours = EFPCalculator([k5], kappas, betas, backend=backend, batch_size=2).compute(z, eta, phi, mask)
    ref = energyflow_values([k5], kappas, betas, z, eta, phi, mask)
    assert_close(ours.reshape(ref.shape), ref)


def test_selected_columns_equal_the_full_computation(paper_graphs):
    """plan_for_columns: only the requested columns, in the requested order, as in the full table."""
    graphs = [g for g in paper_graphs if g.d <= 4 or g.name in ("4_6_21", "5_7_84", "6_8_347")]
    z, eta, phi, mask = random_events(7, 12, seed=11)
    calc = EFPCalculator(graphs, KAPPAS, BETAS, batch_size=3)
    full = calc.compute(z, eta, phi, mask)
    rng = np.random.default_rng(12)
    pick = rng.choice(len(calc.columns), size=30, replace=False)  # random order
    columns = [calc.columns[i] for i in pick]
    plan = plan_for_columns(columns, graphs)
    assert plan.n_evaluated < len(calc.columns)
    for group in plan.groups:  # nothing evaluated that no requested column needs
        wanted = [parse_column(c) for c in columns if parse_column(c)[4] == group.beta]
        assert {g.name for g in group.graphs} == {f"{n}_{d}_{k}" for n, d, k, _, _ in wanted}
        assert set(group.kappas) == {kappa for *_, kappa, _ in wanted}
    sub = ColumnCalculator(plan, batch_size=3)
    assert sub.columns == columns
    values = sub.compute(z, eta, phi, mask)
    assert values.shape == (len(z), len(columns))
    np.testing.assert_allclose(values, full[:, pick], rtol=1e-12, atol=0)


def test_plan_for_columns_finds_graphs_and_rejects_bad_names(paper_graphs):
    columns = ["EFP_4_6_21_k_1_b_2", "EFP_2_1_0_k_0.5_b_0.5", "EFP_2_1_0_k_-1_b_0.5"]
    assert plan_for_columns(columns) == plan_for_columns(columns, paper_graphs)  # enumerated with energyflow
    group_half, group_two = plan_for_columns(columns).groups
    assert (group_half.beta, group_half.kappas, [g.name for g in group_half.graphs]) == (0.5, (-1.0, 0.5), ["2_1_0"])
    assert (group_two.beta, group_two.kappas, [g.name for g in group_two.graphs]) == (2.0, (1.0,), ["4_6_21"])
    empty = ColumnCalculator(plan_for_columns([]))
    assert empty.compute(*random_events(3, 4, seed=0)).shape == (3, 0)
    with pytest.raises(ValueError, match="canonical"):
        plan_for_columns(["EFP_2_1_0_k_1.0_b_1"])
    with pytest.raises(ValueError, match="unique"):
        plan_for_columns(["EFP_2_1_0_k_1_b_1"] * 2, paper_graphs)
    with pytest.raises(ValueError, match="not in the given graph set"):
        plan_for_columns(["EFP_5_10_770_k_1_b_1"], paper_graphs)
    with pytest.raises(ValueError, match="beta"):
        plan_for_columns(["EFP_2_1_0_k_1_b_0"], paper_graphs)
