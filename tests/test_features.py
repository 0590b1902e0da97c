"""HL features and mass on hand-built images with known answers."""

import math

import numpy as np
import pytest

from leptonid import features, layout

C = 15  # centre index


def ecal(cells: dict[tuple[int, int], float], n: int = 1) -> np.ndarray:
    """(n, 31, 31, 1) images with ``cells`` given as offsets (deta, dphi) from the centre."""
    img = np.zeros((n, 31, 31, 1))
    for (i, j), v in cells.items():
        img[:, C + i, C + j, 0] = v
    return img


def hcal(total: float = 0.0, n: int = 1) -> np.ndarray:
    return np.full((n, 32, 32, 1), total / 1024.0)


def hl(et, ht=None):
    return features.high_level(et, hcal(0.0, len(et)) if ht is None else ht)[0]


def test_single_cell_shower_is_perfectly_narrow():
    f = hl(ecal({(0, 0): 10.0}))
    r_had, w_eta2, r_phi, r_eta, see, iso3, iso4 = f
    assert r_had == 0 and w_eta2 == 0 and see == 0
    assert r_phi == 1 and r_eta == 1
    assert iso3 == pytest.approx(10.0) and iso4 == pytest.approx(10.0)


def test_r_had_is_hcal_over_ecal():
    f = hl(ecal({(0, 0): 10.0, (3, 3): 10.0}), hcal(5.0))
    assert f[0] == pytest.approx(0.25)


def test_w_eta2_two_rows():
    # equal energy at deta = 0 and +1 cell: RMS = half a cell = 0.0125 in eta
    f = hl(ecal({(0, 0): 4.0, (1, 2): 4.0, (2, 0): 100.0}))  # (2, 0) lies outside the 3x5 window
    assert f[1] == pytest.approx(0.5 * layout.ECAL_DETA)


def test_r_phi_and_r_eta_windows():
    img = ecal({(0, 0): 6.0, (0, 2): 2.0, (0, 3): 2.0, (3, 0): 5.0, (4, 0): 99.0})
    f = hl(img)
    assert f[2] == pytest.approx(6.0 / 10.0)  # 3x3 / 3x7: (0, 2) and (0, 3) are in 3x7 only
    assert f[3] == pytest.approx(10.0 / 15.0)  # 3x7 / 7x7: (3, 0) is in 7x7; (4, 0) is outside


def test_sigma_eta_eta_log_weights():
    # E = e (ln = 1) at deta = -1 and E = e^2 (ln = 2) at deta = +2, E = 1 (ln 0, weight 0) at the centre
    img = ecal({(-1, 0): math.e, (2, 1): math.e**2, (0, 0): 1.0})
    w = np.array([1.0, 2.0])
    x = np.array([-1.0, 2.0])
    mean = (w * x).sum() / w.sum()
    expected = math.sqrt((w * (x - mean) ** 2).sum() / w.sum())
    assert hl(img)[4] == pytest.approx(expected)
    # energies below 1 GeV count with |ln E|
    img2 = ecal({(-1, 0): math.exp(-1), (1, 0): math.e})
    assert hl(img2)[4] == pytest.approx(1.0)


def test_isolation_cones():
    # deta = 0.025 * 11 = 0.275 < 0.3; deta = 0.025 * 14 = 0.35 (between 0.3 and 0.4)
    img = ecal({(0, 0): 1.0, (11, 0): 2.0, (14, 0): 4.0, (15, 15): 8.0})
    f = hl(img)
    assert f[5] == pytest.approx(3.0)
    assert f[6] == pytest.approx(7.0)  # the corner (dR ~ 0.54) is in neither


def test_empty_images_give_zeros_not_nan():
    f = hl(ecal({}))
    assert np.all(np.isfinite(f)) and np.all(f == 0)


def test_batch_and_squeezed_shapes_agree():
    rng = np.random.default_rng(1)
    et = rng.exponential(1.0, (5, 31, 31, 1))
    ht = rng.exponential(0.1, (5, 32, 32, 1))
    a = features.high_level(et, ht)
    b = features.high_level(et[..., 0], ht[..., 0])
    assert a.shape == (5, 7)
    np.testing.assert_allclose(a, b)
    np.testing.assert_allclose(features.high_level(et[2:3], ht[2:3])[0], a[2])


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match="ECal"):
        features.high_level(np.zeros((2, 30, 31)), np.zeros((2, 32, 32)))
    with pytest.raises(ValueError, match="differ"):
        features.high_level(np.zeros((2, 31, 31)), np.zeros((3, 32, 32)))


def test_mass_of_two_cells():
    # two massless deposits: m^2 = 2 ET1 ET2 (cosh deta - cos dphi)
    img = ecal({(0, 0): 10.0, (4, 6): 5.0})
    deta, dphi = 4 * layout.ECAL_DETA, 6 * layout.ECAL_DPHI
    expected = math.sqrt(2 * 10 * 5 * (math.cosh(deta) - math.cos(dphi)))
    assert features.mass(img, hcal(0.0))[0, 0] == pytest.approx(expected)
    assert features.mass(ecal({(0, 0): 10.0}), hcal(0.0))[0, 0] == pytest.approx(0.0, abs=1e-6)


def test_mass_uses_hcal_coarse_cells():
    ht = np.zeros((1, 32, 32, 1))
    ht[0, 16:20, 16:20, 0] = 3.0 / 16  # coarse cell (4, 4): centre offset (+0.05, +pi/62)
    img = ecal({(0, 0): 10.0})
    deta, dphi = 0.5 * layout.HCAL_DETA - 0.0, 0.5 * layout.HCAL_DPHI
    expected = math.sqrt(2 * 10 * 3 * (math.cosh(deta) - math.cos(dphi)))
    assert features.mass(img, ht)[0, 0] == pytest.approx(expected, rel=1e-6)
