"""Results of the guided search: the closed gap with a paired bootstrap, the figure, a plain summary.

The figure follows Collado et al., PRD 103, 116028 (2021) (guided-search
figure): AUC against the number of added EFPs with its interval, the CNN
and HL baselines as horizontal bands, an ADO panel below, and the chosen
EFPs' graphs beside it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from leptonid.atomic import atomic_output
from leptonid.metrics import resampled_aucs, roc_auc

__all__ = [
    "paired_bootstrap_gap",
    "describe_efp",
    "plot_search",
    "summary_markdown",
    "write_summary",
]


def paired_bootstrap_gap(
    y: np.ndarray,
    score_base: np.ndarray,
    score_ref: np.ndarray,
    score_final: np.ndarray,
    resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    chunk: int = 16,
) -> dict[str, Any]:
    """How much of the reference's AUC lead the search closes, on the SAME test events.

    All three scorings are evaluated on common bootstrap resamples of the
    events (multinomial weights, O(n) per resample), so their correlation
    is kept. Returns point values and percentile intervals of ``gap`` =
    AUC(ref) - AUC(base), ``gain`` = AUC(final) - AUC(base) and
    ``fraction`` = gain / gap (resamples with gap <= 0 have no fraction and
    are dropped from its interval; ``fraction_dropped`` counts them), plus
    the three AUCs with their intervals.
    """
    lab = np.asarray(y).reshape(-1)
    if not np.isin(lab, (0, 1)).all():
        raise ValueError("labels must be 0 or 1")
    lab = lab.astype(bool)
    if lab.all() or not lab.any():
        raise ValueError("need both signal and background events")
    scores = {}
    for name, s in (("base", score_base), ("ref", score_ref), ("final", score_final)):
        arr = np.asarray(s, dtype=np.float64).reshape(-1)
        if arr.size != lab.size or not np.isfinite(arr).all():
            raise ValueError(f"score_{name} must be {lab.size} finite values")
        scores[name] = arr
    if resamples < 2 or not 0 < level < 1:
        raise ValueError("need resamples >= 2 and 0 < level < 1")
    n = lab.size
    point = {k: roc_auc(lab, s) for k, s in scores.items()}
    boot = dict(zip(scores, resampled_aucs(lab, list(scores.values()), resamples, seed, chunk)))
    ok = np.isfinite(boot["base"]) & np.isfinite(boot["ref"]) & np.isfinite(boot["final"])
    gap_b = (boot["ref"] - boot["base"])[ok]
    gain_b = (boot["final"] - boot["base"])[ok]
    positive = gap_b > 0
    frac_b = gain_b[positive] / gap_b[positive]
    alpha = (1 - level) / 2

    def interval(values: np.ndarray) -> tuple[float, float]:
        if values.size == 0:
            return (math.nan, math.nan)
        lo, hi = np.quantile(values, [alpha, 1 - alpha])
        return float(lo), float(hi)

    gap = point["ref"] - point["base"]
    gain = point["final"] - point["base"]
    out: dict[str, Any] = {
        "level": level,
        "resamples": int(ok.sum()),
        "seed": seed,
        "n_events": n,
        "gap": gap,
        "gap_ci": interval(gap_b),
        "gain": gain,
        "gain_ci": interval(gain_b),
        "fraction": gain / gap if gap > 0 else math.nan,
        "fraction_ci": interval(frac_b),
        "fraction_dropped": int((~positive).sum()),
    }
    for k in scores:
        out[f"auc_{k}"] = point[k]
        out[f"auc_{k}_ci"] = interval(boot[k][ok])
    return out


def _fmt(x: float) -> str:
    return f"{x:g}"


def describe_efp(n: int, d: int, kappa: float, beta: float, image: str | None = None) -> str:
    """One plain sentence on what an EFP measures (graph, energy and angular weighting)."""
    where = {"et": "the ECal image", "ht": "the HCal image"}.get(image or "", "the image")
    if d == 0:
        graph = f"a single node: the sum over deposits of z^kappa in {where} (no angles)"
    else:
        graph = (
            f"a graph of {n} nodes and {d} edge{'s' if d != 1 else ''}: a {n}-point correlator of the deposits "
            f"in {where}, each edge one pairwise angle"
        )
    if kappa == 1:
        energy = "kappa = 1: energy fractions enter linearly, so it is IRC safe"
    elif kappa == 0:
        energy = "kappa = 0: every deposit counts the same whatever its energy (a count-like, IRC-unsafe observable)"
    elif kappa < 1:
        energy = f"kappa = {_fmt(kappa)} < 1: soft deposits are weighted up relative to hard ones (IRC unsafe)"
    else:
        energy = f"kappa = {_fmt(kappa)} > 1: hard deposits dominate (IRC unsafe)"
    if d == 0:
        angle = f"beta = {_fmt(beta)} does not enter (no edges)"
    elif beta < 1:
        angle = f"beta = {_fmt(beta)} < 1: small angles are emphasised (sensitive to the core's width)"
    elif beta == 1:
        angle = "beta = 1: angles enter linearly"
    else:
        angle = f"beta = {_fmt(beta)} > 1: wide angles are emphasised (sensitive to the spread of the deposits)"
    return f"{graph}; {energy}; {angle}."


def _efp_label(row: Mapping[str, Any]) -> str:
    return (
        f"{row['image']} EFP {int(row['n'])}_{int(row['d'])}_{int(row['k'])} "
        f"(kappa {_fmt(float(row['kappa']))}, beta {_fmt(float(row['beta']))})"
    )


def plot_search(
    passes: pd.DataFrame,
    baselines: Mapping[str, tuple[float, float, float]],
    png: str | os.PathLike[str],
    pdf: str | os.PathLike[str] | None = None,
    graph_images: Sequence[str | os.PathLike[str]] | Callable[[Any, Mapping[str, Any]], None] | None = None,
    which: str = "test",
    title: str | None = None,
    colours: Mapping[str, str] | None = None,
) -> None:
    """The guided-search figure.

    ``passes``: the table of :func:`leptonid.search.guided.run_guided_search`.
    ``baselines``: label -> (auc, low, high), drawn as horizontal bands
    (e.g. ``{"ECal+HCal CNN": ..., "HL": ...}``). ``which``: ``"test"``
    plots the final-step columns (``test_auc``...), ``"selection"`` the
    per-pass ones (``auc``... on the selection split). ``graph_images``:
    one pre-drawn PNG per chosen EFP (in pass order), or a callable
    ``draw(ax, row)`` drawing the graph of pass ``row``; None leaves the
    graph column out. ``colours``: label -> colour (``leptonid.style``'s
    colour of each network; the curve is labelled "HL + EFPs").
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    if which not in ("test", "selection"):
        raise ValueError(f"which must be 'test' or 'selection', got {which!r}")
    prefix = "test_" if which == "test" else ""
    auc, low, high = (passes[f"{prefix}{c}"].to_numpy(float) for c in ("auc", "auc_ci_low", "auc_ci_high"))
    ado = passes[f"{prefix}ado_with_reference"].to_numpy(float)
    x = passes["pass"].to_numpy(int)
    chosen = passes[passes["pass"] > 0].reset_index(drop=True)
    n_graphs = len(chosen) if graph_images is not None else 0
    if isinstance(graph_images, Sequence) and not isinstance(graph_images, str) and len(graph_images) != len(chosen):
        raise ValueError(f"{len(graph_images)} graph images for {len(chosen)} chosen EFPs")

    fig = plt.figure(figsize=(7.5 + (2.0 if n_graphs else 0.0), 6.0))
    grid = fig.add_gridspec(
        2, 2 if n_graphs else 1, height_ratios=(2.2, 1.0), width_ratios=(3.5, 1.2) if n_graphs else None
    )
    ax_auc = fig.add_subplot(grid[0, 0])
    ax_ado = fig.add_subplot(grid[1, 0], sharex=ax_auc)
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    chosen_colour = (colours or {}).get("HL + EFPs", cycle[0])
    for i, (label, (b_auc, b_low, b_high)) in enumerate(baselines.items()):
        c = (colours or {}).get(label, cycle[(i + 1) % len(cycle)])
        ax_auc.axhspan(b_low, b_high, color=c, alpha=0.2, lw=0)
        ax_auc.axhline(b_auc, color=c, ls="--", lw=1, label=f"{label} {b_auc:.4f}")
    ax_auc.errorbar(x, auc, yerr=[auc - low, high - auc], fmt="o-", color=chosen_colour, capsize=3, label="HL + EFPs")
    ax_auc.set_ylabel(f"AUC ({'test' if which == 'test' else passes['selection_split'].iloc[0]})")
    ax_auc.legend(loc="lower right", fontsize=8)
    ax_auc.grid(alpha=0.3)
    if title:
        ax_auc.set_title(title)
    ax_ado.plot(x, ado, "s-", color=chosen_colour)
    ax_ado.set_ylabel("ADO with CNN")
    ax_ado.set_xlabel("number of EFPs added")
    ax_ado.set_xticks(x)
    ax_ado.grid(alpha=0.3)
    plt.setp(ax_auc.get_xticklabels(), visible=False)
    if n_graphs:
        sub = grid[:, 1].subgridspec(n_graphs, 1)
        for i in range(n_graphs):
            ax = fig.add_subplot(sub[i, 0])
            row = chosen.iloc[i].to_dict()
            if callable(graph_images):
                graph_images(ax, row)
            else:
                ax.imshow(plt.imread(os.fspath(graph_images[i])))  # type: ignore[index]
            ax.set_axis_off()
            ax.set_title(f"{i + 1}: {_efp_label(row)}", fontsize=7)
    fig.tight_layout()
    for path in (png, pdf):
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            with atomic_output(path) as tmp:
                fig.savefig(tmp, dpi=150)
    plt.close(fig)


