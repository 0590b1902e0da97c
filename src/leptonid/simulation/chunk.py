"""One chunk of simulated candidates of one class: generation, detector, features, preselection."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field

import numpy as np

from leptonid import features
from leptonid.atomic import atomic_output
from leptonid.progress import progress
from leptonid.simulation import calorimeter as calo
from leptonid.simulation import generator as gen
from leptonid.simulation.writer import write_chunk

log = logging.getLogger(__name__)

CLASSES: tuple[str, ...] = ("signal", "background")
#: PDG id of the Z/gamma* in Pythia's record: signal electrons must descend from it.
Z_BOSON = 23
#: Truth process of a background candidate whose seed is a photon-conversion leg, whatever made the event.
CONVERSION = "conversion"
#: Process names in code order (``process`` dataset of a chunk file): the generator's processes, then
#: :data:`CONVERSION`. Codes are stable: a new process gets the next code, never an old one.
PROCESS_NAMES: tuple[str, ...] = ("zee", "qcd", "heavy_flavour", CONVERSION)
#: Process codes stored per candidate.
PROCESS_CODES: dict[str, int] = {name: i for i, name in enumerate(PROCESS_NAMES)}


@dataclass(frozen=True)
class Preselection:
    """Loose detector-level preselection, the same for both classes."""

    et_min: float = 15.0  # GeV, candidate ET = ECal ET in the 7x7 cells around the centre
    et_max: float = 60.0
    r_had_max: float = 0.5
    track_fraction_min: float = 0.1  # seed-track pT / candidate ET
    calo_iso_max: float = 1.0  # (ECal ET in dR<0.3 - candidate ET) / candidate ET


@dataclass(frozen=True)
class SimulationConfig:
    """Everything that decides what one chunk generates."""

    pt_hat_min: float = 30.0  # GeV, hard-scattering pT of the background processes
    heavy_flavour_fraction: float = 0.8  # share of background candidates from forced semileptonic b/c decays
    batch_events: int = 200
    mpi: bool = True
    max_events_per_candidate: float = 1000.0  # give up (error) beyond this many events per wanted candidate
    seed_cuts: gen.SeedCuts = field(default_factory=gen.SeedCuts)
    preselection: Preselection = field(default_factory=Preselection)
    calorimeter: calo.CalorimeterConfig = field(default_factory=calo.CalorimeterConfig)


@dataclass
class ProcessStats:
    """Bookkeeping of one process in a chunk."""

    events: int = 0
    prefiltered: int = 0
    candidates: int = 0
    seconds: float = 0.0  # wall time
    cpu_seconds: float = 0.0  # CPU time of this process (the per-core cost, whatever else runs)


def candidates_from_batch(
    particles: gen.Particles, process: str, cfg: SimulationConfig, rng: np.random.Generator
) -> tuple[dict[str, np.ndarray], int]:
    """Run detector, features and preselection on one batch; return candidate arrays and #prefiltered."""
    particles = calo.convert_photons(particles, cfg.calorimeter, rng)
    signal = process == "zee"
    idx, counts = gen.seeds(particles, cfg.seed_cuts, electrons_only=signal)
    if signal:
        idx = idx[particles.origin[idx] == Z_BOSON]  # truth-matched: electrons from the Z/gamma* decay
    if idx.size == 0:
        return {}, 0
    events = np.unique(particles.event[idx])
    near = particles.take(np.isin(particles.event, events))
    showers = calo.deposits(near, cfg.calorimeter, rng)
    c_phi = calo.bend(particles.phi[idx], particles.charge[idx], particles.pt[idx], particles.r0[idx], cfg.calorimeter)
    imgs = calo.images(showers, particles.event[idx], particles.eta[idx], c_phi, cfg.calorimeter, rng)
    hl = features.high_level(imgs.et, imgs.ht)
    cand_et = features.window_sum(imgs.et, 7, 7)
    p = cfg.preselection
    ok = (
        (cand_et > p.et_min)
        & (cand_et < p.et_max)
        & (hl[:, 0] < p.r_had_max)
        & (particles.pt[idx] > p.track_fraction_min * cand_et)
        & (hl[:, 5] - cand_et < p.calo_iso_max * cand_et)
    )
    out = {
        "et": imgs.et[ok, :, :, None].astype(np.float32),
        "ht": imgs.ht[ok, :, :, None].astype(np.float32),
        "hl": hl[ok].astype(np.float32),
        "mass": features.mass(imgs.et[ok], imgs.ht[ok]).astype(np.float32),
        "cand_et": cand_et[ok].astype(np.float32),
        "track_pt": particles.pt[idx][ok].astype(np.float32),
        "seed_pid": particles.pid[idx][ok].astype(np.int32),
        "process": truth_process(particles, idx[ok], process),
        "true_et": particles.pt[idx][ok].astype(np.float32),
        "true_eta": particles.eta[idx][ok].astype(np.float32),
        "true_phi": particles.phi[idx][ok].astype(np.float32),
        # the same showers without the measurement (smearing, noise, thresholds): for the validation
        "mass_no_noise": features.mass(imgs.et_no_noise[ok], imgs.ht_no_noise[ok]).astype(np.float32),
        "iso_dr03_no_noise": features.isolation(imgs.et_no_noise[ok], 0.3).astype(np.float32),
    }
    return out, idx.size


