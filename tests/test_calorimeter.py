"""Parametric calorimeter: energy bookkeeping, window geometry, HCal upsampling."""

import math

import numpy as np
import pytest

from leptonid import features, layout
from leptonid.simulation import calorimeter as calo
from leptonid.simulation.generator import Particles


def particles(rows):
    """rows: (event, pid, charge, pt, eta, phi)."""
    a = np.array(rows, dtype=float)
    pt, eta = a[:, 3], a[:, 4]
    return Particles(
        event=a[:, 0].astype(np.int64),
        pid=a[:, 1].astype(np.int32),
        charge=a[:, 2].astype(np.float32),
        pt=pt,
        eta=eta,
        phi=a[:, 5],
        e=pt * np.cosh(eta),
        r0=np.zeros(len(a)),
        origin=np.zeros(len(a), np.int32),
    )


def test_upsampling_keeps_sums_and_sixteenths():
    rng = np.random.default_rng(0)
    block = rng.exponential(1.0, (3, 8, 8))
    up = calo.upsample_hcal(block)
    assert up.shape == (3, 32, 32)
    np.testing.assert_allclose(up.sum(axis=(1, 2)), block.sum(axis=(1, 2)))
    np.testing.assert_allclose(up[:, 4:8, 8:12], block[:, 1:2, 2:3] / 16 * np.ones((1, 4, 4)))
    np.testing.assert_allclose(features.hcal_coarse(up), block)


def test_geometry_constants():
    assert calo.N_ECAL_ETA == 200 and calo.N_ECAL_PHI == 252
    assert calo.N_HCAL_ETA == 50 and calo.N_HCAL_PHI == 62


def point_showers(eta, phi, energy, hcal):
    """Showers of (almost) no width: each deposit lands in one cell."""
    n = len(eta)
    return calo.Showers(
        event=np.zeros(n, np.int64),
        eta=np.asarray(eta, float),
        phi=np.asarray(phi, float),
        energy=np.asarray(energy, float),
        hcal=np.asarray(hcal, bool),
        core_width=np.full(n, 1e-4),
        tail_width=np.full(n, 1e-4),
        tail_fraction=np.zeros(n),
    )


def test_energy_conservation_without_noise():
    """A lone photon: ECal + HCal images hold its ET up to the modelled leakage (no noise, no smearing)."""
    cfg = calo.CalorimeterConfig().without_noise()
    rng = np.random.default_rng(3)
    p = particles([(0, 22, 0, 40.0, 0.31, 1.0), (1, 22, 0, 25.0, -1.2, -3.1)])  # the second sits at the phi wrap
    showers = calo.deposits(p, cfg, rng)
    imgs = calo.images(showers, np.array([0, 1]), p.eta, p.phi, cfg, rng)
    total = imgs.et.sum(axis=(1, 2)) + imgs.ht.sum(axis=(1, 2))
    # ET per cell is E / cosh(eta of the cell centre): allow for the shower's spread in eta
    np.testing.assert_allclose(total, p.pt, rtol=0.01)
    assert np.all(imgs.ht.sum(axis=(1, 2)) < 0.5 * p.pt)  # leakage is small
    np.testing.assert_array_equal(imgs.et_no_noise, imgs.et)  # nothing to take away without noise
    noisy = calo.images(showers, np.array([0, 1]), p.eta, p.phi, calo.CalorimeterConfig(), rng)
    # the same showers before the measurement (the window may sit one cell off: its far edge differs)
    np.testing.assert_allclose(noisy.et_no_noise.sum(axis=(1, 2)), imgs.et.sum(axis=(1, 2)), rtol=1e-4)
    assert (noisy.et > 0).sum() < (imgs.et > 0).sum()  # thresholds remove the far tails
    # the true cell energies on the local grids are the showers' energies, to 1e-6
    for hcal, cell in ((False, calo.ecal_cell), (True, calo.hcal_cell)):
        ie, ip = cell(p.eta, p.phi)
        grid = calo.scatter_local(showers, p.event, ie, ip, hcal, cfg)
        for k in range(2):
            want = showers.energy[(showers.event == k) & (showers.hcal == hcal)].sum()
            assert grid[k].sum() == pytest.approx(want, rel=1e-6)


