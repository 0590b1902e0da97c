"""Result files of training: predictions, per-epoch history, the selected EFP features it reads, and the
simulation's truth that evaluation reads.

Plain pandas/numpy I/O with atomic writes, so that the evaluation and summary
scripts read results without importing :mod:`leptonid.training`.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from leptonid.atomic import atomic_output

#: Columns of a predictions file.
PREDICTION_COLUMNS: tuple[str, ...] = ("event", "y", "score")


def write_predictions(
    path: str | os.PathLike[str], event: np.ndarray, y: np.ndarray, score: np.ndarray
) -> None:
    """Write (event, y, score) to a Feather file atomically."""
    event = np.asarray(event, dtype=np.int64).reshape(-1)
    y = np.asarray(y).reshape(-1).astype(np.int8)
    score = np.asarray(score, dtype=np.float32).reshape(-1)
    if not event.size == y.size == score.size:
        raise ValueError(f"event/y/score lengths differ: {event.size}, {y.size}, {score.size}")
    frame = pd.DataFrame({"event": event, "y": y, "score": score})
    with atomic_output(path) as tmp:
        frame.to_feather(tmp)


def read_predictions(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a predictions file and check its columns."""
    frame = pd.read_feather(path)
    missing = [c for c in PREDICTION_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: predictions file lacks columns {missing}")
    return frame


def read_truth(path: str | os.PathLike[str], split: str, event: np.ndarray) -> pd.DataFrame:
    """The truth (``results/simulation/truth.feather``) of the events ``event`` of ``split``, in that order.

    Raises ``ValueError`` if the file lacks columns or any of the events.
    """
    frame = pd.read_feather(path)
    missing = [c for c in ("split", "index", "process", "y") if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: truth file lacks columns {missing}")
    part = frame[frame["split"] == split].set_index("index")
    event = np.asarray(event, dtype=np.int64).reshape(-1)
    absent = np.setdiff1d(event, part.index.to_numpy())
    if absent.size:
        raise ValueError(f"{path}: no truth for {absent.size} {split} events (first: {absent[0]})")
    return part.loc[event].reset_index()


def write_history(path: str | os.PathLike[str], history: pd.DataFrame) -> None:
    """Write the per-epoch history as CSV atomically."""
    with atomic_output(path) as tmp:
        history.to_csv(tmp, index=False)


def read_history(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a history CSV and check it has ``loss`` and ``val_loss``."""
    frame = pd.read_csv(path)
    missing = [c for c in ("loss", "val_loss") if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: history lacks columns {missing}")
    return frame


def load_efp_features(path: str | os.PathLike[str], event: np.ndarray) -> np.ndarray:
    """Read selected EFP features aligned to ``event``.

    The file (Feather) has ``event`` and one column per EFP, named
    ``EFP_<n>_<d>_<k>_k_<kappa>_b_<beta>`` or ``<image>:EFP_...`` (the guided
    search's choice, where the same EFP of two images must stay apart).

    Raises ``ValueError`` if the file has no EFP columns or its events differ
    from ``event`` (same events, same order).
    """
    frame = pd.read_feather(path)
    columns = [c for c in frame.columns if c.split(":")[-1].startswith("EFP_")]
    if not columns:
        raise ValueError(f"{path}: no EFP_* columns")
    if "event" not in frame.columns:
        raise ValueError(f"{path}: no 'event' column")
    if not np.array_equal(frame["event"].to_numpy(np.int64), np.asarray(event, dtype=np.int64)):
        raise ValueError(f"{path}: its events differ from the split's events (same events, same order needed)")
    return frame[columns].to_numpy(np.float32)
