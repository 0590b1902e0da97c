"""Collapse detection: flag a dead network (constant scores, or a loss stuck at the label entropy).

Depends on :mod:`leptonid.metrics` only (for the AUC); :mod:`leptonid.metrics`
does not import this module. :func:`evaluate_predictions` is the one place the
test metrics and the collapse check of a model are computed together: it runs
:func:`detect_collapse` once and returns both.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from leptonid.metrics import evaluate_scores, roc_auc

log = logging.getLogger(__name__)


def label_entropy(y: np.ndarray) -> float:
    """Binary cross-entropy of the best constant predictor (ln 2 for balanced labels)."""
    p = float(np.mean(np.asarray(y, dtype=np.float64)))
    if p <= 0.0 or p >= 1.0:
        return 0.0
    return -(p * math.log(p) + (1 - p) * math.log(1 - p))


@dataclass(frozen=True)
class Collapse:
    """Outcome of :func:`detect_collapse`."""

    collapsed: bool
    reasons: tuple[str, ...]
    score_std: float
    best_val_loss: float | None
    constant_loss: float

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["reasons"] = list(self.reasons)
        return d


def detect_collapse(
    scores: np.ndarray,
    y: np.ndarray,
    val_loss: Sequence[float] | None = None,
    auc: float | None = None,
    score_std_eps: float = 1e-4,
    loss_tolerance: float = 1e-3,
    auc_tolerance: float = 0.02,
) -> Collapse:
    """Flag a dead network.

    Collapsed if the scores are (nearly) constant (std < ``score_std_eps``),
    or if the best validation loss is within ``loss_tolerance`` of the loss of
    a constant predictor (ln 2 for balanced labels: the label entropy) while
    the AUC is within ``auc_tolerance`` of 0.5. ``auc`` is computed from
    ``scores`` and ``y`` when not given.
    """
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    y = np.asarray(y).reshape(-1)
    if scores.size != y.size or scores.size == 0:
        raise ValueError(f"scores ({scores.size}) and labels ({y.size}) must be non-empty and equal in length")
    reasons: list[str] = []
    std = float(np.std(scores)) if np.isfinite(scores).all() else math.nan
    if not np.isfinite(scores).all():
        reasons.append("scores contain NaN or infinity")
    elif std < score_std_eps:
        reasons.append(f"constant scores (std {std:.2e} < {score_std_eps:g})")
    h0 = label_entropy(y)
    best = None
    if val_loss is not None and len(val_loss) > 0:
        losses = np.asarray(val_loss, dtype=np.float64)
        best = float(np.nanmin(losses)) if np.isfinite(losses).any() else math.nan
        if auc is None and np.isfinite(scores).all() and 0 < y.sum() < y.size:
            auc = roc_auc(y, scores)
        if not np.isfinite(best):
            reasons.append("validation loss is NaN")
        elif best >= h0 - loss_tolerance and auc is not None and abs(auc - 0.5) < auc_tolerance:
            reasons.append(
                f"best val_loss {best:.5f} stuck at the constant-predictor loss {h0:.5f} "
                f"(ln 2 = {math.log(2):.5f}) with AUC {auc:.4f}"
            )
    return Collapse(
        collapsed=bool(reasons),
        reasons=tuple(reasons),
        score_std=std,
        best_val_loss=best,
        constant_loss=h0,
    )


def report_collapse(collapse: Collapse, feature_set: str, logger: logging.Logger = log) -> None:
    """Log a collapse loudly (error level, banner); log a one-liner otherwise."""
    if collapse.collapsed:
        banner = "!" * 72
        logger.error(banner)
        logger.error("MODEL COLLAPSED: feature set %s is a dead network", feature_set)
        for reason in collapse.reasons:
            logger.error("  - %s", reason)
        logger.error("its AUC is meaningless; see the 'collapsed' column of the results table")
        logger.error(banner)
    else:
        logger.info("no collapse: score std %.4f, best val_loss %s", collapse.score_std, collapse.best_val_loss)


def evaluate_predictions(
    y: np.ndarray,
    score: np.ndarray,
    val_loss: Sequence[float] | None = None,
    signal_efficiencies: Sequence[float] = (0.5, 0.7, 0.9),
    resamples: int = 200,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[dict[str, object], Collapse]:
    """:func:`leptonid.metrics.evaluate_scores` plus one collapse check of the model.

    Returns ``(metrics, collapse)``: ``metrics`` is the JSON-ready dict of
    :func:`~leptonid.metrics.evaluate_scores` with ``collapsed`` (bool) and
    ``collapse_reasons`` (list of str) added, both taken from ``collapse``,
    the result of the single :func:`detect_collapse` call on the test scores
    (and, when given, the validation-loss history), to pass to
    :func:`report_collapse`.
    """
    metrics = evaluate_scores(y, score, signal_efficiencies, resamples, seed, level)
    collapse = detect_collapse(score, y, val_loss=val_loss, auc=float(metrics["auc"]))  # type: ignore[arg-type]
    metrics["collapsed"] = collapse.collapsed
    metrics["collapse_reasons"] = list(collapse.reasons)
    return metrics, collapse
