"""ADO: hand-made scorings with known answers, ties, and fast == exact == reference."""

from __future__ import annotations

import numpy as np
import pytest

from leptonid.search.ado import (
    PairSet,
    ado_on_pairs,
    ado_reference,
    all_pairs,
    decision_ordering,
    dense_ranks,
    disordered_on_grid,
    disordered_pairs,
    exact_ado,
    fold,
    sample_grid,
)


def _grid_ado(f, g, y):
    s, b = all_pairs(y)
    return float(ado_reference(f, np.asarray(g)[:, None], s, b)[0])


def test_identical_scorings_have_ado_one():
    rng = np.random.default_rng(0)
    f = rng.standard_normal(200)
    y = (rng.random(200) < 0.5).astype(int)
    assert exact_ado(f, f, y) == pytest.approx(1.0)
    assert exact_ado(f, 3 * f + 1, y) == pytest.approx(1.0)  # only the order matters
    s, b = all_pairs(y)
    assert ado_on_pairs(f, f[:, None], s, b)[0] == pytest.approx(1.0)


def test_reversed_scoring_is_one_after_the_flip():
    rng = np.random.default_rng(1)
    f = rng.standard_normal(150)
    y = (rng.random(150) < 0.4).astype(int)
    assert exact_ado(f, -f, y, fold_result=False) == pytest.approx(0.0)
    assert exact_ado(f, -f, y) == pytest.approx(1.0)
    s, b = all_pairs(y)
    assert ado_on_pairs(f, -f[:, None], s, b, fold_result=False)[0] == pytest.approx(0.0)
    assert ado_on_pairs(f, -f[:, None], s, b)[0] == pytest.approx(1.0)


def test_independent_scorings_are_about_one_half():
    rng = np.random.default_rng(2)
    n = 4000
    y = (rng.random(n) < 0.5).astype(int)
    f, g = rng.standard_normal(n), rng.standard_normal(n)
    assert exact_ado(f, g, y) == pytest.approx(0.5, abs=0.01)


def test_ties_count_one_half_hand_computed():
    # signal events 0, 1; background events 2, 3 -> pairs (0,2) (0,3) (1,2) (1,3)
    y = np.array([1, 1, 0, 0])
    f = np.array([2.0, 1.0, 1.0, 0.0])
    g = np.array([5.0, 5.0, 5.0, 6.0])
    # pair:  df  dg  product -> DO
    # (0,2):  1   0   0      -> 1/2 (tie in g)
    # (0,3):  2  -1  -2      -> 0
    # (1,2):  0   0   0      -> 1/2 (tie in both)
    # (1,3):  1  -1  -1      -> 0
    raw = (0.5 + 0 + 0.5 + 0) / 4
    s, b = all_pairs(y)
    np.testing.assert_array_equal(decision_ordering(f, g, s, b), [0.5, 0.0, 0.5, 0.0])
    assert exact_ado(f, g, y, fold_result=False) == pytest.approx(raw)
    assert exact_ado(f, g, y) == pytest.approx(1 - raw)  # 0.25 < 1/2 -> folded to 0.75
    assert ado_on_pairs(f, g[:, None], s, b, fold_result=False)[0] == pytest.approx(raw)
    assert ado_reference(f, g[:, None], s, b)[0] == pytest.approx(0.75)
    assert fold(0.25) == 0.75 and fold(0.8) == 0.8


def test_reference_tie_pairs_are_one_half_for_every_candidate():
    y = np.array([1, 0, 1, 0])
    f = np.zeros(4)  # the reference ties every pair
    cand = np.random.default_rng(3).standard_normal((4, 5))
    s, b = all_pairs(y)
    np.testing.assert_allclose(ado_on_pairs(f, cand, s, b, fold_result=False), 0.5)
    np.testing.assert_allclose(exact_ado(f, cand, y, fold_result=False), 0.5)


@pytest.mark.parametrize("seed", range(6))
def test_exact_ado_equals_brute_force_with_ties(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(10, 400))
    y = (rng.random(n) < rng.uniform(0.2, 0.8)).astype(int)
    y[:2] = [0, 1]
    f = rng.integers(0, 7, n).astype(float)  # many ties
    g = rng.integers(0, 5, (n, 4)).astype(float)
    g[:, 1] = f + rng.integers(0, 2, n)  # correlated, with ties
    g[:, 2] = rng.standard_normal(n)  # no ties
    g[:, 3] = 1.0  # all tied
    s, b = all_pairs(y)
    brute = ado_reference(f, g, s, b, fold_result=False)
    np.testing.assert_allclose(exact_ado(f, g, y, fold_result=False), brute, atol=1e-12)
    np.testing.assert_allclose(exact_ado(f, g, y, batch=3), fold(brute), atol=1e-12)
    assert exact_ado(f, g[:, 1], y) == pytest.approx(fold(brute[1]))


