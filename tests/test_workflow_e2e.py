"""The whole workflow, end to end, on its default data source (the simulation) at a tiny size."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from runner import run_workflow
from leptonid.contract import check_file
from leptonid.io import column_names, count_rows, load_split

pytestmark = [pytest.mark.workflow, pytest.mark.slow]

TINY = {
    "simulation": {"n_per_class": 100, "n_chunks": 1},
    "efp": {"graph_sets": [["d<=3", "p==1"]], "kappas": [0.5, 1], "betas": [1, 2], "n_chunks": 2},
    "training": {"feature_sets": ["et_and_ht", "hl", "hl_and_efps"], "defaults": {"epochs": 1}},
    "search": {"max_passes": 2, "signal_pairs": 200, "background_pairs": 200},
    "evaluation": {"bootstrap_resamples": 20},
}


def test_default_pipeline_end_to_end(tmp_path: Path) -> None:
    work = tmp_path / "run"
    run_workflow(work, TINY)
    results = work / "results"
    # simulation in the paper's layout, passing the data contract
    assert check_file(results / "simulation/data.h5")[0] == []
    assert check_file(results / "simulation/unscaled_data.h5")[0] == []
    assert "quick classifiers" in (results / "simulation/validation.md").read_text().lower()
    # prep files with the unscaled columns, EFPs aligned with them
    n_train = count_rows(results / "prep/train.feather")
    efp_et = load_split(results / "efp/et/train.feather", ["event"])["event"]
    prep_events = load_split(results / "prep/train.feather", ["event"])["event"]
    assert len(efp_et) == n_train and (efp_et == prep_events).all()
    assert (results / "efp/unique.csv").read_text().startswith("efp,image,n,d,k,kappa,beta")
    assert (results / "efp/gallery.png").stat().st_size > 0
    # one model and one metrics file per feature set, a table and the plots
    n_test = count_rows(results / "prep/test.feather")
    for fs in TINY["training"]["feature_sets"]:
        assert (results / f"models/{fs}/model.keras").exists()
        metrics = json.loads((results / f"metrics/{fs}.json").read_text())
        assert metrics["n_events"] == n_test
        assert 0.0 <= metrics["auc"] <= 1.0
    table = (results / "tables/auc.md").read_text()
    assert "`et_and_ht`" in table and "`hl`" in table and "`hl_and_efps`" in table
    # the guided search: two passes (unless it stopped early, which it says), test read only at the end
    passes = pd.read_csv(results / "search/passes.csv")
    record = json.loads((results / "search/search.json").read_text())
    assert list(passes["pass"]) == list(range(len(passes))) and 1 <= len(passes) - 1 <= 2
    assert len(passes) == 3 or "max_passes" not in record["stop_reason"], record["stop_reason"]
    assert passes["efp"].iloc[1:].notna().all() and passes["test_auc"].between(0, 1).all()
    assert record["config"]["protocol"] == "honest"
    assert [r[0] for r in record["reads"] if r[0] in ("train", "valid", "test")][-1] == "test"
    assert {tuple(r) for r in record["reads"] if r[0] == "test"} == {("test", "final")}
    summary = (results / "search/summary.md").read_text()
    assert "of the gap" in summary or "no gap to close" in summary
    assert "Protocol: honest" in summary
    assert (results / "search/search.png").stat().st_size > 0
    # valid/test EFPs hold only the de-duplicated columns; the selected file only the chosen ones
    unique = pd.read_csv(results / "efp/unique.csv")
    kept_et = set(unique.loc[unique["image"] == "et", "efp"])
    assert set(column_names(results / "efp/et/test.feather")) - {"event"} == kept_et
    selected = pd.read_feather(results / "search/selected/test.feather")
    assert list(selected.columns[1:]) == record["chosen"]
    for plot in ("roc_rejection", "roc"):
        assert (results / f"plots/{plot}.png").exists() and (results / f"plots/{plot}.pdf").exists()
    report = (results / "report.md").read_text()
    assert "## AUC per feature set" in report and "## Simulation" in report and "## Guided EFP search" in report
    # a second run has nothing to do
    dry = run_workflow(work, TINY, extra=["-n"])
    assert "Nothing to be done" in dry.stdout + dry.stderr
