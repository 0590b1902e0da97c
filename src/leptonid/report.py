"""Pieces of the HTML report (``snakemake --report``): its headline, readable pages, runtimes.

The report's landing text (``report/workflow.rst``) includes the headline
written here, so the page a person opens first says what this run found:
the AUC table beside the paper's, the CNN-HL gap and how much of it the
guided search closed. The Markdown files the rules write (inventory,
validation, de-duplication, AUC table, search summary) become small
self-contained HTML pages the report shows in place; the benchmarks become a
runtime figure. Everything is computed from the run's own files.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

PathLike = str | os.PathLike[str]

#: The paper's test AUCs (Collado et al., PRD 103, 116028 (2021)): the CNN on both images and the 7 HL features.
PAPER_CNN, PAPER_HL, PAPER_HL_EFPS = 0.9720, 0.9446, 0.9708
CNN, HL = "et_and_ht", "hl"

PAGE_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5em; color: #222; max-width: 70em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; }
th { background: #f2f2f2; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code, pre { font-family: ui-monospace, monospace; font-size: 0.92em; }
pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; }
h1 { font-size: 1.4em; } h2 { font-size: 1.2em; } h3 { font-size: 1.05em; }
"""


def markdown_page(markdown: str, title: str) -> str:
    """A self-contained HTML page (no external resources) showing ``markdown``."""
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{PAGE_STYLE}</style></head>\n<body>\n{body}</body></html>\n"
    )


def table_page(frame: pd.DataFrame, title: str) -> str:
    """A self-contained HTML page showing a table (numbers to 4 significant digits)."""
    table = frame.to_html(index=False, float_format=lambda v: f"{v:.4g}", na_rep="-", border=0)
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{PAGE_STYLE}</style></head>\n"
        f"<body>\n<h1>{html.escape(title)}</h1>\n{table}\n</body></html>\n"
    )


def _num(value: object, fmt: str = ".4f") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(float(value), fmt)  # type: ignore[arg-type]


def auc_table_html(table: pd.DataFrame) -> str:
    """The AUC table (``results/tables/auc.csv``) as HTML: ours with its interval beside the published ones."""
    head = (
        "<tr><th>feature set</th><th>network</th><th>our test AUC (95% interval)</th>"
        "<th>paper (authors)</th><th>tutorial</th></tr>"
    )
    rows = []
    for r in table.to_dict("records"):
        ours = f"{_num(r['auc'])} ({_num(r['auc_ci_low'])}-{_num(r['auc_ci_high'])})"
        if bool(r.get("collapsed")):
            ours += " <b>COLLAPSED</b>"
        rows.append(
            f"<tr><td><code>{html.escape(str(r['feature_set']))}</code></td><td>{html.escape(str(r['model']))}</td>"
            f"<td class=\"num\">{ours}</td><td class=\"num\">{_num(r.get('authors_auc'))}</td>"
            f"<td class=\"num\">{_num(r.get('tutorial_auc'))}</td></tr>"
        )
    return f'<table class="auc-table">{head}{"".join(rows)}</table>'


def search_headline(summary_md: str) -> str:
    """The first sentence block of the search summary (the AUCs and the share of the gap closed)."""
    for block in summary_md.split("\n\n"):
        block = block.strip()
        if block and not block.startswith("#"):
            return block
    raise ValueError("the search summary has no text after its heading")


def gap_sentence(table: pd.DataFrame, gap: Mapping[str, object] | None = None) -> str:
    """The CNN-HL gap of this run beside the paper's, in words (empty if either network was not trained).

    ``gap``: the paired bootstrap result (``results/tables/gap.json``: ``difference``,
    ``ci_low``, ``ci_high``, ``ci_level``); with it the sentence gives the interval
    and whether it excludes zero.
    """
    auc = dict(zip(table["feature_set"], table["auc"]))
    if CNN not in auc or HL not in auc:
        return ""
    ours = float(auc[CNN]) - float(auc[HL])
    interval = ""
    if gap and gap.get("ci_low") is not None:
        low, high = float(gap["ci_low"]), float(gap["ci_high"])
        level = float(gap.get("ci_level", 0.95))
        excludes = low > 0 or high < 0
        interval = (
            f" (paired bootstrap {level:.0%} interval {low:+.4f} to {high:+.4f}: "
            + ("it excludes zero" if excludes else "it includes zero, so this run cannot tell the two apart")
            + ")"
        )
    if ours > 0:
        verdict = "as in the paper, the CNN on the images beats the 7 HL features"
    else:
        verdict = "unlike the paper, the CNN does not beat the 7 HL features here"
    return (
        f"CNN on both images (<code>{CNN}</code>) minus the 7 HL features (<code>{HL}</code>): "
        f"<b>{ours:+.4f}</b> AUC in this run{interval}, {PAPER_CNN - PAPER_HL:+.4f} in the paper "
        f"({PAPER_CNN:.4f} - {PAPER_HL:.4f}): "
        f"{verdict}."
    )


