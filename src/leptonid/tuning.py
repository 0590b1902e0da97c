"""Hyperparameter search (rules/tune.smk): Optuna over the paper's ranges, one trial per job.

Bayesian search (Optuna's TPE sampler) per feature set over the ranges of
Collado et al., Tables III and IV: conv blocks 1-4 and filters 8-128 (CNNs
only), dense layers 1-3 (CNNs) or 1-8 (dense nets), hidden units 1-200,
learning rate 1e-4 to 1e-2 (log), dropout 0-0.5.

Every trial is its own process (a Snakemake job, many at once on a cluster).
They share one study in an Optuna journal file (``JournalStorage`` over
``JournalFileBackend``): an append-only log with a file lock, which works on a
shared filesystem without a database server. Each job loads (or creates) the
study, asks one trial, trains it (train split; early stopping and the
objective on valid; test is never read), reports each epoch's validation AUC
to the pruner, and tells the result.

Objective: validation AUC of the restored best-``val_loss`` weights,
maximised. AUC is the paper's figure of merit; it ignores calibration,
which the loss does not, and it is what the pruner compares across trials.

A trial whose process is killed (SIGKILL, node lost) stays RUNNING in the
journal: every record is one atomic append, so the journal stays readable.
:func:`open_study` marks RUNNING trials older than ``stale_minutes`` as FAIL;
until then such a trial counts neither as completed nor toward the best.

Optuna and Keras are imported inside the functions that need them.
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from leptonid.atomic import atomic_output
from leptonid.feature_sets import is_cnn
from leptonid.training import TrainConfig, predict_arrays, train_model

log = logging.getLogger(__name__)

#: The paper's search ranges (Collado et al., Tables III and IV), as [low, high].
PAPER_RANGES: dict[str, list[float]] = {
    "conv_blocks": [1, 4],
    "filters": [8, 128],
    "dense_layers_cnn": [1, 3],
    "dense_layers_dense": [1, 8],
    "hidden_units": [1, 200],
    "learning_rate": [1e-4, 1e-2],
    "dropout": [0.0, 0.5],
}

#: The hyperparameters a search chooses (the keys of best.yaml's fragment).
SEARCHED: tuple[str, ...] = ("conv_blocks", "filters", "dense_layers", "hidden_units", "learning_rate", "dropout")

#: The intermediate value reported each epoch (and the objective).
OBJECTIVE = "val_auc"


@dataclass(frozen=True)
class Dimension:
    """One searched hyperparameter: integer or float in [low, high], maybe on a log scale."""

    name: str
    kind: str  # "int" or "float"
    low: float
    high: float
    log: bool = False


def search_space(feature_set: str, ranges: Mapping[str, Sequence[float]] | None = None) -> list[Dimension]:
    """The dimensions searched for ``feature_set``: conv blocks and filters only for a CNN.

    ``ranges`` (the config's ``tune.ranges``) override :data:`PAPER_RANGES` key by key.
    """
    r = {**PAPER_RANGES, **dict(ranges or {})}
    for name, (low, high) in r.items():
        if low > high:
            raise ValueError(f"tune range {name}: low {low} > high {high}")
    dims = []
    if is_cnn(feature_set):
        dims += [Dimension("conv_blocks", "int", *r["conv_blocks"]), Dimension("filters", "int", *r["filters"])]
    dense = r["dense_layers_cnn"] if is_cnn(feature_set) else r["dense_layers_dense"]
    dims += [
        Dimension("dense_layers", "int", *dense),
        Dimension("hidden_units", "int", *r["hidden_units"]),
        Dimension("learning_rate", "float", *r["learning_rate"], log=True),
        Dimension("dropout", "float", *r["dropout"]),
    ]
    return dims


def sample_params(trial: Any, space: Sequence[Dimension]) -> dict[str, Any]:
    """Ask ``trial`` for a value of every dimension; dense nets get ``conv_blocks = filters = 0``."""
    params: dict[str, Any] = {"conv_blocks": 0, "filters": 0}
    for d in space:
        if d.kind == "int":
            params[d.name] = trial.suggest_int(d.name, int(d.low), int(d.high), log=d.log)
        else:
            params[d.name] = trial.suggest_float(d.name, float(d.low), float(d.high), log=d.log)
    return params


def trial_config(defaults: Mapping[str, Any], params: Mapping[str, Any], epochs: int, patience: int) -> TrainConfig:
    """``training.defaults`` with the sampled hyperparameters and the search's epochs and patience."""
    return TrainConfig.from_mapping({**dict(defaults), **dict(params), "epochs": epochs, "patience": patience})


# --- the study ------------------------------------------------------------


def open_study(
    journal: str | Path,
    name: str,
    seed: int,
    pruning: bool = True,
    stale_minutes: float | None = None,
    n_startup_trials: int = 5,
) -> Any:
    """Load or create the study ``name`` in the journal file ``journal`` (created if missing).

    The sampler is a TPESampler seeded with ``seed`` (pass a different seed
    per process: parallel trials with one seed would all draw the same
    random start-up point); the pruner MedianPruner (``n_startup_trials``
    complete trials before it prunes), or none. RUNNING trials that started
    more than ``stale_minutes`` ago are marked FAIL (killed jobs).
    """
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    journal = Path(journal)
    journal.parent.mkdir(parents=True, exist_ok=True)
    storage = JournalStorage(JournalFileBackend(str(journal)))
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=n_startup_trials)
    pruner = (
        optuna.pruners.MedianPruner(n_startup_trials=n_startup_trials, n_warmup_steps=0)
        if pruning
        else optuna.pruners.NopPruner()
    )
    study = optuna.create_study(
        storage=storage, study_name=name, direction="maximize", sampler=sampler, pruner=pruner, load_if_exists=True
    )
    if stale_minutes is not None:
        fail_stale_trials(study, stale_minutes)
    return study