@pytest.mark.parametrize("n_events", [300, 40000])  # int16 and int32 rank paths
def test_ado_on_pairs_equals_reference(n_events):
    rng = np.random.default_rng(7)
    y = (rng.random(n_events) < 0.5).astype(int)
    ref = np.round(rng.standard_normal(n_events), 1)  # ties in the reference too
    cand = np.column_stack(
        [
            ref + rng.standard_normal(n_events),
            np.round(rng.standard_normal((n_events, 5)), 1),
            np.exp(rng.standard_normal((n_events, 3)) * 5),  # spans decades
            -ref,
        ]
    ).astype(np.float64)
    sig, bkg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    p = 20000
    s, b = rng.choice(sig, p), rng.choice(bkg, p)
    want = ado_reference(ref, cand, s, b, fold_result=False)
    got = ado_on_pairs(ref, cand, s, b, fold_result=False, block=4, chunk=777, threads=2)
    np.testing.assert_allclose(got, want, atol=1e-12)
    np.testing.assert_allclose(ado_on_pairs(ref, cand.astype(np.float32), s, b), fold(
        ado_reference(ref, cand.astype(np.float32), s, b, fold_result=False)), atol=1e-12)


def test_ado_on_pairs_column_subset():
    rng = np.random.default_rng(8)
    y = (rng.random(500) < 0.5).astype(int)
    ref, cand = rng.standard_normal(500), rng.standard_normal((500, 7))
    s, b = all_pairs(y)
    full = ado_on_pairs(ref, cand, s, b)
    np.testing.assert_allclose(ado_on_pairs(ref, cand, s, b, columns=[5, 1], block=1), full[[5, 1]])
    assert ado_on_pairs(ref, cand, s, b, columns=[]).shape == (0,)
    with pytest.raises(ValueError, match="columns out of range"):
        ado_on_pairs(ref, cand, s, b, columns=[7])


def test_dense_ranks_preserve_order_and_ties():
    x = np.array([[3.0, 1.0], [1.0, 1.0], [3.0, -2.0], [2.0, 5.0]])
    np.testing.assert_array_equal(dense_ranks(x), [[2, 1], [0, 1], [2, 0], [1, 2]])


def test_disordered_pairs_keep_exactly_the_misordered():
    rng = np.random.default_rng(4)
    n = 300
    y = (rng.random(n) < 0.5).astype(int)
    ref = rng.standard_normal(n)
    cur = ref + rng.standard_normal(n)
    cur[:10] = 0.0  # ties in the current scores count as not ordered like the reference
    pairs = disordered_pairs(ref, cur, y, 1000, 1000, np.random.default_rng(0))  # capped at what exists
    assert pairs.n_grid == int(y.sum() * (1 - y).sum())
    do = decision_ordering(ref, cur, pairs.sig_idx, pairs.bkg_idx)
    assert (do < 1).all()
    s, b = all_pairs(y)
    dref = np.sign(ref[s] - ref[b])
    expected = int(((dref != 0) & (decision_ordering(ref, cur, s, b) < 1)).sum())
    assert len(pairs) == expected
    # a network that orders like the reference leaves no pair
    none = disordered_on_grid(ref, ref, *sample_grid(y, 50, 50, np.random.default_rng(1)))
    assert isinstance(none, PairSet) and len(none) == 0


def test_input_errors_are_clear():
    y = np.array([1, 0])
    with pytest.raises(ValueError, match="differ in length"):
        ado_on_pairs(np.zeros(2), np.zeros((2, 1)), [0], [1, 0])
    with pytest.raises(ValueError, match="out of range"):
        ado_on_pairs(np.zeros(2), np.zeros((2, 1)), [0], [5])
    with pytest.raises(ValueError, match="shape"):
        ado_on_pairs(np.zeros(2), np.zeros((3, 1)), [0], [1])
    with pytest.raises(ValueError, match="both signal and background"):
        exact_ado(np.zeros(2), np.zeros(2), np.array([1, 1]))
    with pytest.raises(ValueError, match="NaN"):
        exact_ado(np.array([np.nan, 1.0]), np.zeros(2), y)


