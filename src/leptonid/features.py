"""The 7 high-level electron-ID features and the deposit mass, from calorimeter images.

Definitions: the 7 standard features of Collado et al. (their table of HL features). All features but R_had use the ECal ET
image, centred on its middle cell (index 15, 15). Rows run along eta, columns
along phi. Windows are written "eta x phi":

1. ``r_had``: sum of HCal ET / sum of ECal ET (whole images).
2. ``w_eta2``: ET-weighted RMS of the eta offset (in eta units, 0.025 per cell)
   in the 3x5 window.
3. ``r_phi``: E(3x3) / E(3x7).
4. ``r_eta``: E(3x7) / E(7x7).
5. ``sigma_eta_eta``: RMS of the eta cell offset in the 5x5 window with
   weights |ln E_i| (E_i in GeV, cells with E_i > 0 only), in cell units.
6. ``iso_dr03``: ECal ET of the pixels whose centres lie within dR < 0.3 of the centre.
7. ``iso_dr04``: the same within dR < 0.4.

Ratios with an empty denominator are 0. ``mass`` is the invariant mass of the
ECal cells and the HCal coarse cells (recovered from the upsampled image as
4x4 sums), each a massless four-vector (ET, eta, phi) at its cell centre.
"""

from __future__ import annotations

import numpy as np

from leptonid import layout

ECAL_CENTRE = layout.ECAL_SIZE // 2  # 15


def _squeeze(images: np.ndarray, size: int, name: str) -> np.ndarray:
    """Return images as (N, size, size) float64, accepting (N, size, size[, 1])."""
    a = np.asarray(images, dtype=np.float64)
    if a.ndim == 4 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim != 3 or a.shape[1:] != (size, size):
        raise ValueError(f"{name} images must have shape (N, {size}, {size}[, 1]); got {np.shape(images)}")
    return a


def window_sum(ecal: np.ndarray, n_eta: int, n_phi: int) -> np.ndarray:
    """Sum of the centred ``n_eta x n_phi`` window of (N, 31, 31) ECal images (odd sizes)."""
    c, he, hp = ECAL_CENTRE, n_eta // 2, n_phi // 2
    return ecal[:, c - he : c + he + 1, c - hp : c + hp + 1].sum(axis=(1, 2))


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def r_had(ecal: np.ndarray, hcal: np.ndarray) -> np.ndarray:
    """Sum HCal ET / sum ECal ET."""
    return _ratio(hcal.sum(axis=(1, 2)), ecal.sum(axis=(1, 2)))


def w_eta2(ecal: np.ndarray) -> np.ndarray:
    """ET-weighted RMS of eta (eta units) in the centred 3x5 window."""
    c = ECAL_CENTRE
    win = ecal[:, c - 1 : c + 2, c - 2 : c + 3]
    eta = (np.arange(3) - 1.0)[None, :, None] * layout.ECAL_DETA
    total = win.sum(axis=(1, 2))
    mean = _ratio((win * eta).sum(axis=(1, 2)), total)
    mean2 = _ratio((win * eta**2).sum(axis=(1, 2)), total)
    return np.sqrt(np.clip(mean2 - mean**2, 0.0, None))


def r_phi(ecal: np.ndarray) -> np.ndarray:
    """E(3x3) / E(3x7)."""
    return _ratio(window_sum(ecal, 3, 3), window_sum(ecal, 3, 7))


def r_eta(ecal: np.ndarray) -> np.ndarray:
    """E(3x7) / E(7x7)."""
    return _ratio(window_sum(ecal, 3, 7), window_sum(ecal, 7, 7))


def sigma_eta_eta(ecal: np.ndarray) -> np.ndarray:
    """RMS of the eta cell offset in the centred 5x5 window, weights |ln E_i| (cells with E_i > 0)."""
    c = ECAL_CENTRE
    win = ecal[:, c - 2 : c + 3, c - 2 : c + 3]
    w = np.abs(np.log(np.where(win > 0, win, 1.0))) * (win > 0)
    eta = (np.arange(5) - 2.0)[None, :, None]
    total = w.sum(axis=(1, 2))
    mean = _ratio((w * eta).sum(axis=(1, 2)), total)
    mean2 = _ratio((w * eta**2).sum(axis=(1, 2)), total)
    return np.sqrt(np.clip(mean2 - mean**2, 0.0, None))


def isolation(ecal: np.ndarray, dr: float) -> np.ndarray:
    """ECal ET of the pixels whose centres lie within ``dr`` of the image centre."""
    eta, phi = layout.pixel_centres("et")
    d2 = np.asarray(eta)[:, None] ** 2 + np.asarray(phi)[None, :] ** 2
    return (ecal * (d2 < dr**2)).sum(axis=(1, 2))


def high_level(ecal_images: np.ndarray, hcal_images: np.ndarray) -> np.ndarray:
    """Return the 7 HL features (N, 7) in file order (``layout.HL_FEATURES``)."""
    ecal = _squeeze(ecal_images, layout.ECAL_SIZE, "ECal")
    hcal = _squeeze(hcal_images, layout.HCAL_SIZE, "HCal")
    if ecal.shape[0] != hcal.shape[0]:
        raise ValueError(f"ECal and HCal batches differ in size: {ecal.shape[0]} != {hcal.shape[0]}")
    cols = [r_had(ecal, hcal), w_eta2(ecal), r_phi(ecal), r_eta(ecal), sigma_eta_eta(ecal), isolation(ecal, 0.3), isolation(ecal, 0.4)]
    return np.stack(cols, axis=1)


def hcal_coarse(hcal: np.ndarray) -> np.ndarray:
    """Sum (N, 32, 32) upsampled HCal images back into (N, 8, 8) coarse cells."""
    f, b = layout.HCAL_UPSAMPLE, layout.HCAL_BLOCK
    return hcal.reshape(hcal.shape[0], b, f, b, f).sum(axis=(2, 4))


def mass(ecal_images: np.ndarray, hcal_images: np.ndarray) -> np.ndarray:
    """Invariant mass (N, 1) of the ECal cells and HCal coarse cells as massless four-vectors.

    Uses eta/phi offsets from the image centre (the mass is invariant under
    boosts along the beam, so the absolute eta does not matter).
    """
    ecal = _squeeze(ecal_images, layout.ECAL_SIZE, "ECal")
    hcal = hcal_coarse(_squeeze(hcal_images, layout.HCAL_SIZE, "HCal"))
    e_eta, e_phi = (np.asarray(a) for a in layout.pixel_centres("et"))
    half = (layout.HCAL_BLOCK - 1) / 2
    h_eta = (np.arange(layout.HCAL_BLOCK) - half) * layout.HCAL_DETA
    h_phi = (np.arange(layout.HCAL_BLOCK) - half) * layout.HCAL_DPHI
    px = py = pz = en = 0.0
    for img, eta, phi in ((ecal, e_eta, e_phi), (hcal, h_eta, h_phi)):
        cosh, sinh = np.cosh(eta)[:, None], np.sinh(eta)[:, None]
        cos, sin = np.cos(phi)[None, :], np.sin(phi)[None, :]
        px = px + (img * cos).sum(axis=(1, 2))
        py = py + (img * sin).sum(axis=(1, 2))
        pz = pz + (img * sinh).sum(axis=(1, 2))
        en = en + (img * cosh).sum(axis=(1, 2))
    m2 = en**2 - px**2 - py**2 - pz**2
    return np.sqrt(np.clip(m2, 0.0, None))[:, None]
