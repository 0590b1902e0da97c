"""Rule evaluate: test metrics (AUC + bootstrap interval, rejection, collapse) and per-model plots."""

from _workflow import setup

log = setup(snakemake)  # noqa: F821

from leptonid.collapse import evaluate_predictions, report_collapse  # noqa: E402
from leptonid.feature_sets import label  # noqa: E402
from leptonid.metrics import write_json  # noqa: E402
from leptonid.plots import plot_scores, plot_training  # noqa: E402
from leptonid.results import read_history, read_predictions  # noqa: E402

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
write_json(out.metrics, result)
log.info("%s: test AUC %.4f [%.4f, %.4f]", feature_set, result["auc"], result["auc_ci_low"], result["auc_ci_high"])

title = label(feature_set) + (" [COLLAPSED]" if result["collapsed"] else "")
plot_training(history, [out.training_png, out.training_pdf], title=title)
plot_scores(y, score, [out.scores_png, out.scores_pdf], title=title)
