"""The hyperparameter search (issue #14): search space, pruning, killed trials, best.yaml, the workflow."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from leptonid.config import check_config, load_schema
from leptonid.training import resolve_config
from leptonid.tuning import (
    PAPER_RANGES,
    SEARCHED,
    best_fragment,
    fragment_problems,
    open_study,
    pruning_callback,
    run_trial,
    sample_params,
    search_space,
    trials_table,
)
from runner import REPO, planned_jobs, run_workflow, tiny_config, write_config

optuna = pytest.importorskip("optuna")
SCHEMA = REPO / "schemas" / "config.schema.yaml"


# --- search space -----------------------------------------------------------


def test_paper_ranges_are_the_papers() -> None:
    assert PAPER_RANGES == {
        "conv_blocks": [1, 4],
        "filters": [8, 128],
        "dense_layers_cnn": [1, 3],
        "dense_layers_dense": [1, 8],
        "hidden_units": [1, 200],
        "learning_rate": [1e-4, 1e-2],
        "dropout": [0.0, 0.5],
    }


def test_schema_defaults_are_the_paper_ranges() -> None:
    ranges = load_schema(SCHEMA)["properties"]["tune"]["properties"]["ranges"]["properties"]
    assert {k: v["default"] for k, v in ranges.items()} == PAPER_RANGES


def test_search_space_cnn_vs_dense() -> None:
    cnn = {d.name: d for d in search_space("et")}
    dense = {d.name: d for d in search_space("hl")}
    assert set(cnn) == set(SEARCHED)
    assert set(dense) == set(SEARCHED) - {"conv_blocks", "filters"}
    assert (cnn["dense_layers"].low, cnn["dense_layers"].high) == (1, 3)
    assert (dense["dense_layers"].low, dense["dense_layers"].high) == (1, 8)
    assert (cnn["filters"].low, cnn["filters"].high) == (8, 128)
    assert cnn["learning_rate"].log and not cnn["dropout"].log
    narrowed = {d.name: d for d in search_space("hl", {"hidden_units": [4, 8]})}
    assert (narrowed["hidden_units"].low, narrowed["hidden_units"].high) == (4, 8)
    with pytest.raises(ValueError):
        search_space("hl", {"dropout": [0.5, 0.1]})


def test_sampled_params_stay_in_range() -> None:
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=3), direction="maximize")
    for i in range(8):
        trial = study.ask()
        p = sample_params(trial, search_space("et"))
        assert 1 <= p["conv_blocks"] <= 4 and 8 <= p["filters"] <= 128 and 1 <= p["dense_layers"] <= 3
        assert 1 <= p["hidden_units"] <= 200 and 1e-4 <= p["learning_rate"] <= 1e-2 and 0 <= p["dropout"] <= 0.5
        study.tell(trial, float(i))
    dense = sample_params(optuna.create_study().ask(), search_space("hl"))
    assert dense["conv_blocks"] == 0 and dense["filters"] == 0


# --- pruning ----------------------------------------------------------------


class FakeTrial:
    """Records reports; asks to prune from the epoch ``prune_at`` on."""

    def __init__(self, prune_at: int) -> None:
        self.prune_at, self.reports = prune_at, []

    def report(self, value: float, step: int) -> None:
        self.reports.append((step, value))

    def should_prune(self) -> bool:
        return len(self.reports) > self.prune_at


def test_pruning_callback_reports_and_stops_training() -> None:
    import keras

    trial = FakeTrial(prune_at=1)
    callback = pruning_callback(trial, monitor="metric")

    class Metric(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["metric"] = 0.5 + epoch

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.zeros((8, 2), dtype="float32")
    fit = model.fit(x, x[:, :1], epochs=10, verbose=0, callbacks=[Metric(), callback])
    assert trial.reports == [(0, 0.5), (1, 1.5)]
    assert callback.pruned and callback.pruned_at == 1
    assert len(fit.history["loss"]) == 2


# --- trials in a journal study ------------------------------------------------


def tiny_data(n: int = 48, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 2).astype("float32")
    hl = rng.normal(size=(n, 7)).astype("float32") + y[:, None]
    return {"hl": hl, "y": y, "event": np.arange(n)}


def run_one(journal: Path, seed: int, **kw) -> dict:
    study = open_study(
        journal, "hl", seed=seed, pruning=kw.pop("pruning", True), stale_minutes=kw.pop("stale_minutes", None)
    )
    defaults = {"batch_size": 16, "seed": 1}
    return run_trial(study, "hl", defaults, tiny_data(), tiny_data(seed=1), epochs=2, patience=1, **kw)


def test_trials_share_a_journal_study_and_best_yaml_is_a_training_models_fragment(tmp_path) -> None:
    journal = tmp_path / "study.journal"
    records = [
        run_one(journal, seed=i, ranges={"dense_layers_dense": [1, 2], "hidden_units": [2, 8]}) for i in range(2)
    ]
    assert [r["number"] for r in records] == [0, 1]
    assert all(r["state"] == "COMPLETE" and 0 <= r["value"] <= 1 for r in records)
    assert len(records[0]["history"]) >= 1 and "val_auc" in records[0]["history"][0]
    study = open_study(journal, "hl", seed=0)
    assert len(study.trials) == 2
    fragment = best_fragment(study, "hl")
    assert list(fragment) == ["hl"] and set(fragment["hl"]) == set(SEARCHED)
    assert fragment["hl"]["conv_blocks"] == 0
    schema = load_schema(SCHEMA)
    assert fragment_problems(fragment, schema, {"defaults": {}}) == []
    resolve_config({"defaults": {}, "models": fragment}, "hl")
    assert fragment_problems({"hl": {**fragment["hl"], "dropout": 1.5}}, schema, {}) != []
    table = trials_table(study)
    assert list(table.columns) == ["number", "state", "value", "params", "duration"]


def test_failing_trial_is_told_fail_and_reraised(tmp_path) -> None:
    journal = tmp_path / "study.journal"
    study = open_study(journal, "hl", seed=0)
    bad = {"hl": tiny_data()["hl"]}  # no labels
    with pytest.raises(ValueError):
        run_trial(study, "hl", {}, bad, tiny_data(), epochs=1, patience=0)
    states = [t.state.name for t in open_study(journal, "hl", seed=0).trials]
    assert states == ["FAIL"]
    with pytest.raises(ValueError, match="no completed trial"):
        best_fragment(open_study(journal, "hl", seed=0), "hl")


KILLED = """
import sys, time
sys.path.insert(0, {src!r})
from leptonid.tuning import open_study, sample_params, search_space
study = open_study({journal!r}, "hl", seed=5)
trial = study.ask()
sample_params(trial, search_space("hl"))
trial.report(0.5, step=0)
print("asked", flush=True)
time.sleep(120)
"""


def test_killed_trial_leaves_the_study_readable_and_the_next_trials_proceed(tmp_path) -> None:
    journal = tmp_path / "study.journal"
    run_one(journal, seed=0, ranges={"hidden_units": [2, 4]})
    code = KILLED.format(src=str(REPO / "src"), journal=str(journal))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "asked"
        os.kill(proc.pid, signal.SIGKILL)  # mid-trial
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    study = open_study(journal, "hl", seed=1)
    assert [t.state.name for t in study.trials] == ["COMPLETE", "RUNNING"]
    record = run_one(journal, seed=2, ranges={"hidden_units": [2, 4]})
    assert record["number"] == 2 and record["state"] == "COMPLETE"
    study = open_study(journal, "hl", seed=3)
    assert [t.state.name for t in study.trials] == ["COMPLETE", "RUNNING", "COMPLETE"]
    assert study.best_trial.number in (0, 2)  # the killed trial never counts
    # once older than the stale timeout, the killed trial is marked FAIL
    time.sleep(0.2)
    study = open_study(journal, "hl", seed=4, stale_minutes=0.001)
    assert [t.state.name for t in study.trials] == ["COMPLETE", "FAIL", "COMPLETE"]


# --- the workflow ---------------------------------------------------------------


def tune_config(n_trials: int) -> dict:
    config = tiny_config()
    config["training"]["feature_sets"] = ["hl"]
    config["tune"] = {
        "feature_sets": ["hl"],
        "n_trials": n_trials,
        "epochs": 1,
        "patience": 1,
        "ranges": {"dense_layers_dense": [1, 3], "hidden_units": [4, 32], "conv_blocks": [1, 1], "filters": [4, 8]},
        "resources": {"threads": 1},
    }
    return config


def test_workflow_tune_then_train_with_best_then_more_trials(tmp_path) -> None:
    start = time.perf_counter()
    config = tune_config(3)
    config["tune"]["feature_sets"] = ["hl", "et"]  # a dense net and a CNN
    run_workflow(tmp_path, config, targets=["tune"], extra=["--cores", "2"])
    seconds = time.perf_counter() - start
    out = tmp_path / "results" / "tune" / "hl"
    assert sorted(p.name for p in (out / "trials").iterdir()) == ["0.json", "1.json", "2.json"]
    for name in ("best.yaml", "trials.csv", "objective.png", "importances.png", "best_history.png", "study.journal"):
        assert (out / name).exists(), name
    assert not (tmp_path / "results" / "predictions").exists()  # nothing trained on, or predicted for, test
    best = yaml.safe_load((out / "best.yaml").read_text())
    assert set(best) == {"hl"}
    cnn = yaml.safe_load((out.parent / "et" / "best.yaml").read_text())["et"]
    assert cnn["conv_blocks"] == 1 and 4 <= cnn["filters"] <= 8 and 1 <= cnn["dense_layers"] <= 3

    # best.yaml drops into training.models: the config check accepts it and rule train trains with it
    config = tune_config(3)
    config["training"]["models"] = best
    check_config(config, SCHEMA)
    resolve_config(config["training"], "hl")
    run_workflow(tmp_path, config, targets=["results/models/hl/history.csv"])
    assert (tmp_path / "results" / "models" / "hl" / "history.csv").exists()

    # a larger budget adds trials 3 and 4 to the same study; trials 0-2 are not redone

    write_config(tmp_path, tune_config(5))
    planned = planned_jobs(REPO / "Snakefile", tmp_path, "tune")
    assert planned["tune_trial"] == 2 and planned["tune_summary"] == 1 and "train" not in planned
    before = {p.name: p.stat().st_mtime_ns for p in (out / "trials").iterdir()}
    run_workflow(tmp_path, tune_config(5), targets=["tune"], extra=["--cores", "2"])
    after = {p.name: p.stat().st_mtime_ns for p in (out / "trials").iterdir()}
    assert sorted(after) == ["0.json", "1.json", "2.json", "3.json", "4.json"]
    assert all(after[name] == before[name] for name in before)
    study = open_study(out / "study.journal", "hl", seed=0)
    assert len(study.trials) == 5
    numbers = sorted(json.loads((out / "trials" / f"{i}.json").read_text())["number"] for i in range(5))
    assert numbers == [0, 1, 2, 3, 4]
    print(f"tiny tune workflow (data + 3 trials each of hl and et + summaries): {seconds:.0f} s")


def test_cnn_trials_ask_for_a_gpu_and_read_no_test_split(tmp_path) -> None:
    config = tune_config(2)
    config["tune"]["feature_sets"] = ["et", "hl"]
    write_config(tmp_path, config)
    from runner import run, snakemake_command

    out = run(snakemake_command(REPO / "Snakefile", tmp_path, "--dry-run", "tune"), timeout=300).stdout
    jobs = [block for block in out.split("\n\n") if "rule tune_trial:" in block]
    assert len(jobs) == 4
    for block in jobs:
        assert "test.feather" not in block
        gpus = re.search(r"\bgpu=(\d+)", block).group(1)
        assert gpus == ("1" if "feature_set=et" in block else "0"), block


def test_importances_with_too_few_trials_are_empty(tmp_path) -> None:
    from leptonid.tuning import param_importances, plot_importances

    study = optuna.create_study(direction="maximize")
    assert param_importances(study) == {}
    study.enqueue_trial({"x": 1.0})
    study.optimize(lambda t: t.suggest_float("x", 0, 2), n_trials=1)
    assert param_importances(study) == {}
    plot_importances({}, [tmp_path / "i.png"])
    assert (tmp_path / "i.png").stat().st_size > 0


def test_config_check_names_an_unknown_tune_feature_set() -> None:
    with pytest.raises(ValueError, match="tune.feature_sets.0"):
        check_config({"tune": {"feature_sets": ["nope"]}}, SCHEMA)
    with pytest.raises(ValueError, match="tune.ranges.dropout"):
        check_config({"tune": {"ranges": {"dropout": [0.1]}}}, SCHEMA)
