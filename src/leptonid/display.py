"""Look at the data without ROOT: one candidate, class means, class balance, features per class.

Reads any HDF5 file that honours the data contract (``et``, ``ht``, ``hl``,
``mass``, ``y``, each with ``train``/``valid``/``test``; the authors'
``data.h5`` included). Values are shown as stored, except where the file
says how it was standardised (groups with ``scaling_mean``/``scaling_std``
attributes, as our simulation writes them): those are turned back into
physical units. Images are drawn with eta across and phi up, in the
detector's units, on a log colour scale.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import LogNorm, SymLogNorm  # noqa: E402

from leptonid import layout  # noqa: E402
from leptonid.plots import save_figure  # noqa: E402
from leptonid.style import (  # noqa: E402
    CLASS_COLOURS,
    CLASS_NAME,
    CLASS_NAMES,
    FEATURE_LABELS,
    FEATURE_UNITS,
    hep_style,
)

PathLike = str | os.PathLike[str]
FEATURES: tuple[str, ...] = (*layout.HL_FEATURES, "mass")
IMAGE_TITLES = {"et": "ECal", "ht": "HCal"}


@dataclass
class Event:
    """One candidate: its images (eta x phi), its 7 HL features and mass, its label."""

    source: str
    split: str
    index: int
    et: np.ndarray
    ht: np.ndarray
    features: dict[str, float]
    label: int
    physical: bool  # images in physical units (GeV), not standardised
    features_physical: bool = True  # the 7 HL features and the mass in physical units


def _unscale(group: h5py.Group, values: np.ndarray) -> tuple[np.ndarray, bool]:
    """Undo the file's own standardisation, if it records one; say whether it did."""
    if "scaling_mean" in group.attrs and "scaling_std" in group.attrs:
        mean, std = np.asarray(group.attrs["scaling_mean"]), np.asarray(group.attrs["scaling_std"])
        return values * std + mean, True
    return values, False


def _dataset(f: h5py.File, path: PathLike, name: str) -> h5py.Dataset:
    if name not in f:
        raise ValueError(f"{path}: no dataset {name!r} (the data contract needs et, ht, hl, mass, y per split)")
    return f[name]


def split_size(path: PathLike, split: str) -> int:
    """Number of events of ``split`` in ``path``."""
    if split not in layout.SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(layout.SPLITS)}")
    with h5py.File(path, "r") as f:
        return int(_dataset(f, path, f"y/{split}").shape[0])


def read_event(path: PathLike, split: str, index: int) -> Event:
    """Event ``index`` of ``split`` in ``path`` (``index`` may be negative, counted from the end)."""
    n = split_size(path, split)
    if not -n <= index < n:
        raise ValueError(f"{path}: {split} has {n} events; event {index} does not exist")
    index %= n
    with h5py.File(path, "r") as f:
        phys = []
        images = {}
        for image in ("et", "ht"):
            values = np.asarray(_dataset(f, path, f"{image}/{split}")[index], dtype=np.float64).reshape(
                layout.FEATURE_SHAPES[image][:2]
            )
            images[image], ok = _unscale(f[image], values)
            phys.append(ok)
        hl, ok_hl = _unscale(f["hl"], np.asarray(_dataset(f, path, f"hl/{split}")[index], dtype=np.float64).ravel())
        mass = np.asarray(_dataset(f, path, f"mass/{split}")[index], dtype=np.float64).ravel()
        mass, ok_m = _unscale(f["mass"], mass)
        label = int(round(float(_dataset(f, path, f"y/{split}")[index])))
        features_physical = (ok_hl and ok_m) or _features_look_physical(f, split)
    features = {name: float(v) for name, v in zip(layout.HL_FEATURES, hl, strict=True)}
    features["mass"] = float(mass[0])
    physical = all(phys) or _looks_physical(images)
    return Event(str(path), split, index, images["et"], images["ht"], features, label, physical, features_physical)


def _features_look_physical(f: h5py.File, split: str, rows: int = 4096) -> bool:
    """HL features and mass in physical units are never negative (ratios, widths, GeV); standardised ones are.

    Judged on the first ``rows`` events of the split, so that one event's values do not decide it.
    """
    hl = np.asarray(f[f"hl/{split}"][:rows], dtype=np.float64)
    mass = np.asarray(f[f"mass/{split}"][:rows], dtype=np.float64)
    return bool(np.nanmin(hl, initial=0.0) >= 0 and np.nanmin(mass, initial=0.0) >= 0)


def _looks_physical(images: dict[str, np.ndarray]) -> bool:
    """Images in GeV are never negative; standardised ones are (their empty pixels sit below 0)."""
    return all(float(np.min(v)) >= 0.0 for v in images.values())


