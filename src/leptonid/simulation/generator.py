"""Pythia 8 event generation and truth-level candidate seeds.

Signal: prompt electrons from Z/gamma* -> e e. Background: jets that fake
electrons, from light-flavour QCD (photon/pi0-rich jets with a track) and
heavy-flavour production with b/c hadrons forced to decay semileptonically
to electrons (non-prompt electrons). Events are turned into flat numpy arrays
of final-state particles; a cheap truth-level pre-filter picks the seeds that
could pass the detector-level preselection before the calorimeter step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Processes this module can generate; the first is the signal.
PROCESSES: tuple[str, ...] = ("zee", "qcd", "heavy_flavour")

#: PDG ids of b and c hadrons whose decays are forced to contain an electron.
HEAVY_HADRONS: tuple[int, ...] = (511, 521, 531, 5122, 411, 421, 431, 4122)

#: Magnitude of the bending of a charged track at the calorimeter: dphi = BEND_K * B * R / pT.
BEND_K: float = 0.3 / 2.0

NEUTRINOS = (12, 14, 16)


@dataclass(frozen=True)
class Particles:
    """Flat arrays of final-state particles of a batch of events (one row per particle)."""

    event: np.ndarray  # int64 event index within the batch
    pid: np.ndarray  # int32 PDG id
    charge: np.ndarray  # float32 electric charge
    pt: np.ndarray
    eta: np.ndarray
    phi: np.ndarray
    e: np.ndarray
    r0: np.ndarray  # production radius in the transverse plane (m); 0 for particles from the collision
    origin: np.ndarray  # int32 PDG id of the particle's origin (:func:`origins`): 23 for Z/gamma* decay products

    def __len__(self) -> int:
        return int(self.pid.shape[0])

    def take(self, mask: np.ndarray) -> "Particles":
        """Return the particles where ``mask`` is true."""
        return Particles(*(getattr(self, f)[mask] for f in self.__dataclass_fields__))


def pythia_settings(process: str, seed: int, pt_hat_min: float, mpi: bool = True) -> list[str]:
    """Return the Pythia 8 settings strings of one process.

    ``seed`` must lie in [1, 900000000]. ``pt_hat_min`` is the minimum pT of
    the hard 2->2 scattering for the QCD processes (ignored for ``zee``).
    """
    if process not in PROCESSES:
        raise ValueError(f"unknown process {process!r}; expected one of {PROCESSES}")
    if not 1 <= seed <= 900_000_000:
        raise ValueError(f"Pythia seed {seed} outside [1, 900000000]")
    common = [
        "Print:quiet = on",
        "Beams:eCM = 13000.",
        "Random:setSeed = on",
        f"Random:seed = {seed}",
        f"PartonLevel:MPI = {'on' if mpi else 'off'}",
    ]
    if process == "zee":
        return common + [
            "WeakSingleBoson:ffbar2gmZ = on",
            "23:onMode = off",
            "23:onIfAny = 11",
            "PhaseSpace:mHatMin = 40.",
        ]
    if process == "qcd":
        return common + ["HardQCD:all = on", f"PhaseSpace:pTHatMin = {pt_hat_min}"]
    # heavy flavour: b bbar and c cbar, every b/c hadron decays to a final state with an electron
    forced = [f"{i}:onMode = off" for i in HEAVY_HADRONS] + [f"{i}:onIfAny = 11" for i in HEAVY_HADRONS]
    return common + ["HardQCD:hardbbbar = on", "HardQCD:hardccbar = on", f"PhaseSpace:pTHatMin = {pt_hat_min}"] + forced


def make_pythia(settings: list[str], user_hooks=None):  # noqa: ANN001
    """Create and initialise a quiet Pythia instance with ``settings`` (and ``user_hooks``, if given)."""
    import pythia8mc  # imported lazily: heavy, and only needed when generating

    pythia = pythia8mc.Pythia("", False)
    for line in settings:
        if not pythia.readString(line):
            raise ValueError(f"Pythia rejected the setting {line!r}")
    if user_hooks is not None:
        pythia.setUserHooksPtr(user_hooks)
    if not pythia.init():
        raise RuntimeError("Pythia initialisation failed")
    return pythia


def charge_table(pythia, pids: np.ndarray) -> np.ndarray:
    """Return the electric charge of each PDG id in ``pids`` (looked up once per distinct id)."""
    unique, inverse = np.unique(pids, return_inverse=True)
    charges = np.array([pythia.particleData.charge(int(i)) for i in unique], dtype=np.float32)
    return charges[inverse]


def generate_batch(pythia, n_events: int) -> Particles:
    """Generate ``n_events`` events and return their visible final-state particles.

    Neutrinos are dropped; everything else (muons included) is kept for the
    calorimeter. Events that Pythia fails to make are skipped.
    """
    import awkward as ak

    batch = pythia.nextBatch(n_events)
    prt = batch.prt
    final_mask = prt.status > 0
    final = prt[final_mask]
    origin = origins(
        ak.to_numpy(ak.flatten(prt.id)).astype(np.int32),
        ak.to_numpy(ak.flatten(prt.mother1)).astype(np.int64),
        ak.to_numpy(ak.num(prt)),
        which=np.flatnonzero(ak.to_numpy(ak.flatten(final_mask))),
    )
    counts = ak.to_numpy(ak.num(final))
    flat = ak.flatten(final)
    pid = ak.to_numpy(flat.id).astype(np.int32)
    px = ak.to_numpy(flat.p.px)
    py = ak.to_numpy(flat.p.py)
    pz = ak.to_numpy(flat.p.pz)
    e = ak.to_numpy(flat.p.e)
    event = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    visible = ~np.isin(np.abs(pid), NEUTRINOS)
    pt = np.hypot(px, py)
    visible &= pt > 1e-3
    pid, px, py, pz, e, event, pt, origin = (a[visible] for a in (pid, px, py, pz, e, event, pt, origin))
    eta = np.arcsinh(pz / pt)
    phi = np.arctan2(py, px)
    return Particles(
        event=event,
        pid=pid,
        charge=charge_table(pythia, pid),
        pt=pt,
        eta=eta,
        phi=phi,
        e=e,
        r0=np.zeros_like(pt),
        origin=origin,
    )


def origins(
    pid: np.ndarray, mother1: np.ndarray, counts: np.ndarray, which: np.ndarray | None = None, max_depth: int = 200
) -> np.ndarray:
    """PDG id of each particle's origin in Pythia event records: the first ancestor of another species.

    ``pid`` and ``mother1`` (index of the first mother within its event, 0 for
    none) are flattened over the events, ``counts`` the particles per event.
    The mother chain is followed through copies of the same particle (the
    same |id|: recoil copies, final-state radiation), so an electron from
    Z/gamma* -> e e (after any number of radiated photons) has origin 23, an
    electron from a photon splitting 22, one from a B decay the B's id.
    Particles without a mother have origin 0. ``which`` (flat indices) limits
    the walk to those particles (e.g. the final state); the result has one
    entry per index of ``which``.
    """
    start_all = np.repeat(np.cumsum(counts) - counts, counts)
    cur = np.arange(pid.size) if which is None else np.asarray(which, np.int64)
    start = start_all[cur]
    for _ in range(max_depth):
        has_mother = mother1[cur] > 0
        mother = np.where(has_mother, start + mother1[cur], cur)
        same = has_mother & (np.abs(pid[mother]) == np.abs(pid[cur]))
        if not same.any():
            break
        cur = np.where(same, mother, cur)
    has_mother = mother1[cur] > 0
    return np.where(has_mother, pid[np.where(has_mother, start + mother1[cur], 0)], 0).astype(np.int32)


def delta_phi(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return a - b wrapped into [-pi, pi)."""
    return (a - b + np.pi) % (2 * np.pi) - np.pi


