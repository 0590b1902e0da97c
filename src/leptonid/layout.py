"""The data layout and detector geometry of the paper's ``data.h5``.

Everything here is a constant of the published data format and of the detector
images described in Collado et al., PRD 103, 116028 (2021), section on the data
(ATLAS-like Delphes calorimeter cells); no function reads a file.
"""

from __future__ import annotations

import math

#: Splits present in every group of ``data.h5``.
SPLITS: tuple[str, ...] = ("train", "valid", "test")

#: Groups of ``data.h5`` and the per-event shape of each dataset.
FEATURE_SHAPES: dict[str, tuple[int, ...]] = {
    "et": (31, 31, 1),  # ECal transverse-energy image
    "ht": (32, 32, 1),  # HCal transverse-energy image (upsampled 8x8 -> 32x32)
    "hl": (7,),  # the 7 high-level electron-ID features
    "mass": (1,),  # invariant mass of the calorimeter deposits
    "y": (),  # label: 1 electron, 0 jet faking an electron
}

#: Groups that hold features (floats); ``y`` holds the label.
FEATURE_GROUPS: tuple[str, ...] = ("et", "ht", "hl", "mass")
LABEL_GROUP = "y"

#: Names of the 7 HL features, in file order (columns of ``hl``).
HL_FEATURES: tuple[str, ...] = (
    "r_had",  # sum HCal ET / sum ECal ET
    "w_eta2",  # energy-weighted RMS of eta in a 3x5 window
    "r_phi",  # E(3x3) / E(3 eta x 7 phi)
    "r_eta",  # E(3 eta x 7 phi) / E(7x7)
    "sigma_eta_eta",  # 5x5 window, |ln E| weights, cell units
    "iso_dr03",  # ECal ET within dR < 0.3 of the centre
    "iso_dr04",  # ECal ET within dR < 0.4 of the centre
)

# --- detector geometry (Collado et al., the image description: ECal and HCal cells) ---
ECAL_DETA: float = 0.025
ECAL_DPHI: float = math.pi / 126
ECAL_SIZE: int = 31
HCAL_DETA: float = 0.1
HCAL_DPHI: float = math.pi / 31
HCAL_BLOCK: int = 8  # coarse HCal cells per side of the image
HCAL_UPSAMPLE: int = 4  # each coarse cell becomes 4x4 fine pixels
HCAL_SIZE: int = HCAL_BLOCK * HCAL_UPSAMPLE  # 32


def pixel_centres(image: str) -> tuple["list[float]", "list[float]"]:
    """Return (eta, phi) offsets of the pixel centres of an image, row-major.

    Rows run along eta and columns along phi; the centre of the image is
    (0, 0). For ``ht`` the fine (upsampled) pixel grid is used.
    """
    if image == "et":
        n, deta, dphi = ECAL_SIZE, ECAL_DETA, ECAL_DPHI
    elif image == "ht":
        n, deta, dphi = HCAL_SIZE, HCAL_DETA / HCAL_UPSAMPLE, HCAL_DPHI / HCAL_UPSAMPLE
    else:
        raise ValueError(f"unknown image {image!r}; expected 'et' or 'ht'")
    half = (n - 1) / 2
    eta = [(i - half) * deta for i in range(n)]
    phi = [(j - half) * dphi for j in range(n)]
    return eta, phi
