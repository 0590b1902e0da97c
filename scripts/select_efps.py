"""Rule select_efps: the EFPs chosen by the guided search, for every split -> results/search/selected/{split}.feather."""

from _workflow import setup

log = setup(snakemake)  # noqa: F821

import pandas as pd  # noqa: E402

from leptonid.layout import SPLITS  # noqa: E402
from leptonid.search.files import write_selected_efps  # noqa: E402

sm = snakemake  # noqa: F821
tables = {split: {image: sm.input[f"efp_{image}_{split}"] for image in sm.params.images} for split in SPLITS}
names = write_selected_efps(pd.read_csv(sm.input.passes), tables, {split: sm.output[split] for split in SPLITS})
log.info("wrote %d chosen EFP columns (%s) for %s", len(names), ", ".join(names), ", ".join(SPLITS))
