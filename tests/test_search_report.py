"""Paired bootstrap of the closed gap, the figure and the plain-words summary."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leptonid.metrics import roc_auc
from leptonid.search.report import describe_efp, paired_bootstrap_gap, plot_search, summary_markdown, write_summary


def scores(n: int = 3000, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.5).astype(int)
    h, z = rng.standard_normal(n) + y, rng.standard_normal(n) + y
    return y, h, h + z, h + 0.8 * z


def test_paired_bootstrap_gap_point_values_and_intervals():
    y, base, ref, final = scores()
    gap = paired_bootstrap_gap(y, base, ref, final, resamples=200, seed=1)
    assert gap["auc_base"] == pytest.approx(roc_auc(y, base))
    assert gap["gap"] == pytest.approx(roc_auc(y, ref) - roc_auc(y, base))
    assert gap["fraction"] == pytest.approx(gap["gain"] / gap["gap"])
    for key in ("gap", "gain", "fraction"):
        lo, hi = gap[f"{key}_ci"]
        assert lo <= gap[key] <= hi
    # paired resamples: the fraction is much tighter than the AUC intervals would suggest
    assert 0.7 < gap["fraction"] < 1.0
    assert gap["fraction_ci"][1] - gap["fraction_ci"][0] < 0.2
    # identical final and reference: everything closed, exactly, in every resample
    full = paired_bootstrap_gap(y, base, ref, ref, resamples=50)
    assert full["fraction"] == pytest.approx(1.0) and full["fraction_ci"] == pytest.approx((1.0, 1.0))
    with pytest.raises(ValueError, match="finite"):
        paired_bootstrap_gap(y, base[:10], ref, final)


def passes_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "pass": [0, 1, 2],
            "efp": [None, "EFP_2_1_0_k_1_b_0.5", "EFP_5_4_0_k_1_b_2"],
            "image": [None, "et", "et"],
            "n": [None, 2, 5],
            "d": [None, 1, 4],
            "k": [None, 0, 0],
            "kappa": [None, 1.0, 1.0],
            "beta": [None, 0.5, 2.0],
            "ado_on_disordered_pairs": [np.nan, 0.71, 0.64],
            "n_disordered_pairs": [None, 900, 700],
            "n_grid_pairs": [None, 10000, 10000],
            "selection_split": ["valid"] * 3,
            "auc": [0.944, 0.968, 0.969],
            "auc_ci_low": [0.94, 0.965, 0.966],
            "auc_ci_high": [0.948, 0.971, 0.972],
            "ado_with_reference": [0.90, 0.95, 0.96],
            "test_auc": [0.945, 0.969, 0.970],
            "test_auc_ci_low": [0.941, 0.966, 0.967],
            "test_auc_ci_high": [0.949, 0.972, 0.973],
            "test_ado_with_reference": [0.9, 0.95, 0.96],
        }
    )


def test_plot_search_with_and_without_graphs(tmp_path):
    baselines = {"ECal+HCal CNN": (0.972, 0.970, 0.974), "HL": (0.945, 0.941, 0.949)}
    plot_search(passes_table(), baselines, tmp_path / "s.png", tmp_path / "s.pdf")
    assert (tmp_path / "s.png").stat().st_size > 0 and (tmp_path / "s.pdf").stat().st_size > 0
    drawn = []
    plot_search(
        passes_table(), baselines, tmp_path / "g.png", graph_images=lambda ax, row: drawn.append(row["efp"]),
        which="selection",
    )
    assert drawn == ["EFP_2_1_0_k_1_b_0.5", "EFP_5_4_0_k_1_b_2"]
    pngs = [tmp_path / "s.png", tmp_path / "g.png"]
    plot_search(passes_table(), baselines, tmp_path / "p.png", graph_images=pngs)
    with pytest.raises(ValueError, match="graph images"):
        plot_search(passes_table(), baselines, tmp_path / "x.png", graph_images=pngs[:1])


def test_summary_in_plain_words(tmp_path):
    y, base, ref, final = scores()
    gap = paired_bootstrap_gap(y, base, ref, final, resamples=50)
    text = write_summary(tmp_path / "s.md", passes_table(), gap, "honest", stop_reason="max_passes (2) reached")
    assert (tmp_path / "s.md").read_text() == text
    assert "HL + 2 EFPs" in text and "% of the gap" in text and "Protocol: honest" in text
    assert "IRC safe" in text and "small angles" in text and "wide angles" in text
    assert "optimistic" in summary_markdown(passes_table(), gap, "authors")


def test_describe_efp():
    assert "IRC unsafe" in describe_efp(1, 0, 2.0, 0.5, "et") and "no edges" in describe_efp(1, 0, 2.0, 0.5)
    assert "soft deposits" in describe_efp(3, 2, 0.5, 1.0, "ht") and "HCal" in describe_efp(3, 2, 0.5, 1.0, "ht")
    assert "count" in describe_efp(2, 1, 0.0, 1.0)
