"""Contraction kernels: one elimination node, or all K4-core nodes of a plan.

Array layout: vectors ``(B, K, M)``, matrices ``(B, K or 1, M, M)``,
three-index tensors ``(B, K, M, M, M)``, results ``(B, K)``; B events,
K kappas, M (padded) particles. Padded particles must carry z = 0. Every
array function comes from the ``xp`` argument (``numpy`` or ``jax.numpy``).

A K4 core (b; x, y, z) is the sum over x, y, z of the fully symmetric tensor
S[x,y,z] = sum_b z_b theta^w_bx theta^w_by theta^w_bz times the rest: with
numpy it is evaluated on x < y < z only (S by batched GEMMs, O(M^4/6),
shared by all graphs with the same core, all kappas at once); other
backends sum all (x, y, z).
"""

from __future__ import annotations

from typing import Any, Sequence

from leptonid.efp.plan import K4_PAIRS, Node, Plan, fast_kind, k4_pair_vanishes

__all__ = ["eval_elim", "eval_k4", "expand", "used_particles", "cut", "K4_CACHE_ELEMENTS", "K4_FULL_ELEMENTS"]

_LETTERS = "abcdefgh"


def _orient2(xp: Any, arr: Any, pos: tuple[int, ...], first: int) -> Any:
    """Return a matrix child with axes ordered (first, other)."""
    return arr if pos[0] == first else xp.swapaxes(arr, -1, -2)


def _matvec(xp: Any, mat: Any, w: Any) -> Any:
    """``mat @ w`` over the last axes; one GEMM per event when ``mat`` has no other axes."""
    lead = mat.shape[:-2]
    if len(lead) >= 1 and all(s == 1 for s in lead[1:]):
        n_ev, m = mat.shape[0], mat.shape[-1]
        wt = w.reshape(n_ev, -1, m)  # (B, L, M)
        out = xp.matmul(mat.reshape(n_ev, m, m), xp.swapaxes(wt, -1, -2))  # (B, M, L)
        return xp.swapaxes(out, -1, -2).reshape(w.shape)
    return xp.matmul(mat, w[..., None])[..., 0]


def expand(arr: Any, rank: int) -> Any:
    """Insert the conditioned-vertex axis into an unconditioned array."""
    return arr[(Ellipsis, None) + (slice(None),) * rank]


def eval_elim(xp: Any, node: Node, args: list[Any], z: Any) -> Any:
    """Evaluate one elimination node given its children's arrays."""
    r = node.rank
    kind = fast_kind(node)
    if kind is None:
        return _eval_generic(xp, node, args, z)
    w = z
    factors: dict[int, list[Any]] = {}
    for (_, pos), arr in zip(node.children, args):
        if len(pos) == 1:
            w = w * arr
            continue
        other = pos[0] if pos[1] == r else pos[1]
        factors.setdefault(other, []).append(_orient2(xp, arr, pos, other))  # axes (neighbour, v)
    if r == 0:
        return xp.sum(w, axis=-1)
    if r == 1:
        if len(factors[0]) == 1:
            return _matvec(xp, factors[0][0], w)
        # fused Hadamard product and mat-vec: one pass, no temporary matrix
        expr = ",".join(["...ij"] * len(factors[0])) + ",...j->...i"
        return xp.einsum(expr, *factors[0], w, optimize=False)
    mats = {}
    for other, fs in factors.items():
        mats[other] = fs[0]
        for f in fs[1:]:
            mats[other] = mats[other] * f
    if r == 2:
        return xp.matmul(mats[0] * w[..., None, :], xp.swapaxes(mats[1], -1, -2))
    # r == 3: P[(a, b), v] = X0[a, v] X1[b, v];  F = P @ (X2 * w)^T
    x0, x1 = mats[0], mats[1]
    x2w = mats[2] * w[..., None, :]
    p = x0[..., :, None, :] * x1[..., None, :, :]
    m = p.shape[-1]
    lead = xp.broadcast_shapes(p.shape[:-3], x2w.shape[:-2])
    p = xp.broadcast_to(p, lead + p.shape[-3:]).reshape(lead + (m * m, m))
    f = xp.matmul(p, xp.swapaxes(x2w, -1, -2))
    return f.reshape(lead + (m, m, m))


