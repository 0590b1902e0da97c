"""Benchmark: leptonid's batched EFP engine vs energyflow, event by event.

Both run on one core (thread variables set to 1 before numpy is imported)
on the same realistic ECal-like images (a narrow EM core plus diffuse noise,
60-130 non-zero pixels), for the d<=5 and the d<=7 prime sets.

* Per event: ``n_compare`` events (at least 12) picked at evenly spaced
  quantiles of the number of non-zero pixels, the same events for both;
  each is computed alone, on the same (kappa, beta) points, by our engine
  (best of 3) and by energyflow's ``EFP.compute`` (set-up not timed). The
  ratio of the two times is reported per event and as min / median / max.
* Batched: our engine on all events and the full 5 x 3 (kappa, beta) grid,
  as events per second per (kappa, beta) point (for information; our
  batching over events and kappas is not in the per-event ratio).

Times are CPU time of this process (``time.process_time``), so other jobs
on a shared machine disturb the ratio less than wall time would.

Usage: python bench/efp.py [--quick]
Last line: ``efp speedup: <median>x (min <min>x, max <max>x)`` (d<=7 set, per event).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "XLA_FLAGS"):
    os.environ[_var] = "1" if _var != "XLA_FLAGS" else "--xla_cpu_multi_thread_eigen=false"

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from leptonid.efp import EFPCalculator, EFPGraph, graphs_from_specs, particles_from_images  # noqa: E402


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


def pick_by_multiplicity(counts: np.ndarray, n_pick: int) -> np.ndarray:
    """Indices of ``n_pick`` events at evenly spaced quantiles (0 to 1) of ``counts``."""
    order = np.argsort(counts, kind="stable")
    return order[np.linspace(0, len(counts) - 1, n_pick).round().astype(int)]


def time_ours_per_event(calc: EFPCalculator, z, eta, phi, mask, repeats: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """CPU seconds (best of ``repeats``) and values of each event computed alone."""
    calc.compute(z[:1], eta[:1], phi[:1], mask[:1])  # warm-up
    times, values = [], []
    for i in range(len(z)):
        best = np.inf
        for _ in range(repeats):
            t = time.process_time()
            out = calc.compute(z[i : i + 1], eta[i : i + 1], phi[i : i + 1], mask[i : i + 1])
            best = min(best, time.process_time() - t)
        times.append(best)
        values.append(out[0])
    return np.array(times), np.array(values)


def time_energyflow_per_event(
    graphs: list[EFPGraph], kappas: list[float], betas: list[float], z, eta, phi, mask
) -> tuple[np.ndarray, np.ndarray]:
    """CPU seconds and values (ordered as ours: graph, kappa, beta) of energyflow on each event."""
    import energyflow

    sets = [
        energyflow.EFPSet(*[g.edges for g in graphs], measure="hadr", beta=beta, kappa=kappa, normed=False)
        for kappa in kappas
        for beta in betas
    ]  # set-up (einsum paths) is not timed
    times, values = [], []
    for i in range(len(z)):
        event = np.stack([z[i][mask[i]], eta[i][mask[i]], phi[i][mask[i]]], axis=1)
        t = time.process_time()
        cols = [efpset.compute(event) for efpset in sets]
        times.append(time.process_time() - t)
        values.append(np.stack(cols, axis=-1).reshape(len(graphs), len(kappas), len(betas)).ravel())
    return np.array(times), np.array(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer events and (kappa, beta) points, about a minute")
    args = parser.parse_args()
    kappas, betas = [-1, 0, 0.5, 1, 2], [0.5, 1, 2]
    n_events, n_compare, ks, bs = (48, 12, [0.5], [0.5]) if args.quick else (192, 24, [0.5, 1], [0.5])
    images = realistic_ecal_images(n_events, seed=1)
    z, eta, phi, mask = particles_from_images(images, "et")
    n_part = mask.sum(axis=1)
    pick = pick_by_multiplicity(n_part, n_compare)
    print(
        f"events: {n_events} (batched, kappas {kappas} x betas {betas}); per event: {n_compare} events with"
        f" {n_part[pick].min()}-{n_part[pick].max()} non-zero pixels (quantiles), kappas {ks} x betas {bs}"
    )
    ratios = np.array([np.nan])
    for label, sel in (("d<=5", [["d<=5", "p==1"]]), ("d<=7", [["d<=7", "p==1"]])):
        graphs = graphs_from_specs(sel)
        calc = EFPCalculator(graphs, kappas, betas)
        t = time.process_time()
        calc.compute(z, eta, phi, mask)
        rate_batched = n_events * len(kappas) * len(betas) / (time.process_time() - t)
        sub = (z[pick], eta[pick], phi[pick], mask[pick])
        t_ours, ours = time_ours_per_event(EFPCalculator(graphs, ks, bs), *sub)
        t_ef, ref = time_energyflow_per_event(graphs, ks, bs, *sub)
        rel = np.max(np.abs(ours - ref) / np.maximum(np.abs(ref), 1e-300))
        ratios = t_ef / t_ours
        print(f"{label}: {len(graphs)} graphs; max rel diff {rel:.1e}")
        print("  pixels  ours (ms)  energyflow (ms)  ratio")
        for n, a, b, r in zip(n_part[pick], t_ours, t_ef, ratios):
            print(f"  {n:6d}  {1e3 * a:9.2f}  {1e3 * b:15.1f}  {r:5.0f}x")
        print(
            f"  per event: ratio min {ratios.min():.0f}x, median {np.median(ratios):.0f}x, max {ratios.max():.0f}x;"
            f" energyflow {len(ks) * len(bs) * len(pick) / t_ef.sum():.2f} events/s per (kappa, beta) point;"
            f" ours batched over {n_events} events and the full grid {rate_batched:.0f} events/s per point"
        )
    print(f"efp speedup: {np.median(ratios):.0f}x (min {ratios.min():.0f}x, max {ratios.max():.0f}x)")


if __name__ == "__main__":
    main()