def fail_stale_trials(study: Any, stale_minutes: float, now: datetime | None = None) -> list[int]:
    """Mark RUNNING trials started more than ``stale_minutes`` ago as FAIL; return their numbers."""
    from optuna.trial import TrialState

    now = now or datetime.now()
    limit = timedelta(minutes=stale_minutes)
    failed = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if t.datetime_start is not None and now - t.datetime_start > limit:
            try:
                study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
            except RuntimeError:  # finished meanwhile
                continue
            log.warning(
                "trial %d has run for more than %s min: marked FAIL (its job was killed?)", t.number, stale_minutes
            )
            failed.append(t.number)
    return failed


# --- callbacks ------------------------------------------------------------


def validation_auc_callback(predict_inputs: Mapping[str, np.ndarray], y: np.ndarray, batch_size: int = 1024) -> Any:
    """A Keras callback that writes the epoch's validation AUC into the logs as ``val_auc``."""
    import keras

    from leptonid.metrics import roc_auc

    class ValidationAUC(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if logs is None:
                return
            scores = predict_arrays(self.model, predict_inputs, batch_size)  # one batch at a time, no copy
            logs[OBJECTIVE] = float(roc_auc(y, scores)) if np.all(np.isfinite(scores)) else math.nan

    return ValidationAUC()


def pruning_callback(trial: Any, monitor: str = OBJECTIVE) -> Any:
    """A Keras callback: ``trial.report(logs[monitor], epoch)``; stop training if ``trial.should_prune()``.

    After fit, its ``pruned`` attribute says whether the trial was pruned.
    """
    import keras

    class Pruning(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.pruned = False
            self.pruned_at: int | None = None

        def on_epoch_end(self, epoch, logs=None):
            value = (logs or {}).get(monitor)
            if value is None or not math.isfinite(value):
                return
            trial.report(float(value), step=epoch)
            if trial.should_prune():
                self.pruned, self.pruned_at = True, epoch
                self.model.stop_training = True

    return Pruning()


# --- one trial ------------------------------------------------------------


def run_trial(
    study: Any,
    feature_set: str,
    defaults: Mapping[str, Any],
    train: Mapping[str, np.ndarray],
    valid: Mapping[str, np.ndarray],
    *,
    epochs: int,
    patience: int,
    ranges: Mapping[str, Sequence[float]] | None = None,
) -> dict[str, Any]:
    """Ask one trial of ``study``, train it, tell the result; return the trial's record.

    The record (written to the trial's JSON) holds the trial number, state,
    value, params, duration and the per-epoch history. A pruned trial is told
    PRUNED; an exception is told FAIL and re-raised.
    """
    from optuna.trial import TrialState

    from leptonid.training import model_inputs

    trial = study.ask()
    start = time.perf_counter()
    try:
        params = sample_params(trial, search_space(feature_set, ranges))
        config = trial_config(defaults, params, epochs, patience)
        log.info("trial %d of %s: %s", trial.number, feature_set, params)
        auc = validation_auc_callback(
            model_inputs(valid, feature_set), np.asarray(valid["y"]), config.predict_batch_size
        )
        pruner = pruning_callback(trial)
        with tempfile.TemporaryDirectory(prefix="leptonid-trial-") as tmp:
            result = train_model(
                train, valid, feature_set, config, Path(tmp) / "trial.keras", extra_callbacks=[auc, pruner]
            )
        history = result.history
        best_row = history.iloc[result.best_epoch - 1]
        value = float(best_row[OBJECTIVE])
        if pruner.pruned:
            study.tell(trial, state=TrialState.PRUNED)
            state = "PRUNED"
        elif not math.isfinite(value):
            raise FloatingPointError(f"trial {trial.number}: validation AUC is {value} (diverged?)")
        else:
            study.tell(trial, value)
            state = "COMPLETE"
    except BaseException:
        study.tell(trial, state=TrialState.FAIL)
        raise
    record = {
        "number": trial.number,
        "feature_set": feature_set,
        "state": state,
        "value": value,
        "params": {k: params[k] for k in SEARCHED},
        "best_epoch": result.best_epoch,
        "epochs_run": len(history),
        "duration": time.perf_counter() - start,
        "history": json.loads(history.to_json(orient="records")),
    }
    log.info("trial %d: %s, validation AUC %.4f after %d epoch(s)", trial.number, state, value, len(history))
    return record


def write_record(path: str | Path, record: Mapping[str, Any]) -> None:
    """Write a trial record as JSON, atomically."""
    with atomic_output(path) as tmp:
        Path(tmp).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")


# --- summary --------------------------------------------------------------


def trials_table(study: Any) -> pd.DataFrame:
    """One row per trial: number, state, value, params (JSON), duration (seconds)."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        duration = t.duration.total_seconds() if t.duration is not None else math.nan
        rows.append(
            {
                "number": t.number,
                "state": t.state.name,
                "value": t.value if t.value is not None else math.nan,
                "params": json.dumps(t.params, sort_keys=True),
                "duration": duration,
            }
        )
    return pd.DataFrame(rows, columns=["number", "state", "value", "params", "duration"])


def best_fragment(study: Any, feature_set: str) -> dict[str, dict[str, Any]]:
    """``{feature_set: {conv_blocks, filters, dense_layers, hidden_units, learning_rate, dropout}}`` of the best trial.

    Drops into ``training.models``. Raises ``ValueError`` if no trial completed.
    """
    from optuna.trial import TrialState

    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        raise ValueError(f"the search of {feature_set} has no completed trial (all failed, pruned or still running)")
    params = {"conv_blocks": 0, "filters": 0, **study.best_trial.params}
    out = {k: params[k] for k in SEARCHED}
    for k in ("conv_blocks", "filters", "dense_layers", "hidden_units"):
        out[k] = int(out[k])
    for k in ("learning_rate", "dropout"):
        out[k] = float(out[k])
    return {feature_set: out}


def fragment_problems(fragment: Mapping[str, Any], schema: Mapping[str, Any], training: Mapping[str, Any]) -> list[str]:
    """Problems of ``fragment`` as ``training.models`` entries: the schema's item and :func:`resolve_config`."""
    import jsonschema

    from leptonid.training import resolve_config

    item = schema["properties"]["training"]["properties"]["models"]["additionalProperties"]
    problems = [
        f"{fs}: {e.message}" for fs, v in fragment.items() for e in jsonschema.Draft202012Validator(item).iter_errors(v)
    ]
    if not problems:
        for fs, values in fragment.items():
            try:
                resolve_config({**dict(training), "models": {fs: values}}, fs)
            except ValueError as err:
                problems.append(f"{fs}: {err}")
    return problems


def plot_objective(table: pd.DataFrame, paths: Sequence[str | Path], title: str = "") -> None:
    """Validation AUC of every finished trial by number, and the running best."""
    from matplotlib.ticker import MaxNLocator

    from leptonid.plots import plt, save_figure

    fig, ax = plt.subplots(figsize=(6, 4))
    done = table[table["state"] == "COMPLETE"].sort_values("number")
    pruned = table[table["state"] == "PRUNED"]
    ax.plot(done["number"], done["value"], "o", label="complete")
    if len(pruned):
        ax.plot(pruned["number"], pruned["value"], "x", color="grey", label="pruned (last reported)")
    if len(done):
        ax.step(done["number"], done["value"].cummax(), where="post", color="C1", label="best so far")
    ax.set_xlabel("trial")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("validation AUC")
    ax.set_title(title)
    ax.legend(loc="lower right")
    save_figure(fig, paths)


def param_importances(study: Any) -> dict[str, float]:
    """Optuna's parameter importances (fANOVA); empty if there are too few completed trials to compute them."""
    import optuna
    from optuna.trial import TrialState

    if len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))) < 2:
        return {}
    try:
        return dict(optuna.importance.get_param_importances(study))
    except (ValueError, RuntimeError, ZeroDivisionError) as err:
        log.warning("parameter importances not computed: %s", err)
        return {}