def _eval_generic(xp: Any, node: Node, args: list[Any], z: Any) -> Any:
    """Fallback: one batched einsum over all children of the node."""
    r = node.rank
    subs = [_LETTERS[r]]
    ops = [z]
    for (_, pos), arr in zip(node.children, args):
        subs.append("".join(_LETTERS[p] for p in pos))
        ops.append(arr)
    expr = ",".join("..." + s for s in subs) + "->..." + _LETTERS[:r]
    return xp.einsum(expr, *ops, optimize="greedy")


def _k4_factors(
    xp: Any, children: Sequence[tuple[int, tuple[int, ...]]], vals: dict[int, Any], z: Any
) -> tuple[list[Any], dict[tuple[int, int], Any], Any]:
    """Vectors on x, y, z (times z), matrices on (x,y), (x,z), (y,z) and the vector on b of a K4 term."""
    vecs: list[Any] = [z, z, z, z]
    mats: dict[tuple[int, int], Any] = {}
    for nid, pos in children:
        arr = vals[nid]
        if len(pos) == 1:
            vecs[pos[0]] = vecs[pos[0]] * arr
            continue
        if pos[0] > pos[1]:
            arr, pos = xp.swapaxes(arr, -1, -2), (pos[1], pos[0])
        mats[pos] = arr if pos not in mats else mats[pos] * arr
    m = z.shape[-1]
    for pair in K4_PAIRS:  # a core pair without any factor
        if pair not in mats:
            mats[pair] = xp.ones((z.shape[0], 1, m, m), dtype=z.dtype)
    return vecs[:3], mats, vecs[3]


#: Elements of the (events x kappas x M x M) arrays of one event chunk of the K4-core evaluation.
K4_CACHE_ELEMENTS = 2**18
#: Elements of the (events x kappas x block x M x M) arrays of the full (jax) K4-core evaluation.
K4_FULL_ELEMENTS = 2**24