def test_shower_profile_integrates_exactly_over_cells():
    """Each cell holds the integral of the core + tail profile over it (to 1e-6); the cells sum to the energy."""
    offsets = np.array([0.0, 0.37, -0.49])
    sigmas = np.array([0.28, 1.6, 0.05])
    frac = calo.cell_fractions(offsets, sigmas, reach=9)
    np.testing.assert_allclose(frac.sum(axis=1), 1.0, atol=1e-12)
    # a fine midpoint rule over each cell
    fine = 2000
    for o, s, row in zip(offsets, sigmas, frac):
        for j, cell in enumerate(range(-9, 10)):
            x = cell - 0.5 + (np.arange(fine) + 0.5) / fine
            numeric = np.exp(-0.5 * ((x - o) / s) ** 2).sum() / fine / (s * math.sqrt(2 * math.pi))
            assert row[j] == pytest.approx(numeric, abs=1e-6)
    showers = point_showers([0.0, 0.0], [0.0, 0.0], [40.0, 7.5], [False, False])
    showers = calo.Showers(
        **{**vars(showers), "core_width": np.array([0.28, 1.0]), "tail_width": np.array([1.6, 3.0]),
           "tail_fraction": np.array([0.15, 0.4])}
    )
    cells = calo.shower_cells(showers, np.array([0.2, -0.3]), np.array([-0.1, 0.45]), reach=16)
    np.testing.assert_allclose(cells.sum(axis=(1, 2)), [40.0, 7.5], rtol=1e-6)
    assert cells[0, 16, 16] == cells[0].max() and np.all(cells >= 0)


def test_cells_without_deposit_read_zero_and_thresholds_apply():
    """Noise only where energy was deposited; a cell reads 0 below its threshold; E becomes ET at the cell."""
    cfg = calo.CalorimeterConfig()
    rng = np.random.default_rng(5)
    ie = np.full(50, 100)  # eta ~ 0: ET = E
    empty = calo.measure(np.zeros((50, 47, 47)), ie, False, cfg, rng)
    assert not empty.any()  # no noise cells out of nothing
    energy = np.zeros((50, 47, 47))
    energy[:, 23, 23] = 10.0
    energy[:, 23, 24] = 0.5 * cfg.ecal_cell_min  # below threshold: passes only when noise pushes it above
    energy[:, 23, 25] = 0.5 * cfg.deposit_min  # no deposit: always 0
    out = calo.measure(energy, ie, False, cfg, rng)
    low = out[:, 23, 24]
    sigma_low = math.sqrt(cfg.ecal_stochastic**2 * energy[0, 23, 24] + cfg.ecal_noise**2)
    assert np.all((low == 0) | (low > max(cfg.ecal_cell_min, cfg.zero_suppression * sigma_low)))
    assert 0.02 < np.mean(low > 0) < 0.4  # about 15%: z > 1.0
    assert np.all(out[:, 23, 25] == 0)
    centre = out[:, 23, 23] * np.cosh(-2.5 + (100 + 0.5) * layout.ECAL_DETA)
    sigma = math.sqrt(cfg.ecal_stochastic**2 * 10.0 + cfg.ecal_noise**2)
    assert abs(centre.mean() - 10.0) < 4 * sigma / math.sqrt(50) and 0.5 * sigma < centre.std() < 1.5 * sigma
    # rows beyond |eta| = 2.5 read 0; ET = E / cosh(eta) of the row
    edge = calo.measure(np.ones((1, 47, 47)), np.array([195]), False, cfg.without_noise(), rng)
    assert edge[0, : 23 + 5].sum() > 0 and edge[0, 23 + 5 :].sum() == 0
    eta = -2.5 + (195 - 23 + 0.5) * layout.ECAL_DETA
    assert edge[0, 0, 0] == pytest.approx(1 / math.cosh(eta))


def test_window_is_centred_on_the_hottest_cell_nearby():
    cfg = calo.CalorimeterConfig().without_noise()
    rng = np.random.default_rng(1)
    # candidate at eta 0.1; the hottest deposit 5 cells away in eta and 3 in phi is the centre
    eta0, phi0 = 0.1 + 0.0125, 0.5 + 0.5 * layout.ECAL_DPHI  # a cell centre
    etas = np.array([eta0, eta0 + 5 * layout.ECAL_DETA, eta0 + 12 * layout.ECAL_DETA])
    ets = np.array([5.0, 20.0, 50.0])  # the 50 GeV one is outside the +-8 cell search
    showers = point_showers(etas, [phi0, phi0 + 3 * layout.ECAL_DPHI, phi0], ets * np.cosh(etas), np.zeros(3))
    imgs = calo.images(showers, np.array([0]), np.array([eta0]), np.array([phi0]), cfg, rng)
    et = imgs.et[0]
    # ET at the cell centre's eta (the showers sit at cell centres)
    assert et[15, 15] == pytest.approx(20.0, rel=1e-3)
    assert et[15 - 5, 15 - 3] == pytest.approx(5.0, rel=1e-3)
    assert et[15 + 7, 15 - 3] == pytest.approx(50.0, rel=1e-3)
    ie, ip = calo.ecal_cell(np.array([eta0 + 5 * layout.ECAL_DETA]), np.array([phi0 + 3 * layout.ECAL_DPHI]))
    assert imgs.centre_eta[0] == pytest.approx(-2.5 + (ie[0] + 0.5) * layout.ECAL_DETA)
    assert imgs.centre_phi[0] == pytest.approx(-math.pi + (ip[0] + 0.5) * layout.ECAL_DPHI)


