"""Rule tune_trial: one trial of the feature set's study (train and valid only; test is never read)."""

import os

# read by TensorFlow when it starts: quiet C++ logs, deterministic kernels
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")

from _workflow import setup  # noqa: E402

log = setup(snakemake)  # noqa: F821

from leptonid.feature_sets import SPLIT_INPUTS, inputs_of, needs_efps  # noqa: E402
from leptonid.io import load_split  # noqa: E402
from leptonid.results import load_efp_features  # noqa: E402
from leptonid.training import configure_runtime  # noqa: E402
from leptonid.tuning import open_study, run_trial, write_record  # noqa: E402

sm = snakemake  # noqa: F821
feature_set = sm.wildcards.feature_set
tune = sm.params.tune
assert "test" not in sm.input.keys(), "a trial must never read the test split"
log.info("feature set %s, job %s, runs on %s", feature_set, sm.wildcards.trial, configure_runtime(sm.threads))

features = [name for name in inputs_of(feature_set) if name in SPLIT_INPUTS] + ["event", "y"]
data = {}
for split in ("train", "valid"):
    data[split] = load_split(sm.input[split], features)
    if needs_efps(feature_set):
        data[split]["efps"] = load_efp_features(sm.input[f"efps_{split}"], data[split]["event"])

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
