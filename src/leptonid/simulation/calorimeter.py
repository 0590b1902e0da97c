"""A parametric calorimeter with the paper's geometry (Collado et al., the detector images).

Steps, each vectorised over all particles of a batch of events:

1. :func:`convert_photons`: photons convert to e+e- pairs in the tracker material.
2. :func:`deposits`: every particle becomes a few energy "spots" in the ECal and
   HCal: EM showers (with bremsstrahlung for electrons), hadronic showers split
   between ECal and HCal, minimum-ionising muons; charged particles bend in the
   solenoid field before they reach the calorimeter; energies are smeared with
   the calorimeter resolutions.
3. :func:`images`: the spots are scattered (``np.bincount``) onto local grids of
   global ECal (0.025 x pi/126) and HCal (0.1 x pi/31) cells around each
   candidate, cell noise is added and zero-suppressed, the image centre is the
   highest-ET ECal cell within +-8 cells of the candidate, and the 31x31 ECal
   window and the 8x8 HCal block (upsampled to 32x32, sums kept) are cut out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from leptonid import layout
from leptonid.simulation.generator import Particles, delta_phi

ETA_MAX: float = 2.5  # calorimeter acceptance
N_ECAL_ETA = int(round(2 * ETA_MAX / layout.ECAL_DETA))  # 200
N_ECAL_PHI = int(round(2 * math.pi / layout.ECAL_DPHI))  # 252
N_HCAL_ETA = int(round(2 * ETA_MAX / layout.HCAL_DETA))  # 50
N_HCAL_PHI = int(round(2 * math.pi / layout.HCAL_DPHI))  # 62
SEED_SEARCH = 8  # the centre is the highest-ET ECal cell within +-8 cells of the candidate
ECAL_HALF = layout.ECAL_SIZE // 2  # 15
ECAL_LOCAL_HALF = SEED_SEARCH + ECAL_HALF  # 23: local ECal grid is 47 x 47 cells
HCAL_LOCAL_HALF = 8  # local HCal grid is 17 x 17 coarse cells


@dataclass(frozen=True)
class CalorimeterConfig:
    """Parameters of the detector model (energies in GeV, lengths in m, widths in cells)."""

    b_field: float = 2.0  # solenoid field (T)
    radius: float = 1.15  # radius of the ECal front face (m)
    conversion_probability: float = 0.3  # photon conversion probability in the tracker
    conversion_radius_max: float = 0.8  # conversions happen uniformly in r in [0.05, this] (m)
    brem_a: float = 0.5  # brem energy fraction of electrons ~ Beta(brem_a, brem_b)
    brem_b: float = 2.5
    ecal_stochastic: float = 0.10  # sigma(E)/E = a/sqrt(E) (+) b
    ecal_constant: float = 0.007
    hcal_stochastic: float = 0.50
    hcal_constant: float = 0.03
    ecal_noise: float = 0.04  # per-cell noise sigma in E (GeV)
    hcal_noise: float = 0.10
    zero_suppression: float = 2.0  # cells with E below this many noise sigmas read 0
    em_core_width: float = 0.7  # EM shower core Gaussian sigma (ECal cells)
    em_tail_width: float = 2.0  # EM shower tail Gaussian sigma (ECal cells)
    em_tail_fraction: float = 0.1
    em_leakage: float = 0.01  # mean fraction of an EM shower leaking into the HCal
    em_spots: int = 8
    had_ecal_probability: float = 0.6  # hadron starts its shower in the ECal
    had_ecal_fraction_max: float = 0.7  # ECal share ~ U(0.1, this) when it does
    had_ecal_width: float = 2.5  # hadronic shower sigma in the ECal (ECal cells)
    hcal_width: float = 0.35  # shower sigma in the HCal (HCal cells)
    had_spots: int = 6
    mip_ecal: float = 0.3  # energy of a minimum-ionising particle in the ECal / HCal
    mip_hcal: float = 1.5

    @property
    def bend_k(self) -> float:
        """k in dphi = k / pT for a track from the beam line to the ECal (GeV)."""
        return 0.3 * self.b_field * self.radius / 2.0

    def without_noise(self) -> "CalorimeterConfig":
        """Return a copy with no noise, no resolution smearing and no zero suppression."""
        return replace(
            self,
            ecal_stochastic=0.0,
            ecal_constant=0.0,
            hcal_stochastic=0.0,
            hcal_constant=0.0,
            ecal_noise=0.0,
            hcal_noise=0.0,
            zero_suppression=0.0,
        )


@dataclass(frozen=True)
class Spots:
    """Energy deposits, one row per spot."""

    event: np.ndarray  # int64
    eta: np.ndarray
    phi: np.ndarray
    et: np.ndarray  # transverse energy (GeV)
    hcal: np.ndarray  # bool: True for the HCal, False for the ECal


def _sorted_by_event(p: Particles) -> Particles:
    order = np.argsort(p.event, kind="stable")
    return p.take(order)


def convert_photons(particles: Particles, cfg: CalorimeterConfig, rng: np.random.Generator) -> Particles:
    """Replace converting photons (pT > 1 GeV, |eta| < 2.5) by e+e- pairs with a production radius.

    The pair shares the photon energy with a uniform fraction; both legs fly
    along the photon direction from the conversion radius and bend from there.
    """
    p = particles
    cand = (p.pid == 22) & (p.pt > 1.0) & (np.abs(p.eta) < ETA_MAX)
    conv = cand & (rng.random(len(p)) < cfg.conversion_probability)
    if not conv.any():
        return p
    idx = np.flatnonzero(conv)
    x = rng.uniform(0.0, 1.0, idx.size)
    r = rng.uniform(0.05, cfg.conversion_radius_max, idx.size)
    sign = np.where(rng.random(idx.size) < 0.5, 1.0, -1.0).astype(np.float32)
    legs = []
    for frac, q in ((x, sign), (1.0 - x, -sign)):
        legs.append(
            Particles(
                event=p.event[idx],
                pid=np.where(q > 0, -11, 11).astype(np.int32),
                charge=q,
                pt=p.pt[idx] * frac,
                eta=p.eta[idx],
                phi=p.phi[idx],
                e=p.e[idx] * frac,
                r0=r,
            )
        )
    kept = p.take(~conv)
    fields = Particles.__dataclass_fields__
    merged = Particles(*(np.concatenate([getattr(kept, f)] + [getattr(leg, f) for leg in legs]) for f in fields))
    merged = merged.take(merged.pt > 1e-3)
    return _sorted_by_event(merged)


def bend(phi: np.ndarray, charge: np.ndarray, pt: np.ndarray, r0: np.ndarray, cfg: CalorimeterConfig) -> np.ndarray:
    """Return phi at the ECal front face of tracks starting at radius ``r0`` (small-angle helix).

    Positive charges bend towards smaller phi. Tracks that curl up before the
    ECal must be removed by the caller (see :func:`reaches_calorimeter`).
    """
    path = np.clip(cfg.radius - r0, 0.0, None)
    dphi = cfg.bend_k * (path / cfg.radius) ** 2 / np.maximum(pt, 1e-6)
    return delta_phi(phi - charge * dphi, 0.0)


def reaches_calorimeter(charge: np.ndarray, pt: np.ndarray, cfg: CalorimeterConfig) -> np.ndarray:
    """True where a particle reaches the ECal (neutral, or pT above the curling threshold)."""
    return (charge == 0) | (pt > cfg.bend_k)


def _smear(energy: np.ndarray, stochastic: float, constant: float, rng: np.random.Generator) -> np.ndarray:
    e = np.maximum(energy, 1e-9)
    sigma = np.sqrt(stochastic**2 / e + constant**2)
    return np.clip(energy * (1.0 + sigma * rng.standard_normal(energy.shape)), 0.0, None)


def _spread(
    event: np.ndarray,
    eta: np.ndarray,
    phi: np.ndarray,
    energy: np.ndarray,
    n_spots: int,
    sigma_eta: np.ndarray,
    sigma_phi: np.ndarray,
    hcal: bool,
    rng: np.random.Generator,
) -> Spots:
    """Split deposits of energy ``energy`` into ``n_spots`` Gaussian-distributed spots (ET)."""
    if event.size == 0:
        empty = np.zeros(0)
        return Spots(np.zeros(0, np.int64), empty, empty, empty, np.zeros(0, bool))
    ev = np.repeat(event, n_spots)
    s_eta = np.repeat(eta, n_spots) + np.repeat(sigma_eta, n_spots) * rng.standard_normal(ev.size)
    s_phi = delta_phi(np.repeat(phi, n_spots) + np.repeat(sigma_phi, n_spots) * rng.standard_normal(ev.size), 0.0)
    s_et = np.repeat(energy / n_spots, n_spots) / np.cosh(s_eta)
    return Spots(ev, s_eta, s_phi, s_et, np.full(ev.size, hcal))


def _concat(spots: list[Spots]) -> Spots:
    return Spots(*(np.concatenate([getattr(s, f) for s in spots]) for f in Spots.__dataclass_fields__))


def deposits(particles: Particles, cfg: CalorimeterConfig, rng: np.random.Generator) -> Spots:
    """Turn particles into ECal/HCal energy spots (EM and hadronic showers, brems, MIPs, bending)."""
    p = particles.take(
        reaches_calorimeter(particles.charge, particles.pt, cfg) & (np.abs(particles.eta) < ETA_MAX + 0.1)
    )
    apid = np.abs(p.pid)
    is_e = apid == 11
    is_gamma = apid == 22
    is_mu = apid == 13
    is_had = ~(is_e | is_gamma | is_mu)
    parts: list[Spots] = []
    em_ev, em_eta, em_phi, em_e = [], [], [], []

    # photons: straight lines
    em_ev.append(p.event[is_gamma])
    em_eta.append(p.eta[is_gamma])
    em_phi.append(p.phi[is_gamma])
    em_e.append(p.e[is_gamma])

    # electrons: a brem photon emitted at radius r_b lands at phi0 - q k r_b (2 - r_b / R) / pT,
    # the electron with the rest of its energy bends with its reduced pT
    e_idx = np.flatnonzero(is_e)
    f_brem = rng.beta(cfg.brem_a, cfg.brem_b, e_idx.size)
    r0 = p.r0[e_idx]
    u = rng.random(e_idx.size)
    path = np.clip(cfg.radius - r0, 0.0, None)
    k_rel = cfg.bend_k * (path / cfg.radius) ** 2 / np.maximum(p.pt[e_idx], 1e-6)
    q = p.charge[e_idx]
    brem_phi = delta_phi(p.phi[e_idx] - q * k_rel * u * (2.0 - u), 0.0)
    pt_after = p.pt[e_idx] * (1.0 - f_brem)
    reaches = pt_after > cfg.bend_k * (path / cfg.radius) ** 2
    e_phi = bend(p.phi[e_idx], q, pt_after, r0, cfg)
    em_ev += [p.event[e_idx], p.event[e_idx][reaches]]
    em_eta += [p.eta[e_idx], p.eta[e_idx][reaches]]
    em_phi += [brem_phi, e_phi[reaches]]
    em_e += [p.e[e_idx] * f_brem, (p.e[e_idx] * (1.0 - f_brem))[reaches]]

    ev, eta, phi, energy = (np.concatenate(a) for a in (em_ev, em_eta, em_phi, em_e))
    energy = _smear(energy, cfg.ecal_stochastic, cfg.ecal_constant, rng)
    leak = np.clip(cfg.em_leakage * rng.exponential(1.0, energy.size), 0.0, 0.5)
    tail = rng.random(energy.size) < cfg.em_tail_fraction
    width = np.where(tail, cfg.em_tail_width, cfg.em_core_width)
    parts.append(
        _spread(
            ev,
            eta,
            phi,
            energy * (1 - leak),
            cfg.em_spots,
            width * layout.ECAL_DETA,
            width * layout.ECAL_DPHI,
            False,
            rng,
        )
    )
    hw = np.full(ev.size, cfg.hcal_width)
    parts.append(_spread(ev, eta, phi, energy * leak, 1, hw * layout.HCAL_DETA, hw * layout.HCAL_DPHI, True, rng))

    # hadrons: bend, then share the energy between ECal and HCal
    h = np.flatnonzero(is_had)
    h_phi = bend(p.phi[h], p.charge[h], p.pt[h], p.r0[h], cfg)
    e_h = p.e[h]
    starts_in_ecal = rng.random(h.size) < cfg.had_ecal_probability
    share = rng.uniform(0.1, cfg.had_ecal_fraction_max, h.size)
    e_ecal = np.where(starts_in_ecal, share * e_h, np.minimum(cfg.mip_ecal, e_h) * (p.charge[h] != 0))
    e_hcal = _smear(e_h - e_ecal, cfg.hcal_stochastic, cfg.hcal_constant, rng)
    e_ecal = _smear(e_ecal, cfg.hcal_stochastic, cfg.hcal_constant, rng)
    w = np.where(starts_in_ecal, cfg.had_ecal_width, cfg.em_core_width)
    parts.append(
        _spread(
            p.event[h], p.eta[h], h_phi, e_ecal, cfg.had_spots, w * layout.ECAL_DETA, w * layout.ECAL_DPHI, False, rng
        )
    )
    hw = np.full(h.size, cfg.hcal_width)
    parts.append(
        _spread(
            p.event[h], p.eta[h], h_phi, e_hcal, cfg.had_spots, hw * layout.HCAL_DETA, hw * layout.HCAL_DPHI, True, rng
        )
    )

    # muons: minimum ionising in both
    m = np.flatnonzero(is_mu)
    m_phi = bend(p.phi[m], p.charge[m], p.pt[m], p.r0[m], cfg)
    zero = np.zeros(m.size)
    parts.append(_spread(p.event[m], p.eta[m], m_phi, np.minimum(cfg.mip_ecal, p.e[m]), 1, zero, zero, False, rng))
    parts.append(_spread(p.event[m], p.eta[m], m_phi, np.full(m.size, cfg.mip_hcal), 1, zero, zero, True, rng))

    spots = _concat(parts)
    keep = (np.abs(spots.eta) < ETA_MAX) & (spots.et > 0)
    spots = Spots(*(getattr(spots, f)[keep] for f in Spots.__dataclass_fields__))
    order = np.argsort(spots.event, kind="stable")
    return Spots(*(getattr(spots, f)[order] for f in Spots.__dataclass_fields__))


def ecal_cell(eta: np.ndarray, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the global (eta, phi) ECal cell indices of positions."""
    ie = np.floor((eta + ETA_MAX) / layout.ECAL_DETA).astype(np.int64)
    ip = np.floor((phi + math.pi) / layout.ECAL_DPHI).astype(np.int64) % N_ECAL_PHI
    return ie, ip


