"""GPU check (one script, one device run): training through our data path and the EFP engine on one GPU.

1. ``bench/training.py`` with ``KERAS_BACKEND=jax`` on the full 137,500
   training events for ``et``, ``et_and_ht`` and ``hl`` (Table V networks,
   batch 128, two timed epochs after a warm-up epoch), compared with the
   in-memory ceilings of paper-facts section 8 (one H100, JAX, bare fit:
   et 39,600, et_and_ht 32,200, hl 106,000 events/s). Target: ours >= 80%.
2. The EFP engine's ``jax`` backend on the full paper grid (d<=7 prime +
   d<=8 c==4, 15 (kappa, beta) points) on a sample of ECal-like images and
   of HCal-like (upsampled) images, extrapolated to 220,000 events.
   Target: 220,000 ECal events in under 10 minutes; the HCal figure is reported.

On the device machine (JAX, CUDA, numpy, h5py, pyarrow are there; keras,
namex, optree, EnergyFlow and its compiled dependency Wasserstein are not):
carry a folder of their wheels, built for its Python (3.12), e.g. made here with

    pip download --no-deps --only-binary=:all: --python-version 312 \\
        --platform manylinux2014_x86_64 -d .gpu_wheels \\
        keras==3.15.1 namex==0.1.0 optree==0.20.0 EnergyFlow==1.4.0 Wasserstein==1.1.0

(``.gpu_wheels`` listed in ``.git/info/exclude``), then run with carry
``[".gpu_wheels"]`` and the command

    pip install -q --no-deps --target /tmp/pylib .gpu_wheels/*.whl && \\
    PYTHONPATH=/tmp/pylib:src PYTHONUNBUFFERED=1 python bench/gpu_check.py

Not yet run on a GPU; from the ceilings the training part should take 3-5
minutes on one H100-class GPU. The EFP part's compile time is unknown: on
the CPU, compiling the full paper set for one batch shape took over 8 CPU
minutes and 13 GB before it was stopped, and every (batch, multiplicity)
shape compiles anew, so the first pass is printed apart from the timed
second one; run it with timeout_s 600 and the output under $OUT. ``--quick``
(small samples, the d<=3 set for the EFPs) is a dry run of the script
itself and also runs on a CPU.
Last line: ``gpu check: training ours/ceiling et <r>, et_and_ht <r>, hl <r>;
EFP 220,000 ECal events <minutes> min (HCal <minutes> min)``.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "bench"))

#: paper-facts section 8: one H100, Keras 3 JAX backend, bare fit of random inputs, events/s
CEILING = {"et": 39_600, "et_and_ht": 32_200, "hl": 106_000}
TARGET_SHARE = 0.8
PAPER_EVENTS = 220_000
EFP_TARGET_MIN = 10.0
GRAPH_SETS = [["d<=7", "p==1"], ["d<=8", "p==1", "c==4"]]
QUICK_GRAPH_SETS = [["d<=3", "p==1"]]
KAPPAS, BETAS = [-1, 0, 0.5, 1, 2], [0.5, 1, 2]
OURS = re.compile(r"^(?P<fs>\w+): bare fit .* ours [\d.]+ s \((?P<rate>[\d,]+) events/s\)")


def training_rates(events: int, epochs: int) -> dict[str, float]:
    """Run bench/training.py with the JAX backend; return our path's events/s per feature set."""
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, str(REPO / "bench" / "training.py"), "--feature-sets", *CEILING,
           "--events", str(events), "--epochs", str(epochs)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    print(proc.stdout, end="", flush=True)
    if proc.returncode != 0:
        raise SystemExit(f"bench/training.py failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    rates = {}
    for line in proc.stdout.splitlines():
        match = OURS.match(line)
        if match:
            rates[match["fs"]] = float(match["rate"].replace(",", ""))
    missing = set(CEILING) - set(rates)
    if missing:
        raise SystemExit(f"bench/training.py printed no rate for {sorted(missing)}")
    return rates


def hcal_like_images(n_events: int, seed: int = 0) -> np.ndarray:
    """32x32 HCal-like images: 5-20 occupied coarse cells (8x8 grid), each upsampled to 4x4 pixels of 1/16 its ET."""
    rng = np.random.default_rng(seed)
    coarse = np.zeros((n_events, 8, 8))
    for i in range(n_events):
        cells = rng.choice(64, size=rng.integers(5, 21), replace=False)
        coarse[i].ravel()[cells] = rng.exponential(2.0, cells.size) + 0.05
    return np.repeat(np.repeat(coarse, 4, axis=1), 4, axis=2) / 16.0


def efp_minutes(
    images: np.ndarray, image: str, batch_size: int, graph_sets: list[list[str]] = GRAPH_SETS
) -> tuple[float, float]:
    """(events/s, projected minutes for 220,000 events) of the jax backend on the full paper grid.

    The sample is computed twice: the first pass compiles every batch shape
    (its time is printed), the second, timed, runs compiled code only.
    """
    from leptonid.efp import EFPCalculator, graphs_from_specs, particles_from_images

    calc = EFPCalculator(graphs_from_specs(graph_sets), KAPPAS, BETAS, backend="jax", batch_size=batch_size)
    z, eta, phi, mask = particles_from_images(images, image)
    start = time.perf_counter()
    calc.compute(z, eta, phi, mask)
    first = time.perf_counter() - start
    start = time.perf_counter()
    values = calc.compute(z, eta, phi, mask)
    seconds = time.perf_counter() - start
    if not np.isfinite(values).any():
        raise SystemExit(f"{image}: no finite EFP value")
    rate = len(z) / seconds
    n_part = mask.sum(axis=1)
    print(f"EFP {image}: {len(z)} events, particles {n_part.min()}-{n_part.max()} (mean {n_part.mean():.0f}), "
          f"{len(calc.columns)} EFPs; first pass (compiling) {first:.1f} s, second {seconds:.1f} s = "
          f"{rate:,.0f} events/s; 220,000 events: {PAPER_EVENTS / rate / 60:.1f} min", flush=True)
    return rate, PAPER_EVENTS / rate / 60


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small samples: a dry run of the script")
    parser.add_argument("--efp-batch", type=int, default=256, help="events contracted at once")
    args = parser.parse_args()
    events, epochs = (256, 1) if args.quick else (137_500, 2)
    n_ecal, n_hcal = (16, 2) if args.quick else (8192, 512)

    import jax

    from efp import realistic_ecal_images

    print(f"device: {jax.devices()}; {events} training events, {epochs} timed epochs; "
          f"EFP samples {n_ecal} ECal, {n_hcal} HCal", flush=True)
    rates = training_rates(events, epochs)
    shares = {fs: rates[fs] / CEILING[fs] for fs in CEILING}
    for fs, share in shares.items():
        verdict = "ok" if share >= TARGET_SHARE else f"BELOW the {TARGET_SHARE:.0%} target"
        print(f"{fs}: ours {rates[fs]:,.0f} events/s = {share:.0%} of the {CEILING[fs]:,} ceiling ({verdict})")
    # --quick: the d<=3 set (compiling the full set for the CPU takes many minutes and over 13 GB)
    graph_sets = QUICK_GRAPH_SETS if args.quick else GRAPH_SETS
    _, ecal_min = efp_minutes(realistic_ecal_images(n_ecal, seed=1), "et", args.efp_batch, graph_sets)
    _, hcal_min = efp_minutes(hcal_like_images(n_hcal, seed=2), "ht", args.efp_batch, graph_sets)
    verdict = "ok" if ecal_min < EFP_TARGET_MIN else f"OVER the {EFP_TARGET_MIN:.0f} min target"
    print(f"EFP ECal: {ecal_min:.1f} min for 220,000 events ({verdict})")
    print(f"gpu check: training ours/ceiling {', '.join(f'{fs} {s:.2f}' for fs, s in shares.items())}; "
          f"EFP 220,000 ECal events {ecal_min:.1f} min (HCal {hcal_min:.1f} min)")


if __name__ == "__main__":
    main()
