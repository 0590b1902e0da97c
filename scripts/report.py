"""Rule report: gather the run's tables and figures into results/report.md."""

from _workflow import setup

log = setup(snakemake)  # noqa: F821

from leptonid.atomic import atomic_output  # noqa: E402
from leptonid.report import build_report  # noqa: E402

sm = snakemake  # noqa: F821
text = build_report(
    title=sm.params.title,
    sections=dict(zip(sm.params.section_titles, sm.input.sections)),
    figures=dict(zip(sm.params.figure_titles, sm.input.figures)),
    output=sm.output[0],
    config_summary=sm.params.summary,
)
with atomic_output(sm.output[0]) as tmp:
    tmp.write_text(text)
log.info("wrote %s", sm.output[0])
