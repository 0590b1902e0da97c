"""Compilation of a set of EFP multigraphs into one shared evaluation plan.

An energy flow polynomial (Komiske, Metodiev, Thaler, JHEP 04 (2018) 013) of
a multigraph G with vertices 1..n and edge multiplicities w is

    EFP_G = sum_{i_1..i_n} z_{i_1} ... z_{i_n} prod_{(a,b) in G} theta_{i_a i_b}^{w_ab}

Each graph is contracted by variable elimination (leaves first, then
vertices with two neighbours). Eliminating a vertex with one neighbour is a
batched mat-vec, O(M^2); with two neighbours a batched matrix product,
O(M^3). A graph of treewidth 3 with a *K4 core* (a vertex b joined by
theta^w to three vertices x, y, z, everything else reducible to vectors and
matrices on x, y, z; all 4 such graphs of d<=7 and 20 of the 23 of d<=8
c==4) becomes one ``"K"`` node (see :mod:`leptonid.efp.kernels`). Any other
graph of treewidth 3 is *conditioned* on one vertex a: the rest has
treewidth 2 and is evaluated for all M values of a at once, O(M^4). Graphs
beyond that (treewidth 4 and more, e.g. K5) fall back to batched einsums.

Every intermediate factor gets a canonical key (the sub-graph it sums over,
up to relabelling of its boundary vertices), so a sub-contraction shared by
several graphs is computed once per batch (memoisation).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Sequence

__all__ = ["Edges", "Node", "Plan", "compile_plan", "max_elim_degree", "fast_kind", "K4_PAIRS", "k4_pair_vanishes"]

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
            kind = node.op if node.op != "E" else (fast_kind(node) or "generic")
            kind = ("cond_" if node.cond else "") + kind
            out[kind] = out.get(kind, 0) + 1
        return out


def fast_kind(node: Node) -> str | None:
    """Name of the specialised kernel for an elimination node, or None."""
    if any(len(pos) > 2 for _, pos in node.children):
        return None
    return {0: "sum", 1: "matvec", 2: "matmul", 3: "rank3"}.get(node.rank)


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


def max_elim_degree(adj: dict[int, set[int]]) -> int:
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
    if max_elim_degree(adj) > 2:
        found = _try_k4_core(plan, mult, vertices, adj)
        if found is not None:
            found[0].commit()
            return found[1]
        best = None
        for a in vertices:  # condition on one vertex: O(M) x (a treewidth-2 graph)
            rest = {v: n - {a} for v, n in adj.items() if v != a}
            if max_elim_degree(rest) > 2:
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


K4_PAIRS = ((0, 1), (0, 2), (1, 2))


def k4_pair_vanishes(node_of: Any, children: Sequence[tuple[int, tuple[int, ...]]], pair: tuple[int, int]) -> bool:
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
            if sum(k4_pair_vanishes(trial.node, entries, pair) for pair in K4_PAIRS) < 2:
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
