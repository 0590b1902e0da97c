"""Batched evaluation of energy flow polynomials (EFPs) by variable elimination.

An EFP of a multigraph G with vertices 1..n and edge multiplicities w is

    EFP_G = sum_{i_1..i_n} z_{i_1} ... z_{i_n} prod_{(a,b) in G} theta_{i_a i_b}^{w_ab}

This module compiles a *set* of graphs into one shared computation plan and
evaluates it on many events at once:

* Each graph is contracted by variable elimination (leaves first, then
  vertices with two neighbours). Eliminating a vertex with one neighbour is
  a batched mat-vec, O(M^2); with two neighbours a batched matrix product,
  O(M^3). A graph of treewidth 3 with a *K4 core* (a vertex b joined by
  theta^w to three vertices x, y, z, everything else reducible to vectors
  and matrices on x, y, z; all 4 such graphs of d<=7 and 20 of the 23 of
  d<=8 c==4) is the sum over x, y, z of the fully symmetric tensor
  S[x,y,z] = sum_b z_b theta^w_bx theta^w_by theta^w_bz times the rest: with
  numpy it is evaluated on x < y < z only (S by batched GEMMs, O(M^4/6),
  shared by all graphs with the same core, all kappas at once); other
  backends sum all (x, y, z). Any other graph of treewidth 3 is
  *conditioned* on one vertex a: the rest has treewidth 2 and is evaluated
  for all M values of a at once (the a index becomes a batch axis), O(M^4)
  through matrix products. Graphs beyond that fall back to a batched einsum.
* Every intermediate factor gets a canonical key (the sub-graph it sums
  over, up to relabelling of its boundary vertices), so a sub-contraction
  shared by several graphs is computed once per batch (memoisation).
* All kappas are evaluated together as one extra batch axis (the angular
  matrices theta^beta are shared across kappa); the caller loops over beta.

Array layout: vectors ``(B, K, M)``, matrices ``(B, K or 1, M, M)``,
three-index tensors ``(B, K, M, M, M)``, results ``(B, K)``; B events,
K kappas, M (padded) particles. Padded particles must carry z = 0.

The module is backend-agnostic: every array function comes from the ``xp``
argument (``numpy`` or ``jax.numpy``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Sequence

__all__ = ["Node", "Plan", "compile_plan", "evaluate_plan"]

#: Multigraph given as a list of edges (pairs of vertex ids, repeated for
#: multi-edges), as energyflow's ``EFPSet.graphs()`` returns them.
Edges = Sequence[tuple[int, int]]


@dataclass(frozen=True)
class Node:
    """One array of the plan.

    ``op`` is one of

    * ``"T"``: angular matrix theta^w (``weight`` = w), shape ``(B, 1, M, M)``;
    * ``"R"``: the same array read as one vector theta^w[a, :] per value of a
      conditioned vertex a (axis -2), for graphs that need O(M^4);
    * ``"E"``: elimination of one vertex. ``children`` holds pairs
      (node index, positions): positions map each axis of the child to an
      output axis (``0..rank-1``) or to the eliminated vertex (``rank``);
    * ``"C"``: sum over the conditioned vertex a of z_a times the product of
      its (rank-0, conditioned) children.
    * ``"K"``: a graph with a K4 core (b; x, y, z): b has weight z and the
      three edges theta^w (``weight`` = w) to x, y, z, and nothing else but
      vectors on b; everything else is reduced to vectors/matrices on
      x, y, z. Children positions are 0, 1, 2 (x, y, z) or 3 (b). The value
      sum_{x,y,z} S[x,y,z] H[x,y,z] with the symmetric
      S[x,y,z] = sum_b z_b theta^w_bx theta^w_by theta^w_bz is evaluated on
      x < y < z only; ``terms`` lists the distinct relabellings of the
      children with their multiplicities (count, children).

    ``cond`` marks arrays that carry the extra axis of a conditioned vertex.
    """

    op: str
    rank: int
    weight: int = 0
    children: tuple[tuple[int, tuple[int, ...]], ...] = ()
    symmetric: bool = False
    cond: bool = False
    terms: tuple[tuple[int, tuple[tuple[int, tuple[int, ...]], ...]], ...] = ()


@dataclass
class Plan:
    """A compiled graph set: nodes in evaluation order and one output node per graph."""

    nodes: list[Node] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)
    keys: dict[str, int] = field(default_factory=dict)

    @property
    def heavy(self) -> list[bool]:
        """Nodes that are O(M^3)-sized (three-index or conditioned) or depend on one."""
        flags: list[bool] = []
        for node in self.nodes:
            flags.append(node.rank >= 3 or node.cond or node.op == "K" or any(flags[c] for c, _ in node.children))
        return flags

    def cost_summary(self) -> dict[str, int]:
        """Count nodes by the kind of contraction they need (``cond_*``: one per conditioned vertex value)."""
        out: dict[str, int] = {}
        for node in self.nodes:
            kind = node.op if node.op != "E" else (_fast_kind(node) or "generic")
            kind = ("cond_" if node.cond else "") + kind
            out[kind] = out.get(kind, 0) + 1
        return out


def _fast_kind(node: Node) -> str | None:
    """Name of the specialised kernel for an elimination node, or None."""
    if any(len(pos) > 2 for _, pos in node.children):
        return None
    return {0: "sum", 1: "matvec", 2: "matmul", 3: "rank3"}.get(node.rank)


# --------------------------------------------------------------------------
# compilation
# --------------------------------------------------------------------------

#: Relative cost of a new node, used to pick the conditioned vertex.
_COST = {(True, 2): 1000, (True, 1): 10, (False, 2): 10, (False, 3): 100000}


class _Draft:
    """Nodes proposed for a plan, committed only if chosen."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.new: list[tuple[str, Node]] = []
        self.new_keys: dict[str, int] = {}

    def lookup(self, key: str) -> int | None:
        found = self.plan.keys.get(key)
        return found if found is not None else self.new_keys.get(key)

    def node(self, nid: int) -> Node:
        n_old = len(self.plan.nodes)
        return self.plan.nodes[nid] if nid < n_old else self.new[nid - n_old][1]

    def add(self, key: str, node: Node) -> int:
        nid = self.lookup(key)
        if nid is None:
            nid = len(self.plan.nodes) + len(self.new)
            self.new.append((key, node))
            self.new_keys[key] = nid
        return nid

    def cost(self) -> int:
        return sum(1000 if n.op == "K" else _COST.get((n.cond, n.rank), 1) for _, n in self.new)

    def is_heavy(self, nid: int) -> bool:
        node = self.node(nid)
        return node.rank >= 3 or node.cond or node.op == "K" or any(self.is_heavy(c) for c, _ in node.children)

    def commit(self) -> None:
        for key, node in self.new:
            self.plan.nodes.append(node)
            self.plan.keys[key] = len(self.plan.nodes) - 1
        self.new, self.new_keys = [], {}


