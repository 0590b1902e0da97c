"""Rule efp_chunk: one row range of results/prep/{split}.feather -> EFPs of one image."""

from _workflow import setup

log = setup(snakemake)  # noqa: F821

from leptonid.efp.io import compute_chunk  # noqa: E402

sm = snakemake  # noqa: F821
engine = sm.params.engine
n = compute_chunk(
    sm.input.prep,
    sm.output[0],
    image=sm.wildcards.image,
    chunk=int(sm.wildcards.chunk),
    n_chunks=sm.params.n_chunks,
    graph_sets=engine["graph_sets"],
    kappas=engine["kappas"],
    betas=engine["betas"],
    backend=sm.params.backend,
    batch_size=sm.params.batch_size,
)
log.info("wrote %d events to %s", n, sm.output[0])
