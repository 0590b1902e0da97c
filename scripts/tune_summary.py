"""Rule tune_summary: best.yaml (a training.models fragment), trials.csv and figures of one feature set's study."""

import json

from _workflow import setup

log = setup(snakemake)  # noqa: F821

from leptonid.config import load_schema  # noqa: E402
from leptonid.tuning import open_study, summarize_study  # noqa: E402

sm = snakemake  # noqa: F821
feature_set = sm.wildcards.feature_set
records = [json.loads(open(path).read()) for path in sm.input.trials]
study = open_study(sm.params.journal, feature_set, seed=sm.params.tune["seed"], pruning=sm.params.tune["pruning"])
fragment = summarize_study(
    study,
    feature_set,
    records,
    load_schema(sm.params.schema),
    sm.params.training,
    best_yaml=sm.output.best,
    trials_csv=sm.output.trials,
    objective_fig=[sm.output.objective],
    importance_fig=[sm.output.importances],
    history_fig=[sm.output.history],
)
log.info("best of %d trial(s): %s", len(study.trials), fragment)