def summary_markdown(
    passes: pd.DataFrame,
    gap: Mapping[str, Any],
    protocol: str,
    stop_reason: str | None = None,
    base_label: str = "HL",
    reference_label: str = "CNN",
) -> str:
    """The search in plain words (Markdown): AUCs, the closed gap with its interval, each EFP's meaning."""
    chosen = passes[passes["pass"] > 0]
    k = len(chosen)
    lo, hi = gap["fraction_ci"]
    lines = ["## Guided EFP search", ""]
    frac = gap["fraction"]
    frac_txt = f"{100 * frac:.0f}% of the gap" if np.isfinite(frac) else "no gap to close (the base is not worse)"
    lines.append(
        f"{base_label} {gap['auc_base']:.4f} -> {base_label} + {k} EFP{'s' if k != 1 else ''} "
        f"{gap['auc_final']:.4f}, {reference_label} {gap['auc_ref']:.4f}: {frac_txt} "
        f"({100 * gap['level']:.0f}% interval {100 * lo:.0f}% to {100 * hi:.0f}%, "
        f"paired bootstrap of {gap['resamples']} resamples of the same {gap['n_events']} test events)."
    )
    g_lo, g_hi = gap["gap_ci"]
    n_lo, n_hi = gap["gain_ci"]
    lines += [
        "",
        f"- Gap {reference_label} - {base_label}: {gap['gap']:+.4f} ({g_lo:+.4f} to {g_hi:+.4f}); "
        f"gain from the EFPs: {gap['gain']:+.4f} ({n_lo:+.4f} to {n_hi:+.4f}).",
    ]
    if protocol == "honest":
        lines.append(
            "- Protocol: honest. Pairs, the EFP choice, early stopping and the per-pass AUCs used the "
            "training and validation splits only; the test split was read once, at the end, for these numbers."
        )
    else:
        lines.append(
            "- Protocol: authors'. As in the paper, the pairs and the per-pass AUCs came from the test split, "
            "so the test AUCs took part in the choice and are optimistic."
        )
    if stop_reason:
        lines.append(f"- Stopped because: {stop_reason}.")
    if k:
        lines += [
            "",
            "| pass | EFP | AUC | ADO on disordered pairs | what it measures |",
            "| --- | --- | --- | --- | --- |",
        ]
        auc_col = "test_auc" if "test_auc" in passes and passes["test_auc"].notna().all() else "auc"
        for _, row in chosen.iterrows():
            text = describe_efp(int(row["n"]), int(row["d"]), float(row["kappa"]), float(row["beta"]), row["image"])
            lines.append(
                f"| {int(row['pass'])} | {_efp_label(row)} | {row[auc_col]:.4f} | "
                f"{row['ado_on_disordered_pairs']:.3f} | {text} |"
            )
    lines += [
        "",
        "Method: average decision ordering (Faucett, Thaler, Whiteson, PRD 103, 036020 (2021)) as used by "
        "Collado et al., PRD 103, 116028 (2021); a tie counts one half.",
        "",
    ]
    return "\n".join(lines)


def write_summary(path: str | os.PathLike[str], *args: Any, **kwargs: Any) -> str:
    """Write :func:`summary_markdown` (same arguments) to ``path`` atomically; return the text."""
    text = summary_markdown(*args, **kwargs)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        tmp.write_text(text)
    return text
