"""A parametric calorimeter with the paper's geometry (Collado et al., the detector images).

Steps, each vectorised over all particles of a batch of events:

1. :func:`convert_photons`: photons convert to e+e- pairs in the tracker material.
2. :func:`deposits`: every particle becomes showers in the ECal and HCal: EM
   showers (with bremsstrahlung for electrons) with a fluctuating leakage into
   the HCal, hadronic showers split between ECal and HCal, minimum-ionising
   muons and non-showering hadrons; charged particles bend in the solenoid
   field before they reach the calorimeter. Each shower has a lateral profile
   (core + tail Gaussian) with its own widths and tail share.
3. :func:`images`: every shower's profile is integrated exactly over the cells
   (:func:`shower_cells`) of local grids of global ECal (0.025 x pi/126) and
   HCal (0.1 x pi/31) cells around each candidate; the cells are measured
   (:func:`measure`: sampling term and electronic noise in cells with a
   deposit, cell thresholds; nothing in cells without one); the image centre
   is the highest-ET ECal cell within +-8 cells of the candidate, and the
   31x31 ECal window and the 8x8 HCal block (upsampled to 32x32, sums kept)
   are cut out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from scipy import special

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
    """Parameters of the detector model (energies in GeV, lengths in m, shower widths in cells).

    Showers: every deposit has a lateral profile, the sum of a core and a tail
    Gaussian (widths in cells of its calorimeter, the tail holding
    ``*_tail_fraction`` of the energy), integrated exactly over each cell.
    Each shower draws its own widths and tail fraction (log-normal spreads
    ``*_spread`` around the nominal values) and, for EM showers, its own
    leakage into the HCal. The profile is cut at ``profile_reach`` sigmas of
    the widest component drawn and renormalised (what lies beyond is < 1e-6).

    Resolution and noise (after Delphes' ATLAS card: smear what was deposited,
    then apply cell thresholds; no noise where nothing was deposited): a
    shower's energy gets the constant term (hadrons also the hadronic
    stochastic term), each cell with a deposit above ``deposit_min`` gets the
    sampling term ``stochastic * sqrt(E_cell)`` and electronic noise
    ``*_noise`` (both Gaussian), and a cell reads its energy only when it is
    above ``*_cell_min`` and above ``zero_suppression`` times its own sigma.
    Cells with no deposit read 0.
    """

    b_field: float = 2.0  # solenoid field (T)
    radius: float = 1.15  # radius of the ECal front face (m)
    conversion_probability: float = 0.3  # photon conversion probability in the tracker
    conversion_radius_max: float = 0.8  # conversions happen uniformly in r in [0.05, this] (m)
    brem_a: float = 0.5  # brem energy fraction of electrons ~ Beta(brem_a, brem_b)
    brem_b: float = 2.5
    ecal_stochastic: float = 0.10  # sampling term a of sigma(E)/E = a/sqrt(E) (+) b, applied per cell
    ecal_constant: float = 0.007  # constant term b, applied per shower
    hcal_stochastic: float = 0.50  # hadronic showers: per shower (and the HCal's sampling term per cell)
    hcal_constant: float = 0.03
    ecal_noise: float = 0.02  # electronic noise sigma (E, GeV) of an ECal cell with a deposit
    hcal_noise: float = 0.05
    ecal_cell_min: float = 0.03  # an ECal cell reads 0 below this E (GeV)
    hcal_cell_min: float = 0.1
    zero_suppression: float = 1.5  # ... or below this many of its own sigmas
    deposit_min: float = 1e-3  # cells with less true E (GeV) than this have no deposit: no noise, read 0
    em_core_width: float = 0.28  # EM shower core sigma (ECal cells)
    em_tail_width: float = 1.6  # EM shower tail sigma (ECal cells)
    em_tail_fraction: float = 0.15  # share of an EM shower's energy in the tail
    em_leakage: float = 0.01  # mean fraction of an EM shower leaking into the HCal (exponential)
    had_ecal_probability: float = 0.6  # hadron starts its shower in the ECal
    had_ecal_fraction_max: float = 0.7  # ECal share ~ U(0.1, this) when it does
    had_core_width: float = 1.2  # hadronic shower core sigma in the ECal (ECal cells)
    had_tail_width: float = 3.0
    had_tail_fraction: float = 0.4
    hcal_core_width: float = 0.3  # shower core sigma in the HCal (HCal cells)
    hcal_tail_width: float = 0.8
    hcal_tail_fraction: float = 0.3
    width_spread: float = 0.15  # log-normal sigma of each shower's widths around the nominal ones
    tail_fraction_spread: float = 0.3  # log-normal sigma of each shower's tail fraction
    mip_width: float = 0.2  # sigma of a minimum-ionising track's deposit (cells)
    mip_ecal: float = 0.3  # energy of a minimum-ionising particle in the ECal / HCal
    mip_hcal: float = 1.5
    profile_reach: float = 5.0  # profiles are integrated out to this many sigmas of the widest component

    @property
    def bend_k(self) -> float:
        """k in dphi = k / pT for a track from the beam line to the ECal (GeV)."""
        return 0.3 * self.b_field * self.radius / 2.0

    def without_noise(self) -> "CalorimeterConfig":
        """Return a copy with no resolution smearing, no electronic noise and no cell thresholds."""
        return replace(
            self,
            ecal_stochastic=0.0,
            ecal_constant=0.0,
            hcal_stochastic=0.0,
            hcal_constant=0.0,
            ecal_noise=0.0,
            hcal_noise=0.0,
            ecal_cell_min=0.0,
            hcal_cell_min=0.0,
            zero_suppression=0.0,
            deposit_min=0.0,
        )


@dataclass(frozen=True)
class Showers:
    """Energy deposits, one row per shower (or per shower part in one calorimeter)."""

    event: np.ndarray  # int64
    eta: np.ndarray  # shower axis at the calorimeter
    phi: np.ndarray
    energy: np.ndarray  # deposited energy E (GeV)
    hcal: np.ndarray  # bool: True for the HCal, False for the ECal
    core_width: np.ndarray  # core Gaussian sigma, in cells of its calorimeter
    tail_width: np.ndarray  # tail Gaussian sigma, in cells
    tail_fraction: np.ndarray  # share of the energy in the tail

    def take(self, mask: np.ndarray) -> "Showers":
        """Return the showers where ``mask`` is true (or at the indices ``mask``)."""
        return Showers(*(getattr(self, f)[mask] for f in self.__dataclass_fields__))


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
                origin=np.full(idx.size, 22, np.int32),
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


def _fluctuate(nominal: float, spread: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` log-normal draws with median ``nominal`` and log-sigma ``spread``, capped at 2x the nominal value."""
    if spread <= 0:
        return np.full(n, nominal)
    return np.clip(nominal * np.exp(spread * rng.standard_normal(n)), 0.0, 2.0 * nominal)


