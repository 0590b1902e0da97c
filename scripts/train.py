"""Rule train: one network for one feature set -> model, history, valid/test predictions."""

import os

# read by TensorFlow when it starts: quiet C++ logs, deterministic kernels
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")

from _workflow import setup  # noqa: E402

log = setup(snakemake)  # noqa: F821

from leptonid.feature_sets import SPLIT_INPUTS, inputs_of, needs_efps  # noqa: E402
from leptonid.io import load_split  # noqa: E402
from leptonid.results import load_efp_features  # noqa: E402
from leptonid.training import TrainConfig, TrainOutputs, configure_runtime, train_feature_set  # noqa: E402

feature_set = snakemake.wildcards.feature_set  # noqa: F821
config = TrainConfig.from_mapping(snakemake.params.hyperparameters)  # noqa: F821
device = configure_runtime(snakemake.threads)  # noqa: F821
log.info("feature set %s runs on %s with %d thread(s)", feature_set, device, snakemake.threads)  # noqa: F821

features = [name for name in inputs_of(feature_set) if name in SPLIT_INPUTS] + ["event", "y"]
data = {}
for split in ("train", "valid", "test"):
    data[split] = load_split(snakemake.input[split], features)  # noqa: F821
    if needs_efps(feature_set):
        data[split]["efps"] = load_efp_features(snakemake.input[f"efps_{split}"], data[split]["event"])  # noqa: F821
    log.info("%s: %d events", split, len(data[split]["y"]))

out = snakemake.output  # noqa: F821
train_feature_set(
    feature_set,
    config,
    data["train"],
    data["valid"],
    data["test"],
    TrainOutputs(
        model=out.model,
        history=out.history,
        valid_predictions=out.valid,
        test_predictions=out.test,
        train_predictions=out.train,
    ),
)
