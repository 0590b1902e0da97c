"""ROC curves, ROC AUC with a bootstrap interval, and background rejection.

Pure numpy. Labels: 1 signal (electron), 0 background (jet). Higher score
means more signal-like. The AUC is the Mann-Whitney rank statistic with ties
counted as one half, computed from one sort; the bootstrap reuses that sort
and draws multinomial event weights, so each resample costs O(n).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from leptonid.atomic import atomic_output

#: Published test-set ROC AUCs.
#: "authors": J. Collado et al., "Learning to identify electrons",
#: Phys. Rev. D 103, 116028 (2021), arXiv:2011.01984: the CNN and high-level
#: networks (hyperparameters of its Table V) and the guided-search EFP result.
#: "tutorial": the tutorial that reproduced them (its HCal CNN died at lr 0.01,
#: hence 0.5000). ``None`` where no number was published.
REFERENCE_AUC: dict[str, dict[str, float | None]] = {
    "et": {"authors": 0.9176, "tutorial": 0.9194},
    "ht": {"authors": 0.8250, "tutorial": 0.5000},
    "et_and_ht": {"authors": 0.9720, "tutorial": 0.9738},
    "et_and_ht_and_hl": {"authors": None, "tutorial": 0.9752},
    "hl": {"authors": 0.9446, "tutorial": 0.9472},
    "hl_and_mass": {"authors": 0.9525, "tutorial": 0.9566},
    "mass": {"authors": None, "tutorial": 0.7766},
    # 7 HL + 1-2 EFPs found by the guided search: 0.9699-0.9708 (+-0.0007);
    # the best (two IRC-safe EFPs) is listed.
    "hl_and_efps": {"authors": 0.9708, "tutorial": None},
}


def _check(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate labels and scores; return them as 1-d bool and float64 arrays."""
    y = np.asarray(y).reshape(-1)
    score = np.asarray(score, dtype=np.float64).reshape(-1)
    if y.shape != score.shape:
        raise ValueError(f"labels and scores differ in length: {y.shape[0]} vs {score.shape[0]}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 (background) or 1 (signal)")
    if not np.isfinite(score).all():
        raise ValueError("scores contain NaN or infinity")
    y = y.astype(bool)
    if y.all() or not y.any():
        raise ValueError("need both signal (y=1) and background (y=0) events")
    return y, score


@dataclass(frozen=True)
class _Ranked:
    """Events grouped by distinct score (ascending): group index per event."""

    group: np.ndarray  # (n,) index of each event's distinct score
    n_groups: int


def _rank(score: np.ndarray) -> _Ranked:
    _, group = np.unique(score, return_inverse=True)
    return _Ranked(group=group.reshape(-1), n_groups=int(group.max()) + 1)


