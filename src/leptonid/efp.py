"""Energy flow polynomials of calorimeter images, computed in batches.

Every non-zero pixel of an image is a particle at its pixel centre
(:func:`leptonid.layout.pixel_centres`) with weight z = pixel ET / image ET.
The EFPs use energyflow's ``hadr`` measure with ``normed=False``:

    z_i -> z_i ** kappa,   theta_ij = ((deta_ij)^2 + (dphi_ij)^2) ** (beta / 2)

(phi difference wrapped into [-pi, pi]), and a multi-edge of weight w uses
theta_ij ** w. Values equal ``energyflow.EFPSet(..., measure='hadr',
beta=beta, kappa=kappa, normed=False).batch_compute`` on events given as
rows ``(z, eta, phi)``, to about 1e-13 relative (all terms are positive).

energyflow is used only to enumerate graphs (:func:`graphs_from_specs`);
values come from :mod:`leptonid.efp_engine`.

Column names are ``EFP_<n>_<d>_<k>_k_<kappa>_b_<beta>`` with numbers
formatted by :func:`format_number` (``-1``, ``0``, ``0.5``, ``2``). Columns
are ordered graph-major: for each graph, for each kappa, for each beta.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np

from leptonid import layout
from leptonid.efp_engine import Plan, compile_plan, evaluate_plan

__all__ = [
    "EFPGraph",
    "graphs_from_specs",
    "format_number",
    "column_names",
    "parse_column",
    "particles_from_images",
    "EFPCalculator",
    "compute_efps",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EFPGraph:
    """A prime EFP multigraph: ``n`` vertices, ``d`` edges, index ``k``, edge list."""

    n: int
    d: int
    k: int
    edges: tuple[tuple[int, int], ...]

    @property
    def name(self) -> str:
        """``<n>_<d>_<k>``, as in the column names."""
        return f"{self.n}_{self.d}_{self.k}"


def graphs_from_specs(selections: Sequence[Sequence[str]]) -> list[EFPGraph]:
    """Enumerate EFP graphs with energyflow's ``EFPSet`` selection strings.

    ``selections`` is a list of selections, each a list of ``EFPSet.sel``
    strings, e.g. ``[["d<=7", "p==1"], ["d<=8", "p==1", "c==4"]]``. The union
    is returned without repeats, ordered by (d, n, k). Only connected graphs
    (p == 1) are supported; composite EFPs are products of prime ones.
    """
    import energyflow  # imported lazily: only graph enumeration needs it

    seen: dict[tuple[int, int, int], EFPGraph] = {}
    for sel in selections:
        if isinstance(sel, str):
            raise ValueError(f"each EFP selection must be a list of strings, got {sel!r}")
        efpset = energyflow.EFPSet(*sel, measure="hadr", normed=False)
        cols = list(efpset.cols)
        for graph, spec in zip(efpset.graphs(), efpset.specs):
            n, d, k, p = (int(spec[cols.index(c)]) for c in ("n", "d", "k", "p"))
            if p != 1:
                raise ValueError(f"selection {sel} contains composite EFP {n}_{d}_{k}; add 'p==1'")
            seen[(n, d, k)] = EFPGraph(n, d, k, tuple((int(a), int(b)) for a, b in graph))
    return sorted(seen.values(), key=lambda g: (g.d, g.n, g.k))


def format_number(x: float) -> str:
    """Format kappa/beta for column names: integers without a point, else ``repr``.

    ``-1 -> '-1'``, ``0.0 -> '0'``, ``0.5 -> '0.5'``, ``2.0 -> '2'``, ``0.25 -> '0.25'``.
    """
    x = float(x)
    if not np.isfinite(x):
        raise ValueError(f"kappa/beta must be finite, got {x}")
    return str(int(x)) if x == int(x) else repr(x)


def column_names(graphs: Sequence[EFPGraph], kappas: Sequence[float], betas: Sequence[float]) -> list[str]:
    """Names ``EFP_<n>_<d>_<k>_k_<kappa>_b_<beta>``, graph-major then kappa then beta."""
    return [
        f"EFP_{g.name}_k_{format_number(kp)}_b_{format_number(bt)}" for g in graphs for kp in kappas for bt in betas
    ]


def parse_column(name: str) -> tuple[int, int, int, float, float]:
    """Inverse of :func:`column_names` for one name: ``(n, d, k, kappa, beta)``."""
    parts = name.split("_")
    if len(parts) != 8 or parts[0] != "EFP" or parts[4] != "k" or parts[6] != "b":
        raise ValueError(f"not an EFP column name: {name!r}")
    return int(parts[1]), int(parts[2]), int(parts[3]), float(parts[5]), float(parts[7])


def particles_from_images(images: np.ndarray, image: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Turn images into padded particle arrays.

    Arguments:
        images: ``(N, H, W)`` or ``(N, H, W, 1)`` pixel ET.
        image: ``"et"`` or ``"ht"`` (selects the pixel grid).

    Returns:
        ``(z, eta, phi, mask)``, each ``(N, M)`` float64 (mask bool), M the
        largest number of non-zero pixels; particles are the non-zero pixels
        in row-major order, z = pixel ET / image ET. Padding has z = 0 and
        mask False. An image without any non-zero pixel has no particles.
    """
    eta_c, phi_c = layout.pixel_centres(image)
    arr = np.asarray(images)
    if arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim != 3 or arr.shape[1:] != (len(eta_c), len(phi_c)):
        raise ValueError(f"{image} images must have shape (N, {len(eta_c)}, {len(phi_c)}[, 1]), got {np.shape(images)}")
    flat = arr.reshape(len(arr), -1).astype(np.float64)
    if not np.all(np.isfinite(flat)):
        raise ValueError(f"{image} images contain non-finite pixels")
    if np.any(flat < 0):
        raise ValueError(
            f"{image} images contain negative pixels: EFPs need ET in physical units "
            "(standardised images are not ET; use the unscaled images)"
        )
    nz = flat != 0
    counts = nz.sum(axis=1)
    m = int(counts.max()) if len(flat) else 0
    order = np.argsort(~nz, axis=1, kind="stable")[:, :m]  # non-zero pixels first
    mask = np.arange(m)[None, :] < counts[:, None]
    et = np.where(mask, np.take_along_axis(flat, order, axis=1), 0.0)
    total = et.sum(axis=1, keepdims=True)
    z = np.divide(et, total, out=np.zeros_like(et), where=total != 0)
    eta_grid = np.repeat(np.asarray(eta_c, dtype=np.float64), len(phi_c))
    phi_grid = np.tile(np.asarray(phi_c, dtype=np.float64), len(eta_c))
    eta = np.where(mask, eta_grid[order], 0.0)
    phi = np.where(mask, phi_grid[order], 0.0)
    return z, eta, phi, mask


def _get_xp(backend: str) -> Any:
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
        self.xp = _get_xp(backend)
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
        return column_names(self.graphs, self.kappas, self.betas)

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


def iter_chunks(n_rows: int, n_chunks: int) -> Iterable[tuple[int, int]]:
    """Row ranges ``[start, stop)`` of ``n_chunks`` near-equal chunks of ``n_rows`` rows."""
    if n_chunks < 1:
        raise ValueError(f"n_chunks must be >= 1, got {n_chunks}")
    edges = np.linspace(0, n_rows, n_chunks + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]
