"""Rule summarize: AUC table beside the published numbers (with the AUC per background process when the
simulation's truth is known, and the CNN-HL gap with a paired bootstrap interval), and the ROC curves."""

import json

from _workflow import setup

log = setup(snakemake)  # noqa: F821

import numpy as np  # noqa: E402

from leptonid.feature_sets import LABELS  # noqa: E402
from leptonid.metrics import (  # noqa: E402
    GAP_FEATURE_SETS,
    auc_table_rows,
    gap_markdown,
    paired_auc_difference,
    per_process_markdown,
    write_auc_table,
    write_json,
)
from leptonid.plots import plot_rejection, plot_roc  # noqa: E402
from leptonid.results import read_predictions  # noqa: E402

feature_sets = list(snakemake.params.feature_sets)  # noqa: F821
inputs, out = snakemake.input, snakemake.output  # noqa: F821
metrics = {}
predictions = {}
events = {}
for fs, metrics_path, predictions_path in zip(feature_sets, inputs.metrics, inputs.predictions, strict=True):
    with open(metrics_path) as handle:
        metrics[fs] = json.load(handle)
    frame = read_predictions(predictions_path)
    predictions[fs] = (frame["y"].to_numpy(), frame["score"].to_numpy())
    events[fs] = frame["event"].to_numpy()

collapsed = [fs for fs, m in metrics.items() if m.get("collapsed")]
for fs in collapsed:
    reasons = "; ".join(metrics[fs]["collapse_reasons"])
    log.error("COLLAPSED MODEL: %s (%s); marked in the table, not to be compared", fs, reasons)

# the CNN-HL gap: both networks' scores on the same resampled test events
missing = [fs for fs in GAP_FEATURE_SETS if fs not in predictions]
gap = None
if not missing:
    cnn, hl = GAP_FEATURE_SETS
    if not (np.array_equal(events[cnn], events[hl]) and np.array_equal(predictions[cnn][0], predictions[hl][0])):
        raise ValueError(f"the test predictions of {cnn} and {hl} are not of the same events in the same order")
    params = snakemake.params  # noqa: F821
    gap = paired_auc_difference(
        predictions[cnn][0],
        predictions[cnn][1],
        predictions[hl][1],
        resamples=int(params.bootstrap_resamples),
        seed=int(params.seed),
    )
    log.info("CNN-HL gap: %+.4f [%+.4f, %+.4f]", gap["difference"], gap["ci_low"], gap["ci_high"])
else:
    log.info("CNN-HL gap not available: %s not trained", ", ".join(missing))

rows = auc_table_rows(metrics, LABELS)
sections = [
    per_process_markdown(metrics, LABELS),
    gap_markdown(gap, missing=missing, collapsed=[fs for fs in GAP_FEATURE_SETS if fs in collapsed]),
]
write_auc_table(rows, out.csv, out.markdown, sections)
cnn, hl = GAP_FEATURE_SETS
write_json(
    out.gap,
    {"cnn": cnn, "hl": hl, "available": gap is not None, "missing": missing, **(gap or {})},
)
plot_rejection(predictions, [out.rejection_png, out.rejection_pdf], labels=LABELS, collapsed=collapsed)
plot_roc(predictions, [out.roc_png, out.roc_pdf], labels=LABELS, collapsed=collapsed)
for row in rows:
    log.info(
        "%s: AUC %.4f (authors %s, tutorial %s)", row["feature_set"], row["auc"], row["authors_auc"], row["tutorial_auc"]
    )