def _elim_candidate(
    draft: _Draft, factors: list[tuple[int, tuple[int, ...]]], v: int
) -> tuple[str, tuple, tuple[int, ...], bool]:
    """Canonical key, children, neighbour order and symmetry of eliminating v."""
    touching = [(nid, labels) for nid, labels in factors if v in labels]
    neigh = sorted({u for _, labels in touching for u in labels if u != v})
    best = None
    keys_seen = set()
    for perm in itertools.permutations(neigh):
        where = {u: i for i, u in enumerate(perm)}
        where[v] = len(perm)
        entries = []
        for nid, labels in touching:
            pos = tuple(where[u] for u in labels)
            entries.append((nid, tuple(sorted(pos)) if draft.node(nid).symmetric else pos))
        children = tuple(sorted(entries))
        key = repr(("E", len(perm), children))
        keys_seen.add(key)
        if best is None or key < best[0]:
            best = (key, children, perm)
    assert best is not None
    symmetric = len(neigh) == 2 and len(keys_seen) == 1
    return best[0], best[1], best[2], symmetric


def _eliminate(
    draft: _Draft, factors: list[tuple[int, tuple[int, ...]]], vertices: set[int]
) -> list[tuple[int, tuple[int, ...]]]:
    """Variable elimination of ``vertices``, min-degree first, reusing known sub-contractions."""
    remaining = set(vertices)
    while remaining:
        degree = {v: len({u for _, labels in factors if v in labels for u in labels if u != v}) for v in remaining}
        dmin = min(degree.values())
        cands = [_elim_candidate(draft, factors, v) + (v,) for v in sorted(remaining) if degree[v] == dmin]
        # prefer a sub-contraction that is already known, then the smallest key
        key, children, perm, symmetric, v = min(cands, key=lambda c: (draft.lookup(c[0]) is None, c[0]))
        cond = any(draft.node(c).cond for c, _ in children)
        nid = draft.add(key, Node("E", len(perm), children=children, symmetric=symmetric, cond=cond))
        factors = [(f, labels) for f, labels in factors if v not in labels]
        factors.append((nid, tuple(perm)))
        remaining.discard(v)
    return factors