def truth_process(particles: gen.Particles, seeds: np.ndarray, process: str) -> np.ndarray:
    """Process code (int8) of each seed: ``process``, or :data:`CONVERSION` for a background seed that is a
    photon-conversion leg (an electron or positron produced away from the collision, ``r0 > 0``)."""
    codes = np.full(seeds.size, PROCESS_CODES[process], dtype=np.int8)
    if process != "zee":
        leg = (particles.r0[seeds] > 0) & (np.abs(particles.pid[seeds]) == 11)
        codes[leg] = PROCESS_CODES[CONVERSION]
    return codes


def process_targets(cls: str, n_candidates: int, cfg: SimulationConfig) -> dict[str, int]:
    """How many candidates each process of a class contributes to a chunk."""
    if cls == "signal":
        return {"zee": n_candidates}
    if cls == "background":
        n_hf = int(round(n_candidates * cfg.heavy_flavour_fraction))
        return {"qcd": n_candidates - n_hf, "heavy_flavour": n_hf}
    raise ValueError(f"unknown class {cls!r}; expected one of {CLASSES}")


def pythia_seed(seq: np.random.SeedSequence) -> int:
    """A Pythia seed in [1, 900000000] drawn from a SeedSequence."""
    return int(seq.generate_state(1, dtype=np.uint32)[0] % 900_000_000) + 1


def simulate_chunk(
    cls: str, n_candidates: int, seed_seq: np.random.SeedSequence, cfg: SimulationConfig, progress_s: float = 10.0
) -> tuple[dict[str, np.ndarray], dict[str, ProcessStats]]:
    """Generate at least ``n_candidates`` preselected candidates of one class (exactly that many are kept).

    Each process gets its own child seeds: one for Pythia and one for the
    detector random numbers, so chunks and processes are independent.
    """
    if n_candidates < 0:
        raise ValueError(f"n_candidates must be >= 0, got {n_candidates}")
    targets = process_targets(cls, n_candidates, cfg)
    children = seed_seq.spawn(len(gen.PROCESSES))
    results: list[dict[str, np.ndarray]] = []
    stats: dict[str, ProcessStats] = {}
    for process, target in targets.items():
        st = stats[process] = ProcessStats()
        if target == 0:
            continue
        py_seq, det_seq = children[PROCESS_CODES[process]].spawn(2)
        rng = np.random.default_rng(det_seq)
        pythia = gen.make_pythia(gen.pythia_settings(process, pythia_seed(py_seq), cfg.pt_hat_min, cfg.mpi))
        parts: list[dict[str, np.ndarray]] = []
        t0 = time.perf_counter()
        c0 = time.process_time()
        with progress(target, f"{cls} {process}", "candidates", log, interval=progress_s) as bar:
            while st.candidates < target:
                if st.events > cfg.max_events_per_candidate * target:
                    raise RuntimeError(
                        f"{process}: only {st.candidates}/{target} candidates after {st.events} events; "
                        "the selection is too tight for max_events_per_candidate"
                    )
                particles = gen.generate_batch(pythia, cfg.batch_events)
                st.events += cfg.batch_events
                cands, n_pre = candidates_from_batch(particles, process, cfg, rng)
                st.prefiltered += n_pre
                if cands:
                    parts.append(cands)
                    found = cands["et"].shape[0]
                    bar.update(min(found, target - st.candidates))
                    st.candidates += found
                bar.set_postfix_str(f"{st.events} events generated", refresh=False)
        st.seconds = time.perf_counter() - t0
        st.cpu_seconds = time.process_time() - c0
        merged = {k: np.concatenate([p[k] for p in parts])[:target] for k in parts[0]}
        results.append(merged)
    if not results:
        raise ValueError("a chunk must hold at least one candidate")
    out = {k: np.concatenate([r[k] for r in results]) for k in results[0]}
    out["y"] = np.full(out["et"].shape[0], 1.0 if cls == "signal" else 0.0, dtype=np.float32)
    return out, stats


#: Every key of the ``simulation:`` config section that changes what a chunk generates,
#: with its default. The one list of them: the workflow's ``simulate_chunk`` params
#: (rules/common.smk) are these keys, and a test checks the config schema against it.
CHUNK_DEFAULTS: dict[str, object] = {
    "n_per_class": 3000,
    "n_chunks": 4,
    "seed": 20201105,
    "signal_oversample": 5.0,  # signal is cheap: make 5x more, so that every ET bin can be matched
    "background_oversample": 1.2,  # ET matching drops about 10% of the background
    "pt_hat_min": 30.0,
    "heavy_flavour_fraction": 0.8,
    "batch_events": 200,
    "mpi": True,
    "et_min": 15.0,
    "et_max": 60.0,
    "eta_max": 2.4,
    "r_had_max": 0.5,
    "track_fraction_min": 0.1,
    "calo_iso_max": 1.0,
    "calorimeter": {},
}

