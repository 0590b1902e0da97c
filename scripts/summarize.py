"""Rule summarize: AUC table beside the published numbers, and the ROC curves of all feature sets."""

import json

from _workflow import setup

log = setup(snakemake)  # noqa: F821

from leptonid.feature_sets import LABELS  # noqa: E402
from leptonid.metrics import auc_table_rows, write_auc_table  # noqa: E402
from leptonid.plots import plot_rejection, plot_roc  # noqa: E402
from leptonid.results import read_predictions  # noqa: E402

feature_sets = list(snakemake.params.feature_sets)  # noqa: F821
inputs, out = snakemake.input, snakemake.output  # noqa: F821
metrics = {}
predictions = {}
for fs, metrics_path, predictions_path in zip(feature_sets, inputs.metrics, inputs.predictions, strict=True):
    with open(metrics_path) as handle:
        metrics[fs] = json.load(handle)
    frame = read_predictions(predictions_path)
    predictions[fs] = (frame["y"].to_numpy(), frame["score"].to_numpy())

collapsed = [fs for fs, m in metrics.items() if m.get("collapsed")]
for fs in collapsed:
    reasons = "; ".join(metrics[fs]["collapse_reasons"])
    log.error("COLLAPSED MODEL: %s (%s); marked in the table, not to be compared", fs, reasons)

rows = auc_table_rows(metrics, LABELS)
write_auc_table(rows, out.csv, out.markdown)
plot_rejection(predictions, [out.rejection_png, out.rejection_pdf], labels=LABELS, collapsed=collapsed)
plot_roc(predictions, [out.roc_png, out.roc_pdf], labels=LABELS, collapsed=collapsed)
for row in rows:
    log.info(
        "%s: AUC %.4f (authors %s, tutorial %s)", row["feature_set"], row["auc"], row["authors_auc"], row["tutorial_auc"]
    )
