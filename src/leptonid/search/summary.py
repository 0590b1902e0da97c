"""The guided search's final figures: the base, the CNN and HL + EFPs compared on the same test events."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from leptonid.efp.graphs import graphs_from_specs
from leptonid.feature_sets import label
from leptonid.results import read_predictions
from leptonid.search.files import read_search_record
from leptonid.search.report import paired_bootstrap_gap, plot_search, write_summary
from leptonid.style import feature_set_colour

PathLike = str | os.PathLike[str]


def aligned_test_scores(predictions: Mapping[str, PathLike]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Labels and scores of each role's test predictions, checked to be the same events in the same order."""
    frames = {role: read_predictions(path) for role, path in predictions.items()}
    first_role, first = next(iter(frames.items()))
    for role, frame in frames.items():
        if not np.array_equal(frame["event"].to_numpy(), first["event"].to_numpy()):
            raise ValueError(f"{predictions[role]}: its test events differ from {predictions[first_role]}")
    return first["y"].to_numpy(), {role: frame["score"].to_numpy(np.float64) for role, frame in frames.items()}


def graph_drawer(graph_sets: Sequence[Sequence[str]]):  # noqa: ANN201 - a closure
    """``draw(ax, row)`` drawing the multigraph of a passes-table row (for :func:`plot_search`)."""
    from leptonid.efp.drawing import draw_graph

    graphs = {g.name: g for g in graphs_from_specs(graph_sets)}

    def draw(ax: Any, row: Mapping[str, Any]) -> None:
        name = f"{int(row['n'])}_{int(row['d'])}_{int(row['k'])}"
        if name not in graphs:
            raise ValueError(f"EFP graph {name} is not in efp.graph_sets {list(graph_sets)}")
        draw_graph(ax, graphs[name], label=False)

    return draw


def summarize_search(
    passes_csv: PathLike,
    record_json: PathLike,
    predictions: Mapping[str, PathLike],
    feature_sets: Mapping[str, str],
    graph_sets: Sequence[Sequence[str]],
    summary_md: PathLike,
    figures: Sequence[PathLike],
    resamples: int,
    seed: int,
) -> str:
    """Write the summary (Markdown) and the figure (PNG, PDF); return the summary text.

    ``predictions``/``feature_sets``: roles ``base`` (e.g. ``hl``),
    ``reference`` (the CNN) and ``final`` (``hl_and_efps``) -> their test
    predictions and feature-set names. The gap CNN - base and the share of
    it that the final network closes come from a paired bootstrap over the
    same test events. The figure shows each pass's network on test
    (per-pass scores from the search's last step) against the CNN and base
    bands.
    """
    passes = pd.read_csv(passes_csv)
    record = read_search_record(record_json)
    y, scores = aligned_test_scores(predictions)
    gap = paired_bootstrap_gap(y, scores["base"], scores["reference"], scores["final"], resamples=resamples, seed=seed)
    labels = {role: label(fs) for role, fs in feature_sets.items()}
    baselines = {
        labels["reference"]: (gap["auc_ref"], *gap["auc_ref_ci"]),
        labels["base"]: (gap["auc_base"], *gap["auc_base_ci"]),
    }
    png, pdf = figures
    plot_search(
        passes,
        baselines,
        png,
        pdf,
        graph_images=graph_drawer(graph_sets),
        which="test",
        title=f"Guided EFP search ({record['config']['protocol']} protocol), test split",
        colours={labels[role]: feature_set_colour(fs) for role, fs in feature_sets.items()}
        | {"HL + EFPs": feature_set_colour(feature_sets["final"])},
    )
    return write_summary(
        summary_md,
        passes,
        gap,
        record["config"]["protocol"],
        stop_reason=record["stop_reason"],
        base_label=labels["base"],
        reference_label=labels["reference"],
    )