def _showers(
    event: np.ndarray,
    eta: np.ndarray,
    phi: np.ndarray,
    energy: np.ndarray,
    hcal: bool,
    widths: tuple[float, float, float],
    cfg: CalorimeterConfig,
    rng: np.random.Generator,
) -> Showers:
    """Showers with nominal (core width, tail width, tail fraction) ``widths``, each drawn per shower."""
    n = event.size
    core, tail, frac = widths
    return Showers(
        event=np.asarray(event, np.int64),
        eta=np.asarray(eta, np.float64),
        phi=np.asarray(phi, np.float64),
        energy=np.asarray(energy, np.float64),
        hcal=np.full(n, hcal),
        core_width=_fluctuate(core, cfg.width_spread, n, rng),
        tail_width=_fluctuate(tail, cfg.width_spread, n, rng),
        tail_fraction=np.clip(_fluctuate(frac, cfg.tail_fraction_spread, n, rng), 0.0, 0.95),
    )


def _concat(showers: list[Showers]) -> Showers:
    return Showers(*(np.concatenate([getattr(s, f) for s in showers]) for f in Showers.__dataclass_fields__))


def deposits(particles: Particles, cfg: CalorimeterConfig, rng: np.random.Generator) -> Showers:
    """Turn particles into ECal/HCal showers (EM and hadronic showers, brems, MIPs, bending)."""
    p = particles.take(
        reaches_calorimeter(particles.charge, particles.pt, cfg) & (np.abs(particles.eta) < ETA_MAX + 0.1)
    )
    apid = np.abs(p.pid)
    is_e = apid == 11
    is_gamma = apid == 22
    is_mu = apid == 13
    is_had = ~(is_e | is_gamma | is_mu)
    parts: list[Showers] = []
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

    # EM showers: the constant term per shower (the sampling term is per cell), a fluctuating
    # leakage into the HCal
    ev, eta, phi, energy = (np.concatenate(a) for a in (em_ev, em_eta, em_phi, em_e))
    energy = _smear(energy, 0.0, cfg.ecal_constant, rng)
    leak = np.clip(cfg.em_leakage * rng.exponential(1.0, energy.size), 0.0, 0.5)
    em = (cfg.em_core_width, cfg.em_tail_width, cfg.em_tail_fraction)
    parts.append(_showers(ev, eta, phi, energy * (1 - leak), False, em, cfg, rng))
    hc = (cfg.hcal_core_width, cfg.hcal_tail_width, cfg.hcal_tail_fraction)
    parts.append(_showers(ev, eta, phi, energy * leak, True, hc, cfg, rng))

    # hadrons: bend, then share the energy between ECal and HCal (hadronic resolution per shower)
    h = np.flatnonzero(is_had)
    h_phi = bend(p.phi[h], p.charge[h], p.pt[h], p.r0[h], cfg)
    e_h = p.e[h]
    starts_in_ecal = rng.random(h.size) < cfg.had_ecal_probability
    share = rng.uniform(0.1, cfg.had_ecal_fraction_max, h.size)
    mip = np.minimum(cfg.mip_ecal, e_h) * (p.charge[h] != 0)
    e_ecal = np.where(starts_in_ecal, share * e_h, mip)
    e_hcal = _smear(e_h - e_ecal, cfg.hcal_stochastic, cfg.hcal_constant, rng)
    e_ecal = np.where(starts_in_ecal, _smear(e_ecal, cfg.hcal_stochastic, cfg.hcal_constant, rng), e_ecal)
    showering = np.flatnonzero(starts_in_ecal)
    passing = np.flatnonzero(~starts_in_ecal)
    had = (cfg.had_core_width, cfg.had_tail_width, cfg.had_tail_fraction)
    tracks = (cfg.mip_width, cfg.mip_width, 0.0)
    for sel, widths in ((showering, had), (passing, tracks)):
        hs = h[sel]
        parts.append(_showers(p.event[hs], p.eta[hs], h_phi[sel], e_ecal[sel], False, widths, cfg, rng))
    parts.append(_showers(p.event[h], p.eta[h], h_phi, e_hcal, True, hc, cfg, rng))

    # muons: minimum ionising in both
    m = np.flatnonzero(is_mu)
    m_phi = bend(p.phi[m], p.charge[m], p.pt[m], p.r0[m], cfg)
    narrow = (cfg.mip_width, cfg.mip_width, 0.0)
    parts.append(_showers(p.event[m], p.eta[m], m_phi, np.minimum(cfg.mip_ecal, p.e[m]), False, narrow, cfg, rng))
    parts.append(_showers(p.event[m], p.eta[m], m_phi, np.full(m.size, cfg.mip_hcal), True, narrow, cfg, rng))

    showers = _concat(parts)
    showers = showers.take((np.abs(showers.eta) < ETA_MAX) & (showers.energy > 0))
    return showers.take(np.argsort(showers.event, kind="stable"))


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
    """All (candidate, shower) index pairs of the same event; ``spot_event`` must be sorted."""
    starts = np.searchsorted(spot_event, cand_event, side="left")
    stops = np.searchsorted(spot_event, cand_event, side="right")
    lengths = stops - starts
    pair_cand = np.repeat(np.arange(cand_event.size), lengths)
    offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return pair_cand, np.repeat(starts, lengths) + offsets