def _weighted_auc(ranked: _Ranked, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """AUC for each row of ``weights`` (shape (k, n)); ties count one half."""
    k = weights.shape[0]
    offsets = (np.arange(k) * ranked.n_groups)[:, None]
    idx = (offsets + ranked.group[None, :]).reshape(-1)
    size = k * ranked.n_groups
    w_sig = np.bincount(idx, weights=(weights * y[None, :]).reshape(-1), minlength=size)
    w_bkg = np.bincount(idx, weights=(weights * ~y[None, :]).reshape(-1), minlength=size)
    w_sig = w_sig.reshape(k, ranked.n_groups)
    w_bkg = w_bkg.reshape(k, ranked.n_groups)
    bkg_below = np.cumsum(w_bkg, axis=1) - w_bkg
    num = (w_sig * (bkg_below + 0.5 * w_bkg)).sum(axis=1)
    den = w_sig.sum(axis=1) * w_bkg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / den


def roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC = P(score_signal > score_background) + 0.5 P(equal)."""
    y, score = _check(y, score)
    return float(_weighted_auc(_rank(score), y, np.ones((1, y.size)))[0])


def resampled_aucs(
    y: np.ndarray, scores: Sequence[np.ndarray], resamples: int, seed: int, chunk: int = 16
) -> np.ndarray:
    """AUCs of several scorings of the same events on the same bootstrap resamples: shape (len(scores), resamples).

    Every resample draws multinomial event weights once (``chunk`` resamples
    at a time, from ``numpy.random.default_rng(seed)``) and applies them to
    every scoring: a paired bootstrap when there are several. A resample
    without one class gives NaN.
    """
    y = np.asarray(y).reshape(-1).astype(bool)
    ranked = [_rank(np.asarray(s, dtype=np.float64).reshape(-1)) for s in scores]
    rng = np.random.default_rng(seed)
    n = y.size
    out = np.empty((len(ranked), resamples))
    for start in range(0, resamples, chunk):
        k = min(chunk, resamples - start)
        weights = rng.multinomial(n, np.full(n, 1.0 / n), size=k).astype(np.float64)
        for i, r in enumerate(ranked):
            out[i, start : start + k] = _weighted_auc(r, y, weights)
    return out


def bootstrap_auc(
    y: np.ndarray,
    score: np.ndarray,
    resamples: int = 200,
    seed: int = 0,
    level: float = 0.95,
    chunk: int = 16,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the ROC AUC (events resampled with replacement)."""
    if resamples < 2:
        raise ValueError(f"resamples must be >= 2, got {resamples}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    y, score = _check(y, score)
    values = resampled_aucs(y, [score], resamples, seed, chunk)[0]
    values = values[np.isfinite(values)]  # a resample without one class has no AUC
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(values, [alpha, 1.0 - alpha])
    return float(low), float(high)


#: Fewest background test events of one process for its own AUC (fewer: skipped, and said so).
MIN_PROCESS_EVENTS = 10


def auc_per_process(
    y: np.ndarray,
    score: np.ndarray,
    process: np.ndarray,
    processes: Sequence[str],
    resamples: int = 200,
    seed: int = 0,
    level: float = 0.95,
    min_events: int = MIN_PROCESS_EVENTS,
) -> list[dict[str, object]]:
    """AUC of all signal events against the background events of each of ``processes`` separately.

    ``process`` names each event's truth process (the signal's is ignored).
    Each AUC has a percentile bootstrap interval like :func:`bootstrap_auc`
    (same resamples and seed). A process with fewer than ``min_events``
    background events is listed with ``auc`` ``None`` and a ``skipped`` reason.
    """
    y_b, score_f = _check(y, score)
    process = np.asarray(process).reshape(-1)
    if process.shape != y_b.shape:
        raise ValueError(f"labels and processes differ in length: {y_b.size} vs {process.size}")
    out: list[dict[str, object]] = []
    for name in processes:
        keep = y_b | (process == name)
        n_bkg = int((~y_b & (process == name)).sum())
        row: dict[str, object] = {"process": str(name), "n_signal": int(y_b.sum()), "n_background": n_bkg}
        if n_bkg < min_events:
            reason = f"{n_bkg} background test events, fewer than {min_events}"
            row.update(auc=None, auc_ci_low=None, auc_ci_high=None, skipped=reason)
        else:
            low, high = bootstrap_auc(y_b[keep], score_f[keep], resamples=resamples, seed=seed, level=level)
            row.update(auc=roc_auc(y_b[keep], score_f[keep]), auc_ci_low=low, auc_ci_high=high, skipped=None)
        out.append(row)
    return out


#: The CNN-HL gap of the paper: AUC of the CNN on both images minus AUC of the 7 HL features.
GAP_FEATURE_SETS: tuple[str, str] = ("et_and_ht", "hl")


def paired_auc_difference(
    y: np.ndarray,
    score_a: np.ndarray,
    score_b: np.ndarray,
    resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, object]:
    """AUC(a) - AUC(b) on the same events, with a paired percentile bootstrap interval.

    Each resample weights the events once (multinomial) and scores both
    models on the same weighted events, so the interval reflects only how
    the two models differ, not the test sample's own fluctuation both share.
    """
    if resamples < 2:
        raise ValueError(f"resamples must be >= 2, got {resamples}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    y_b, a = _check(y, score_a)
    _, b = _check(y, score_b)
    aucs = resampled_aucs(y_b, [a, b], resamples, seed)
    diff = aucs[0] - aucs[1]
    diff = diff[np.isfinite(diff)]  # a resample without one class has no AUC
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(diff, [alpha, 1.0 - alpha])
    return {
        "difference": roc_auc(y_b, a) - roc_auc(y_b, b),
        "ci_low": float(low),
        "ci_high": float(high),
        "ci_level": level,
        "bootstrap_resamples": int(resamples),
        "bootstrap_seed": int(seed),
        "n_events": int(y_b.size),
    }


def roc_curve(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (background efficiency, signal efficiency, threshold), one point per distinct score.

    A point at threshold t counts events with score >= t as selected. The
    curve starts at (0, 0) (threshold +inf) and ends at (1, 1).
    """
    y, score = _check(y, score)
    order = np.argsort(-score, kind="mergesort")
    s_sorted = score[order]
    y_sorted = y[order]
    last = np.r_[np.nonzero(np.diff(s_sorted))[0], y.size - 1]
    tp = np.cumsum(y_sorted)[last]
    fp = np.cumsum(~y_sorted)[last]
    tpr = np.r_[0.0, tp / y.sum()]
    fpr = np.r_[0.0, fp / (~y).sum()]
    thresholds = np.r_[np.inf, s_sorted[last]]
    return fpr, tpr, thresholds


def thin_curve(x: np.ndarray, y: np.ndarray, max_points: int = 1000) -> np.ndarray:
    """Indices of at most ``max_points`` + 1 points that trace the curve (x, y), ends included.

    Points are picked at even steps of the curve's length measured in units
    of each axis's range, so a ROC of 43,000 test events is drawn with a
    bounded number of vertices (a figure's size does not grow with the
    sample) and no visible change.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"x and y must be 1-d of the same length, got {x.shape} and {y.shape}")
    if max_points < 2:
        raise ValueError(f"max_points must be >= 2, got {max_points}")
    n = x.size
    if n <= max_points:
        return np.arange(n)
    spans = [np.ptp(v) if np.ptp(v) > 0 else 1.0 for v in (x, y)]
    arc = np.r_[0.0, np.cumsum(np.abs(np.diff(x)) / spans[0] + np.abs(np.diff(y)) / spans[1])]
    picks = np.searchsorted(arc, np.linspace(0.0, arc[-1], max_points))
    return np.unique(np.r_[0, np.minimum(picks, n - 1), n - 1])


def background_efficiency_at(
    y: np.ndarray, score: np.ndarray, signal_efficiencies: Sequence[float]
) -> dict[float, float]:
    """Background efficiency at each signal efficiency (linear interpolation on the ROC)."""
    fpr, tpr, _ = roc_curve(y, score)
    out: dict[float, float] = {}
    for eff in signal_efficiencies:
        if not 0.0 < eff <= 1.0:
            raise ValueError(f"signal efficiency must be in (0, 1], got {eff}")
        # tpr is non-decreasing; take the lowest fpr that reaches eff
        i = int(np.searchsorted(tpr, eff, side="left"))
        if tpr[i] == eff or i == 0:
            out[float(eff)] = float(fpr[i])
        else:
            frac = (eff - tpr[i - 1]) / (tpr[i] - tpr[i - 1])
            out[float(eff)] = float(fpr[i - 1] + frac * (fpr[i] - fpr[i - 1]))
    return out


def rejection_at(
    y: np.ndarray, score: np.ndarray, signal_efficiencies: Sequence[float]
) -> dict[float, float]:
    """Background rejection 1/eps_b at each signal efficiency (inf where eps_b = 0)."""
    eff_b = background_efficiency_at(y, score, signal_efficiencies)
    return {k: (1.0 / v if v > 0 else math.inf) for k, v in eff_b.items()}


def evaluate_scores(
    y: np.ndarray,
    score: np.ndarray,
    signal_efficiencies: Sequence[float] = (0.5, 0.7, 0.9),
    resamples: int = 200,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, object]:
    """All test metrics of one feature set as a JSON-ready dict.

    Keys: ``auc``, ``auc_ci_low``, ``auc_ci_high``, ``ci_level``,
    ``bootstrap_resamples``, ``n_events``, ``n_signal``, ``n_background``,
    ``background_efficiency`` and ``rejection`` (lists of
    ``{"signal_efficiency", "value"}``; an infinite rejection is ``None``).
    """
    y_b, score_f = _check(y, score)
    low, high = bootstrap_auc(y_b, score_f, resamples=resamples, seed=seed, level=level)
    eff_b = background_efficiency_at(y_b, score_f, signal_efficiencies)
    return {
        "auc": roc_auc(y_b, score_f),
        "auc_ci_low": low,
        "auc_ci_high": high,
        "ci_level": level,
        "bootstrap_resamples": int(resamples),
        "bootstrap_seed": int(seed),
        "n_events": int(y_b.size),
        "n_signal": int(y_b.sum()),
        "n_background": int((~y_b).sum()),
        "background_efficiency": [
            {"signal_efficiency": k, "value": v} for k, v in eff_b.items()
        ],
        "rejection": [
            {"signal_efficiency": k, "value": (1.0 / v if v > 0 else None)}
            for k, v in eff_b.items()
        ],
    }


TABLE_COLUMNS: tuple[str, ...] = (
    "feature_set",
    "model",
    "auc",
    "auc_ci_low",
    "auc_ci_high",
    "authors_auc",
    "diff_authors",
    "tutorial_auc",
    "diff_tutorial",
    "collapsed",
    "n_events",
)


def auc_table_rows(
    metrics: Mapping[str, Mapping[str, object]], labels: Mapping[str, str] | None = None
) -> list[dict[str, object]]:
    """One row per feature set: our AUC and interval beside the published ones.

    ``metrics`` maps feature-set names to the dicts of :func:`evaluate_scores`
    (plus ``collapsed``, as :func:`leptonid.collapse.evaluate_predictions`
    adds). ``diff_*`` is ours minus the reference (``None`` where nothing was
    published).
    """
    rows: list[dict[str, object]] = []
    for fs, m in metrics.items():
        ref = REFERENCE_AUC.get(fs, {})
        auc = float(m["auc"])  # type: ignore[arg-type]
        authors, tutorial = ref.get("authors"), ref.get("tutorial")
        rows.append(
            {
                "feature_set": fs,
                "model": (labels or {}).get(fs, fs),
                "auc": auc,
                "auc_ci_low": float(m["auc_ci_low"]),  # type: ignore[arg-type]
                "auc_ci_high": float(m["auc_ci_high"]),  # type: ignore[arg-type]
                "authors_auc": authors,
                "diff_authors": None if authors is None else auc - authors,
                "tutorial_auc": tutorial,
                "diff_tutorial": None if tutorial is None else auc - tutorial,
                "collapsed": bool(m.get("collapsed", False)),
                "n_events": int(m["n_events"]),  # type: ignore[arg-type]
            }
        )
    return rows


def auc_table_markdown(rows: Sequence[Mapping[str, object]]) -> str:
    """Render :func:`auc_table_rows` as a Markdown table; collapsed models are marked."""

    def num(v: object, signed: bool = False) -> str:
        if v is None:
            return "-"
        return f"{float(v):+.4f}" if signed else f"{float(v):.4f}"  # type: ignore[arg-type]

    lines = [
        "| feature set | model | our AUC (95% CI) | authors | ours - authors "
        "| tutorial | ours - tutorial | test events |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        ours = f"{num(r['auc'])} ({num(r['auc_ci_low'])}-{num(r['auc_ci_high'])})"
        if r["collapsed"]:
            ours += " **COLLAPSED**"
        lines.append(
            f"| `{r['feature_set']}` | {r['model']} | {ours} | {num(r['authors_auc'])} | "
            f"{num(r['diff_authors'], True)} | {num(r['tutorial_auc'])} | "
            f"{num(r['diff_tutorial'], True)} | {r['n_events']} |"
        )
    note = (
        "\nReference AUCs: authors' benchmark and the tutorial's reproduction of "
        "Collado et al., PRD 103, 116028 (2021). A collapsed model (constant scores or "
        "loss stuck at the label entropy) is marked and should not be compared."
    )
    return "\n".join(lines) + "\n" + note + "\n"


def _interval(value: object, low: object, high: object, signed: bool = False) -> str:
    f = "{:+.4f}" if signed else "{:.4f}"
    return f"{f.format(float(value))} ({f.format(float(low))} to {f.format(float(high))})"  # type: ignore[arg-type]


def per_process_markdown(metrics: Mapping[str, Mapping[str, object]], labels: Mapping[str, str] | None = None) -> str:
    """The table "AUC per background process" of ``auc.md`` ("" when no metrics have ``auc_per_process``).

    One row per feature set, one column per background process: the AUC of
    all signal test events against that process's background test events,
    with its bootstrap interval, or "skipped" with the reason below the table.
    """
    per = {
        fs: list(m["auc_per_process"])  # type: ignore[call-overload]
        for fs, m in metrics.items()
        if m.get("auc_per_process")
    }
    if not per:
        return ""
    first = next(iter(per.values()))
    processes = list(dict.fromkeys(str(r["process"]) for rows in per.values() for r in rows))
    n_bkg = {str(r["process"]): r["n_background"] for r in first}
    head = " | ".join(f"`{p}` ({n_bkg.get(p, '?')} jets)" for p in processes)
    lines = [
        "## AUC per background process",
        "",
        f"| feature set | model | {head} |",
        "| --- | --- | " + " | ".join("---" for _ in processes) + " |",
    ]
    skipped: dict[str, str] = {}
    for fs, rows in per.items():
        by = {str(r["process"]): r for r in rows}
        cells = []
        for p in processes:
            r = by.get(p)
            if r is None or r.get("auc") is None:
                cells.append("skipped")
                if r is not None:
                    skipped[p] = str(r.get("skipped"))
            else:
                cells.append(_interval(r["auc"], r["auc_ci_low"], r["auc_ci_high"]))
        collapsed = " **COLLAPSED**" if metrics[fs].get("collapsed") else ""
        lines.append(f"| `{fs}` | {(labels or {}).get(fs, fs)}{collapsed} | " + " | ".join(cells) + " |")
    note = (
        f"\nAll {first[0]['n_signal']} signal (electron) test events against the background test events of one "
        "truth process (results/simulation/truth.feather): `qcd` light-flavour jets, `heavy_flavour` b/c "
        "semileptonic decays, `conversion` a candidate whose seed is a photon-conversion electron, whatever made "
        "the event. 95% bootstrap intervals in brackets."
    )
    if skipped:
        note += " Skipped: " + "; ".join(f"`{p}` ({why})" for p, why in skipped.items()) + "."
    return "\n".join(lines) + "\n" + note + "\n"


def gap_markdown(gap: Mapping[str, object] | None, missing: Sequence[str] = (), collapsed: Sequence[str] = ()) -> str:
    """The CNN-HL gap section of ``auc.md``: :func:`paired_auc_difference` of :data:`GAP_FEATURE_SETS`.

    ``gap`` ``None``: not available, naming the ``missing`` feature sets.
    """
    cnn, hl = GAP_FEATURE_SETS
    lines = ["## CNN-HL gap", ""]
    if gap is None:
        lines.append(
            f"AUC(`{cnn}`) - AUC(`{hl}`): not available; it needs both feature sets in `training.feature_sets` "
            f"(missing here: {', '.join(f'`{m}`' for m in missing)})."
        )
        return "\n".join(lines) + "\n"
    paper = {fs: REFERENCE_AUC[fs]["authors"] for fs in GAP_FEATURE_SETS}
    text = (
        f"AUC(`{cnn}`) - AUC(`{hl}`) = **{float(gap['difference']):+.4f}**, "  # type: ignore[arg-type]
        f"{float(gap['ci_level']) * 100:.0f}% paired bootstrap interval "  # type: ignore[arg-type]
        f"{float(gap['ci_low']):+.4f} to {float(gap['ci_high']):+.4f} "  # type: ignore[arg-type]
        f"({gap['bootstrap_resamples']} resamples of the {gap['n_events']} test events, seed "
        f"{gap['bootstrap_seed']}, the same resampled events for both networks' scores). "
    )
    if None not in paper.values():
        p_cnn, p_hl = float(paper[cnn]), float(paper[hl])  # type: ignore[arg-type]
        text += f"The paper: {p_cnn - p_hl:+.4f} ({p_cnn:.4f} - {p_hl:.4f})."
    if collapsed:
        text += " **Not to be compared: collapsed model " + ", ".join(f"`{c}`" for c in collapsed) + ".**"
    lines.append(text)
    return "\n".join(lines) + "\n"


def write_json(path: str | os.PathLike[str], obj: Mapping[str, object]) -> None:
    """Write ``obj`` as standard JSON (no NaN/inf) atomically."""
    text = json.dumps(obj, indent=2, allow_nan=False) + "\n"
    with atomic_output(path) as tmp:
        tmp.write_text(text)


def write_auc_table(
    rows: Sequence[Mapping[str, object]],
    csv_path: str | os.PathLike[str],
    markdown_path: str | os.PathLike[str],
    sections: Sequence[str] = (),
) -> None:
    """Write the AUC table (:func:`auc_table_rows`) as CSV and Markdown, atomically.

    ``sections`` (Markdown, e.g. :func:`per_process_markdown`, :func:`gap_markdown`)
    follow the table in the Markdown file; empty ones are left out.
    """
    import pandas as pd

    frame = pd.DataFrame(list(rows), columns=list(TABLE_COLUMNS))
    with atomic_output(csv_path) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.6g")
    with atomic_output(markdown_path) as tmp:
        tmp.write_text("\n".join([auc_table_markdown(rows), *(x for x in sections if x)]))