def _old_strict_dominance(x_rank, is_query, y_ranks):
    """The former O(n log^2 n) merge-level count (kept here as an independent reference).

    For each query point and column: data points with smaller x AND smaller y.
    """
    n, m = y_ranks.shape
    sweep = np.lexsort((~is_query, x_rank))  # queries first at equal x: equal x never counts
    q_sweep = is_query[sweep]
    y_sweep = y_ranks[sweep].astype(np.int64)
    span = int(y_sweep.max()) + 2
    pos = np.arange(n, dtype=np.int64)
    counts = np.zeros((n, m), dtype=np.int64)
    col_offset = np.arange(m, dtype=np.int64)[None, :]
    h = 1
    while h < n:
        blk = pos // (2 * h)
        right = (pos // h) % 2 == 1
        data_left, query_right = ~right & ~q_sweep, right & q_sweep
        if data_left.any() and query_right.any():
            n_blk = int(blk[-1]) + 1
            keys = np.sort((((col_offset * n_blk + blk[data_left][:, None]) * span) + y_sweep[data_left]).reshape(-1))
            base_q = (col_offset * n_blk + blk[query_right][:, None]) * span
            lo = np.searchsorted(keys, base_q.reshape(-1), side="left")
            hi = np.searchsorted(keys, (base_q + y_sweep[query_right]).reshape(-1), side="left")
            counts[query_right] += (hi - lo).reshape(-1, m)
        h *= 2
    out = np.empty((n, m), dtype=np.int64)
    out[sweep] = counts
    return out[is_query]


def _old_exact_ado_raw(f, g, y):
    """Raw exact ADO by the four strict quadrant counts of the former implementation."""
    is_sig = np.asarray(y).astype(bool)
    fr = dense_ranks(f, dtype=np.int64)[:, 0]
    gr = dense_ranks(g, dtype=np.int64)
    total = np.zeros(gr.shape[1], dtype=np.int64)
    for sx, sy, weight in ((1, 1, 1), (-1, -1, 1), (1, -1, -1), (-1, 1, -1)):
        xr = fr if sx == 1 else fr.max() - fr
        yr = gr if sy == 1 else gr.max(axis=0, keepdims=True) - gr
        total += weight * _old_strict_dominance(xr, is_sig, yr).sum(axis=0)
    return 0.5 + 0.5 * total / (float(is_sig.sum()) * float((~is_sig).sum()))


@pytest.mark.parametrize("seed", range(4))
def test_exact_ado_equals_former_merge_level_implementation(seed):
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(500, 3000))
    y = (rng.random(n) < rng.uniform(0.1, 0.9)).astype(int)
    f = np.round(rng.standard_normal(n) + y, 1)  # ~60 distinct values: heavy ties
    g = np.column_stack(
        [
            np.round(f + rng.standard_normal(n), 1),  # correlated, ties
            rng.integers(0, 3, n),  # three values
            rng.standard_normal(n),  # no ties
            -f,  # reversed
            np.where(rng.random(n) < 0.5, f, 0.0),  # ties in f and g together
        ]
    ).astype(np.float64)
    old = _old_exact_ado_raw(f, g, y)
    np.testing.assert_allclose(exact_ado(f, g, y, fold_result=False), old, atol=1e-12)
    np.testing.assert_allclose(exact_ado(f, g, y, batch=2), fold(old), atol=1e-12)
    assert exact_ado(f, g[:, 0], y, fold_result=False) == pytest.approx(old[0], abs=1e-12)


def test_exact_ado_edge_cases_equal_brute_force():
    rng = np.random.default_rng(9)
    for n in (2, 3, 5, 17, 64, 65):  # tiny and power-of-two edges of the bit levels
        y = np.r_[0, 1, (rng.random(n - 2) < 0.5).astype(int)]
        f = rng.integers(0, 3, n).astype(float)
        g = np.column_stack([rng.integers(0, k, n) for k in (1, 2, 4, n + 1)]).astype(float)
        s, b = all_pairs(y)
        brute = ado_reference(f, g, s, b, fold_result=False)
        np.testing.assert_allclose(exact_ado(f, g, y, fold_result=False, batch=3), brute, atol=1e-12)
