"""Rule report: the HTML report's headline, its readable pages and the runtime per rule."""

from _workflow import setup

log = setup(snakemake)  # noqa: F821

from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402

from leptonid.atomic import atomic_output  # noqa: E402
from leptonid.io import count_rows  # noqa: E402
from leptonid.report import benchmark_totals, headline_html, markdown_page, plot_runtimes, table_page  # noqa: E402

sm = snakemake  # noqa: F821
inp, out = sm.input, sm.output

# the run's Markdown and CSV files as pages the report shows in place
for (name, title), source in zip(sm.params.pages.items(), inp.pages, strict=True):
    if source.endswith(".csv"):
        page = table_page(pd.read_csv(source), f"{title} ({source})")
    else:
        page = markdown_page(Path(source).read_text(), f"{title} ({source})")
    with atomic_output(out[name]) as tmp:
        tmp.write_text(page)
    log.info("%s -> %s", source, out[name])

# runtime per rule, from the benchmark files
benchmarks: dict[str, list[str]] = {}
for rule, path in zip(sm.params.benchmark_rules, inp.benchmarks, strict=True):
    benchmarks.setdefault(rule, []).append(path)
totals = benchmark_totals(benchmarks)
with atomic_output(out.runtimes_csv) as tmp:
    totals.to_csv(tmp, index=False, float_format="%.6g")
plot_runtimes(totals, [out.runtimes])

# the landing page's headline
events = {Path(p).stem: count_rows(p) for p in inp.prep}
text = headline_html(
    data_source=sm.params.data_source,
    data_path=sm.params.data_path,
    events=events,
    auc_csv=inp.auc,
    rejection_png=inp.rejection,
    totals=totals,
    search_summary_md=inp.search_summary[0] if inp.search_summary else None,
    gap_json=inp.gap,
)
with atomic_output(out.headline) as tmp:
    tmp.write_text(text)
log.info("wrote %s (%d benchmark files of %d rules)", out.headline, len(inp.benchmarks), len(benchmarks))
