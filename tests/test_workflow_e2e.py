"""The whole workflow, end to end, on its default data source (the simulation) at a tiny size,
and its HTML report opened in a headless browser as a person would."""

from __future__ import annotations

from collections import Counter

import io
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from browser import Browser, find_chromium
from runner import REPO, run, run_workflow, snakemake_command
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


@pytest.fixture(scope="module")
def e2e_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One run of the whole workflow (shared by the tests of this module)."""
    work = tmp_path_factory.mktemp("e2e") / "run"
    run_workflow(work, TINY)
    return work


def test_default_pipeline_end_to_end(e2e_run: Path) -> None:
    work = e2e_run
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
        # the simulation's truth: the AUC against each background process, or why not
        per = {r["process"]: r for r in metrics["auc_per_process"]}
        assert set(per) == {"qcd", "heavy_flavour", "conversion"}
        assert sum(r["n_background"] for r in per.values()) == metrics["n_background"]
        for r in per.values():
            assert (r["auc"] is None) == (r["n_background"] < 10) == bool(r["skipped"]), r
            assert r["auc"] is None or r["auc_ci_low"] <= r["auc"] <= r["auc_ci_high"]
    truth = pd.read_feather(results / "simulation/truth.feather")
    assert len(truth) == sum(count_rows(results / f"prep/{s}.feather") for s in ("train", "valid", "test"))
    test_truth = truth[truth["split"] == "test"]
    assert (test_truth["y"].to_numpy() == load_split(results / "prep/test.feather", ["y"])["y"]).all()
    table = (results / "tables/auc.md").read_text()
    assert "`et_and_ht`" in table and "`hl`" in table and "`hl_and_efps`" in table
    assert "## AUC per background process" in table and "`heavy_flavour` (" in table
    gap = table.split("## CNN-HL gap")[1]
    assert "95% paired bootstrap interval" in gap and "20 resamples" in gap
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
    # the report's pieces: the headline quotes the AUC table and the search summary; every page and data figure
    headline = (results / "report/headline.html").read_text()
    auc = pd.read_csv(results / "tables/auc.csv")
    for a, lo, hi in auc[["auc", "auc_ci_low", "auc_ci_high"]].values:
        assert f"{a:.4f} ({lo:.4f}-{hi:.4f})" in headline
    first_line = summary.split("\n\n")[1].split("\n")[0]
    assert first_line.split(":")[0].replace(">", "&gt;") in headline
    auc_page = (results / "report/auc.html").read_text()
    assert "AUC per background process" in auc_page and "CNN-HL gap" in auc_page
    for page in ("inventory", "validation", "dedupe", "auc", "search_summary", "search_passes"):
        assert "<table>" in (results / f"report/{page}.html").read_text() or page == "search_passes", page
    assert "<table" in (results / "report/search_passes.html").read_text()
    for figure in ("class_balance", "mean_images", "events", "features"):
        assert (results / f"report/data/{figure}.png").stat().st_size > 0
    runtimes = pd.read_csv(results / "report/runtimes.csv").set_index("rule")
    assert runtimes.loc["simulate_chunk", "jobs"] == 2 and runtimes.loc["train", "jobs"] == 3
    # every benchmarked job of the run (but the report's own) is in the runtime table (common.smk: benchmark_files)
    benchmarked = Counter(p.relative_to(work / "benchmarks").parts[0].removesuffix(".tsv")
                          for p in (work / "benchmarks").rglob("*.tsv"))
    del benchmarked["report"]
    assert runtimes["jobs"].to_dict() == dict(benchmarked)
    assert not (results / "report.md").exists()
    # progress and summary lines in the long jobs' logs
    assert "candidates in" in (work / "logs/simulation/chunk_signal_0.log").read_text()
    assert "it/s" not in (work / "logs/simulation/chunk_signal_0.log").read_text()
    assert "events/s" in (work / "logs/efp_chunk/et_train_0.log").read_text()
    assert "ETA at most" in (work / "logs/train/hl.log").read_text()
    assert "guided search: " in (work / "logs/search/guided_search.log").read_text()
    # a second run has nothing to do
    dry = run_workflow(work, TINY, extra=["-n"])
    assert "Nothing to be done" in dry.stdout + dry.stderr


def _non_blank(png: bytes) -> float:
    """Share of pixels that differ from the most common colour (0 for a blank image)."""
    import matplotlib.image

    pixels = matplotlib.image.imread(io.BytesIO(png), format="png")[..., :3].reshape(-1, 3)
    colours, counts = np.unique(np.round(pixels, 2), axis=0, return_counts=True)
    return 1.0 - counts.max() / counts.sum()


CLICK = "(t => { const a = [...document.querySelectorAll('nav a')].find(e => e.innerText.trim() === t);"
CLICK += " if (!a) return false; a.click(); return true; })"


def test_html_report_in_a_browser(e2e_run: Path) -> None:
    """`snakemake --report` writes one self-contained page that headless Chromium renders offline:
    the landing page shows the AUC table and the background-rejection figure, and the ROC figure
    opens from the menu (its pixels are not blank); nothing is fetched from the network."""
    chromium = find_chromium()
    if chromium is None:
        reason = "no chromium on PATH (CI installs it with .ci/install-chromium.sh)"
        if os.environ.get("LEPTONID_REQUIRE_CHROMIUM") == "1":
            pytest.fail(f"LEPTONID_REQUIRE_CHROMIUM=1 but {reason}")
        pytest.skip(reason)
    work = e2e_run
    report = work / "results/report.html"
    run(snakemake_command(REPO / "Snakefile", work, "--report", str(report)), timeout=300)
    auc = pd.read_csv(work / "results/tables/auc.csv")
    shots = Path(os.environ.get("LEPTONID_SCREENSHOTS", work / "screenshots"))
    shots.mkdir(parents=True, exist_ok=True)
    with Browser(chromium, width=1400, height=2400) as page:
        page.open(report)
        # the landing page: the headline's AUC table, with this run's numbers
        table = page.wait_until("document.querySelector('.auc-table')?.innerText")
        for row in auc.itertuples():
            assert row.feature_set in table and f"{row.auc:.4f}" in table, table
        assert "0.9720" in table  # the paper's CNN beside ours
        landing = page.screenshot()
        (shots / "landing.png").write_bytes(landing)
        box = page.wait_until(
            "(() => { const i = document.querySelector('img.headline-figure');"
            " if (!i || !i.complete || i.naturalWidth === 0) return null;"
            " i.scrollIntoView(); const r = i.getBoundingClientRect();"
            " return {x: r.x, y: r.y, width: r.width, height: r.height}; })()"
        )
        assert box["width"] > 300 and box["height"] > 200, box
        assert _non_blank(page.screenshot(clip=box)) > 0.05
        # the menu, as a person clicks it: 4. Models -> performance -> the ROC figure's eye button
        assert page.evaluate(f"{CLICK}('4. Models')")
        page.wait_until("[...document.querySelectorAll('nav a')].some(a => a.innerText.trim() === 'performance')")
        assert page.evaluate(f"{CLICK}('performance')")
        opened = page.wait_until(
            "(() => { const row = [...document.querySelectorAll('nav tr')].find(r => r.innerText.includes('ROC')"
            " && !r.innerText.includes('rejection')); if (!row) return false;"
            " row.querySelector('a[iconname=eye]').click(); return true; })()"
        )
        assert opened
        time.sleep(0.5)
        box = page.wait_until(
            "(() => { const i = [...document.querySelectorAll('img:not(.headline-figure)')]"
            ".find(i => i.complete && i.naturalWidth > 300);"
            " if (!i) return null; const r = i.getBoundingClientRect();"
            " return {x: r.x, y: r.y, width: r.width, height: r.height}; })()"
        )
        roc = page.screenshot(clip=box)
        (shots / "roc.png").write_bytes(roc)
        assert _non_blank(roc) > 0.05
        categories = page.evaluate("Object.keys(categories)")
        assert {"1. Data", "2. Simulation", "3. EFPs", "4. Models", "5. Guided search", "7. Workflow"} <= set(
            categories
        ), categories
        offline = [u for u in page.requested_urls() if not u.startswith(("file:", "data:", "about:", "blob:"))]
        assert offline == [], f"the report fetched {offline}"
        assert page.exceptions() == []
