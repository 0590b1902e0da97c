"""Rule efp_chunk: one row range of results/prep/{split}.feather -> EFPs of one image.

With an input ``unique`` (results/efp/unique.csv), only the image's kept
columns are computed, in the order of that file.
"""

from _workflow import setup

log = setup(snakemake)  # noqa: F821

from leptonid.efp import compute_chunk, graphs_from_specs, plan_for_columns, unique_columns  # noqa: E402

sm = snakemake  # noqa: F821
engine = sm.params.engine
image = sm.wildcards.image
unique = getattr(sm.input, "unique", None)
plan = plan_for_columns(unique_columns(unique, image), graphs_from_specs(engine["graph_sets"])) if unique else None
n = compute_chunk(
    sm.input.prep,
    sm.output[0],
    image=image,
    chunk=int(sm.wildcards.chunk),
    n_chunks=sm.params.n_chunks,
    graph_sets=engine["graph_sets"],
    kappas=engine["kappas"],
    betas=engine["betas"],
    backend=sm.params.backend,
    batch_size=sm.params.batch_size,
    plan=plan,
)
log.info("wrote %d events to %s", n, sm.output[0])