def cell_fractions(offset: np.ndarray, sigma: np.ndarray, reach: int) -> np.ndarray:
    """Share of a 1D Gaussian in each of the cells ``-reach .. reach`` (exact integrals, renormalised).

    ``offset`` is the Gaussian's mean in cell units from the centre of cell 0
    (in [-0.5, 0.5) for a shower in cell 0), ``sigma`` its width in cells.
    Returns (n, 2 * reach + 1); rows sum to 1 (the part beyond the outer cell
    edges, tiny for ``reach`` >= 5 sigma, is spread over the cells in proportion).
    """
    edges = np.arange(-reach, reach + 2) - 0.5  # cell edges in cell units
    s = np.maximum(np.asarray(sigma, np.float64), 1e-6)[:, None] * math.sqrt(2.0)
    cdf = 0.5 * special.erf((edges[None, :] - np.asarray(offset, np.float64)[:, None]) / s)
    frac = np.diff(cdf, axis=1)
    total = frac.sum(axis=1, keepdims=True)
    return np.divide(frac, total, out=np.zeros_like(frac), where=total > 0)


def shower_cells(showers: Showers, offset_eta: np.ndarray, offset_phi: np.ndarray, reach: int) -> np.ndarray:
    """Energy of each shower in the (2 reach + 1)^2 cells around its own cell: (n, side, side) in GeV.

    The lateral profile is (1 - f) core + f tail, each a 2D Gaussian,
    integrated exactly over every cell; each shower's cells sum to its energy.
    """
    out = np.zeros((showers.event.size, 2 * reach + 1, 2 * reach + 1))
    components = ((showers.core_width, 1.0 - showers.tail_fraction), (showers.tail_width, showers.tail_fraction))
    for width, share in components:
        fe = cell_fractions(offset_eta, width, reach)
        fp = cell_fractions(offset_phi, width, reach)
        out += (showers.energy * share)[:, None, None] * fe[:, :, None] * fp[:, None, :]
    return out