def plot_importances(importances: Mapping[str, float], paths: Sequence[str | Path], title: str = "") -> None:
    """Horizontal bars of the parameter importances (or a note saying there are too few trials)."""
    from leptonid.plots import plt, save_figure

    fig, ax = plt.subplots(figsize=(6, 4))
    if importances:
        names = list(importances)[::-1]
        ax.barh(names, [importances[n] for n in names])
        ax.set_xlabel("importance (fANOVA)")
    else:
        ax.text(0.5, 0.5, "too few completed trials\nfor parameter importances", ha="center", va="center")
        ax.set_axis_off()
    ax.set_title(title)
    save_figure(fig, paths)


def plot_best_history(record: Mapping[str, Any] | None, paths: Sequence[str | Path], title: str = "") -> None:
    """Loss, validation loss and validation AUC per epoch of the best trial."""
    from matplotlib.ticker import MaxNLocator

    from leptonid.plots import plt, save_figure

    fig, ax = plt.subplots(figsize=(6, 4))
    if record:
        h = pd.DataFrame(record["history"])
        epoch = np.arange(1, len(h) + 1)
        ax.plot(epoch, h["loss"], "o-", label="loss")
        ax.plot(epoch, h["val_loss"], "s-", label="val_loss")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("binary cross-entropy")
        ax2 = ax.twinx()
        ax2.plot(epoch, h[OBJECTIVE], "^-", color="C2", label="val AUC")
        ax2.set_ylabel("validation AUC")
        ax.legend(loc="upper left")
        ax2.legend(loc="upper right")
        title = f"{title} (trial {record['number']})"
    else:
        ax.text(0.5, 0.5, "no completed trial", ha="center", va="center")
        ax.set_axis_off()
    ax.set_title(title)
    save_figure(fig, paths)


