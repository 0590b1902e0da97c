"""The summary report gathers sections and links figures relative to itself."""

from __future__ import annotations

from pathlib import Path

from leptonid.report import build_report


def test_build_report_nests_sections_and_links_figures(tmp_path: Path) -> None:
    table = tmp_path / "results/tables/auc.md"
    table.parent.mkdir(parents=True)
    table.write_text("# AUC\n\n| model | AUC |\n| --- | --- |\n| et | 0.91 |\n\n```\n# not a heading\n```\n")
    figure = tmp_path / "results/plots/roc.png"
    figure.parent.mkdir(parents=True)
    figure.write_bytes(b"png")
    text = build_report(
        "Run", {"Results": table}, {"ROC": figure}, tmp_path / "results/report.md", {"data.source": "simulate"}
    )
    assert text.startswith("# Run\n")
    assert "- `data.source`: simulate" in text
    assert "\n## Results\n" in text
    assert "\n### AUC\n" in text  # the section's own headings nest under ours
    assert "| et | 0.91 |" in text
    assert "\n# not a heading\n" in text  # code blocks untouched
    assert "![ROC](plots/roc.png)" in text