def test_hcal_block_spans_plus_minus_four_cells():
    cfg = calo.CalorimeterConfig().without_noise()
    rng = np.random.default_rng(1)
    eta0, phi0 = 0.0125, 0.5 * layout.ECAL_DPHI
    # HCal deposits at coarse offsets: inside the block (+3 cells) and outside (+5 cells)
    etas = np.array([eta0, 0.35, 0.55])
    showers = point_showers(etas, [phi0] * 3, np.array([10.0, 2.0, 7.0]) * np.cosh(etas), [False, True, True])
    imgs = calo.images(showers, np.array([0]), np.array([eta0]), np.array([phi0]), cfg, rng)
    assert imgs.ht[0].sum() == pytest.approx(2.0, rel=0.01)  # ET at the centre of the cell (eta 0.35)
    coarse = features.hcal_coarse(imgs.ht)[0]
    assert coarse[7, 4] == pytest.approx(imgs.ht[0].sum())  # eta 0.35 lies in the 4th cell above the corner at eta 0


def test_charged_tracks_bend_with_charge_and_pt():
    cfg = calo.CalorimeterConfig()
    phi = calo.bend(np.zeros(3), np.array([1.0, -1.0, 1.0]), np.array([10.0, 10.0, 40.0]), np.zeros(3), cfg)
    assert phi[0] == pytest.approx(-cfg.bend_k / 10.0)
    assert phi[1] == pytest.approx(cfg.bend_k / 10.0)
    assert abs(phi[2]) == pytest.approx(abs(phi[0]) / 4)
    assert not calo.reaches_calorimeter(np.array([1.0]), np.array([0.3]), cfg)[0]


def test_conversions_keep_energy():
    rng = np.random.default_rng(2)
    cfg = calo.CalorimeterConfig(conversion_probability=1.0)
    p = particles([(0, 22, 0, 20.0, 0.5, 0.3), (0, 211, 1, 5.0, 0.1, 0.2), (1, 22, 0, 8.0, -0.5, 2.0)])
    q = calo.convert_photons(p, cfg, rng)
    assert not np.any(q.pid == 22)
    assert len(q) == 5 and np.all(np.diff(q.event) >= 0)
    np.testing.assert_allclose(np.bincount(q.event, weights=q.e), np.bincount(p.event, weights=p.e))
    assert np.all(q.r0[np.abs(q.pid) == 11] > 0)


def single_particles(pid: int, n: int, rng: np.random.Generator) -> Particles:
    """``n`` isolated particles of one kind, ET 20-50 GeV, |eta| < 2.4, one per event, from the beam line."""
    pt, eta, phi = rng.uniform(20, 50, n), rng.uniform(-2.4, 2.4, n), rng.uniform(-math.pi, math.pi, n)
    charge = np.where(abs(pid) == 11, np.where(rng.random(n) < 0.5, 1.0, -1.0), 0.0).astype(np.float32)
    pids = np.full(n, pid, np.int32)
    return Particles(np.arange(n), pids, charge, pt, eta, phi, pt * np.cosh(eta), np.zeros(n), np.zeros(n, np.int32))


def shower_shapes(p: Particles, cfg: calo.CalorimeterConfig, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    showers = calo.deposits(p, cfg, rng)
    imgs = calo.images(showers, p.event, p.eta, calo.bend(p.phi, p.charge, p.pt, p.r0, cfg), cfg, rng)
    return features.high_level(imgs.et, imgs.ht), features.mass(imgs.et, imgs.ht)


@pytest.mark.parametrize("pid", [11, 22])
def test_single_particle_shower_shapes_are_calibrated(pid):
    """Isolated electrons and photons (no noise): ATLAS-like medians, no quantised values."""
    p = single_particles(pid, 2000, np.random.default_rng(11))
    clean, mass_clean = shower_shapes(p, calo.CalorimeterConfig().without_noise(), 1)
    med = dict(zip(layout.HL_FEATURES, np.median(clean, axis=0)))
    assert 0.93 <= med["r_eta"] <= 0.97, med
    assert 0.90 <= med["r_phi"] <= 0.98, med
    assert 0.009 <= med["w_eta2"] <= 0.012, med
    assert med["r_had"] < 0.03, med
    _, mass_noisy = shower_shapes(p, calo.CalorimeterConfig(), 1)
    # mass is made by the shower, not by the noise model
    assert abs(np.median(mass_noisy) / np.median(mass_clean) - 1) < 0.25
    for hl in (clean, shower_shapes(p, calo.CalorimeterConfig(), 2)[0]):
        for j, name in enumerate(layout.HL_FEATURES):
            nonzero = hl[:, j][hl[:, j] != 0]
            if nonzero.size:
                top = np.unique(nonzero, return_counts=True)[1].max()
                assert top <= 0.02 * len(hl), (name, top)
