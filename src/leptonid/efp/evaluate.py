"""Evaluation of a compiled plan on one padded batch of events.

Light nodes (vectors and matrices) are evaluated for the whole batch and
freed after their last use; K4-core nodes go to :func:`leptonid.efp.kernels.eval_k4`;
the other heavy nodes (three-index tensors, conditioned vertices) are
evaluated in sub-batches of events and blocks of the conditioned vertex to
bound memory. All kappas are one batch axis; the caller loops over beta.
"""

from __future__ import annotations

from typing import Any

from leptonid.efp.kernels import cut, eval_elim, eval_k4, expand, used_particles
from leptonid.efp.plan import Plan

__all__ = ["evaluate_plan"]


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
            arr if plan.nodes[c].cond else expand(arr, plan.nodes[c].rank) for (c, _), arr in zip(node.children, args)
        ]
        z = z[..., None, :]
    return eval_elim(xp, node, args, z)


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
        vals.update(eval_k4(plan, k_nodes, vals, z, theta, xp))
    if any(other):
        vals.update(_eval_heavy(plan, other, vals, z, theta, xp, heavy_batch, cond_block))
    return xp.stack([vals[o] for o in plan.outputs], axis=-1)


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
        ms = used_particles(z[sl]) if xp.__name__ == "numpy" else m
        zs, ts = z[sl][..., :ms], theta[sl][..., :ms, :ms]
        trimmed = {c: cut(light[c][sl], plan.nodes[c].rank, ms) for c in light}
        totals: dict[int, Any] = {}
        for a0 in range(0, ms, cond_block):
            asl = slice(a0, a0 + cond_block)
            vals: dict[int, Any] = {}
            for i in heavy_ids:
                node = plan.nodes[i]
                args = [vals[c] if heavy[c] else trimmed[c] for c, _ in node.children]
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
