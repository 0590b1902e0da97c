"""File side of the guided search: workflow files in, search tables and selected EFPs out.

Readers build :class:`~leptonid.search.guided.SplitData` from the
workflow's files (``results/prep/{split}.feather``, the reference CNN's
``results/predictions/{fs}/{split}.feather`` and the EFP tables
``results/efp/{image}/{split}.feather`` restricted to the de-duplicated
columns of ``results/efp/unique.csv``). EFP columns are read lazily, a
few at a time, so a paper-size table of thousands of columns is never
held whole.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from leptonid.atomic import atomic_output
from leptonid.efp import unique_columns
from leptonid.io import load_split
from leptonid.results import read_predictions
from leptonid.search.guided import Candidate, EfpTransform, SearchResult, SplitData

__all__ = [
    "efp_loader",
    "load_search_split",
    "chosen_candidates",
    "write_passes",
    "write_search_record",
    "read_search_record",
    "write_selected_efps",
]

PathLike = str | os.PathLike[str]


def _events(path: PathLike) -> np.ndarray:
    return load_split(path, ["event"])["event"].astype(np.int64)


def efp_loader(path: PathLike, events: np.ndarray):  # noqa: ANN201 - a closure
    """A loader ``load(columns) -> (n, k) float64`` of EFP columns of ``path``, whose rows must be ``events``."""
    found = _events(path)
    if not np.array_equal(found, np.asarray(events, dtype=np.int64)):
        raise ValueError(f"{path}: its events differ from the split's (same events, same order needed)")

    def load(columns: Sequence[str]) -> np.ndarray:
        values = load_split(path, list(columns))
        return np.column_stack([np.asarray(values[c], dtype=np.float64) for c in columns])

    return load


def load_search_split(
    prep: PathLike,
    reference: PathLike,
    efp_tables: Mapping[str, PathLike],
    unique_csv: PathLike,
) -> SplitData:
    """One split for the search: HL (as the networks see them), mass, labels, reference scores, EFP loaders.

    ``efp_tables``: image -> EFP table of this split. Only the columns that
    ``unique_csv`` keeps for the image are candidates.
    """
    data = load_split(prep, ["event", "y", "hl", "mass"])
    event = data["event"].astype(np.int64)
    ref = read_predictions(reference)
    if not np.array_equal(ref["event"].to_numpy(np.int64), event):
        raise ValueError(f"{reference}: its events differ from {prep} (same events, same order needed)")
    efps = {}
    for image, path in efp_tables.items():
        names = unique_columns(unique_csv, image)
        if not names:
            raise ValueError(f"{unique_csv}: no de-duplicated EFP columns for image {image!r}")
        efps[image] = (names, efp_loader(path, event))
    return SplitData(
        y=data["y"],
        hl=data["hl"],
        reference=ref["score"].to_numpy(np.float64),
        efps=efps,
        mass=data["mass"].reshape(-1),
        event=event,
    )


def chosen_candidates(passes: pd.DataFrame) -> list[Candidate]:
    """The EFPs added by the search, in pass order."""
    chosen = passes[passes["pass"] > 0].sort_values("pass")
    return [Candidate(str(image), str(efp)) for image, efp in zip(chosen["image"], chosen["efp"], strict=True)]


def write_passes(path: PathLike, passes: pd.DataFrame) -> None:
    """The passes table as CSV, written atomically."""
    with atomic_output(path) as tmp:
        passes.to_csv(tmp, index=False)


def write_search_record(path: PathLike, result: SearchResult) -> dict[str, Any]:
    """Settings, stop reason, reference AUCs and every split read (in order) of one search, as JSON."""
    record = {
        "config": result.config_dict(),
        "stop_reason": result.stop_reason,
        "chosen": [c.key for c in result.chosen],
        "reference_auc": result.reference_auc,
        "reference_auc_ci": list(result.reference_auc_ci),
        "test_reference_auc": result.test_reference_auc,
        "test_reference_auc_ci": list(result.test_reference_auc_ci),
        "reads": [list(r) for r in result.reads],
    }
    with atomic_output(path) as tmp:
        Path(tmp).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return record


def read_search_record(path: PathLike) -> dict[str, Any]:
    """Read what :func:`write_search_record` wrote."""
    return json.loads(Path(path).read_text())


def write_selected_efps(
    passes: pd.DataFrame,
    efp_tables: Mapping[str, Mapping[str, PathLike]],
    outputs: Mapping[str, PathLike],
    log_decades: float = 2.0,
) -> list[str]:
    """The chosen EFPs of every split, transformed as the search's networks saw them, for ``hl_and_efps``.

    ``efp_tables``: split -> image -> EFP table; ``outputs``: split -> Feather
    file with ``event`` and one column per chosen EFP named ``<image>:<column>``.
    The transform (:class:`~leptonid.search.guided.EfpTransform`: log10 of
    columns spanning decades, then standardisation) is fitted on ``train``.
    Returns the column names.
    """
    chosen = chosen_candidates(passes)
    if not chosen:
        raise ValueError("the search chose no EFP: nothing to select (max_passes >= 1 adds at least one)")

    def values(split: str) -> tuple[np.ndarray, np.ndarray]:
        tables = efp_tables[split]
        event = None
        cols = []
        for cand in chosen:
            data = load_split(tables[cand.image], ["event", cand.column])
            if event is None:
                event = data["event"].astype(np.int64)
            elif not np.array_equal(event, data["event"]):
                raise ValueError(f"{tables[cand.image]}: events differ from the other image's table")
            cols.append(np.asarray(data[cand.column], dtype=np.float64))
        return event, np.column_stack(cols)

    _, train_values = values("train")
    transform = EfpTransform.fit(train_values, decades=log_decades)
    names = [c.key for c in chosen]
    for split, path in outputs.items():
        event, raw = values(split)
        frame = pd.DataFrame(transform.apply(raw), columns=names)
        frame.insert(0, "event", event)
        with atomic_output(path) as tmp:
            frame.to_feather(tmp)
    return names