def class_means(path: PathLike, split: str, chunk: int = 4096) -> dict[int, dict[str, np.ndarray | int]]:
    """Mean ECal and HCal image of each class of ``split``, read ``chunk`` events at a time.

    Returns ``{label: {"et": (31, 31), "ht": (32, 32), "n": count}}``.
    """
    n = split_size(path, split)
    sums = {c: {"et": 0.0, "ht": 0.0, "n": 0} for c in (0, 1)}
    with h5py.File(path, "r") as f:
        for start in range(0, n, chunk):
            y = np.rint(np.asarray(f[f"y/{split}"][start : start + chunk], dtype=np.float64)).astype(int).ravel()
            for image in ("et", "ht"):
                block = np.asarray(f[f"{image}/{split}"][start : start + chunk], dtype=np.float64)
                block = _unscale(f[image], block.reshape(len(y), *layout.FEATURE_SHAPES[image][:2]))[0]
                for c in (0, 1):
                    sums[c][image] = sums[c][image] + block[y == c].sum(axis=0)
            for c in (0, 1):
                sums[c]["n"] += int((y == c).sum())
    for c, s in sums.items():
        if s["n"] == 0:
            raise ValueError(f"{path}: {split} has no {CLASS_NAMES[c]} (label {c})")
        s["et"] = s["et"] / s["n"]
        s["ht"] = s["ht"] / s["n"]
    return sums


def read_labels(path: PathLike) -> dict[str, np.ndarray]:
    """The labels of every split."""
    with h5py.File(path, "r") as f:
        return {
            s: np.rint(np.asarray(_dataset(f, path, f"y/{s}")[...], dtype=np.float64)).astype(int)
            for s in layout.SPLITS
        }


def read_features(path: PathLike, split: str) -> tuple[dict[str, np.ndarray], np.ndarray, bool]:
    """The 7 HL features and the mass of every event of ``split``, its labels, and whether in physical units."""
    with h5py.File(path, "r") as f:
        hl, ok_hl = _unscale(f["hl"], np.asarray(_dataset(f, path, f"hl/{split}")[...], dtype=np.float64))
        mass, ok_m = _unscale(f["mass"], np.asarray(_dataset(f, path, f"mass/{split}")[...], dtype=np.float64))
        y = np.rint(np.asarray(f[f"y/{split}"][...], dtype=np.float64)).astype(int).ravel()
    # physical units: the file says how to undo its scaling, or no value is negative (standardised ones are)
    physical = (ok_hl and ok_m) or (float(np.nanmin(hl)) >= 0 and float(np.nanmin(mass)) >= 0)
    columns = {name: hl[:, i] for i, name in enumerate(layout.HL_FEATURES)}
    columns["mass"] = mass.reshape(-1)
    return columns, y, physical


# --- drawing ---


def _extent(image: str) -> list[float]:
    eta, phi = layout.pixel_centres(image)
    deta, dphi = eta[1] - eta[0], phi[1] - phi[0]
    return [eta[0] - deta / 2, eta[-1] + deta / 2, phi[0] - dphi / 2, phi[-1] + dphi / 2]


def draw_image(ax: plt.Axes, values: np.ndarray, image: str, title: str, physical: bool = True,
               vmax: float | None = None) -> None:
    """One calorimeter image, eta across and phi up, log colour scale (GeV when ``physical``).

    ``vmax`` fixes the top of the colour scale (to compare images on one scale); it spans 4 decades.
    """
    values = np.asarray(values, dtype=np.float64)
    positive = values[values > 0]
    if physical or values.min() >= 0:
        top = vmax if vmax is not None else (float(positive.max()) if positive.size else 1.0)
        low = top * 1e-4 if vmax is not None else max(top * 1e-4, float(positive.min()) if positive.size else 1e-4)
        norm = LogNorm(vmin=low, vmax=top)
        shown = np.where(values > 0, values, np.nan)
        unit = r"$E_T$ per pixel [GeV]" if physical else "pixel value (as stored)"
    else:  # standardised: negative values; a symmetric log scale keeps the sign
        norm = SymLogNorm(linthresh=max(float(np.std(values)) * 1e-2, 1e-6))
        shown, unit = values, "pixel value (standardised, as stored)"
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="white")
    im = ax.imshow(shown.T, origin="lower", extent=_extent(image), cmap=cmap, norm=norm, aspect="auto",
                   interpolation="nearest")
    ax.set_xlabel(r"$\Delta\eta$")
    ax.set_ylabel(r"$\Delta\phi$ [rad]")
    ax.set_title(title, fontsize="medium")
    plt.colorbar(im, ax=ax, label=unit, fraction=0.046, pad=0.04)


def feature_lines(features: dict[str, float], physical: bool) -> list[str]:
    """``name = value unit`` for the 7 HL features and the mass."""
    lines = []
    for name in FEATURES:
        unit = f" {FEATURE_UNITS[name]}" if physical and FEATURE_UNITS[name] else ""
        lines.append(f"{name:<14s} = {features[name]:10.4g}{unit}")
    if not physical:
        lines.append("(standardised values, as stored)")
    return lines


def _text_panel(ax: plt.Axes, event: Event) -> None:
    ax.axis("off")
    ax.text(0.0, 1.0, f"label y = {event.label}: {CLASS_NAME[event.label]}", transform=ax.transAxes, va="top",
            color=CLASS_COLOURS[event.label], fontsize="large", fontweight="bold")
    ax.text(0.0, 0.86, "\n".join(feature_lines(event.features, event.features_physical)), transform=ax.transAxes,
            va="top", family="monospace", fontsize="small")


