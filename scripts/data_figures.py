"""Rule data_figures: class balance, mean images per class, one random electron and jet, features per class."""

from _workflow import setup

log = setup(snakemake)  # noqa: F821

import numpy as np  # noqa: E402

from leptonid import display  # noqa: E402

sm = snakemake  # noqa: F821
# physical units where the run has them: the unscaled file, else data.h5 (undoing its recorded scaling, if any)
source = sm.input.get("unscaled", sm.input.data)
split, out = sm.params.split, sm.output

display.plot_class_balance(display.read_labels(sm.input.data), [out.balance])

means = display.class_means(source, split)
first = display.read_event(source, split, 0)
display.plot_means(means, [out.means], physical=first.physical)

labels = display.read_labels(source)[split]
rng = np.random.default_rng(sm.params.seed)
picked = [int(rng.choice(np.flatnonzero(labels == c))) for c in (1, 0)]
display.plot_events([display.read_event(source, split, i) for i in picked], [out.events])
log.info("drew %s events %s (seed %d): an electron and a jet", split, picked, sm.params.seed)

columns, y, physical = display.read_features(source, split)
display.plot_feature_distributions(columns, y, [out.features], physical=physical)
log.info("data figures of %s (%s split, physical units: %s) written", source, split, physical)
