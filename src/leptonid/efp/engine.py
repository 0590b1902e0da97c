"""Batched EFP evaluation of many events on a fixed (kappa, beta) grid.

The EFPs use energyflow's ``hadr`` measure with ``normed=False``:

    z_i -> z_i ** kappa,   theta_ij = ((deta_ij)^2 + (dphi_ij)^2) ** (beta / 2)

(phi difference wrapped into [-pi, pi]), and a multi-edge of weight w uses
theta_ij ** w. Values equal ``energyflow.EFPSet(..., measure='hadr',
beta=beta, kappa=kappa, normed=False).batch_compute`` on events given as
rows ``(z, eta, phi)``, to about 1e-13 relative (all terms are positive).

Backends: ``numpy`` (default) and ``jax`` (float64, one jitted function per
padded batch shape; runs on a GPU when JAX sees one).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from leptonid.efp.evaluate import evaluate_plan
from leptonid.efp.graphs import EFPGraph, efp_column_names
from leptonid.efp.particles import particles_from_images
from leptonid.efp.plan import Plan, compile_plan

__all__ = ["EFPCalculator", "compute_efps", "get_xp"]


def get_xp(backend: str) -> Any:
    """Array module of a backend name: ``numpy`` or ``jax.numpy`` (with float64 enabled)."""
    if backend == "numpy":
        return np
    if backend == "jax":
        import jax

        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp

        return jnp
    raise ValueError(f"unknown EFP backend {backend!r}; expected 'numpy' or 'jax'")


def _theta2(xp: Any, eta: Any, phi: Any) -> Any:
    """Squared hadronic distance with energyflow's wrapping of the phi difference."""
    deta = eta[:, :, None] - eta[:, None, :]
    dphi = phi[:, :, None] - phi[:, None, :]
    dphi = xp.pi - xp.abs(xp.abs(dphi) - xp.pi)
    return deta**2 + dphi**2