def summarize_study(
    study: Any,
    feature_set: str,
    records: Sequence[Mapping[str, Any]],
    schema: Mapping[str, Any],
    training: Mapping[str, Any],
    *,
    best_yaml: str | Path,
    trials_csv: str | Path,
    objective_fig: Sequence[str | Path],
    importance_fig: Sequence[str | Path],
    history_fig: Sequence[str | Path],
) -> dict[str, Any]:
    """Write best.yaml (validated), trials.csv and the three figures; return the fragment."""
    import yaml

    fragment = best_fragment(study, feature_set)
    problems = fragment_problems(fragment, schema, training)
    if problems:
        raise ValueError(f"best.yaml of {feature_set} is not a valid training.models entry: {problems}")
    with atomic_output(best_yaml) as tmp:
        Path(tmp).write_text(
            f"# best of {len(study.trials)} trial(s) (trial {study.best_trial.number}, validation AUC "
            f"{study.best_value:.4f}); drop under training.models\n" + yaml.safe_dump(fragment, sort_keys=False)
        )
    table = trials_table(study)
    with atomic_output(trials_csv) as tmp:
        table.to_csv(tmp, index=False)
    plot_objective(table, objective_fig, title=f"{feature_set}: search")
    plot_importances(param_importances(study), importance_fig, title=f"{feature_set}: parameter importances")
    best = next((r for r in records if r["number"] == study.best_trial.number), None)
    plot_best_history(best, history_fig, title=f"{feature_set}: best trial")
    return fragment
