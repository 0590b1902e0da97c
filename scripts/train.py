"""Rule train: one network for one feature set -> model, history, valid/test predictions."""

import sys

from _workflow import setup

log = setup(snakemake)  # noqa: F821

from leptonid.training import TrainConfig, TrainOutputs, configure_runtime, load_inputs, train_feature_set  # noqa: E402

feature_set = snakemake.wildcards.feature_set  # noqa: F821
config = TrainConfig.from_mapping(snakemake.params.hyperparameters)  # noqa: F821
device = configure_runtime(snakemake.threads)  # noqa: F821
log.info("feature set %s runs on %s with %d thread(s)", feature_set, device, snakemake.threads)  # noqa: F821


def loader(split):
    """A function loading one split's inputs, for train_feature_set to call when it needs the split.

    No split is held here: train_feature_set loads train and valid, frees them
    after the fit and their predictions, and only then loads test.
    """

    def load():
        data = load_inputs(snakemake.input[split], feature_set, snakemake.input.get(f"efps_{split}"))  # noqa: F821
        log.info("%s: %d events", split, len(data["y"]))
        return data

    return load


out = snakemake.output  # noqa: F821
train_feature_set(
    feature_set,
    config,
    loader("train"),
    loader("valid"),
    loader("test"),
    TrainOutputs(
        model=out.model,
        history=out.history,
        valid_predictions=out.valid,
        test_predictions=out.test,
        train_predictions=out.train,
    ),
    verbose=1 if sys.stderr.isatty() else 2,  # Keras' bar on a terminal, one line per epoch in the log
)