def hcal_cell(eta: np.ndarray, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the global (eta, phi) HCal cell indices of positions."""
    ie = np.floor((eta + ETA_MAX) / layout.HCAL_DETA).astype(np.int64)
    ip = np.floor((phi + math.pi) / layout.HCAL_DPHI).astype(np.int64) % N_HCAL_PHI
    return ie, ip


def _pairs(spot_event: np.ndarray, cand_event: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All (candidate, spot) index pairs of the same event; ``spot_event`` must be sorted."""
    starts = np.searchsorted(spot_event, cand_event, side="left")
    stops = np.searchsorted(spot_event, cand_event, side="right")
    lengths = stops - starts
    pair_cand = np.repeat(np.arange(cand_event.size), lengths)
    offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return pair_cand, np.repeat(starts, lengths) + offsets


def scatter_local(
    spots: Spots, cand_event: np.ndarray, cand_ie: np.ndarray, cand_ip: np.ndarray, hcal: bool
) -> np.ndarray:
    """Sum spot ET into local cell grids around each candidate cell: (N, 2h+1, 2h+1).

    Rows are global eta cells ``cand_ie - h ... cand_ie + h``, columns phi
    cells (wrapping around in phi). ``h`` is 23 for the ECal, 8 for the HCal.
    """
    half = HCAL_LOCAL_HALF if hcal else ECAL_LOCAL_HALF
    n_phi = N_HCAL_PHI if hcal else N_ECAL_PHI
    side = 2 * half + 1
    sel = spots.hcal == hcal
    s_event, s_eta, s_phi, s_et = spots.event[sel], spots.eta[sel], spots.phi[sel], spots.et[sel]
    pc, ps = _pairs(s_event, cand_event)
    ie, ip = (hcal_cell if hcal else ecal_cell)(s_eta[ps], s_phi[ps])
    di = ie - cand_ie[pc] + half
    dj = (ip - cand_ip[pc] + n_phi // 2) % n_phi - n_phi // 2 + half
    ok = (di >= 0) & (di < side) & (dj >= 0) & (dj < side)
    flat = (pc[ok] * side + di[ok]) * side + dj[ok]
    grid = np.bincount(flat, weights=s_et[ps][ok], minlength=cand_event.size * side * side)
    return grid.reshape(cand_event.size, side, side)


def add_noise(
    grid: np.ndarray, cand_ie: np.ndarray, sigma_e: float, n_sigma: float, hcal: bool, rng: np.random.Generator
) -> np.ndarray:
    """Add Gaussian cell noise (sigma in E) and zero-suppress cells below ``n_sigma`` sigmas.

    Cells outside the calorimeter (|eta| > 2.5) read 0.
    """
    half = (grid.shape[1] - 1) // 2
    deta = layout.HCAL_DETA if hcal else layout.ECAL_DETA
    n_eta = N_HCAL_ETA if hcal else N_ECAL_ETA
    rows = cand_ie[:, None] + np.arange(-half, half + 1)[None, :]  # (N, side) global eta cells
    inside = (rows >= 0) & (rows < n_eta)
    eta_centre = -ETA_MAX + (rows + 0.5) * deta
    sigma_et = sigma_e / np.cosh(eta_centre)  # (N, side)
    out = grid + sigma_et[:, :, None] * rng.standard_normal(grid.shape) if sigma_e > 0 else grid.copy()
    out = np.where(out > n_sigma * sigma_et[:, :, None], out, 0.0)
    out = np.where(out > 0, out, 0.0)
    return out * inside[:, :, None]


def _window(grid: np.ndarray, row0: np.ndarray, col0: np.ndarray, size: int) -> np.ndarray:
    """Cut ``size x size`` windows starting at (row0, col0) out of (N, S, S) grids."""
    rows = row0[:, None] + np.arange(size)[None, :]
    cols = col0[:, None] + np.arange(size)[None, :]
    n = np.arange(grid.shape[0])[:, None, None]
    return grid[n, rows[:, :, None], cols[:, None, :]]


def upsample_hcal(block: np.ndarray) -> np.ndarray:
    """Upsample (N, 8, 8) coarse HCal cells to (N, 32, 32), each fine pixel 1/16 of its cell."""
    f = layout.HCAL_UPSAMPLE
    return np.repeat(np.repeat(block, f, axis=1), f, axis=2) / (f * f)


@dataclass(frozen=True)
class Images:
    """Calorimeter images of candidates."""

    et: np.ndarray  # (N, 31, 31) ECal ET (GeV)
    ht: np.ndarray  # (N, 32, 32) HCal ET (GeV), upsampled
    centre_eta: np.ndarray  # (N,) eta of the centre ECal cell
    centre_phi: np.ndarray  # (N,) phi of the centre ECal cell


def images(
    spots: Spots,
    cand_event: np.ndarray,
    cand_eta: np.ndarray,
    cand_phi: np.ndarray,
    cfg: CalorimeterConfig,
    rng: np.random.Generator,
) -> Images:
    """Make the ECal and HCal images of candidates at (eta, phi) on the ECal front face."""
    if cand_event.size == 0:
        return Images(np.zeros((0, 31, 31)), np.zeros((0, 32, 32)), np.zeros(0), np.zeros(0))
    ie, ip = ecal_cell(cand_eta, cand_phi)
    ecal = scatter_local(spots, cand_event, ie, ip, hcal=False)
    ecal = add_noise(ecal, ie, cfg.ecal_noise, cfg.zero_suppression, False, rng)
    # centre: highest-ET cell within +-8 cells of the candidate's cell
    h = ECAL_LOCAL_HALF
    search = ecal[:, h - SEED_SEARCH : h + SEED_SEARCH + 1, h - SEED_SEARCH : h + SEED_SEARCH + 1]
    flat = search.reshape(search.shape[0], -1).argmax(axis=1)
    side = 2 * SEED_SEARCH + 1
    ci = flat // side - SEED_SEARCH  # offset of the centre from the candidate cell
    cj = flat % side - SEED_SEARCH
    et = _window(ecal, h + ci - ECAL_HALF, h + cj - ECAL_HALF, layout.ECAL_SIZE)
    c_ie = ie + ci
    c_ip = (ip + cj) % N_ECAL_PHI
    centre_eta = -ETA_MAX + (c_ie + 0.5) * layout.ECAL_DETA
    centre_phi = -math.pi + (c_ip + 0.5) * layout.ECAL_DPHI
    # HCal: the 8x8 block of coarse cells centred on the HCal cell corner nearest the centre
    he, hp = hcal_cell(cand_eta, cand_phi)
    hcal = scatter_local(spots, cand_event, he, hp, hcal=True)
    hcal = add_noise(hcal, he, cfg.hcal_noise, cfg.zero_suppression, True, rng)
    corner_e = np.rint((centre_eta + ETA_MAX) / layout.HCAL_DETA).astype(np.int64)
    corner_p = np.rint((centre_phi + math.pi) / layout.HCAL_DPHI).astype(np.int64)
    half_block = layout.HCAL_BLOCK // 2
    row0 = corner_e - half_block - he + HCAL_LOCAL_HALF
    col0 = (corner_p - half_block - hp + N_HCAL_PHI // 2) % N_HCAL_PHI - N_HCAL_PHI // 2 + HCAL_LOCAL_HALF
    block = _window(hcal, row0, col0, layout.HCAL_BLOCK)
    return Images(et=et, ht=upsample_hcal(block), centre_eta=centre_eta, centre_phi=centre_phi)
