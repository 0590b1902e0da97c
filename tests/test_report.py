"""The HTML report's pieces: headline, pages, runtimes (the browser test is in test_workflow_e2e.py)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from leptonid.plots import plot_rejection
from leptonid.report import (
    benchmark_totals,
    gap_sentence,
    headline_html,
    markdown_page,
    plot_runtimes,
    search_headline,
    table_page,
)

AUC_ROWS = [
    {"feature_set": "et_and_ht", "model": "ECal+HCal CNN", "auc": 0.98, "auc_ci_low": 0.97, "auc_ci_high": 0.99,
     "authors_auc": 0.972, "tutorial_auc": 0.9738, "collapsed": False},
    {"feature_set": "hl", "model": "HL DNN (7 features)", "auc": 0.95, "auc_ci_low": 0.94, "auc_ci_high": 0.96,
     "authors_auc": 0.9446, "tutorial_auc": 0.9472, "collapsed": False},
    {"feature_set": "ht", "model": "HCal CNN", "auc": 0.5, "auc_ci_low": 0.45, "auc_ci_high": 0.55,
     "authors_auc": 0.825, "tutorial_auc": 0.5, "collapsed": True},
]


def write_benchmark(path: Path, seconds: float, rss: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
        f"{seconds}\t0:00:01\t{rss}\t1\t1\t1\t0\t0\t50\t{seconds / 2}\n"
    )
    return path


def test_headline_has_the_table_the_gap_the_search_and_the_figure(tmp_path: Path) -> None:
    import numpy as np

    auc_csv = tmp_path / "auc.csv"
    pd.DataFrame(AUC_ROWS).to_csv(auc_csv, index=False)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    png = tmp_path / "rejection.png"
    plot_rejection({"hl": (y, rng.normal(y, 1.0))}, [png])
    summary = tmp_path / "summary.md"
    summary.write_text(
        "## Guided EFP search\n\nHL 0.9500 -> HL + 2 EFPs 0.9700, CNN 0.9800: 67% of the gap.\n\n- more\n"
    )
    totals = benchmark_totals({"train": [write_benchmark(tmp_path / "b/train.tsv", 120.0, 800.0)]})
    text = headline_html(
        data_source="simulate", events={"train": 700, "valid": 150, "test": 150}, auc_csv=auc_csv,
        data_path="results/simulation/data.h5",
        rejection_png=png, totals=totals, search_summary_md=summary,
    )
    assert "(<code>results/simulation/data.h5</code>): 700 train, 150 valid, 150 test events" in text
    assert "2.0 min of wall time" in text
    assert 'class="auc-table"' in text and "0.9800 (0.9700-0.9900)" in text and "0.9720" in text
    assert "COLLAPSED" in text  # the dead HCal network is marked
    assert "+0.0300</b> AUC in this run, +0.0274 in the paper" in text
    assert "67% of the gap" in text
    assert 'src="data:image/png;base64,iVBOR' in text  # the figure travels inside the page


def test_gap_sentence_says_when_the_cnn_does_not_win() -> None:
    rows = pd.DataFrame(AUC_ROWS)
    assert "as in the paper" in gap_sentence(rows)
    gap = {"difference": 0.03, "ci_low": 0.012, "ci_high": 0.047, "ci_level": 0.95}
    assert "interval +0.0120 to +0.0470: it excludes zero" in gap_sentence(rows, gap)
    assert "it includes zero" in gap_sentence(rows, {**gap, "ci_low": -0.004})
    rows.loc[rows["feature_set"] == "hl", "auc"] = 0.99
    assert "unlike the paper" in gap_sentence(rows)
    assert gap_sentence(rows[rows["feature_set"] != "hl"]) == ""  # no HL network: no sentence


def test_search_headline_is_the_first_paragraph() -> None:
    assert search_headline("## Guided EFP search\n\nHL 0.9 -> HL + 1 EFP 0.95.\n\n- Gap ...\n") == (
        "HL 0.9 -> HL + 1 EFP 0.95."
    )
    with pytest.raises(ValueError, match="no text"):
        search_headline("## Guided EFP search\n")


def test_pages_are_self_contained_html(tmp_path: Path) -> None:
    page = markdown_page("# Inventory\n\n| a | b |\n| --- | --- |\n| 1 | 2 |\n\n<script>x</script>\n", "inventory")
    assert "<table>" in page and "<td>1</td>" in page
    assert "<script>" not in page  # raw HTML in the Markdown is escaped
    assert "http" not in page  # nothing fetched from the network
    table = table_page(pd.DataFrame({"pass": [0, 1], "auc": [0.912345, None]}), "passes")
    assert "0.9123" in table and "<td>-</td>" in table


def test_runtimes_per_rule(tmp_path: Path) -> None:
    files = {
        "simulate_chunk": [write_benchmark(tmp_path / f"b/s{i}.tsv", 10.0 * (i + 1), 200.0 + i) for i in range(3)],
        "split": [write_benchmark(tmp_path / "b/split.tsv", 2.0, 100.0)],
    }
    totals = benchmark_totals(files).set_index("rule")
    assert totals.loc["simulate_chunk", "jobs"] == 3
    assert totals.loc["simulate_chunk", "seconds"] == pytest.approx(60.0)
    assert totals.loc["simulate_chunk", "longest_job_seconds"] == pytest.approx(30.0)
    assert totals.loc["simulate_chunk", "max_rss_mb"] == pytest.approx(202.0)
    plot_runtimes(totals.reset_index(), [tmp_path / "runtimes.png"])
    assert (tmp_path / "runtimes.png").read_bytes()[:4] == b"\x89PNG"
    bad = tmp_path / "not_a_benchmark.tsv"
    bad.write_text("a\tb\n1\t2\n")
    with pytest.raises(ValueError, match="not_a_benchmark.tsv: not a Snakemake benchmark file"):
        benchmark_totals({"x": [bad]})
