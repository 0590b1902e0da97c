"""Rule efp_dedupe: train-split EFP tables -> results/efp/unique.csv and dedupe.md."""

from _workflow import setup

log = setup(snakemake)  # noqa: F821

from leptonid.atomic import atomic_output  # noqa: E402
from leptonid.efp.dedupe import dedupe_feather, dedupe_markdown, write_unique_csv  # noqa: E402

sm = snakemake  # noqa: F821
tol = sm.params.tolerance
results = []
for image, path in zip(sm.params.images, sm.input):
    res = dedupe_feather(path, image, tol=tol)
    log.info(
        "%s: %d columns -> %d kept (%d duplicate, %d constant, %d non-finite)",
        image,
        res.n_before,
        len(res.kept),
        res.n_duplicate,
        len(res.constant),
        len(res.nonfinite),
    )
    results.append(res)
with atomic_output(sm.output.unique) as tmp:
    write_unique_csv(results, tmp)
with atomic_output(sm.output.summary) as tmp:
    tmp.write_text(dedupe_markdown(results, tol))
