"""Figures: ROC curves (HEP convention and plain), training curves, score distributions.

Colours come from :mod:`leptonid.style` (one per class, one per feature set),
so a network or a class looks the same in every figure.

Every function draws one figure and saves it to each given path (``.png``
and/or ``.pdf``), atomically. The Agg backend is used: no display needed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from leptonid.atomic import atomic_output  # noqa: E402
from leptonid.metrics import roc_auc, roc_curve, thin_curve  # noqa: E402
from leptonid.style import CLASS_COLOURS, CLASS_NAMES, feature_set_colour, hep_style  # noqa: E402

#: Most vertices of a drawn ROC curve (per thinning; see metrics.thin_curve).
ROC_POINTS = 1000

SUFFIXES: tuple[str, ...] = (".png", ".pdf")


def save_figure(fig: plt.Figure, paths: Sequence[str | os.PathLike[str]]) -> None:
    """Save ``fig`` to every path (format from the suffix), atomically, then close it."""
    try:
        if not paths:
            raise ValueError("save_figure needs at least one output path")
        for path in map(Path, paths):
            if path.suffix not in SUFFIXES:
                raise ValueError(f"{path}: figure paths must end in one of {SUFFIXES}")
            with atomic_output(path) as tmp:
                fig.savefig(tmp, format=path.suffix[1:], dpi=150, bbox_inches="tight")
    finally:
        plt.close(fig)


def _curves(predictions: Mapping[str, tuple[np.ndarray, np.ndarray]]):
    if not predictions:
        raise ValueError("no predictions to plot")
    for name, (y, score) in predictions.items():
        fpr, tpr, _ = roc_curve(y, score)
        # bounded vertices: thinned for the linear ROC and for the log rejection plot
        log_fpr = np.log10(np.maximum(fpr, 1.0 / max(len(y), 1)))
        keep = np.union1d(thin_curve(fpr, tpr, ROC_POINTS), thin_curve(tpr, log_fpr, ROC_POINTS))
        yield name, fpr[keep], tpr[keep], roc_auc(y, score)


@hep_style()
def plot_rejection(
    predictions: Mapping[str, tuple[np.ndarray, np.ndarray]],
    paths: Sequence[str | os.PathLike[str]],
    labels: Mapping[str, str] | None = None,
    collapsed: Sequence[str] = (),
) -> None:
    """ROC curves of all feature sets, HEP convention: background rejection 1/eps_b
    (log scale) versus signal efficiency eps_s. ``predictions`` maps a name to
    (labels, scores); names in ``collapsed`` are drawn dashed and marked."""
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    for name, fpr, tpr, auc in _curves(predictions):
        keep = fpr > 0
        tag = " [collapsed]" if name in collapsed else ""
        ax.plot(
            tpr[keep], 1.0 / fpr[keep], ls="--" if tag else "-", color=feature_set_colour(name),
            label=f"{(labels or {}).get(name, name)} (AUC {auc:.4f}){tag}",
        )
    ax.set_yscale("log")
    ax.set_xlim(0.0, 1.0)
    ax.set_xlabel(r"signal efficiency $\epsilon_s$")
    ax.set_ylabel(r"background rejection $1/\epsilon_b$")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    save_figure(fig, paths)


@hep_style()
def plot_roc(
    predictions: Mapping[str, tuple[np.ndarray, np.ndarray]],
    paths: Sequence[str | os.PathLike[str]],
    labels: Mapping[str, str] | None = None,
    collapsed: Sequence[str] = (),
) -> None:
    """Plain ROC curves: signal efficiency (true positive rate) versus background
    efficiency (false positive rate), with the diagonal of a random classifier."""
    fig, ax = plt.subplots(figsize=(5.2, 5.0))
    for name, fpr, tpr, auc in _curves(predictions):
        tag = " [collapsed]" if name in collapsed else ""
        ax.plot(fpr, tpr, ls="--" if tag else "-", color=feature_set_colour(name),
                label=f"{(labels or {}).get(name, name)} (AUC {auc:.4f}){tag}")
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls=":")
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, 1.0)
    ax.set_xlabel(r"background efficiency $\epsilon_b$")
    ax.set_ylabel(r"signal efficiency $\epsilon_s$")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", loc="lower right")
    save_figure(fig, paths)


@hep_style()
def plot_training(
    history: pd.DataFrame, paths: Sequence[str | os.PathLike[str]], title: str = ""
) -> None:
    """Training and validation loss per epoch, and the learning rate if recorded."""
    for column in ("loss", "val_loss"):
        if column not in history.columns:
            raise ValueError(f"history lacks column {column!r}")
    epoch = history["epoch"] if "epoch" in history.columns else np.arange(1, len(history) + 1)
    has_lr = "learning_rate" in history.columns
    fig, axes = plt.subplots(1, 2 if has_lr else 1, figsize=(9.6 if has_lr else 5.2, 4.0), squeeze=False)
    ax = axes[0, 0]
    ax.plot(epoch, history["loss"], marker="o", ms=3, label="train")
    ax.plot(epoch, history["val_loss"], marker="o", ms=3, label="validation")
    best = int(np.nanargmin(history["val_loss"].to_numpy()))
    ax.axvline(np.asarray(epoch)[best], color="grey", ls=":", label="best epoch")
    ax.axhline(np.log(2), color="red", lw=0.8, ls="--", label="ln 2 (constant score)")
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("binary cross-entropy")
    ax.legend(fontsize="small")
    ax.set_title(title)
    if has_lr:
        ax2 = axes[0, 1]
        ax2.plot(epoch, history["learning_rate"], marker="o", ms=3)
        ax2.set_yscale("log")
        ax2.set_xlabel("epoch")
        ax2.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax2.set_ylabel("learning rate")
    save_figure(fig, paths)


@hep_style()
def plot_scores(
    y: np.ndarray,
    score: np.ndarray,
    paths: Sequence[str | os.PathLike[str]],
    title: str = "",
    bins: int = 50,
) -> None:
    """Normalised score distributions of signal (electrons) and background (jets)."""
    y = np.asarray(y).reshape(-1).astype(bool)
    score = np.asarray(score, dtype=np.float64).reshape(-1)
    if y.size != score.size:
        raise ValueError(f"labels ({y.size}) and scores ({score.size}) differ in length")
    edges = np.linspace(0.0, 1.0, bins + 1)
    fig, ax = plt.subplots(figsize=(5.2, 4.0))
    ax.hist(score[y], bins=edges, density=True, histtype="step", lw=1.5, color=CLASS_COLOURS[1],
            label=f"{CLASS_NAMES[1]} ({y.sum()})")
    ax.hist(score[~y], bins=edges, density=True, histtype="step", lw=1.5, color=CLASS_COLOURS[0],
            label=f"{CLASS_NAMES[0]} ({(~y).sum()})")
    ax.set_yscale("log")
    ax.set_xlabel("network score (0 = jet-like, 1 = electron-like)")
    ax.set_ylabel("normalised events")
    ax.set_title(title)
    ax.legend(fontsize="small")
    save_figure(fig, paths)