@dataclass(frozen=True)
class SeedCuts:
    """Truth-level pre-filter of candidate seeds (looser than the detector preselection)."""

    track_pt_min: float = 5.0  # GeV, seed track pT
    eta_max: float = 2.4
    core_et_min: float = 10.0  # GeV, visible ET within dR < core_dr of the seed
    core_dr: float = 0.1
    em_fraction_min: float = 0.3  # (photons + electrons) / visible ET in the core
    ring_dr: float = 0.3  # isolation ring core_dr < dR < ring_dr
    ring_max: float = 1.0  # ring ET / core ET


def seeds(particles: Particles, cuts: SeedCuts, electrons_only: bool) -> tuple[np.ndarray, dict]:
    """Return indices (into ``particles``) of seed tracks that pass the truth-level pre-filter.

    A seed is a charged particle with pT > ``track_pt_min`` inside the
    tracker; with ``electrons_only`` only e+/e- are seeds (signal). Seeds
    within ``core_dr`` of a harder seed in the same event are dropped (one
    candidate per cluster). Also returns a dict of counts for monitoring.
    """
    is_track = (particles.charge != 0) & (particles.pt > cuts.track_pt_min) & (np.abs(particles.eta) < cuts.eta_max)
    if electrons_only:
        is_track &= np.abs(particles.pid) == 11
    seed_idx = np.flatnonzero(is_track)
    if seed_idx.size == 0:
        return seed_idx, {"seeds": 0, "prefiltered": 0}
    # pair every seed with every particle of its event (events are contiguous and sorted)
    starts = np.searchsorted(particles.event, particles.event[seed_idx], side="left")
    stops = np.searchsorted(particles.event, particles.event[seed_idx], side="right")
    lengths = stops - starts
    pair_seed = np.repeat(np.arange(seed_idx.size), lengths)
    offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    pair_prt = np.repeat(starts, lengths) + offsets
    s = seed_idx[pair_seed]
    deta = particles.eta[pair_prt] - particles.eta[s]
    dphi = delta_phi(particles.phi[pair_prt], particles.phi[s])
    dr2 = deta**2 + dphi**2
    et = particles.pt[pair_prt]
    is_muon = np.abs(particles.pid[pair_prt]) == 13
    is_em = np.isin(np.abs(particles.pid[pair_prt]), (11, 22))
    in_core = (dr2 < cuts.core_dr**2) & ~is_muon
    in_ring = (dr2 >= cuts.core_dr**2) & (dr2 < cuts.ring_dr**2) & ~is_muon
    n = seed_idx.size
    core = np.bincount(pair_seed, weights=et * in_core, minlength=n)
    core_em = np.bincount(pair_seed, weights=et * (in_core & is_em), minlength=n)
    ring = np.bincount(pair_seed, weights=et * in_ring, minlength=n)
    ok = (core > cuts.core_et_min) & (core_em > cuts.em_fraction_min * core) & (ring < cuts.ring_max * core)
    # a harder seed track within the core of this one removes it
    harder = (
        (dr2 < cuts.core_dr**2)
        & (particles.charge[pair_prt] != 0)
        & (particles.pt[pair_prt] > particles.pt[s])
        & (np.abs(particles.eta[pair_prt]) < cuts.eta_max)
    )
    if electrons_only:
        harder &= np.abs(particles.pid[pair_prt]) == 11
    ok &= np.bincount(pair_seed, weights=harder, minlength=n) == 0
    return seed_idx[ok], {"seeds": int(n), "prefiltered": int(ok.sum())}