def benchmark_totals(benchmarks: Mapping[str, Sequence[PathLike]]) -> pd.DataFrame:
    """Per rule: jobs, wall seconds (sum and max), CPU seconds and peak memory, from Snakemake's benchmark files."""
    rows = []
    for rule, files in benchmarks.items():
        for path in files:
            frame = pd.read_csv(path, sep="\t")
            if "s" not in frame.columns:
                raise ValueError(f"{path}: not a Snakemake benchmark file (no column 's')")
            first = frame.iloc[0]
            rss = pd.to_numeric(pd.Series([first.get("max_rss")]), errors="coerce").iloc[0]
            cpu = pd.to_numeric(pd.Series([first.get("cpu_time")]), errors="coerce").iloc[0]
            rows.append({"rule": rule, "seconds": float(first["s"]), "cpu_seconds": cpu, "max_rss_mb": rss})
    frame = pd.DataFrame(rows, columns=["rule", "seconds", "cpu_seconds", "max_rss_mb"])
    return (
        frame.groupby("rule", sort=False)
        .agg(
            jobs=("seconds", "size"),
            seconds=("seconds", "sum"),
            longest_job_seconds=("seconds", "max"),
            cpu_seconds=("cpu_seconds", "sum"),
            max_rss_mb=("max_rss_mb", "max"),
        )
        .reset_index()
    )


def plot_runtimes(totals: pd.DataFrame, paths: Sequence[PathLike]) -> None:
    """Horizontal bars: wall seconds summed over each rule's jobs (log scale), jobs and peak memory written beside."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from leptonid.plots import save_figure
    from leptonid.style import hep_style

    if totals.empty:
        raise ValueError("no benchmark files to plot")
    order = totals.sort_values("seconds")
    with hep_style():
        fig, ax = plt.subplots(figsize=(8.0, 0.45 * len(order) + 1.4))
        ax.barh(order["rule"], order["seconds"], color="#3f90da")
        for y, row in enumerate(order.itertuples()):
            mem = "" if pd.isna(row.max_rss_mb) else f", peak {row.max_rss_mb:.0f} MB"
            ax.text(row.seconds, y, f"  {row.seconds:.1f} s, {row.jobs} job{'s' if row.jobs != 1 else ''}{mem}",
                    va="center", fontsize="small")
        ax.set_xscale("log")
        ax.set_xlim(max(order["seconds"].min() / 2, 1e-2), order["seconds"].max() * 40)
        ax.set_xlabel("wall time summed over the rule's jobs [s]")
        ax.tick_params(axis="y", which="minor", left=False, right=False)
        fig.tight_layout()
        save_figure(fig, paths)


def _data_uri_png(path: PathLike) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def headline_html(
    *,
    data_source: str,
    events: Mapping[str, int],
    data_path: str = "",
    auc_csv: PathLike,
    rejection_png: PathLike,
    totals: pd.DataFrame,
    search_summary_md: PathLike | None = None,
    gap_json: PathLike | None = None,
) -> str:
    """The landing page's headline (an HTML fragment): what this run did and found, with its key figure."""
    table = pd.read_csv(auc_csv)
    gap_result = json.loads(Path(gap_json).read_text()) if gap_json is not None else None
    sizes = ", ".join(f"{n:,} {split}" for split, n in events.items())
    wall, cpu = float(totals["seconds"].sum()), float(np.nansum(totals["cpu_seconds"]))
    parts = [
        # the report's typography puts backticks around <code>; tables keep their grid
        "<style>.leptonid-headline code::before, .leptonid-headline code::after { content: none; }"
        " .auc-table td, .auc-table th { border: 1px solid #ccc; padding: 0.2em 0.5em; }"
        " .auc-table td.num { text-align: right; }</style>",
        '<div class="leptonid-headline">',
        "<h2>This run</h2>",
        f"<p>Data source <code>{html.escape(data_source)}</code>"
        + (f" (<code>{html.escape(data_path)}</code>)" if data_path else "")
        + f": {sizes} events "
        f"(electrons and jets). The benchmarked jobs took {wall / 60:.1f} min of wall time summed over jobs "
        f"({cpu / 60:.1f} CPU min); <i>7. Workflow</i> has them per rule.</p>",
        "<h2>Headline: test AUC per network, beside the paper's</h2>",
        auc_table_html(table),
    ]
    gap = gap_sentence(table, gap_result)
    if gap:
        parts.append(f"<p>{gap}</p>")
    if search_summary_md is not None:
        sentence = html.escape(search_headline(Path(search_summary_md).read_text()))
        parts.append(
            "<p><b>Guided search:</b> " + sentence + f" (The paper: HL + 2 EFPs {PAPER_HL_EFPS}, most of its gap.)</p>"
        )
    parts += [
        "<p>Larger AUC is better (1 = perfect, 0.5 = guessing). The scaled-down default run does not reproduce the "
        "paper's numbers, only its pattern; a network marked COLLAPSED learned nothing and is not to be compared.</p>",
        '<h2>Background rejection against signal efficiency</h2>',
        f'<img class="headline-figure" alt="background rejection versus signal efficiency of every network" '
        f'style="max-width: 46em; width: 100%;" src="{_data_uri_png(rejection_png)}">',
        "<p>Higher is better: at a given share of electrons kept (x), how many jets are rejected per jet "
        "accepted (y, log scale). <i>4. Models</i> has the same curves as plain ROC curves.</p>",
        "</div>",
    ]
    return "\n".join(parts) + "\n"