def profile_reach(showers: Showers, cfg: CalorimeterConfig) -> int:
    """Cells on each side of a shower's own cell that its profile is integrated over."""
    widest = float(np.max(np.maximum(showers.core_width, showers.tail_width), initial=0.0))
    return max(1, int(math.ceil(cfg.profile_reach * widest + 0.5)))


def scatter_local(
    showers: Showers,
    cand_event: np.ndarray,
    cand_ie: np.ndarray,
    cand_ip: np.ndarray,
    hcal: bool,
    cfg: CalorimeterConfig,
) -> np.ndarray:
    """True energy E (GeV) per cell on local grids around each candidate cell: (N, 2h+1, 2h+1).

    Rows are global eta cells ``cand_ie - h ... cand_ie + h``, columns phi
    cells (wrapping around in phi). ``h`` is 23 for the ECal, 8 for the HCal.
    Every shower of the candidate's event whose profile reaches the grid is
    integrated over the cells (:func:`shower_cells`).
    """
    half = HCAL_LOCAL_HALF if hcal else ECAL_LOCAL_HALF
    n_phi = N_HCAL_PHI if hcal else N_ECAL_PHI
    deta, dphi = (layout.HCAL_DETA, layout.HCAL_DPHI) if hcal else (layout.ECAL_DETA, layout.ECAL_DPHI)
    side = 2 * half + 1
    grid = np.zeros(cand_event.size * side * side)
    sh = showers.take(showers.hcal == hcal)
    if sh.event.size == 0 or cand_event.size == 0:
        return grid.reshape(cand_event.size, side, side)
    reach = profile_reach(sh, cfg)
    pc, ps = _pairs(sh.event, cand_event)
    ie, ip = (hcal_cell if hcal else ecal_cell)(sh.eta[ps], sh.phi[ps])
    di = ie - cand_ie[pc] + half  # the shower's own cell on the local grid
    dj = (ip - cand_ip[pc] + n_phi // 2) % n_phi - n_phi // 2 + half
    near = (di >= -reach) & (di < side + reach) & (dj >= -reach) & (dj < side + reach)
    pc, ps, di, dj = pc[near], ps[near], di[near], dj[near]
    # offsets of the shower axis from its cell centre, in cell units
    off_eta = (sh.eta[ps] + ETA_MAX) / deta - ie[near] - 0.5
    off_phi = delta_phi(sh.phi[ps], -math.pi + (ip[near] + 0.5) * dphi) / dphi
    k = np.arange(-reach, reach + 1)
    # process pairs in blocks to bound memory (pairs x side^2 floats)
    block = max(1, 2_000_000 // (2 * reach + 1) ** 2)
    for b0 in range(0, pc.size, block):
        sl = slice(b0, b0 + block)
        cells = shower_cells(sh.take(ps[sl]), off_eta[sl], off_phi[sl], reach)
        rows = di[sl, None, None] + k[None, :, None]
        cols = dj[sl, None, None] + k[None, None, :]
        ok = (rows >= 0) & (rows < side) & (cols >= 0) & (cols < side) & (cells > 0)
        owner = np.broadcast_to(pc[sl, None, None], ok.shape)[ok]
        flat = (owner * side + np.broadcast_to(rows, ok.shape)[ok]) * side + np.broadcast_to(cols, ok.shape)[ok]
        grid += np.bincount(flat, weights=cells[ok], minlength=grid.size)
    return grid.reshape(cand_event.size, side, side)


def cell_eta(cand_ie: np.ndarray, half: int, hcal: bool) -> tuple[np.ndarray, np.ndarray]:
    """Eta of the cell centres of each candidate's local grid rows, and whether each row is inside |eta| < 2.5."""
    deta = layout.HCAL_DETA if hcal else layout.ECAL_DETA
    n_eta = N_HCAL_ETA if hcal else N_ECAL_ETA
    rows = cand_ie[:, None] + np.arange(-half, half + 1)[None, :]  # (N, side) global eta cells
    return -ETA_MAX + (rows + 0.5) * deta, (rows >= 0) & (rows < n_eta)


def measure(
    energy: np.ndarray, cand_ie: np.ndarray, hcal: bool, cfg: CalorimeterConfig, rng: np.random.Generator
) -> np.ndarray:
    """What the cells read, as ET (GeV): true cell energies ``energy`` (N, side, side) smeared and thresholded.

    A cell with a deposit (E > ``deposit_min``) gets the sampling term
    ``stochastic * sqrt(E)`` and the electronic noise; it reads its energy if
    that is above ``*_cell_min`` and above ``zero_suppression`` of its sigma,
    else 0. Cells without a deposit and cells beyond |eta| = 2.5 read 0. The
    energy becomes ET at the cell centre's eta.
    """
    half = (energy.shape[1] - 1) // 2
    eta, inside = cell_eta(cand_ie, half, hcal)
    stochastic = cfg.hcal_stochastic if hcal else cfg.ecal_stochastic
    noise = cfg.hcal_noise if hcal else cfg.ecal_noise
    cell_min = cfg.hcal_cell_min if hcal else cfg.ecal_cell_min
    deposit = energy > cfg.deposit_min
    sigma = np.sqrt(stochastic**2 * energy + noise**2)
    if stochastic > 0 or noise > 0:
        measured = energy + sigma * rng.standard_normal(energy.shape)
    else:
        measured = energy.copy()
    reads = deposit & (measured > cell_min) & (measured > cfg.zero_suppression * sigma) & (measured > 0)
    return np.where(reads, measured, 0.0) * inside[:, :, None] / np.cosh(eta)[:, :, None]


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
    et_no_noise: np.ndarray  # the same windows from the true cell energies (no smearing, noise, thresholds)
    ht_no_noise: np.ndarray


def images(
    showers: Showers,
    cand_event: np.ndarray,
    cand_eta: np.ndarray,
    cand_phi: np.ndarray,
    cfg: CalorimeterConfig,
    rng: np.random.Generator,
) -> Images:
    """Make the ECal and HCal images of candidates at (eta, phi) on the ECal front face."""
    if cand_event.size == 0:
        e, h = np.zeros((0, 31, 31)), np.zeros((0, 32, 32))
        return Images(e, h, np.zeros(0), np.zeros(0), e, h)
    clean = cfg.without_noise()
    ie, ip = ecal_cell(cand_eta, cand_phi)
    ecal_true = scatter_local(showers, cand_event, ie, ip, False, cfg)
    ecal = measure(ecal_true, ie, False, cfg, rng)
    # centre: highest-ET cell within +-8 cells of the candidate's cell
    h = ECAL_LOCAL_HALF
    search = ecal[:, h - SEED_SEARCH : h + SEED_SEARCH + 1, h - SEED_SEARCH : h + SEED_SEARCH + 1]
    flat = search.reshape(search.shape[0], -1).argmax(axis=1)
    side = 2 * SEED_SEARCH + 1
    ci = flat // side - SEED_SEARCH  # offset of the centre from the candidate cell
    cj = flat % side - SEED_SEARCH
    et = _window(ecal, h + ci - ECAL_HALF, h + cj - ECAL_HALF, layout.ECAL_SIZE)
    ecal_no_noise = measure(ecal_true, ie, False, clean, rng)
    et_no_noise = _window(ecal_no_noise, h + ci - ECAL_HALF, h + cj - ECAL_HALF, layout.ECAL_SIZE)
    c_ie = ie + ci
    c_ip = (ip + cj) % N_ECAL_PHI
    centre_eta = -ETA_MAX + (c_ie + 0.5) * layout.ECAL_DETA
    centre_phi = -math.pi + (c_ip + 0.5) * layout.ECAL_DPHI
    # HCal: the 8x8 block of coarse cells centred on the HCal cell corner nearest the centre
    he, hp = hcal_cell(cand_eta, cand_phi)
    hcal_true = scatter_local(showers, cand_event, he, hp, True, cfg)
    hcal = measure(hcal_true, he, True, cfg, rng)
    corner_e = np.rint((centre_eta + ETA_MAX) / layout.HCAL_DETA).astype(np.int64)
    corner_p = np.rint((centre_phi + math.pi) / layout.HCAL_DPHI).astype(np.int64)
    half_block = layout.HCAL_BLOCK // 2
    row0 = corner_e - half_block - he + HCAL_LOCAL_HALF
    col0 = (corner_p - half_block - hp + N_HCAL_PHI // 2) % N_HCAL_PHI - N_HCAL_PHI // 2 + HCAL_LOCAL_HALF
    block = _window(hcal, row0, col0, layout.HCAL_BLOCK)
    block_no_noise = _window(measure(hcal_true, he, True, clean, rng), row0, col0, layout.HCAL_BLOCK)
    return Images(
        et=et,
        ht=upsample_hcal(block),
        centre_eta=centre_eta,
        centre_phi=centre_phi,
        et_no_noise=et_no_noise,
        ht_no_noise=upsample_hcal(block_no_noise),
    )
