"""Rule merge_simulation: ET-matched, split, standardised data.h5 and unscaled_data.h5, and truth.feather."""

from _workflow import setup

log = setup(snakemake)  # noqa: F821

from leptonid.simulation.writer import merge  # noqa: E402

p = snakemake.params  # noqa: F821
summary = merge(
    list(snakemake.input.signal),  # noqa: F821
    list(snakemake.input.background),  # noqa: F821
    snakemake.output.data,  # noqa: F821
    snakemake.output.unscaled,  # noqa: F821
    n_per_class=int(p.n_per_class),
    fractions=dict(p.split),
    et_bin_width=float(p.et_bin_width),
    seed=int(p.seed),
    truth_path=snakemake.output.truth,  # noqa: F821
)
log.info("merged: %s", summary)
