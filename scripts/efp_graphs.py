"""Rule efp_graphs: draw each distinct multigraph among the kept EFPs (SVGs + gallery)."""

from _workflow import setup

log = setup(snakemake)  # noqa: F821

import pandas as pd  # noqa: E402

from leptonid.efp.drawing import save_gallery, save_graph_svgs  # noqa: E402
from leptonid.efp.graphs import graphs_from_specs  # noqa: E402

sm = snakemake  # noqa: F821
kept = pd.read_csv(sm.input.unique, keep_default_na=False)
names = {f"{n}_{d}_{k}" for n, d, k in zip(kept["n"], kept["d"], kept["k"])}
graphs = [g for g in graphs_from_specs(sm.params.graph_sets) if g.name in names]
missing = names - {g.name for g in graphs}
if missing:
    raise ValueError(f"EFP graphs {sorted(missing)} of {sm.input.unique} are not in efp.graph_sets")
save_graph_svgs(graphs, sm.output.graphs)
save_gallery(graphs, [sm.output.gallery_pdf, sm.output.gallery_png])
log.info("drew %d graphs", len(graphs))
