"""Rule guided_search: the guided EFP search -> results/search/passes.csv and search.json."""

import tempfile

from _workflow import setup

log = setup(snakemake)  # noqa: F821

from leptonid.layout import SPLITS  # noqa: E402
from leptonid.search.files import load_search_split, write_passes, write_search_record  # noqa: E402
from leptonid.search.guided import SearchConfig, SplitStore, keras_fitter, run_guided_search  # noqa: E402
from leptonid.training import configure_runtime  # noqa: E402

sm = snakemake  # noqa: F821
settings = dict(sm.params.search)
config = SearchConfig(
    max_passes=settings["max_passes"],
    n_signal_pairs=settings["signal_pairs"],
    n_background_pairs=settings["background_pairs"],
    protocol=settings["protocol"],
    seed=settings["seed"],
    base=settings["base"],
    irc_safe_only=settings["irc_safe_only"],
    images=tuple(settings["images"]),
    reference=settings["reference"],
    bootstrap_resamples=sm.params.bootstrap_resamples,
    ado_threads=sm.threads,
)
log.info("guided search on %s with %s", configure_runtime(sm.threads), config)


def loader(split):
    """Open one split only when the search asks for it (test: in the last step only, under protocol honest)."""

    def load():
        log.info("reading split %s", split)
        return load_search_split(
            sm.input[f"prep_{split}"],
            sm.input[f"reference_{split}"],
            {image: sm.input[f"efp_{image}_{split}"] for image in config.images},
            sm.input.unique,
        )

    return load


store = SplitStore({split: loader(split) for split in SPLITS})
with tempfile.TemporaryDirectory(dir=sm.resources.tmpdir) as workdir:
    result = run_guided_search(store, keras_fitter(workdir, dict(sm.params.network)), config, log=log.info)
if config.protocol == "honest":
    assert store.splits_read("search") <= {"train", "valid"}, store.reads
write_passes(sm.output.passes, result.passes)
write_search_record(sm.output.record, result)
log.info("stopped: %s; chosen: %s; split reads: %s", result.stop_reason, [c.key for c in result.chosen], result.reads)