class EFPCalculator:
    """Compute a fixed set of EFPs on a fixed (kappa, beta) grid.

    Compiles the graph set once; :meth:`compute` then evaluates batches of
    events, grouped by particle multiplicity to keep padding small.
    """

    def __init__(
        self,
        graphs: Sequence[EFPGraph],
        kappas: Sequence[float],
        betas: Sequence[float],
        backend: str = "numpy",
        batch_size: int = 64,
        heavy_batch: int | None = None,
        pad_multiple: int = 8,
        max_elements: int = 2**22,
        heavy_elements: int = 2**24,
    ) -> None:
        if not graphs:
            raise ValueError("no EFP graphs given")
        if not kappas or not betas:
            raise ValueError("kappas and betas must be non-empty")
        if any(float(b) <= 0 for b in betas):
            raise ValueError(f"every beta must be > 0, got {list(betas)}")
        if min(batch_size, heavy_batch or 1, pad_multiple, max_elements, heavy_elements) < 1:
            raise ValueError("batch_size, heavy_batch, pad_multiple, max_elements, heavy_elements must be >= 1")
        self.graphs = list(graphs)
        self.kappas = [float(k) for k in kappas]
        self.betas = [float(b) for b in betas]
        self.backend = backend
        self.xp = get_xp(backend)
        self.batch_size = int(batch_size)
        self.heavy_batch = heavy_batch
        self.pad_multiple = int(pad_multiple)
        self.max_elements = int(max_elements)
        self.heavy_elements = int(heavy_elements)
        self.plan: Plan = compile_plan([g.edges for g in self.graphs])
        self._jitted: dict[tuple[int, int], Any] = {}

    @property
    def columns(self) -> list[str]:
        """Output column names (graph-major, then kappa, then beta)."""
        return efp_column_names(self.graphs, self.kappas, self.betas)

    def _batch(self, z: np.ndarray, eta: np.ndarray, phi: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """EFPs of one padded batch: ``(B, G, K, NB)`` float64."""
        if self.backend == "jax":
            key = z.shape
            fn = self._jitted.get(key)
            if fn is None:
                import jax

                fn = jax.jit(self._batch_arrays)
                self._jitted[key] = fn
            return np.asarray(fn(z, eta, phi, mask))
        return self._batch_arrays(z, eta, phi, mask)

    def _batch_arrays(self, z: Any, eta: Any, phi: Any, mask: Any) -> Any:
        xp = self.xp
        kap = xp.asarray(self.kappas)[None, :, None]
        zpos = xp.where(mask, z, 1.0)[:, None, :]
        zk = xp.where(mask[:, None, :], zpos**kap, 0.0)  # (B, K, M)
        theta2 = _theta2(xp, eta, phi)
        n_ev, m = z.shape
        per_matrix = len(self.kappas) * m * m  # elements of one (K, M, M) array
        hb = max(1, min(n_ev, self.heavy_elements // (per_matrix * max(m, 1))))
        if self.heavy_batch:
            hb = min(hb, self.heavy_batch)
        per_beta = []
        for beta in self.betas:
            theta = theta2 ** (beta / 2)
            per_beta.append(
                evaluate_plan(
                    self.plan,
                    zk,
                    theta,
                    xp,
                    heavy_batch=hb,
                    cond_block=max(1, self.heavy_elements // (hb * per_matrix)),
                )
            )
        out = xp.stack(per_beta, axis=-1)  # (B, K, G, NB)
        return xp.transpose(out, (0, 2, 1, 3))

    def compute(self, z: np.ndarray, eta: np.ndarray, phi: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """EFP values ``(N, n_columns)`` float64 for padded particle arrays ``(N, M)``.

        ``mask`` marks real particles (default: ``z != 0``). Events are sorted
        by multiplicity and evaluated in batches of ``batch_size`` padded to
        a multiple of ``pad_multiple`` particles; rows come back in input order.
        """
        z = np.asarray(z, dtype=np.float64)
        eta = np.asarray(eta, dtype=np.float64)
        phi = np.asarray(phi, dtype=np.float64)
        if z.ndim != 2 or eta.shape != z.shape or phi.shape != z.shape:
            raise ValueError(f"z, eta, phi must be equal (N, M) arrays, got {z.shape}, {eta.shape}, {phi.shape}")
        mask = (z != 0) if mask is None else np.asarray(mask, dtype=bool)
        if mask.shape != z.shape:
            raise ValueError(f"mask shape {mask.shape} != z shape {z.shape}")
        n_events = len(z)
        counts = mask.sum(axis=1)
        out = np.empty((n_events, len(self.graphs), len(self.kappas), len(self.betas)))
        order = np.argsort(counts, kind="stable")
        s = 0
        while s < n_events:
            idx = order[s : s + self.batch_size]
            # keep padding small: no event with more than ~8% more particles than the first
            lo = int(counts[idx[0]])
            idx = idx[counts[idx] <= max(lo + self.pad_multiple, int(lo * 1.08))]
            m = max(int(counts[idx].max()), 1)
            m = -(-m // self.pad_multiple) * self.pad_multiple
            # fewer events per batch when they have many particles (memory ~ B K M^2)
            idx = idx[: max(1, self.max_elements // (len(self.kappas) * m * m))]
            s += len(idx)
            # move each event's particles to the front, then cut to m
            front = np.argsort(~mask[idx], axis=1, kind="stable")
            sel = front[:, : min(m, z.shape[1])]
            zb, eb, pb, mb = (np.take_along_axis(a[idx], sel, axis=1) for a in (z, eta, phi, mask))
            if zb.shape[1] < m:
                pad = ((0, 0), (0, m - zb.shape[1]))
                zb, eb, pb = (np.pad(a, pad) for a in (zb, eb, pb))
                mb = np.pad(mb, pad, constant_values=False)
            out[idx] = self._batch(zb, eb, pb, mb)
        return out.reshape(n_events, -1)


def compute_efps(
    images: np.ndarray,
    image: str,
    graphs: Sequence[EFPGraph],
    kappas: Sequence[float],
    betas: Sequence[float],
    backend: str = "numpy",
    batch_size: int = 64,
) -> tuple[list[str], np.ndarray]:
    """EFPs of images: returns (column names, values ``(N, n_columns)`` float64)."""
    calc = EFPCalculator(graphs, kappas, betas, backend=backend, batch_size=batch_size)
    z, eta, phi, mask = particles_from_images(images, image)
    return calc.columns, calc.compute(z, eta, phi, mask)
