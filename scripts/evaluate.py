"""Rule evaluate: test metrics (AUC + bootstrap interval, rejection, collapse) and per-model plots."""

from _workflow import setup

log = setup(snakemake)  # noqa: F821

from leptonid.feature_sets import label  # noqa: E402
from leptonid.metrics import evaluate_predictions, write_json  # noqa: E402
from leptonid.plots import plot_scores, plot_training  # noqa: E402
from leptonid.training import detect_collapse, read_history, read_predictions, report_collapse  # noqa: E402

feature_set = snakemake.wildcards.feature_set  # noqa: F821
params, out = snakemake.params, snakemake.output  # noqa: F821
predictions = read_predictions(snakemake.input.test)  # noqa: F821
history = read_history(snakemake.input.history)  # noqa: F821
y, score = predictions["y"].to_numpy(), predictions["score"].to_numpy()

result = {"feature_set": feature_set, "model": label(feature_set)}
result.update(
    evaluate_predictions(
        y,
        score,
        val_loss=history["val_loss"].to_numpy(),
        signal_efficiencies=params.signal_efficiencies,
        resamples=params.bootstrap_resamples,
        seed=params.seed,
    )
)
result["epochs_run"] = int(len(history))
result["best_epoch"] = int(history["val_loss"].idxmin()) + 1
report_collapse(detect_collapse(score, y, history["val_loss"].to_numpy(), auc=result["auc"]), feature_set, log)
write_json(out.metrics, result)
log.info("%s: test AUC %.4f [%.4f, %.4f]", feature_set, result["auc"], result["auc_ci_low"], result["auc_ci_high"])

title = label(feature_set) + (" [COLLAPSED]" if result["collapsed"] else "")
plot_training(history, [out.training_png, out.training_pdf], title=title)
plot_scores(y, score, [out.scores_png, out.scores_pdf], title=title)
