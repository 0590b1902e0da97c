"""Rule efp_gather: EFP chunks of one image and split -> results/efp/{image}/{split}.feather."""

from _workflow import setup

log = setup(snakemake)  # noqa: F821

from leptonid.efp.io import gather_chunks  # noqa: E402

sm = snakemake  # noqa: F821
n = gather_chunks(sm.input.prep, list(sm.input.chunks), sm.output[0])
log.info("gathered %d events into %s", n, sm.output[0])