def _max_elim_degree(adj: dict[int, set[int]]) -> int:
    """Largest neighbour count met by min-degree elimination (treewidth bound)."""
    adj = {v: set(n) for v, n in adj.items()}
    worst = 0
    while adj:
        v = min(adj, key=lambda u: (len(adj[u]), u))
        neigh = adj.pop(v)
        worst = max(worst, len(neigh))
        for u in neigh:
            adj[u].discard(v)
            adj[u] |= neigh - {u}
    return worst


def _multiplicities(edges: Edges) -> dict[tuple[int, int], int]:
    mult: dict[tuple[int, int], int] = {}
    for a, b in edges:
        if a == b:
            raise ValueError(f"self-loop ({a}, {b}) in EFP graph {list(edges)}")
        e = (min(a, b), max(a, b))
        mult[e] = mult.get(e, 0) + 1
    return mult


def _leaf(draft: _Draft, op: str, w: int) -> int:
    if op == "T":
        return draft.add(repr(("T", w)), Node("T", 2, weight=w, symmetric=True))
    return draft.add(repr(("R", w)), Node("R", 1, weight=w, cond=True))


def _add_graph(plan: Plan, edges: Edges) -> int:
    """Add the elimination of one connected multigraph; return its output node."""
    draft = _Draft(plan)
    mult = _multiplicities(edges)
    vertices = sorted({u for e in mult for u in e})
    if not vertices:  # the one-vertex graph: sum_i z_i
        nid = draft.add(repr(("E", 0, ())), Node("E", 0))
        draft.commit()
        return nid
    adj: dict[int, set[int]] = {v: set() for v in vertices}
    for a, b in mult:
        adj[a].add(b)
        adj[b].add(a)
    if _max_elim_degree(adj) > 2:
        found = _try_k4_core(plan, mult, vertices, adj)
        if found is not None:
            found[0].commit()
            return found[1]
        best = None
        for a in vertices:  # condition on one vertex: O(M) x (a treewidth-2 graph)
            rest = {v: n - {a} for v, n in adj.items() if v != a}
            if _max_elim_degree(rest) > 2:
                continue
            trial = _Draft(plan)
            factors = [
                (_leaf(trial, "R", w), (e[1] if e[0] == a else e[0],)) if a in e else (_leaf(trial, "T", w), e)
                for e, w in sorted(mult.items())
            ]
            factors = _eliminate(trial, factors, set(vertices) - {a})
            children = tuple(sorted((nid, ()) for nid, _ in factors))
            out = trial.add(repr(("C", children)), Node("C", 0, children=children))
            if best is None or trial.cost() < best[0]:
                best = (trial.cost(), trial, out)
        if best is not None:
            best[1].commit()
            return best[2]
    factors = [(_leaf(draft, "T", w), e) for e, w in sorted(mult.items())]
    (final,) = _eliminate(draft, factors, set(vertices))
    draft.commit()
    return final[0]


_K4_PAIRS = ((0, 1), (0, 2), (1, 2))


def _k4_pair_vanishes(node_of: Any, children: Sequence[tuple[int, tuple[int, ...]]], pair: tuple[int, int]) -> bool:
    """Whether the factors on a core pair include an edge theta^w, which is zero for equal indices."""
    return any(node_of(nid).op == "T" and sorted(pos) == list(pair) for nid, pos in children)


