"""Rule evaluate: test metrics (AUC + bootstrap interval, rejection, collapse; with the simulation's truth
also the AUC against each background process) and per-model plots."""

from _workflow import setup

log = setup(snakemake)  # noqa: F821

from leptonid.collapse import evaluate_predictions, report_collapse  # noqa: E402
from leptonid.feature_sets import label  # noqa: E402
from leptonid.metrics import auc_per_process, write_json  # noqa: E402
from leptonid.plots import plot_scores, plot_training  # noqa: E402
from leptonid.results import read_history, read_predictions, read_truth  # noqa: E402

feature_set = snakemake.wildcards.feature_set  # noqa: F821
params, out = snakemake.params, snakemake.output  # noqa: F821
predictions = read_predictions(snakemake.input.test)  # noqa: F821
history = read_history(snakemake.input.history)  # noqa: F821
y, score = predictions["y"].to_numpy(), predictions["score"].to_numpy()

# one collapse check: its outcome fills the metrics' collapse fields and is reported here
metrics, collapse = evaluate_predictions(
    y,
    score,
    val_loss=history["val_loss"].to_numpy(),
    signal_efficiencies=params.signal_efficiencies,
    resamples=params.bootstrap_resamples,
    seed=params.seed,
)
report_collapse(collapse, feature_set, log)
result = {"feature_set": feature_set, "model": label(feature_set), **metrics}
result["epochs_run"] = int(len(history))
result["best_epoch"] = int(history["val_loss"].idxmin()) + 1
if snakemake.input.truth:  # noqa: F821  (data.source: simulate)
    truth = read_truth(snakemake.input.truth[0], "test", predictions["event"].to_numpy())  # noqa: F821
    if not (truth["y"].to_numpy() == y).all():
        raise ValueError(f"{snakemake.input.truth[0]}: labels differ from the test predictions'")  # noqa: F821
    process = truth["process"].astype(str).to_numpy()
    signal_processes = set(process[y == 1])
    backgrounds = [p for p in truth["process"].cat.categories if p not in signal_processes]
    result["auc_per_process"] = auc_per_process(
        y, score, process, backgrounds, resamples=params.bootstrap_resamples, seed=params.seed
    )
    for row in result["auc_per_process"]:
        if row["skipped"]:
            log.warning("%s: no AUC against %s: %s", feature_set, row["process"], row["skipped"])
        else:
            log.info(
                "%s: test AUC against %s (%d events) %.4f [%.4f, %.4f]",
                feature_set,
                row["process"],
                row["n_background"],
                row["auc"],
                row["auc_ci_low"],
                row["auc_ci_high"],
            )
write_json(out.metrics, result)
log.info("%s: test AUC %.4f [%.4f, %.4f]", feature_set, result["auc"], result["auc_ci_low"], result["auc_ci_high"])

title = label(feature_set) + (" [COLLAPSED]" if result["collapsed"] else "")
plot_training(history, [out.training_png, out.training_pdf], title=title)
plot_scores(y, score, [out.scores_png, out.scores_pdf], title=title)
