"""Feature sets: which inputs each network sees.

Names follow the authors' training code (networks of Collado et al., Figs. 8, 9): one network
is trained per feature set, and a feature set is a tuple of input names.
Image inputs (``et``, ``ht``) get a convolutional tower each; flat inputs
(``hl``, ``mass``, ``efps``) are concatenated after the towers.
"""

from __future__ import annotations

#: Inputs of every known feature set, in the order the model concatenates them.
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "et": ("et",),
    "ht": ("ht",),
    "et_and_ht": ("et", "ht"),
    "et_and_ht_and_hl": ("et", "ht", "hl"),
    "hl": ("hl",),
    "mass": ("mass",),
    "hl_and_mass": ("hl", "mass"),
    "hl_and_efps": ("hl", "efps"),
    "hl_and_mass_and_efps": ("hl", "mass", "efps"),
}

#: Inputs that are images (get a conv tower); all others are flat vectors.
IMAGE_INPUTS: tuple[str, ...] = ("et", "ht")

#: Inputs that the Feather split files hold (``efps`` come from the EFP step).
SPLIT_INPUTS: tuple[str, ...] = ("et", "ht", "hl", "mass")

#: Human-readable labels for plots and tables.
LABELS: dict[str, str] = {
    "et": "ECal CNN",
    "ht": "HCal CNN",
    "et_and_ht": "ECal+HCal CNN",
    "et_and_ht_and_hl": "ECal+HCal CNN + HL",
    "hl": "HL DNN (7 features)",
    "mass": "mass",
    "hl_and_mass": "HL + mass",
    "hl_and_efps": "HL + EFPs",
    "hl_and_mass_and_efps": "HL + mass + EFPs",
}


def inputs_of(feature_set: str) -> tuple[str, ...]:
    """Return the input names of ``feature_set``; raise ``ValueError`` if unknown."""
    try:
        return FEATURE_SETS[feature_set]
    except KeyError:
        known = ", ".join(FEATURE_SETS)
        raise ValueError(f"unknown feature set {feature_set!r}; known: {known}") from None


def image_inputs(feature_set: str) -> tuple[str, ...]:
    """Return the image inputs (conv towers) of ``feature_set``."""
    return tuple(name for name in inputs_of(feature_set) if name in IMAGE_INPUTS)


def flat_inputs(feature_set: str) -> tuple[str, ...]:
    """Return the flat (vector) inputs of ``feature_set``."""
    return tuple(name for name in inputs_of(feature_set) if name not in IMAGE_INPUTS)


def is_cnn(feature_set: str) -> bool:
    """True if ``feature_set`` has at least one image input (a CNN)."""
    return bool(image_inputs(feature_set))


def needs_efps(feature_set: str) -> bool:
    """True if ``feature_set`` reads EFP features from the EFP step."""
    return "efps" in inputs_of(feature_set)


def search_result(base: str) -> str:
    """The feature set the guided search builds from ``base`` (``hl`` -> ``hl_and_efps``)."""
    name = f"{base}_and_efps"
    inputs_of(name)
    return name


def label(feature_set: str) -> str:
    """Return a readable label for plots and tables."""
    inputs_of(feature_set)
    return LABELS.get(feature_set, feature_set)
