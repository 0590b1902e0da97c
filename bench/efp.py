"""Benchmark: leptonid's batched EFP engine vs energyflow's ``batch_compute``.

Both run on the same realistic ECal-like images (a narrow EM core plus
diffuse noise, 60-130 non-zero pixels) on one core (thread variables set to
1 before numpy is imported), for the d<=5 and the d<=7 prime sets at one
(kappa, beta) point per energyflow call and the full paper grid for ours.
energyflow is run over the grid too, one (kappa, beta) at a time, on fewer
events; rates are events per second for the whole (kappa, beta) grid.

Times are CPU time of this process (``time.process_time``), so other jobs
on a shared machine disturb the ratio less than wall time would.

Usage: python bench/efp.py [--quick]
Last line: ``efp speedup: <ratio>x`` (d<=7 set).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "XLA_FLAGS"):
    os.environ[_var] = "1" if _var != "XLA_FLAGS" else "--xla_cpu_multi_thread_eigen=false"

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from leptonid.efp import EFPCalculator, graphs_from_specs, particles_from_images  # noqa: E402


def realistic_ecal_images(n_events: int, seed: int = 0) -> np.ndarray:
    """ECal-like 31x31 ET images: an EM shower core plus diffuse noise.

    The core is a narrow 2-d Gaussian (sigma about 0.7 cells) of 20-100 GeV
    near the centre, plus a few soft satellite deposits; noise pixels are
    exponential(0.2 GeV) at random cells so that each image has 60-130
    non-zero pixels.
    """
    rng = np.random.default_rng(seed)
    size = 31
    yy, xx = np.mgrid[0:size, 0:size]
    images = np.zeros((n_events, size, size))
    for i in range(n_events):
        c = 15 + rng.normal(0, 0.3, 2)
        sig = rng.uniform(0.5, 0.9)
        core = np.exp(-((yy - c[0]) ** 2 + (xx - c[1]) ** 2) / (2 * sig**2))
        core *= rng.uniform(20, 100) / core.sum()
        core[core < 0.05] = 0
        img = core
        target = rng.integers(60, 131)
        have = int((img > 0).sum())
        free = np.flatnonzero(img.ravel() == 0)
        extra = rng.choice(free, size=max(target - have, 0), replace=False)
        img.ravel()[extra] = rng.exponential(0.2, len(extra)) + 1e-3
        images[i] = img
    return images


def time_ours(calc: EFPCalculator, z, eta, phi, mask) -> tuple[float, np.ndarray]:
    t = time.process_time()
    out = calc.compute(z, eta, phi, mask)
    return time.process_time() - t, out


def time_energyflow(graphs, kappas, betas, z, eta, phi, mask) -> tuple[float, np.ndarray]:
    import energyflow

    events = [np.stack([z[i][mask[i]], eta[i][mask[i]], phi[i][mask[i]]], axis=1) for i in range(len(z))]
    sets = [
        energyflow.EFPSet(*[g.edges for g in graphs], measure="hadr", beta=beta, kappa=kappa, normed=False)
        for kappa in kappas
        for beta in betas
    ]  # set-up (einsum paths) is not timed
    t = time.process_time()
    cols = [efpset.batch_compute(events, n_jobs=1) for efpset in sets]
    dt = time.process_time() - t
    # reorder to ours: graph-major, then kappa, then beta
    arr = np.stack(cols, axis=-1).reshape(len(z), len(graphs), len(kappas), len(betas))
    return dt, arr.reshape(len(z), -1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer events, under a minute")
    args = parser.parse_args()
    kappas, betas = [-1, 0, 0.5, 1, 2], [0.5, 1, 2]
    # energyflow: one (kappa, beta) point to time (scaled to the grid); ours: full grid
    n_ours, n_ef, ef_grid = (24, 1, 1) if args.quick else (192, 4, 2)
    images = realistic_ecal_images(n_ours, seed=1)
    z, eta, phi, mask = particles_from_images(images, "et")
    n_part = mask.sum(axis=1)
    print(
        f"events: {n_ours} (ours), {n_ef} (energyflow); non-zero pixels {n_part.min()}-{n_part.max()},"
        f" mean {n_part.mean():.0f}; kappas {kappas}, betas {betas}"
    )
    ratio = float("nan")
    for label, sel in (("d<=5", [["d<=5", "p==1"]]), ("d<=7", [["d<=7", "p==1"]])):
        graphs = graphs_from_specs(sel)
        calc = EFPCalculator(graphs, kappas, betas)
        t_ours, ours = time_ours(calc, z, eta, phi, mask)
        # energyflow on the first n_ef events for ef_grid (kappa, beta) points
        ks, bs = kappas[2 : 2 + ef_grid], betas[:1]  # kappa 0.5 (and 1), beta 0.5
        pick = np.linspace(0, n_ours - 1, n_ef).round().astype(int)  # spread over multiplicities
        t_ef, ref = time_energyflow(graphs, ks, bs, z[pick], eta[pick], phi[pick], mask[pick])
        sub = ours[pick].reshape(n_ef, len(graphs), len(kappas), len(betas))[:, :, 2 : 2 + ef_grid, :1]
        rel = np.max(np.abs(sub.reshape(n_ef, -1) - ref) / np.maximum(np.abs(ref), 1e-300))
        rate_ours = n_ours * len(kappas) * len(betas) / t_ours  # event x (kappa, beta) per s
        rate_ef = n_ef * len(ks) * len(bs) / t_ef
        ratio = rate_ours / rate_ef
        print(
            f"{label}: {len(graphs)} graphs; per (kappa, beta) point: ours {rate_ours:.1f} events/s,"
            f" energyflow {rate_ef:.2f} events/s; full {len(kappas)}x{len(betas)} grid: ours"
            f" {rate_ours / 15:.1f} events/s, energyflow {rate_ef / 15:.3f} events/s;"
            f" ratio {ratio:.0f}x; max rel diff {rel:.1e}"
        )
    print(f"efp speedup: {ratio:.0f}x")


if __name__ == "__main__":
    main()
