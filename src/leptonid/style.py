"""One look for every figure: class and network colours, names and units, HEP axis style.

Every figure of the workflow takes its colours from here, so an electron is
the same blue and a jet the same red in the data figures, the score
distributions and the simulation's validation, and each network keeps its
colour across the ROC, rejection and search figures. (mplhep's style is not
used: it is not in the lock; :func:`hep_style` sets the few conventions we
need: ticks inside on all four sides, minor ticks, no top/right gaps.)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import matplotlib

#: Colour of each class, by label value (1 electron = signal, 0 jet = background).
CLASS_COLOURS: dict[int, str] = {1: "#3f90da", 0: "#bd1f01"}
#: Name of each class, by label value.
CLASS_NAMES: dict[int, str] = {1: "electrons", 0: "jets (fakes)"}
#: The same, for one event.
CLASS_NAME: dict[int, str] = {1: "electron", 0: "jet faking an electron"}

#: One colour per feature set (Petroff's 10-colour palette, colour-blind safe).
FEATURE_SET_COLOURS: dict[str, str] = {
    "et": "#3f90da",
    "ht": "#ffa90e",
    "et_and_ht": "#bd1f01",
    "et_and_ht_and_hl": "#94a4a2",
    "hl": "#832db6",
    "mass": "#a96b59",
    "hl_and_mass": "#e76300",
    "hl_and_efps": "#b9ac70",
    "hl_and_mass_and_efps": "#717581",
}
_FALLBACK = "#92dadd"

#: Names with units of the 7 HL features and the mass, in physical units (as in unscaled_data.h5).
FEATURE_LABELS: dict[str, str] = {
    "r_had": r"$R_\mathrm{had}$ = HCal $E_T$ / ECal $E_T$",
    "w_eta2": r"$w_{\eta 2}$ (shower width in $\eta$)",
    "r_phi": r"$R_\phi$ = $E_{3\times3}/E_{3\times7}$",
    "r_eta": r"$R_\eta$ = $E_{3\times7}/E_{7\times7}$",
    "sigma_eta_eta": r"$\sigma_{\eta\eta}$ [cells]",
    "iso_dr03": r"ECal isolation $\Delta R<0.3$ [GeV]",
    "iso_dr04": r"ECal isolation $\Delta R<0.4$ [GeV]",
    "mass": r"calorimeter mass $M$ [GeV]",
}
#: The unit of each feature in physical units ("" for a ratio or a width in eta).
FEATURE_UNITS: dict[str, str] = {
    "r_had": "",
    "w_eta2": "",
    "r_phi": "",
    "r_eta": "",
    "sigma_eta_eta": "cells",
    "iso_dr03": "GeV",
    "iso_dr04": "GeV",
    "mass": "GeV",
}


def feature_set_colour(feature_set: str) -> str:
    """The colour of a feature set in every figure."""
    return FEATURE_SET_COLOURS.get(feature_set, _FALLBACK)


HEP_RC: dict[str, object] = {
    "xtick.direction": "in",
    "ytick.direction": "in",
    "xtick.top": True,
    "ytick.right": True,
    "xtick.minor.visible": True,
    "ytick.minor.visible": True,
    "xtick.major.size": 6,
    "ytick.major.size": 6,
    "xtick.minor.size": 3,
    "ytick.minor.size": 3,
    "axes.labelsize": "medium",
    "legend.frameon": False,
    "font.size": 10,
}


@contextmanager
def hep_style() -> Iterator[None]:
    """Draw the figures made inside this block in the HEP convention (ticks in, minor ticks, all sides)."""
    with matplotlib.rc_context(HEP_RC):
        yield
