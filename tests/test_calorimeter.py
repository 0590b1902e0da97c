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


def test_energy_conservation_without_noise():
    """A lone photon: ECal + HCal images hold its ET up to the modelled leakage (no noise, no smearing)."""
    cfg = calo.CalorimeterConfig().without_noise()
    rng = np.random.default_rng(3)
    p = particles([(0, 22, 0, 40.0, 0.31, 1.0), (1, 22, 0, 25.0, -1.2, -3.1)])  # the second sits at the phi wrap
    spots = calo.deposits(p, cfg, rng)
    imgs = calo.images(spots, np.array([0, 1]), p.eta, p.phi, cfg, rng)
    total = imgs.et.sum(axis=(1, 2)) + imgs.ht.sum(axis=(1, 2))
    # spots are ET at their own eta: allow for the shower's spread in eta and tails outside the window
    np.testing.assert_allclose(total, p.pt, rtol=0.02)
    assert np.all(imgs.ht.sum(axis=(1, 2)) < 0.5 * p.pt)  # leakage is small
    # the whole shower is in the images: sum of all spot ET of that event
    for k in range(2):
        assert total[k] == pytest.approx(spots.et[spots.event == k].sum(), rel=1e-3)


def test_zero_suppression_and_noise():
    cfg = calo.CalorimeterConfig(ecal_noise=0.05, zero_suppression=3.0)
    rng = np.random.default_rng(5)
    grid = np.zeros((200, 47, 47))
    ie = np.full(200, 100)  # eta ~ 0: sigma_ET = sigma_E
    out = calo.add_noise(grid, ie, cfg.ecal_noise, cfg.zero_suppression, False, rng)
    assert np.all(out >= 0)
    nonzero = out[out > 0]
    # the threshold is 3 sigma of ET, sigma_ET = sigma_E / cosh(eta) of each row's cells
    rows = np.arange(100 - 23, 100 + 24)
    threshold = 3 * 0.05 / np.cosh(-2.5 + (rows + 0.5) * layout.ECAL_DETA)
    assert nonzero.size > 0
    assert np.all((out == 0) | (out > threshold[None, :, None]))
    # a 3-sigma one-sided threshold passes about 0.13% of empty cells
    assert 0.0005 < nonzero.size / out.size < 0.003
    # cells beyond |eta| = 2.5 read 0
    edge = calo.add_noise(np.ones((1, 47, 47)), np.array([195]), 0.0, 0.0, False, rng)
    assert edge[0, : 23 + 5].sum() > 0 and edge[0, 23 + 5 :].sum() == 0


def test_window_is_centred_on_the_hottest_cell_nearby():
    cfg = calo.CalorimeterConfig().without_noise()
    rng = np.random.default_rng(1)
    # candidate at eta 0.1; the hottest deposit 5 cells away in eta and 3 in phi is the centre
    eta0, phi0 = 0.1 + 0.0125, 0.5 + 0.5 * layout.ECAL_DPHI  # a cell centre
    spots = calo.Spots(
        event=np.array([0, 0, 0]),
        eta=np.array([eta0, eta0 + 5 * layout.ECAL_DETA, eta0 + 12 * layout.ECAL_DETA]),
        phi=np.array([phi0, phi0 + 3 * layout.ECAL_DPHI, phi0]),
        et=np.array([5.0, 20.0, 50.0]),  # the 50 GeV one is outside the +-8 cell search
        hcal=np.zeros(3, bool),
    )
    imgs = calo.images(spots, np.array([0]), np.array([eta0]), np.array([phi0]), cfg, rng)
    et = imgs.et[0]
    assert et[15, 15] == pytest.approx(20.0)
    assert et[15 - 5, 15 - 3] == pytest.approx(5.0)
    assert et[15 + 7, 15 - 3] == pytest.approx(50.0)
    ie, ip = calo.ecal_cell(np.array([eta0 + 5 * layout.ECAL_DETA]), np.array([phi0 + 3 * layout.ECAL_DPHI]))
    assert imgs.centre_eta[0] == pytest.approx(-2.5 + (ie[0] + 0.5) * layout.ECAL_DETA)
    assert imgs.centre_phi[0] == pytest.approx(-math.pi + (ip[0] + 0.5) * layout.ECAL_DPHI)


def test_hcal_block_spans_plus_minus_four_cells():
    cfg = calo.CalorimeterConfig().without_noise()
    rng = np.random.default_rng(1)
    eta0, phi0 = 0.0125, 0.5 * layout.ECAL_DPHI
    # HCal deposits at coarse offsets: inside the block (+3 cells) and outside (+5 cells)
    spots = calo.Spots(
        event=np.zeros(3, np.int64),
        eta=np.array([eta0, 0.35, 0.55]),
        phi=np.array([phi0, phi0, phi0]),
        et=np.array([10.0, 2.0, 7.0]),
        hcal=np.array([False, True, True]),
    )
    imgs = calo.images(spots, np.array([0]), np.array([eta0]), np.array([phi0]), cfg, rng)
    assert imgs.ht[0].sum() == pytest.approx(2.0)
    coarse = features.hcal_coarse(imgs.ht)[0]
    assert coarse[7, 4] == pytest.approx(2.0)  # eta 0.35 lies in the 4th cell above the corner at eta 0


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