def draw_event_row(axes: Sequence[plt.Axes], event: Event) -> None:
    """ECal image, HCal image and the feature values of one event on three axes."""
    ecal_et = float(np.clip(event.et, 0, None).sum())
    tag = f"{event.split} event {event.index}"
    unit = " GeV" if event.physical else ""
    draw_image(axes[0], event.et, "et", f"ECal, {tag} (sum {ecal_et:.1f}{unit})", event.physical)
    draw_image(axes[1], event.ht, "ht", f"HCal, {tag} (sum {float(np.clip(event.ht, 0, None).sum()):.1f}{unit})",
               event.physical)
    _text_panel(axes[2], event)


def plot_event(event: Event, paths: Sequence[PathLike]) -> None:
    """One candidate: ECal and HCal images (log colour scale, eta/phi in detector units), features, label."""
    with hep_style():
        fig, axes = plt.subplots(1, 3, figsize=(15, 4.4), gridspec_kw={"width_ratios": [1, 1, 0.8]})
        draw_event_row(axes, event)
        fig.suptitle(f"{Path(event.source).name}: {event.split} event {event.index}", fontsize="medium")
        fig.tight_layout()
        save_figure(fig, paths)


def plot_events(events: Sequence[Event], paths: Sequence[PathLike]) -> None:
    """Several candidates, one row each (e.g. one electron and one jet)."""
    if not events:
        raise ValueError("no events to draw")
    with hep_style():
        fig, axes = plt.subplots(len(events), 3, figsize=(15, 4.4 * len(events)), squeeze=False,
                                 gridspec_kw={"width_ratios": [1, 1, 0.8]})
        for row, event in zip(axes, events, strict=True):
            draw_event_row(row, event)
        fig.tight_layout()
        save_figure(fig, paths)


def plot_means(means: dict[int, dict[str, np.ndarray | int]], paths: Sequence[PathLike], title: str = "",
               physical: bool = True) -> None:
    """Mean ECal and HCal image of each class: electrons above, jets below."""
    with hep_style():
        fig, axes = plt.subplots(2, 2, figsize=(10, 8.4))
        # one colour scale per calorimeter for both classes, so that they compare at a glance
        top = {image: max(float(np.max(means[c][image])) for c in (0, 1)) for image in ("et", "ht")}
        for row, c in enumerate((1, 0)):
            for col, image in enumerate(("et", "ht")):
                draw_image(axes[row, col], means[c][image], image,
                           f"mean {IMAGE_TITLES[image]}, {CLASS_NAMES[c]} ({means[c]['n']} events)", physical,
                           vmax=top[image] if top[image] > 0 else None)
                axes[row, col].title.set_color(CLASS_COLOURS[c])
        if title:
            fig.suptitle(title, fontsize="medium")
        fig.tight_layout()
        save_figure(fig, paths)


def plot_class_balance(labels: dict[str, np.ndarray], paths: Sequence[PathLike]) -> None:
    """Events per split and class, stacked bars with the counts written on them."""
    splits = list(labels)
    with hep_style():
        fig, ax = plt.subplots(figsize=(6.4, 4.0))
        bottom = np.zeros(len(splits))
        for c in (1, 0):
            counts = np.array([int((labels[s] == c).sum()) for s in splits])
            bars = ax.bar(splits, counts, bottom=bottom, color=CLASS_COLOURS[c], label=f"{CLASS_NAMES[c]} (y = {c})")
            ax.bar_label(bars, labels=[f"{n:,}" for n in counts], label_type="center", color="white", fontsize="small")
            bottom += counts
        ax.set_ylabel("events")
        ax.set_xlabel("split")
        ax.tick_params(axis="x", which="minor", bottom=False, top=False)
        ax.legend(loc="upper right")
        ax.set_ylim(0, bottom.max() * 1.25)
        fig.tight_layout()
        save_figure(fig, paths)


def plot_feature_distributions(columns: dict[str, np.ndarray], y: np.ndarray, paths: Sequence[PathLike],
                               physical: bool = True, bins: int = 40) -> None:
    """The 7 HL features and the mass per class, normalised histograms with names and units."""
    with hep_style():
        fig, axes = plt.subplots(2, 4, figsize=(16, 7))
        for ax, name in zip(axes.ravel(), FEATURES, strict=True):
            values = np.asarray(columns[name], dtype=np.float64)
            finite = values[np.isfinite(values)]
            lo, hi = np.percentile(finite, [0.5, 99.5]) if finite.size else (0.0, 1.0)
            edges = np.linspace(lo, hi if hi > lo else lo + 1.0, bins + 1)
            for c in (1, 0):
                ax.hist(np.clip(values[y == c], edges[0], edges[-1]), bins=edges, density=True, histtype="step",
                        lw=1.5, color=CLASS_COLOURS[c], label=CLASS_NAMES[c])
            ax.set_xlabel(FEATURE_LABELS[name] if physical else f"{name} (standardised)")
            ax.set_ylabel("normalised events")
        axes[0, 0].legend(loc="best", fontsize="small")
        fig.tight_layout()
        save_figure(fig, paths)