def _try_k4_core(
    plan: Plan, mult: dict[tuple[int, int], int], vertices: list[int], adj: dict[int, set[int]]
) -> tuple[_Draft, int] | None:
    """Plan a graph as a K4 core (see ``Node`` op ``"K"``), or None if it has no suitable one.

    The vertices outside a 4-clique are eliminated first (they must leave
    factors of rank <= 2 on the clique); one clique vertex b must then carry
    only its three theta^w edges (same w) and vectors.
    """
    best = None
    for quad in itertools.combinations(vertices, 4):
        for b in quad:
            if any(u not in adj[b] for u in quad if u != b):
                continue
            trial = _Draft(plan)
            factors = [(_leaf(trial, "T", w), e) for e, w in sorted(mult.items())]
            factors = _eliminate(trial, factors, set(vertices) - set(quad))
            if any(len(labels) > 2 or trial.is_heavy(nid) for nid, labels in factors):
                continue
            core = sorted(set(quad) - {b})
            on_b = [(nid, labels) for nid, labels in factors if b in labels]
            mats = [(nid, labels) for nid, labels in on_b if len(labels) == 2]
            weights = {trial.node(nid).weight for nid, _ in mats}
            if (
                len(mats) != 3
                or any(trial.node(nid).op != "T" for nid, _ in mats)
                or len(weights) != 1
                or {u for _, labels in mats for u in labels} != set(quad)
            ):
                continue
            (w,) = weights
            where = {u: i for i, u in enumerate(core)}
            where[b] = 3
            entries = [(nid, tuple(where[u] for u in labels)) for nid, labels in factors if (nid, labels) not in mats]
            # at most one core pair may lack a theta^w edge (whose zero diagonal drops repeated indices)
            if sum(_k4_pair_vanishes(trial.node, entries, pair) for pair in _K4_PAIRS) < 2:
                continue
            variants: dict[tuple, int] = {}
            for perm in itertools.permutations(range(3)):
                mapped = []
                for nid, pos in entries:
                    pos = tuple(perm[p] if p < 3 else 3 for p in pos)
                    mapped.append((nid, tuple(sorted(pos)) if trial.node(nid).symmetric else pos))
                children = tuple(sorted(mapped))
                variants[children] = variants.get(children, 0) + 1
            children = min(variants, key=repr)
            terms = tuple(sorted((count, ch) for ch, count in variants.items()))
            out = trial.add(repr(("K", w, children)), Node("K", 0, weight=w, children=children, terms=terms))
            # vectors on b would need an S tensor of their own: avoid them
            cost = (len(on_b) - 3, trial.cost())
            if best is None or cost < best[0]:
                best = (cost, trial, out)
    return None if best is None else (best[1], best[2])


def compile_plan(graphs: Sequence[Edges]) -> Plan:
    """Compile connected multigraphs into one memoised plan.

    Each graph is a list of edges ``(a, b)`` (repeated for multi-edges); an
    empty list is the one-vertex graph. Raises ``ValueError`` for graphs with
    self-loops or more than one connected component.
    """
    plan = Plan()
    for edges in graphs:
        _check_connected(edges)
        plan.outputs.append(_add_graph(plan, edges))
    return plan


def _check_connected(edges: Edges) -> None:
    vertices = {u for e in edges for u in e}
    if not vertices:
        return
    adj: dict[int, set[int]] = {v: set() for v in vertices}
    for a, b in edges:
        adj[a].add(b)
        adj[b].add(a)
    seen, todo = set(), [next(iter(vertices))]
    while todo:
        v = todo.pop()
        if v not in seen:
            seen.add(v)
            todo.extend(adj[v] - seen)
    if seen != vertices:
        raise ValueError(f"EFP graph {list(edges)} is not connected; pass prime (p==1) graphs only")


# --------------------------------------------------------------------------
# evaluation
# --------------------------------------------------------------------------

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


def _expand(arr: Any, rank: int) -> Any:
    """Insert the conditioned-vertex axis into an unconditioned array."""
    return arr[(Ellipsis, None) + (slice(None),) * rank]


def _eval_elim(xp: Any, node: Node, args: list[Any], z: Any) -> Any:
    """Evaluate one elimination node given its children's arrays."""
    r = node.rank
    kind = _fast_kind(node)
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