def eval_k4(plan: Plan, k_nodes: list[int], light: dict[int, Any], z: Any, theta: Any, xp: Any) -> dict[int, Any]:
    """Evaluate the ``"K"`` nodes (K4 cores) of a plan; returns ``{node: (B, K)}``."""
    if xp.__name__ != "numpy":
        return {i: _eval_k4_full(plan.nodes[i], light, z, theta, xp) for i in k_nodes}
    groups: dict[tuple, list[int]] = {}
    for i in k_nodes:  # nodes sharing S: same w and the same vectors on b
        key = (plan.nodes[i].weight, tuple(sorted(c for c, pos in plan.nodes[i].children if pos == (3,))))
        groups.setdefault(key, []).append(i)
    children = {c for i in k_nodes for c, _ in plan.nodes[i].children}
    pieces: dict[int, list[Any]] = {i: [] for i in k_nodes}
    # a few events at a time: the O(M^3)-sized slices then stay in the CPU cache
    step = max(1, K4_CACHE_ELEMENTS // (z.shape[1] * z.shape[2] ** 2))
    for e0 in range(0, z.shape[0], step):
        es = slice(e0, e0 + step)
        m = used_particles(z[es])  # padded particles have z = 0 and come last
        zs, ts = z[es][..., :m], theta[es][..., :m, :m]
        trimmed = {c: cut(light[c][es], plan.nodes[c].rank, m) for c in children}
        for (w, _), ids in groups.items():
            for i, val in _eval_k4_sym(plan, ids, w, trimmed, zs, ts, xp).items():
                pieces[i].append(val)
    return {i: xp.concatenate(p, axis=0) for i, p in pieces.items()}


def _eval_k4_sym(
    plan: Plan, ids: list[int], w: int, vals: dict[int, Any], z: Any, theta: Any, xp: Any
) -> dict[int, Any]:
    """K4 cores sharing one S tensor, summed over x < y < z only (numpy).

    S[x, c, z] = sum_b z_b theta^w_bx theta^w_bc theta^w_bz is built by one
    batched GEMM over b for a block of middle indices c (O(M^4 / 6) in all,
    all kappas at once), and every term of every node contributes
    v1[c] * sum_{x<c<z} (v0[x] A01[x,c]) S[x,c,z] A02[x,z] (v2[z] A12[c,z]);
    terms sharing A02 share one Hadamard product and one matmul. Triples
    with repeated indices are added by :func:`_k4_diagonal` where they are
    not exactly zero (a pair without a theta^w edge).
    """
    n_ev, n_k, m = z.shape
    tw = theta[:, 0] if w == 1 else theta[:, 0] ** w  # (B, M, M)
    zb = z
    for c, pos in plan.nodes[ids[0]].children:
        if pos == (3,):
            zb = zb * vals[c]
    yt = tw[:, None, :, :] * zb[:, :, None, :]  # yt[e, k, z, b] = theta^w_zb z_b
    # Terms are grouped by their matrix A02 on (x, z) (one Hadamard product and one matmul per
    # group); within a group, equal alpha[c, x] = v0_x A01[x, c] (x < c, else 0) and equal
    # gamma[c, z] = v2_z A12[c, z] (z > c, else 0) are computed once.
    groups: dict[tuple, dict[str, Any]] = {}
    for i in ids:
        for count, children in plan.nodes[i].terms:
            vec = [tuple(sorted(c for c, pos in children if pos == (p,))) for p in range(3)]
            pair = {pq: tuple(sorted((c, pos) for c, pos in children if tuple(sorted(pos)) == pq)) for pq in K4_PAIRS}
            (v0, v1, v2), mats, _ = _k4_factors(xp, children, vals, z)
            grp = groups.setdefault(pair[(0, 2)], {"a02": mats[(0, 2)], "alpha": {}, "gamma": {}, "terms": []})
            akey, gkey = (vec[0], pair[(0, 1)]), (vec[2], pair[(1, 2)])
            if akey not in grp["alpha"]:
                grp["alpha"][akey] = xp.tril(v0[..., None, :] * xp.swapaxes(mats[(0, 1)], -1, -2), -1)
            if gkey not in grp["gamma"]:
                grp["gamma"][gkey] = xp.triu(v2[..., None, :] * mats[(1, 2)], 1)
            grp["terms"].append((i, list(grp["alpha"]).index(akey), list(grp["gamma"]).index(gkey), v1 * count))
    stacked = [
        (
            grp["a02"],
            xp.stack(list(grp["alpha"].values()), -2),  # (B, K, M_c, A, M_x)
            xp.stack(list(grp["gamma"].values()), -2),  # (B, K, M_c, G, M_z)
            [t[1] for t in grp["terms"]],
            [t[2] for t in grp["terms"]],
            xp.stack([t[3] for t in grp["terms"]], -1),  # (B, K, M_c, T)
        )
        for grp in groups.values()
    ]
    acc = [xp.zeros((n_ev, n_k, len(grp["terms"]))) for grp in groups.values()]
    y_t = xp.swapaxes(yt, -1, -2)  # [e, k, b, z] = z_b theta^w_bz
    c_block = 4  # middle indices per matrix product
    for c0 in range(1, m - 1, c_block):
        c1 = min(c0 + c_block, m - 1)
        cs = slice(c0, c1)
        # S[c, x, z] for c in the block, x < c1, z > c0 (alpha and gamma are zero outside x < c < z)
        pt = tw[:, cs, None, :] * tw[:, None, :c1, :]  # [e, c, x, b] = theta^w_cb theta^w_xb
        s_blk = xp.matmul(pt.reshape(n_ev, 1, -1, m), y_t[..., c0 + 1 :])
        s_blk = s_blk.reshape(n_ev, n_k, c1 - c0, c1, m - c0 - 1)
        for g, (a02, alpha, gamma, a_idx, g_idx, mid) in enumerate(stacked):
            q = s_blk * a02[..., None, :c1, c0 + 1 :]
            r = xp.matmul(alpha[:, :, cs, :, :c1], q)  # (B, K, C, A, z)
            r = r[..., a_idx, :] * gamma[:, :, cs, :, c0 + 1 :][..., g_idx, :]  # (B, K, C, T, z)
            acc[g] += (r.sum(axis=-1) * mid[:, :, cs]).sum(axis=-2)
    out: dict[int, Any] = {}
    for g, grp in enumerate(groups.values()):
        for t, (i, *_rest) in enumerate(grp["terms"]):
            out[i] = acc[g][..., t] if i not in out else out[i] + acc[g][..., t]
    for i in ids:  # ordered triples with two equal indices on the one pair without a theta^w edge
        node = plan.nodes[i]
        for p, q in K4_PAIRS:
            if not k4_pair_vanishes(lambda c: plan.nodes[c], node.children, (p, q)):
                out[i] = out[i] + _k4_diagonal(xp, node.children, (p, q), vals, z, tw, yt)
    return out


def _k4_diagonal(
    xp: Any,
    children: Sequence[tuple[int, tuple[int, ...]]],
    pair: tuple[int, int],
    vals: dict[int, Any],
    z: Any,
    tw: Any,
    yt: Any,
) -> Any:
    """Terms of a K4 core with equal indices i on ``pair`` and j on the third role: O(M^3)."""
    (r,) = {0, 1, 2} - set(pair)
    vecs, mats, _ = _k4_factors(xp, children, vals, z)
    # D[i, j] = S[i, i, j] = sum_b z_b theta^2w_bi theta^w_bj  (with the vectors on b in yt)
    sq = xp.swapaxes(tw * tw, -1, -2)[:, None]  # [i, b]
    d = xp.matmul(sq, xp.swapaxes(yt, -1, -2))  # (B, K, i, j)
    p, q = pair
    diag = xp.diagonal(mats[pair], axis1=-2, axis2=-1)
    h = (vecs[p] * vecs[q] * diag)[..., :, None] * vecs[r][..., None, :]
    for a, b in ((min(p, r), max(p, r)), (min(q, r), max(q, r))):
        if (a, b) in mats:  # oriented so that the pair index i comes first
            h = h * (mats[(a, b)] if a != r else xp.swapaxes(mats[(a, b)], -1, -2))
    return xp.sum(h * d, axis=(-1, -2))


def _eval_k4_full(node: Node, vals: dict[int, Any], z: Any, theta: Any, xp: Any) -> Any:
    """One K4 core over all (x, y, z) (any backend): S by matrix products, one x-block at a time."""
    (v0, v1, v2), mats, vb = _k4_factors(xp, node.children, vals, z)
    tw = theta[:, 0] if node.weight == 1 else theta[:, 0] ** node.weight  # (B, M, M)
    n_ev, n_k, m = z.shape
    yt = tw[:, None, :, :] * (vb)[:, :, None, :]  # [e, k, z, b]
    h12 = v1[..., :, None] * mats[(1, 2)] * v2[..., None, :]  # (B, K, y, z)
    total = 0.0
    step = max(1, K4_FULL_ELEMENTS // max(1, n_ev * n_k * m * m))
    for x0 in range(0, m, step):
        xs = slice(x0, min(m, x0 + step))
        pt = tw[:, xs, None, :] * tw[:, None, :, :]  # (B, X, y, b)
        s = xp.matmul(pt[:, None], xp.swapaxes(yt, -1, -2)[:, :, None])  # (B, K, X, y, z)
        h = h12[:, :, None] * (v0[..., xs, None] * mats[(0, 1)][..., xs, :])[..., None]
        h = h * mats[(0, 2)][..., xs, None, :]
        total = total + xp.sum(s * h, axis=(-1, -2, -3))
    return total


def used_particles(z: Any) -> int:
    """Number of leading particle slots with a non-zero weight in any event of the batch."""
    nonzero = (z != 0).reshape(-1, z.shape[-1]).any(axis=0)
    return max(1, int(nonzero.nonzero()[0].max()) + 1) if nonzero.any() else 1


def cut(arr: Any, rank: int, m: int) -> Any:
    """Keep the first m particles on every particle axis of an array of the given rank."""
    return arr[(Ellipsis,) + (slice(0, m),) * rank]
