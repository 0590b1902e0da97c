"""Rule simulate_chunk: one chunk of simulated candidates of one class (Pythia 8 + calorimeter)."""

from _workflow import setup

log = setup(snakemake)  # noqa: F821

from leptonid.simulation.chunk import run_chunk  # noqa: E402

summary = run_chunk(
    snakemake.wildcards.cls,  # noqa: F821
    int(snakemake.wildcards.chunk),  # noqa: F821
    dict(snakemake.params.simulation),  # noqa: F821
    snakemake.output.h5,  # noqa: F821
    snakemake.output.summary,  # noqa: F821
)
log.info("wrote %s: %s", snakemake.output.h5, summary)  # noqa: F821