def _eval_node(xp: Any, plan: Plan, i: int, args: list[Any], z: Any, theta: Any) -> Any:
    """Evaluate node ``i`` of ``plan`` from its children's arrays."""
    node = plan.nodes[i]
    if node.op in ("T", "R"):  # R reads theta^w[a, :] as one vector per a
        return theta if node.weight == 1 else theta**node.weight  # as energyflow: thetas**w
    if node.op == "C":
        prod = z
        for arr in args:
            prod = prod * arr
        return xp.sum(prod, axis=-1)
    if node.cond:
        args = [
            arr if plan.nodes[c].cond else _expand(arr, plan.nodes[c].rank) for (c, _), arr in zip(node.children, args)
        ]
        z = z[..., None, :]
    return _eval_elim(xp, node, args, z)


def evaluate_plan(
    plan: Plan,
    z: Any,
    theta: Any,
    xp: Any,
    heavy_batch: int | None = None,
    cond_block: int | None = None,
) -> Any:
    """Evaluate every graph of ``plan`` on a batch of events.

    Arguments:
        plan: from :func:`compile_plan`.
        z: energy weights z_i^kappa, shape ``(B, K, M)``; zero for padding.
        theta: angular matrix theta_ij (already raised to beta/2 of the
            squared distance), shape ``(B, M, M)``.
        xp: array module (``numpy`` or ``jax.numpy``).
        heavy_batch: number of events per sub-batch for the O(M^3)-sized
            arrays of the O(M^4) graphs; ``None`` means all at once.
        cond_block: values of the conditioned vertex per block (bounds the
            memory of those arrays to heavy_batch x K x cond_block x M^2);
            ``None`` means all M at once.

    Returns:
        Array ``(B, K, G)`` of EFP values, G = number of graphs in the plan.
    """
    theta = theta[:, None, :, :]
    heavy = plan.heavy
    n_nodes = len(plan.nodes)
    # last use of each light node; heavy consumers count as "at the end"
    last = [-1] * n_nodes
    for i, node in enumerate(plan.nodes):
        for c, _ in node.children:
            last[c] = max(last[c], n_nodes if heavy[i] else i)
    for o in plan.outputs:
        last[o] = n_nodes
    vals: dict[int, Any] = {}
    for i, node in enumerate(plan.nodes):
        if heavy[i]:
            continue
        vals[i] = _eval_node(xp, plan, i, [vals[c] for c, _ in node.children], z, theta)
        for c in {c for c, _ in node.children}:
            if last[c] == i:
                del vals[c]
    k_nodes = [i for i, node in enumerate(plan.nodes) if node.op == "K"]
    other = [h and plan.nodes[i].op != "K" for i, h in enumerate(heavy)]
    if k_nodes:
        vals.update(_eval_k4(plan, k_nodes, vals, z, theta, xp))
    if any(other):
        vals.update(_eval_heavy(plan, other, vals, z, theta, xp, heavy_batch, cond_block))
    return xp.stack([vals[o] for o in plan.outputs], axis=-1)


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
    for pair in _K4_PAIRS:  # a core pair without any factor
        if pair not in mats:
            mats[pair] = xp.ones((z.shape[0], 1, m, m), dtype=z.dtype)
    return vecs[:3], mats, vecs[3]


#: Elements of the (events x kappas x M x M) arrays of one event chunk of the K4-core evaluation.
_K4_CACHE_ELEMENTS = 2**18
#: Elements of the (events x kappas x block x M x M) arrays of the full (jax) K4-core evaluation.
_K4_FULL_ELEMENTS = 2**24


