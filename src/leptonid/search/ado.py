"""Decision ordering (DO) and average decision ordering (ADO) of classifiers.

Definition (Faucett, Thaler, Whiteson, PRD 103, 036020 (2021),
arXiv:2010.11998, Eq. for DO/ADO; used by Collado et al., PRD 103, 116028
(2021) in the guided EFP search): for a pair (x, x') of one signal event x
and one background event x',

    DO[f, g](x, x') = Theta((f(x) - f(x')) (g(x) - g(x'))),

and ADO[f, g] is the mean of DO over pairs, replaced by 1 - ADO when below
1/2 (a classifier and its reverse order pairs equally well).

Tie rule: Theta(0) = 1/2. A pair on which either classifier gives equal
scores counts one half. This is the Heaviside function of the authors'
reference implementation, ``heaviside(x) = 0.5 * (sign(x) + 1)``
(github.com/tfaucett/average-decision-ordering), and it makes the fold
exact: reversing g maps ADO to 1 - ADO. It is applied everywhere in this
module, so that

    raw ADO = 1/2 + 1/2 * mean over pairs of sign(df) * sign(dg).

All functions here work on that signed sum. "raw" is the unfolded
orientation (signal minus background); :func:`fold` applies max(a, 1 - a).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

__all__ = [
    "PairSet",
    "fold",
    "decision_ordering",
    "ado_reference",
    "ado_on_pairs",
    "exact_ado",
    "disordered_pairs",
    "disordered_on_grid",
    "sample_grid",
    "all_pairs",
    "dense_ranks",
]


def fold(raw: np.ndarray | float) -> np.ndarray | float:
    """max(a, 1 - a): the ADO of a raw (oriented) ADO value."""
    raw_arr = np.asarray(raw, dtype=np.float64)
    out = np.maximum(raw_arr, 1.0 - raw_arr)
    return float(out) if out.ndim == 0 else out


def _as_1d(name: str, x: np.ndarray) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64).reshape(-1)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinity")
    return arr


def _as_2d(name: str, x: np.ndarray, n_events: int) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] != n_events:
        raise ValueError(f"{name} must have shape (n_events={n_events}, n_candidates), got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{name} must be numeric, got {arr.dtype}")
    return arr


def _check_pairs(sig_idx: np.ndarray, bkg_idx: np.ndarray, n_events: int) -> tuple[np.ndarray, np.ndarray]:
    sig = np.asarray(sig_idx, dtype=np.int64).reshape(-1)
    bkg = np.asarray(bkg_idx, dtype=np.int64).reshape(-1)
    if sig.shape != bkg.shape:
        raise ValueError(f"sig_idx and bkg_idx differ in length: {sig.size} vs {bkg.size}")
    if sig.size == 0:
        raise ValueError("no pairs given")
    for name, idx in (("sig_idx", sig), ("bkg_idx", bkg)):
        if idx.min() < 0 or idx.max() >= n_events:
            raise ValueError(f"{name} out of range [0, {n_events})")
    return sig, bkg


def decision_ordering(
    f: np.ndarray, g: np.ndarray, sig_idx: np.ndarray, bkg_idx: np.ndarray
) -> np.ndarray:
    """DO of each pair (sig_idx[p], bkg_idx[p]): 1 same order, 0 opposite, 1/2 a tie."""
    f = _as_1d("f", f)
    g = _as_1d("g", g)
    if f.shape != g.shape:
        raise ValueError(f"f and g differ in length: {f.size} vs {g.size}")
    sig, bkg = _check_pairs(sig_idx, bkg_idx, f.size)
    return 0.5 * (np.sign(f[sig] - f[bkg]) * np.sign(g[sig] - g[bkg]) + 1.0)


def ado_reference(
    ref_scores: np.ndarray,
    candidates: np.ndarray,
    sig_idx: np.ndarray,
    bkg_idx: np.ndarray,
    fold_result: bool = True,
    chunk: int = 1 << 16,
) -> np.ndarray:
    """Plain numpy ADO (Heaviside of the product of differences, ties 1/2), chunked over pairs.

    The slow, obviously-correct reference for tests and the benchmark:
    float64 differences of the raw values, no ranking, no threads.
    """
    ref = _as_1d("ref_scores", ref_scores)
    cand = _as_2d("candidates", candidates, ref.size)
    sig, bkg = _check_pairs(sig_idx, bkg_idx, ref.size)
    total = np.zeros(cand.shape[1], dtype=np.float64)
    for start in range(0, sig.size, chunk):
        s, b = sig[start : start + chunk], bkg[start : start + chunk]
        dref = (ref[s] - ref[b])[:, None]
        dcand = cand[s].astype(np.float64) - cand[b].astype(np.float64)
        total += np.heaviside(dref * dcand, 0.5).sum(axis=0)
    raw = total / sig.size
    return fold(raw) if fold_result else raw  # type: ignore[return-value]


# --- fast ADO on a list of pairs ------------------------------------------


def dense_ranks(values: np.ndarray, dtype: type = np.int32) -> np.ndarray:
    """Dense ranks (0, 1, ... with equal values sharing a rank) of each column of ``values``.

    ``values`` is ``(n, m)``; the result is ``(n, m)`` C-contiguous of
    ``dtype``. Order and ties are preserved exactly, so any comparison of
    ranks equals the comparison of the values.
    """
    values = np.asarray(values)
    if values.ndim == 1:
        values = values[:, None]
    cols = np.ascontiguousarray(values.T)  # sort along contiguous rows
    order = np.argsort(cols, axis=1)  # any order among equal values gives the same ranks
    srt = np.take_along_axis(cols, order, axis=1)
    dense = np.empty(cols.shape, dtype=dtype)
    dense[:, 0] = 0
    np.cumsum(srt[:, 1:] != srt[:, :-1], axis=1, out=dense[:, 1:])
    ranks = np.empty_like(dense)
    np.put_along_axis(ranks, order, dense, axis=1)
    return np.ascontiguousarray(ranks.T)


def _signed_sums(ranks: np.ndarray, a: np.ndarray, b: np.ndarray, chunk: int) -> np.ndarray:
    """Sum over pairs of sign(ranks[a] - ranks[b]) for each column, in pair chunks."""
    acc = np.zeros(ranks.shape[1], dtype=np.int64)
    diff_dtype = ranks.dtype  # ranks < 2**15 (int16) or < 2**31 (int32): differences fit
    for start in range(0, a.size, chunk):
        diff = np.subtract(ranks[a[start : start + chunk]], ranks[b[start : start + chunk]], dtype=diff_dtype)
        acc += np.sign(diff).sum(axis=0, dtype=np.int64)
    return acc


def ado_on_pairs(
    ref_scores: np.ndarray,
    candidates: np.ndarray,
    sig_idx: np.ndarray,
    bkg_idx: np.ndarray,
    fold_result: bool = True,
    block: int = 128,
    chunk: int = 2048,
    threads: int | None = None,
    columns: np.ndarray | None = None,
) -> np.ndarray:
    """ADO of every column of ``candidates`` against ``ref_scores`` on the given pairs.

    ``ref_scores`` is ``(n_events,)``, ``candidates`` ``(n_events, n_candidates)``
    (any real dtype), pair p is (signal ``sig_idx[p]``, background
    ``bkg_idx[p]``). Returns ``(n_candidates,)`` float64, folded unless
    ``fold_result`` is False. Ties count 1/2 (module docstring).
    ``columns`` (optional) evaluates only those column indices, in that
    order, without copying the rest of ``candidates``.

    How: pairs on which the reference ties contribute exactly 1/2 to every
    candidate and are dropped from the work; the others are oriented so the
    reference says "first > second" (swap the two events where it says <),
    so that sum DO = n_tied/2 + sum (1 + sign(c[first] - c[second]))/2.
    Only the events that occur in a pair are kept; each block of
    ``block`` columns is rank-transformed (int16 when fewer than 32,768
    events remain, else int32), and sign differences of gathered rank
    rows are summed over ``chunk`` pairs at a time (pairs sorted by first
    event for locality). Column blocks run on ``threads`` threads (numpy
    releases the GIL); default ``os.cpu_count()``.
    """
    ref = _as_1d("ref_scores", ref_scores)
    cand = _as_2d("candidates", candidates, ref.size)
    sig, bkg = _check_pairs(sig_idx, bkg_idx, ref.size)
    n_pairs = sig.size
    dref = np.sign(ref[sig] - ref[bkg])
    keep = dref != 0
    first = np.where(dref > 0, sig, bkg)[keep]
    second = np.where(dref > 0, bkg, sig)[keep]
    if first.size == 0:
        raw = np.full(cand.shape[1] if columns is None else np.size(columns), 0.5)
        return fold(raw) if fold_result else raw  # type: ignore[return-value]
    used, inverse = np.unique(np.concatenate([first, second]), return_inverse=True)
    first_u = inverse[: first.size]
    second_u = inverse[first.size :]
    order = np.lexsort((second_u, first_u))
    rank_dtype = np.int16 if used.size < 2**15 else np.int32
    first_u = first_u[order].astype(np.intp)
    second_u = second_u[order].astype(np.intp)

    cols = np.arange(cand.shape[1]) if columns is None else np.asarray(columns, dtype=np.intp).reshape(-1)
    if cols.size and (cols.min() < 0 or cols.max() >= cand.shape[1]):
        raise ValueError(f"columns out of range [0, {cand.shape[1]})")

    def one_block(start: int) -> np.ndarray:
        ranks = dense_ranks(cand[np.ix_(used, cols[start : start + block])], dtype=rank_dtype)
        return _signed_sums(ranks, first_u, second_u, chunk)

    starts = list(range(0, cols.size, block))
    workers = max(1, min(threads or os.cpu_count() or 1, len(starts)))
    if workers == 1:
        sums = [one_block(s) for s in starts]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            sums = list(pool.map(one_block, starts))
    signed = np.concatenate(sums).astype(np.float64) if sums else np.zeros(0)
    raw = 0.5 + 0.5 * signed / n_pairs  # tied-reference pairs add 0 to the signed sum
    return fold(raw) if fold_result else raw  # type: ignore[return-value]


# --- exact ADO over all signal x background pairs -------------------------


def _scatter(values: np.ndarray, new_pos: np.ndarray) -> np.ndarray:
    """``out[new_pos] = values`` for a permutation ``new_pos``."""
    out = np.empty_like(values)
    out[new_pos] = values
    return out


def _cross_discordant(v: np.ndarray, is_sig: np.ndarray, n_bits: int) -> np.ndarray:
    """Per row of ``v``: the pairs i < j with ``v[i] > v[j]`` and ``is_sig[i] != is_sig[j]``.

    ``v`` (m, n) non-negative integers below ``2**n_bits``, ``is_sig`` (m, n)
    bool; returns (m,) int64. A pair with v[i] > v[j] is counted at the
    highest bit where the two values differ: there they share the bits
    above (the same group), i has a 1 and j a 0. Going down from the top
    bit, the elements of each row are kept grouped by those higher bits,
    in their original order within a group (an MSD radix sort done one
    bit at a time). At each bit, one cumulative sum gives every 0-bit
    element the number of earlier 1-bit elements of its group with the
    other label, and a stable partition of every group by the bit (index
    arithmetic on the same sums, no sort) gives the groups of the next
    bit. O(n) per bit, O(n n_bits) in all, all rows at once; no pair is
    formed.
    """
    m, n = v.shape
    size = m * n
    v = v.reshape(-1).copy()
    sig = is_sig.reshape(-1).copy()
    pos = np.arange(size, dtype=np.intp)
    start = np.repeat(np.arange(m, dtype=np.intp) * n, n)  # group of each element: [start, end)
    end = start + n
    counts = np.zeros(m, dtype=np.int64)
    c_one = np.zeros(size + 1, dtype=np.intp)  # c_one[p]: 1-bit elements before position p
    c_sig = np.zeros(size + 1, dtype=np.intp)  # the same, signal only
    for level in range(n_bits - 1, -1, -1):
        bit = ((v >> level) & 1).astype(bool)
        np.cumsum(bit, out=c_one[1:])
        np.cumsum(bit & sig, out=c_sig[1:])
        one_at_start = c_one[start]
        ones_before = c_one[:-1] - one_at_start  # earlier 1-bit elements of the group
        sig_ones_before = c_sig[:-1] - c_sig[start]
        opposite = np.where(sig, ones_before - sig_ones_before, sig_ones_before)
        opposite[bit] = 0
        counts += opposite.reshape(m, n).sum(axis=1, dtype=np.int64)
        if level == 0:
            break
        split = end - (c_one[end] - one_at_start)  # 0-bit elements go to [start, split), 1-bit to [split, end)
        new_pos = np.where(bit, split + ones_before, pos - ones_before)
        new_start = np.where(bit, split, start)
        new_end = np.where(bit, end, split)
        v, sig, start, end = (_scatter(arr, new_pos) for arr in (v, sig, new_start, new_end))
    return counts


def _cross_ties(groups: np.ndarray, is_sig: np.ndarray) -> np.ndarray:
    """Per row of ``groups`` (m, n) integer labels: signal x background pairs with equal labels."""
    m, n = groups.shape
    span = int(groups.max()) + 1
    flat = (groups + np.arange(m, dtype=np.int64)[:, None] * span).reshape(-1)
    sig = np.broadcast_to(is_sig, groups.shape).reshape(-1)
    n_s = np.bincount(flat[sig], minlength=m * span)
    n_b = np.bincount(flat[~sig], minlength=m * span)
    return (n_s * n_b).reshape(m, -1).sum(axis=1)


def exact_ado(
    f: np.ndarray, g: np.ndarray, y: np.ndarray, fold_result: bool = True, batch: int = 8
) -> np.ndarray | float:
    """Exact ADO of ``f`` with each column of ``g`` over ALL signal x background pairs.

    ``f`` (n,) is the reference, ``g`` (n,) or (n, m) the other classifier(s),
    ``y`` (n,) labels (1 signal, 0 background). Ties count 1/2. Returns a
    float for 1-d ``g``, else (m,) float64.

    The signed sum over pairs of sign(f_s - f_b) sign(g_s - g_b) is
    C - D, the strictly concordant minus the strictly discordant pairs,
    and C + D = N - T_f - T_g + T_fg (all pairs less those tied in f or in
    g, the pairs tied in both added back), so C - D = N - T_f - T_g + T_fg
    - 2 D (the tau-b numerator of Knight's algorithm, restricted to
    signal x background pairs). The tie counts come from bincounts of
    dense ranks. For D the events are sorted by (f, g); a pair is then
    strictly discordant exactly when the earlier event has the larger g
    (events of equal f are in g order and never count), so D is the
    number of signal-background inversions of the g ranks in that order,
    counted bit by bit (:func:`_cross_discordant`).

    Cost: O(n log n) time per column (two O(n log n) sorts, then one
    linear pass per bit of the largest g rank, at most ceil(log2 n)
    passes) and O(n) memory per column; the n_s * n_b pairs (4.6e8 at
    paper size) are never formed. Columns go ``batch`` at a time, each
    pass vectorised over the batch (memory O(batch * n)).
    """
    f1 = _as_1d("f", f)
    g2 = _as_2d("g", g, f1.size).astype(np.float64)
    if not np.isfinite(g2).all():
        raise ValueError("g contains NaN or infinity")
    lab = np.asarray(y).reshape(-1)
    if lab.size != f1.size:
        raise ValueError(f"y and f differ in length: {lab.size} vs {f1.size}")
    if not np.isin(lab, (0, 1)).all():
        raise ValueError("labels must be 0 (background) or 1 (signal)")
    is_sig = lab.astype(bool)
    n_sig, n_bkg = int(is_sig.sum()), int((~is_sig).sum())
    if n_sig == 0 or n_bkg == 0:
        raise ValueError("need both signal and background events")
    n_pairs = n_sig * n_bkg
    fr = dense_ranks(f1, dtype=np.int64)[:, 0]
    tie_f = int(_cross_ties(fr[None, :], is_sig)[0])
    signed = np.zeros(g2.shape[1], dtype=np.float64)
    for start in range(0, g2.shape[1], batch):
        gr = dense_ranks(g2[:, start : start + batch], dtype=np.int64).T  # (m, n)
        span = int(gr.max()) + 1
        key = fr[None, :] * span + gr  # (f, g) order; equal keys are tied in both
        order = np.argsort(key, axis=1)
        key_sorted = np.take_along_axis(key, order, axis=1)
        joint = np.zeros(key.shape, dtype=np.int64)
        np.cumsum(key_sorted[:, 1:] != key_sorted[:, :-1], axis=1, out=joint[:, 1:])
        sig_sorted = is_sig[order]
        tie_g = _cross_ties(gr, is_sig)
        tie_fg = _cross_ties(joint, sig_sorted)
        disc = _cross_discordant(np.take_along_axis(gr, order, axis=1), sig_sorted, (span - 1).bit_length())
        signed[start : start + gr.shape[0]] = n_pairs - tie_f - tie_g + tie_fg - 2 * disc
    raw = 0.5 + 0.5 * signed / (float(n_sig) * float(n_bkg))
    out = fold(raw) if fold_result else raw
    if np.ndim(g) == 1:
        return float(np.asarray(out)[0])
    return out  # type: ignore[return-value]


# --- pairs the current network orders differently from the reference -----


@dataclass(frozen=True)
class PairSet:
    """Signal-background pairs: ``sig_idx[p]``, ``bkg_idx[p]`` index events of one split.

    ``n_grid`` is the number of pairs sampled (n_signal x n_background)
    before the disordered ones were kept.
    """

    sig_idx: np.ndarray
    bkg_idx: np.ndarray
    n_grid: int

    def __len__(self) -> int:
        return int(self.sig_idx.size)


def sample_grid(
    y: np.ndarray, n_signal: int, n_background: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Draw (without replacement, capped at what exists) signal and background event indices."""
    lab = np.asarray(y).reshape(-1).astype(bool)
    sig_all, bkg_all = np.flatnonzero(lab), np.flatnonzero(~lab)
    if sig_all.size == 0 or bkg_all.size == 0:
        raise ValueError("need both signal and background events to draw pairs")
    if n_signal < 1 or n_background < 1:
        raise ValueError(f"n_signal and n_background must be >= 1, got {n_signal}, {n_background}")
    sig = np.sort(rng.choice(sig_all, size=min(n_signal, sig_all.size), replace=False))
    bkg = np.sort(rng.choice(bkg_all, size=min(n_background, bkg_all.size), replace=False))
    return sig, bkg


