"""Rule validate_simulation: validation report, plots and quick classifiers of the simulated sample."""

from _workflow import setup

log = setup(snakemake)  # noqa: F821

from leptonid.simulation.validation import report  # noqa: E402

result = report(
    snakemake.input.unscaled,  # noqa: F821
    list(snakemake.input.summaries),  # noqa: F821
    snakemake.output.report,  # noqa: F821
    snakemake.output.plots,  # noqa: F821
)
log.info("validation: %s", result)
