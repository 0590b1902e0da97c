"""Benchmark: simulated candidates per second per core, signal and background.

Runs each process for a fixed wall-time budget on one core (this process)
and counts candidates that pass the full chain (Pythia 8 with MPI, truth
pre-filter, calorimeter, features, preselection). The baseline is the
background without enrichment: plain ``HardQCD:all`` at pTHatMin 15 GeV and
no forced heavy-flavour decays, with the same selection.

    python bench/simulation.py [--quick]

Then ``--breakdown`` (on by default, ``--no-breakdown`` skips it) shows where a
background event's time goes and bounds what an unbiased generator-level
pre-selection could save: the Pythia time per event in full, without
hadronisation (the parton level: hard process, showers, multiparton
interactions) and without multiparton interactions; and the share of events
with an outgoing hard parton inside the acceptance, the only handle a veto
before the parton level has. Last line: ``simulation speedup: ...``, the
best ratio such a pre-selection could reach (no faster path is implemented:
see the README, "Speed").
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import numpy as np  # noqa: E402

from leptonid.simulation import chunk  # noqa: E402
from leptonid.simulation import generator as gen  # noqa: E402


def rate(process: str, cfg: chunk.SimulationConfig, budget_s: float, seed: int) -> tuple[float, float, int]:
    """Candidates and events per CPU second of one process within ``budget_s`` CPU seconds (init excluded).

    CPU time (``time.process_time``) measures the cost per core even when
    other programs share the machine.
    """
    pythia = gen.make_pythia(gen.pythia_settings(process, seed, cfg.pt_hat_min, cfg.mpi))
    rng = np.random.default_rng(seed)
    n_cand = n_events = 0
    t0 = time.process_time()
    while time.process_time() - t0 < budget_s:
        particles = gen.generate_batch(pythia, cfg.batch_events)
        n_events += cfg.batch_events
        cands, _ = chunk.candidates_from_batch(particles, process, cfg, rng)
        n_cand += cands["et"].shape[0] if cands else 0
    dt = time.process_time() - t0
    return n_cand / dt, n_events / dt, n_cand


def hard_parton_recorder():  # noqa: ANN201
    """A Pythia user hook recording, in ``min_abs_eta``, the smallest |eta| of each event's outgoing hard partons.

    It vetoes nothing. Built by a function, since ``pythia8mc`` is imported only when needed.
    """
    import pythia8mc

    class HardPartons(pythia8mc.UserHooks):
        def __init__(self) -> None:
            pythia8mc.UserHooks.__init__(self)
            self.min_abs_eta: list[float] = []

        def canVetoProcessLevel(self) -> bool:  # noqa: N802
            return True

        def doVetoProcessLevel(self, process) -> bool:  # noqa: N802, ANN001
            etas = [abs(process[i].eta()) for i in range(process.size()) if abs(process[i].status()) == 23]
            self.min_abs_eta.append(min(etas))
            return False

    return HardPartons()


def ms_per_event(process: str, cfg: chunk.SimulationConfig, extra: list[str], n_events: int, seed: int) -> float:
    """CPU milliseconds per event of Pythia alone (``nextBatch``) with ``extra`` settings added."""
    pythia = gen.make_pythia(gen.pythia_settings(process, seed, cfg.pt_hat_min, cfg.mpi) + extra)
    t0 = time.process_time()
    pythia.nextBatch(n_events)
    return 1000.0 * (time.process_time() - t0) / n_events


def acceptance_share(process: str, cfg: chunk.SimulationConfig, n_events: int, seed: int, eta_max: float) -> float:
    """Share of events with at least one outgoing hard parton at |eta| < ``eta_max``."""
    hook = hard_parton_recorder()
    settings = gen.pythia_settings(process, seed, cfg.pt_hat_min, cfg.mpi) + ["HadronLevel:all = off"]
    gen.make_pythia(settings, user_hooks=hook).nextBatch(n_events)
    return float(np.mean(np.array(hook.min_abs_eta) < eta_max))


def breakdown(cfg: chunk.SimulationConfig, n_events: int, seed: int) -> float:
    """Print where a background event's Pythia time goes; return the best speed-up of an unbiased pre-selection.

    A pre-selection between the parton level and hadronisation can at best
    skip all of hadronisation; one before the parton level can at best skip
    the events without a hard parton in the acceptance (|eta| < seed
    acceptance + 0.3, the core and ring around a seed). Both together: at best
    Pythia's full time over the parton-level time of the accepted events, a
    bound on the whole chunk too (Pythia is most, not all, of it).
    """
    best = 1.0
    eta_max = cfg.seed_cuts.eta_max + 0.3
    for process in ("qcd", "heavy_flavour"):
        full = ms_per_event(process, cfg, [], n_events, seed)
        parton = ms_per_event(process, cfg, ["HadronLevel:all = off"], n_events, seed)
        no_mpi = ms_per_event(process, cfg, ["HadronLevel:all = off", "PartonLevel:MPI = off"], n_events, seed)
        share = acceptance_share(process, cfg, n_events, seed, eta_max)
        pre_hadron = full / parton
        pre_parton = 1.0 / share
        both = full / (share * parton)
        print(
            f"{process:14s} Pythia {full:5.2f} ms/event; parton level {parton:5.2f} ({parton / full:.0%}), "
            f"of it multiparton interactions {parton - no_mpi:5.2f} ({(parton - no_mpi) / full:.0%}); "
            f"hard parton at |eta| < {eta_max:.1f} in {share:.1%} of events",
            flush=True,
        )
        print(
            f"{'':14s} best unbiased pre-selection: before hadronisation {pre_hadron:.2f}x, "
            f"before the parton level {pre_parton:.2f}x, both {both:.2f}x (Pythia's time alone)",
            flush=True,
        )
        best = max(best, both)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short budgets (under a minute in all)")
    ap.add_argument(
        "--breakdown",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="time Pythia per stage and bound an unbiased pre-selection (default: on)",
    )
    args = ap.parse_args()
    budget = 8.0 if args.quick else 60.0
    cfg = dataclasses.replace(chunk.config_from_mapping({}), batch_events=50 if args.quick else 200)
    rows = {}
    for name, process, c in [
        ("signal zee", "zee", cfg),
        ("background qcd (pTHat 30)", "qcd", cfg),
        ("background heavy_flavour (forced b/c -> e)", "heavy_flavour", cfg),
        ("baseline: qcd pTHat 15, no enrichment", "qcd", dataclasses.replace(cfg, pt_hat_min=15.0)),
    ]:
        rows[name] = rate(process, c, budget, seed=12345)
        r, ev, n = rows[name]
        print(f"{name:45s} {r:8.2f} candidates/s  {ev:7.1f} events/s  ({n} candidates)", flush=True)
    signal = rows["signal zee"][0]
    f_hf = cfg.heavy_flavour_fraction
    r_q, r_h = rows["background qcd (pTHat 30)"][0], rows["background heavy_flavour (forced b/c -> e)"][0]
    background = 1.0 / (f_hf / max(r_h, 1e-9) + (1 - f_hf) / max(r_q, 1e-9))
    base_rate, _, base_n = rows["baseline: qcd pTHat 15, no enrichment"]
    # no baseline candidate at all: quote a bound (fewer than one candidate in the budget)
    baseline = base_rate if base_n > 0 else 1.0 / budget
    less, more = ("", "") if base_n > 0 else ("<", ">")
    print(f"simulation: {signal:.1f} signal/s, {background:.2f} background/s per core")
    print(
        f"background mix ({f_hf:.0%} heavy flavour): {background:.2f}/s; baseline {less}{baseline:.2f}/s; "
        f"signal/background cost ratio {signal / max(background, 1e-9):.1f}"
    )
    # the ratio last: background candidates per CPU second, our enriched mix over the plain baseline
    print(f"simulation enrichment: {more}{background / baseline:.0f}x")
    if args.breakdown:
        best = breakdown(cfg, 100 if args.quick else 1000, seed=12345)
        print(f"simulation speedup: at most {best:.2f}x from an unbiased generator-level pre-selection (none in use)")


if __name__ == "__main__":
    main()
