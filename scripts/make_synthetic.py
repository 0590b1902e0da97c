"""Rule make_synthetic: random events in the data.h5 layout (not physics)."""

from _workflow import setup

log = setup(snakemake)  # noqa: F821

from leptonid.atomic import atomic_output  # noqa: E402
from leptonid.synthetic import write_synthetic_h5  # noqa: E402

with atomic_output(snakemake.output[0]) as tmp:  # noqa: F821
    write_synthetic_h5(tmp, snakemake.params.events, seed=snakemake.params.seed)  # noqa: F821
log.info("wrote %s", snakemake.output[0])  # noqa: F821
