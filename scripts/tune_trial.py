"""Rule tune_trial: one trial of the feature set's study (train and valid only; test is never read)."""

from _workflow import setup

log = setup(snakemake)  # noqa: F821

from leptonid.training import configure_runtime, load_inputs  # noqa: E402
from leptonid.tuning import open_study, run_trial, write_record  # noqa: E402

sm = snakemake  # noqa: F821
feature_set = sm.wildcards.feature_set
tune = sm.params.tune
assert "test" not in sm.input.keys(), "a trial must never read the test split"
log.info("feature set %s, job %s, runs on %s", feature_set, sm.wildcards.trial, configure_runtime(sm.threads))

data = {split: load_inputs(sm.input[split], feature_set, sm.input.get(f"efps_{split}")) for split in ("train", "valid")}

# one sampler seed per job: parallel jobs with one seed would draw the same start-up point
study = open_study(
    sm.params.journal,
    feature_set,
    seed=tune["seed"] + int(sm.wildcards.trial),
    pruning=tune["pruning"],
    stale_minutes=sm.config["tune"]["stale_minutes"],  # not a param: changing it reruns nothing
)
record = run_trial(
    study,
    feature_set,
    sm.params.defaults,
    data["train"],
    data["valid"],
    epochs=tune["epochs"],
    patience=tune["patience"],
    ranges=tune["ranges"],
)
record["job"] = int(sm.wildcards.trial)
write_record(sm.output.record, record)