def _eval_k4(plan: Plan, k_nodes: list[int], light: dict[int, Any], z: Any, theta: Any, xp: Any) -> dict[int, Any]:
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
    step = max(1, _K4_CACHE_ELEMENTS // (z.shape[1] * z.shape[2] ** 2))
    for e0 in range(0, z.shape[0], step):
        es = slice(e0, e0 + step)
        m = _used_particles(z[es])  # padded particles have z = 0 and come last
        zs, ts = z[es][..., :m], theta[es][..., :m, :m]
        cut = {c: _cut(light[c][es], plan.nodes[c].rank, m) for c in children}
        for (w, _), ids in groups.items():
            for i, val in _eval_k4_sym(plan, ids, w, cut, zs, ts, xp).items():
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
            pair = {pq: tuple(sorted((c, pos) for c, pos in children if tuple(sorted(pos)) == pq)) for pq in _K4_PAIRS}
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
        for p, q in _K4_PAIRS:
            if not _k4_pair_vanishes(lambda c: plan.nodes[c], node.children, (p, q)):
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
    step = max(1, _K4_FULL_ELEMENTS // max(1, n_ev * n_k * m * m))
    for x0 in range(0, m, step):
        xs = slice(x0, min(m, x0 + step))
        pt = tw[:, xs, None, :] * tw[:, None, :, :]  # (B, X, y, b)
        s = xp.matmul(pt[:, None], xp.swapaxes(yt, -1, -2)[:, :, None])  # (B, K, X, y, z)
        h = h12[:, :, None] * (v0[..., xs, None] * mats[(0, 1)][..., xs, :])[..., None]
        h = h * mats[(0, 2)][..., xs, None, :]
        total = total + xp.sum(s * h, axis=(-1, -2, -3))
    return total


def _used_particles(z: Any) -> int:
    """Number of leading particle slots with a non-zero weight in any event of the batch."""
    nonzero = (z != 0).reshape(-1, z.shape[-1]).any(axis=0)
    return max(1, int(nonzero.nonzero()[0].max()) + 1) if nonzero.any() else 1


def _cut(arr: Any, rank: int, m: int) -> Any:
    """Keep the first m particles on every particle axis of an array of the given rank."""
    return arr[(Ellipsis,) + (slice(0, m),) * rank]


def _eval_heavy(
    plan: Plan,
    heavy: list[bool],
    light: dict[int, Any],
    z: Any,
    theta: Any,
    xp: Any,
    heavy_batch: int | None,
    cond_block: int | None = None,
) -> dict[int, Any]:
    """Evaluate the heavy nodes in sub-batches of events; return heavy outputs.

    Conditioned arrays carry one matrix per value of the conditioned vertex
    a; with ``cond_block`` they are built for blocks of that many values of
    a at a time and the ``"C"`` outputs are summed over the blocks (only
    when no three-index tensor is in the plan).
    """
    n_events, m = z.shape[0], z.shape[-1]
    step = n_events if not heavy_batch else max(1, int(heavy_batch))
    heavy_ids = [i for i, h in enumerate(heavy) if h]
    if cond_block is None or any(plan.nodes[i].rank >= 3 for i in heavy_ids):
        cond_block = m
    cond_block = max(1, int(cond_block))
    outputs = {o for o in plan.outputs if heavy[o]}
    last: dict[int, int] = {}
    for i in heavy_ids:
        for c, _ in plan.nodes[i].children:
            if heavy[c]:
                last[c] = i
    pieces: dict[int, list[Any]] = {o: [] for o in outputs}
    for s in range(0, n_events, step):
        sl = slice(s, s + step)
        # numpy: cut the padding of this sub-batch (padded particles have z = 0 and come last)
        ms = _used_particles(z[sl]) if xp.__name__ == "numpy" else m
        zs, ts = z[sl][..., :ms], theta[sl][..., :ms, :ms]
        cut = {c: _cut(light[c][sl], plan.nodes[c].rank, ms) for c in light}
        totals: dict[int, Any] = {}
        for a0 in range(0, ms, cond_block):
            asl = slice(a0, a0 + cond_block)
            vals: dict[int, Any] = {}
            for i in heavy_ids:
                node = plan.nodes[i]
                args = [vals[c] if heavy[c] else cut[c] for c, _ in node.children]
                if node.op == "R":
                    vals[i] = _eval_node(xp, plan, i, args, zs, ts[..., asl, :])
                elif node.op == "C":
                    vals[i] = _eval_node(xp, plan, i, args, zs[..., asl], None)
                else:
                    vals[i] = _eval_node(xp, plan, i, args, zs, ts)
                for c in {c for c, _ in node.children}:
                    if heavy[c] and last.get(c) == i and c not in outputs:
                        del vals[c]
            for o in outputs:
                totals[o] = vals[o] if o not in totals else totals[o] + vals[o]
        for o in outputs:
            pieces[o].append(totals[o])
    return {o: xp.concatenate(p, axis=0) for o, p in pieces.items()}