#: Keys of the ``simulation:`` section that only the merge reads (ET matching, splits).
MERGE_KEYS: tuple[str, ...] = ("split", "et_bin_width")
#: Keys of the ``simulation:`` section that only its validation reads.
VALIDATION_KEYS: tuple[str, ...] = ("enforce_calibration",)


def chunk_settings(section: dict) -> dict:
    """The chunk keys of a ``simulation:`` config section (merge-only keys dropped).

    Raises ``ValueError`` naming any key that is neither a chunk nor a merge key.
    """
    known = [*CHUNK_DEFAULTS, *MERGE_KEYS, *VALIDATION_KEYS]
    unknown = sorted(set(section) - set(known))
    if unknown:
        raise ValueError(f"unknown simulation settings {unknown}; known: {sorted(known)}")
    return {k: section[k] for k in CHUNK_DEFAULTS if k in section}


def config_from_mapping(params: dict) -> SimulationConfig:
    """Build a :class:`SimulationConfig` from chunk settings (missing keys take :data:`CHUNK_DEFAULTS`).

    Unknown keys raise ``ValueError`` naming them. ``calorimeter`` may override any
    field of :class:`~leptonid.simulation.calorimeter.CalorimeterConfig`.
    """
    p = {**CHUNK_DEFAULTS, **chunk_settings(params)}
    if not 0.0 <= float(p["heavy_flavour_fraction"]) <= 1.0:
        raise ValueError(f"heavy_flavour_fraction must be in [0, 1], got {p['heavy_flavour_fraction']}")
    if float(p["et_min"]) >= float(p["et_max"]):
        raise ValueError(f"et_min ({p['et_min']}) must be below et_max ({p['et_max']})")
    calo_fields = set(calo.CalorimeterConfig.__dataclass_fields__)
    unknown = set(p["calorimeter"]) - calo_fields
    if unknown:
        raise ValueError(f"unknown calorimeter settings {sorted(unknown)}; known: {sorted(calo_fields)}")
    return SimulationConfig(
        pt_hat_min=float(p["pt_hat_min"]),
        heavy_flavour_fraction=float(p["heavy_flavour_fraction"]),
        batch_events=int(p["batch_events"]),
        mpi=bool(p["mpi"]),
        seed_cuts=gen.SeedCuts(eta_max=float(p["eta_max"]), core_et_min=0.7 * float(p["et_min"])),
        preselection=Preselection(
            et_min=float(p["et_min"]),
            et_max=float(p["et_max"]),
            r_had_max=float(p["r_had_max"]),
            track_fraction_min=float(p["track_fraction_min"]),
            calo_iso_max=float(p["calo_iso_max"]),
        ),
        calorimeter=calo.CalorimeterConfig(**p["calorimeter"]),
    )


def chunk_seed(seed: int, cls: str, chunk: int) -> np.random.SeedSequence:
    """The independent SeedSequence of chunk ``chunk`` of class ``cls`` (spawn key (class, chunk))."""
    if cls not in CLASSES:
        raise ValueError(f"unknown class {cls!r}; expected one of {CLASSES}")
    return np.random.SeedSequence(int(seed), spawn_key=(CLASSES.index(cls), int(chunk)))


def chunk_size(n_per_class: int, oversample: float, n_chunks: int, chunk: int) -> int:
    """Candidates chunk ``chunk`` of ``n_chunks`` must make so that all chunks make ceil(n * oversample)."""
    if n_chunks < 1 or not 0 <= chunk < n_chunks:
        raise ValueError(f"chunk {chunk} outside 0..{n_chunks - 1}")
    total = int(np.ceil(n_per_class * oversample))
    return total // n_chunks + (1 if chunk < total % n_chunks else 0)


def run_chunk(cls: str, chunk: int, params: dict, out_h5: str, out_json: str) -> dict:
    """Simulate chunk ``chunk`` of class ``cls`` from the ``simulation:`` section and write it.

    The h5 file holds only reproducible content; timings go to ``out_json``.
    """
    cfg = config_from_mapping(params)
    p = {**CHUNK_DEFAULTS, **chunk_settings(params)}
    oversample = float(p[f"{cls}_oversample"])
    n = chunk_size(int(p["n_per_class"]), oversample, int(p["n_chunks"]), chunk)
    arrays, stats = simulate_chunk(cls, n, chunk_seed(int(p["seed"]), cls, chunk), cfg)
    write_chunk(out_h5, arrays, {"class": cls, "chunk": chunk, "n_candidates": n, "seed": int(p["seed"])})
    summary = {"class": cls, "chunk": chunk, "processes": {k: vars(v) for k, v in stats.items()}}
    with atomic_output(out_json) as tmp, open(tmp, "w") as f:
        json.dump(summary, f, indent=2, sort_keys=True)
    return summary