def disordered_on_grid(
    ref_scores: np.ndarray,
    current_scores: np.ndarray,
    sig: np.ndarray,
    bkg: np.ndarray,
    rows: int = 512,
) -> PairSet:
    """Keep the pairs of the grid ``sig x bkg`` that the current scores do not order like the reference.

    Kept: the reference orders the pair strictly and the current scores
    order it the other way or tie (DO < 1). Pairs the reference ties have
    DO = 1/2 for every candidate, so they cannot guide the choice and are
    left out.
    """
    ref = _as_1d("ref_scores", ref_scores)
    cur = _as_1d("current_scores", current_scores)
    if ref.shape != cur.shape:
        raise ValueError(f"reference and current scores differ in length: {ref.size} vs {cur.size}")
    sig = np.asarray(sig, dtype=np.int64)
    bkg = np.asarray(bkg, dtype=np.int64)
    out_s: list[np.ndarray] = []
    out_b: list[np.ndarray] = []
    rb, cb = ref[bkg][None, :], cur[bkg][None, :]
    for start in range(0, sig.size, rows):
        s = sig[start : start + rows]
        dref = np.sign(ref[s][:, None] - rb)
        dcur = np.sign(cur[s][:, None] - cb)
        i, j = np.nonzero((dref != 0) & (dref * dcur <= 0))
        out_s.append(s[i])
        out_b.append(bkg[j])
    return PairSet(
        sig_idx=np.concatenate(out_s) if out_s else np.empty(0, np.int64),
        bkg_idx=np.concatenate(out_b) if out_b else np.empty(0, np.int64),
        n_grid=int(sig.size * bkg.size),
    )


def disordered_pairs(
    ref_scores: np.ndarray,
    current_scores: np.ndarray,
    y: np.ndarray,
    n_signal: int,
    n_background: int,
    rng: np.random.Generator,
) -> PairSet:
    """Sample an ``n_signal x n_background`` grid of pairs and keep the disordered ones.

    See :func:`sample_grid` and :func:`disordered_on_grid`; the authors
    used about 6000 x 6000.
    """
    sig, bkg = sample_grid(y, n_signal, n_background, rng)
    return disordered_on_grid(ref_scores, current_scores, sig, bkg)


def all_pairs(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every signal x background pair of a (small) split, for tests and brute force."""
    lab = np.asarray(y).reshape(-1).astype(bool)
    sig, bkg = np.flatnonzero(lab), np.flatnonzero(~lab)
    return np.repeat(sig, bkg.size), np.tile(bkg, sig.size)
