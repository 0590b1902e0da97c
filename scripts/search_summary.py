"""Rule search_summary: the guided search in plain words and its figure (test split, paired bootstrap)."""

from _workflow import setup

log = setup(snakemake)  # noqa: F821

from leptonid.search.summary import summarize_search  # noqa: E402

sm = snakemake  # noqa: F821
text = summarize_search(
    passes_csv=sm.input.passes,
    record_json=sm.input.record,
    predictions={role: sm.input[role] for role in ("base", "reference", "final")},
    feature_sets={"base": sm.params.search["base"], "reference": sm.params.search["reference"], "final": sm.params.final},
    graph_sets=sm.params.graph_sets,
    summary_md=sm.output.summary,
    figures=(sm.output.png, sm.output.pdf),
    resamples=sm.params.bootstrap_resamples,
    seed=sm.params.seed,
)
log.info("%s", text)
