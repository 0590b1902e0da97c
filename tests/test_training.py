"""Training: config resolution, collapse detection, and train -> predictions -> metrics -> summary."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
import weakref
from pathlib import Path

import numpy as np
import pytest

from leptonid import training
from leptonid.collapse import detect_collapse, evaluate_predictions, label_entropy
from leptonid.feature_sets import LABELS
from leptonid.metrics import auc_table_rows, roc_auc, write_auc_table, write_json
from leptonid.results import read_history, read_predictions
from leptonid.synthetic import synthetic_split
from leptonid.training import TrainConfig, TrainOutputs, resolve_config, train_feature_set

SRC = Path(__file__).resolve().parent.parent / "src"

TINY = {
    "conv_blocks": 1,
    "filters": 4,
    "dense_layers": 2,
    "hidden_units": 8,
    "learning_rate": 1e-2,
    "dropout": 0.1,
    "epochs": 2,
    "batch_size": 32,
    "seed": 3,
}


def split(n: int, seed: int) -> dict[str, np.ndarray]:
    data = synthetic_split(n, np.random.default_rng(seed))
    data["event"] = np.arange(n, dtype=np.int64) + 1000 * seed
    return data


@pytest.fixture(scope="module")
def data():
    return {"train": split(512, 1), "valid": split(256, 2), "test": split(256, 3)}


def outputs(root: Path, feature_set: str) -> TrainOutputs:
    return TrainOutputs(
        model=root / "models" / feature_set / "model.keras",
        history=root / "models" / feature_set / "history.csv",
        valid_predictions=root / "predictions" / feature_set / "valid.feather",
        test_predictions=root / "predictions" / feature_set / "test.feather",
    )


# --- configuration -----------------------------------------------------------


def test_resolved_config_holds_only_its_own_feature_set():
    training = {
        "defaults": {"epochs": 5, "learning_rate": 1e-3},
        "models": {"et": {"learning_rate": 1e-4, "conv_blocks": 1, "filters": 2}},
    }
    assert resolve_config(training, "et") == {"epochs": 5, "learning_rate": 1e-4, "conv_blocks": 1, "filters": 2}
    assert resolve_config(training, "hl") == {"epochs": 5, "learning_rate": 1e-3}
    changed = {**training, "models": {"et": {"learning_rate": 5e-4}}}
    assert resolve_config(changed, "hl") == resolve_config(training, "hl")  # editing et leaves hl alone


def test_bad_training_settings_are_named():
    with pytest.raises(ValueError, match=r"unknown training settings \['learnig_rate'\]"):
        resolve_config({"defaults": {"learnig_rate": 1e-3}}, "hl")
    with pytest.raises(ValueError, match="unknown feature set"):
        resolve_config({"defaults": {}}, "nope")
    with pytest.raises(ValueError, match="'et' has images and needs conv_blocks"):
        resolve_config({"defaults": {"conv_blocks": 0}}, "et")
    with pytest.raises(ValueError, match="lr_factor"):
        TrainConfig(lr_factor=1.5)
    with pytest.raises(ValueError, match="dropout"):
        TrainConfig(dropout=1.0)


# --- collapse detection --------------------------------------------------------


def test_label_entropy_is_ln2_for_balanced_labels():
    assert label_entropy(np.array([0, 1] * 10)) == pytest.approx(math.log(2))
    p = 0.2
    assert label_entropy(np.array([1] * 2 + [0] * 8)) == pytest.approx(-(p * math.log(p) + (1 - p) * math.log(1 - p)))


def test_constant_scores_are_a_collapse():
    y = np.array([0, 1] * 50)
    result = detect_collapse(np.full(100, 0.5), y)
    assert result.collapsed and "constant scores" in result.reasons[0]


def test_loss_stuck_at_ln2_with_random_ranking_is_a_collapse():
    rng = np.random.default_rng(0)
    y = np.array([0, 1] * 500)
    noise = 0.5 + 0.01 * rng.normal(size=1000)  # not constant, but carries no information
    stuck = [0.6935, 0.6932, 0.6931]
    result = detect_collapse(noise, y, val_loss=stuck)
    assert result.collapsed and "ln 2" in result.reasons[0]
    assert result.as_dict()["collapsed"] is True


def test_a_working_model_is_not_a_collapse():
    rng = np.random.default_rng(1)
    y = np.array([0, 1] * 500)
    good = 1 / (1 + np.exp(-rng.normal(2 * y - 1, 1.0)))
    assert not detect_collapse(good, y, val_loss=[0.6, 0.45, 0.4]).collapsed
    # a loss near ln 2 alone is no collapse if the ranking is informative
    assert not detect_collapse(good, y, val_loss=[0.6931], auc=0.8).collapsed
    assert detect_collapse(good, y, val_loss=[float("nan")]).collapsed


def test_evaluation_checks_for_collapse_once(monkeypatch):
    import leptonid.collapse as collapse_module

    calls = []
    real = collapse_module.detect_collapse
    monkeypatch.setattr(collapse_module, "detect_collapse", lambda *a, **k: calls.append(1) or real(*a, **k))
    y = np.array([0, 1] * 50)
    metrics, collapse = evaluate_predictions(y, np.full(100, 0.5), val_loss=[0.6932], resamples=10)
    assert len(calls) == 1
    assert collapse.collapsed and metrics["collapsed"] is True
    assert metrics["collapse_reasons"] == list(collapse.reasons)


# --- batches: fit and predict fed from the arrays, one batch at a time ---------------


def test_batches_in_order_cover_every_event_once_as_views():
    from leptonid.batches import ArrayBatches

    x = {"hl": np.arange(10 * 7, dtype=np.float32).reshape(10, 7), "mass": np.arange(10, dtype=np.float32)[:, None]}
    y = np.arange(10, dtype=np.float32)
    batches = ArrayBatches(x, y, batch_size=4)
    assert len(batches) == 3
    seen = []
    for i in range(len(batches)):
        xb, yb = batches[i]
        assert set(xb) == {"hl", "mass"}
        assert np.shares_memory(xb["hl"], x["hl"])  # a view, no copy of the data
        np.testing.assert_array_equal(xb["hl"], x["hl"][yb.astype(int)])  # inputs and labels stay paired
        seen.extend(yb.astype(int))
    assert seen == list(range(10))  # in order, each event once, the last batch smaller
    assert [len(batches[i][1]) for i in range(3)] == [4, 4, 2]
    (only_x,) = ArrayBatches(x, batch_size=4)[2]  # for predict: inputs alone
    np.testing.assert_array_equal(only_x["mass"][:, 0], [8, 9])
    with pytest.raises(IndexError):
        batches[3]
    with pytest.raises(ValueError, match="different lengths"):
        ArrayBatches(x, y[:9])


def test_shuffled_batches_are_a_new_permutation_each_epoch_and_repeat_with_the_seed():
    from leptonid.batches import ArrayBatches

    n = 103
    x = {"hl": np.arange(n, dtype=np.float32)[:, None].repeat(7, axis=1)}
    y = np.arange(n, dtype=np.float32)

    def epochs(seed, count=3):
        batches = ArrayBatches(x, y, batch_size=16, seed=seed)
        out = []
        for _ in range(count):
            events = np.concatenate([batches[i][1] for i in range(len(batches))]).astype(int)
            for i in range(len(batches)):
                xb, yb = batches[i]
                np.testing.assert_array_equal(xb["hl"][:, 0], yb)  # inputs and labels stay paired
            out.append(events)
            batches.on_epoch_end()
        return out

    first = epochs(seed=1)
    for events in first:
        assert sorted(events) == list(range(n))  # every event exactly once per epoch
    assert not np.array_equal(first[0], np.arange(n))  # shuffled
    assert not np.array_equal(first[0], first[1])  # a new order each epoch
    for a, b in zip(first, epochs(seed=1)):
        np.testing.assert_array_equal(a, b)  # the seed repeats the sequence
    assert not np.array_equal(first[0], epochs(seed=2)[0])


def test_fit_sees_each_train_event_once_per_epoch_in_batches(data, tmp_path, monkeypatch):
    """Keras gets batches of batch_size from ArrayBatches, never a whole array; each epoch a new permutation."""
    from leptonid.batches import ArrayBatches

    served = []  # the events of each train batch Keras asked for; None at each epoch end
    real_getitem, real_epoch_end = ArrayBatches.__getitem__, ArrayBatches.on_epoch_end

    def getitem(self, index):
        if self.order is not None:  # the train batches (valid's are in order)
            served.append(np.arange(self.n_events)[self.indices(index)])
        return real_getitem(self, index)

    def epoch_end(self):
        if self.order is not None:
            served.append(None)
        real_epoch_end(self)

    monkeypatch.setattr(ArrayBatches, "__getitem__", getitem)
    monkeypatch.setattr(ArrayBatches, "on_epoch_end", epoch_end)
    config = TrainConfig.from_mapping({**TINY, "epochs": 3, "patience": 5})
    training.train_model(data["train"], data["valid"], "hl", config, tmp_path / "m.keras")
    n = len(data["train"]["y"])
    epochs, current = [], []
    for item in served:
        if item is None:
            epochs.append(current)
            current = []
        else:
            current.append(item)
    # (the few batches Keras peeks at before the first epoch are no epoch)
    full = [np.concatenate(e) for e in epochs if sum(map(len, e)) == n]
    assert len(full) == 3
    for events in full:
        assert sorted(events) == list(range(n))
    assert not np.array_equal(full[0], full[1])
    assert max(len(b) for e in epochs for b in e) == TINY["batch_size"]


def test_train_and_valid_are_released_before_the_test_split_is_loaded(data, tmp_path):
    """Given loaders, train_feature_set holds the only references: the fit's arrays are gone when test loads."""
    refs = {}

    def loader(name, seed, n):
        def load():
            split_data = split(n, seed)
            refs[name] = {key: weakref.ref(arr) for key, arr in split_data.items()}
            return split_data
        return load

    alive_at_test = []

    def load_test():
        alive_at_test.extend(f"{name}.{key}" for name, r in refs.items() for key, ref in r.items() if ref() is not None)
        return data["test"]

    out = outputs(tmp_path, "et_and_ht_and_hl")
    out = TrainOutputs(**{**out.__dict__, "train_predictions": tmp_path / "train.feather"})
    config = TrainConfig.from_mapping({**TINY, "epochs": 1})
    train_feature_set("et_and_ht_and_hl", config, loader("train", 1, 512), loader("valid", 2, 256), load_test, out)
    assert set(refs) == {"train", "valid"}
    assert alive_at_test == []
    assert len(read_predictions(tmp_path / "train.feather")) == 512
    assert np.array_equal(read_predictions(out.test_predictions)["event"], data["test"]["event"])


# --- end to end on synthetic data -------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory, data):
    """Train two feature sets (a CNN and a dense net) once for the tests below."""
    root = tmp_path_factory.mktemp("results")
    results = {}
    for feature_set in ("et_and_ht_and_hl", "hl"):
        config = TrainConfig.from_mapping(TINY)
        results[feature_set] = train_feature_set(
            feature_set, config, data["train"], data["valid"], data["test"], outputs(root, feature_set)
        )
    return root, results


def test_training_writes_model_history_and_predictions(trained, data):
    root, results = trained
    for feature_set, (result, collapse) in results.items():
        out = outputs(root, feature_set)
        assert out.model.stat().st_size > 0
        history = read_history(out.history)
        assert list(history["epoch"]) == [1, 2]
        assert {"loss", "val_loss", "learning_rate", "events_per_second"} <= set(history.columns)
        test = read_predictions(out.test_predictions)
        assert np.array_equal(test["event"], data["test"]["event"])
        assert np.array_equal(test["y"], data["test"]["y"])
        assert test["score"].between(0, 1).all()
        assert roc_auc(test["y"], test["score"]) > 0.7  # the synthetic classes are easy to separate
        assert not collapse.collapsed
        assert "CPU" in result.device or "GPU" in result.device
    leftovers = [p for p in root.rglob(".*")]
    assert not leftovers  # atomic writes leave no temporary files


def test_saved_model_reproduces_the_predictions(trained, data):
    import keras

    root, _ = trained
    out = outputs(root, "et_and_ht_and_hl")
    model = keras.saving.load_model(out.model)
    x = {name: data["valid"][name] for name in ("et", "ht", "hl")}
    scores = model.predict(x, verbose=0).reshape(-1)
    np.testing.assert_allclose(scores, read_predictions(out.valid_predictions)["score"], rtol=1e-5, atol=1e-6)


def test_same_config_gives_the_same_scores(trained, data, tmp_path, monkeypatch):
    """Also with the test split given as a loader: called once, after training (scripts/train.py's memory saving)."""
    root, _ = trained
    config = TrainConfig.from_mapping(TINY)
    order = []
    real_train_model = training.train_model

    def recorded_train_model(*args, **kwargs):
        result = real_train_model(*args, **kwargs)
        order.append("trained")
        return result

    def load_test():
        order.append("test loaded")
        return data["test"]

    monkeypatch.setattr(training, "train_model", recorded_train_model)
    train_feature_set("hl", config, data["train"], data["valid"], load_test, outputs(tmp_path, "hl"))
    monkeypatch.undo()
    assert order == ["trained", "test loaded"]
    first = read_predictions(outputs(root, "hl").test_predictions)["score"].to_numpy()
    again = read_predictions(outputs(tmp_path, "hl").test_predictions)["score"].to_numpy()
    np.testing.assert_array_equal(first, again)
    other = TrainConfig.from_mapping({**TINY, "seed": 4})
    train_feature_set("hl", other, data["train"], data["valid"], data["test"], outputs(tmp_path / "b", "hl"))
    assert not np.array_equal(first, read_predictions(outputs(tmp_path / "b", "hl").test_predictions)["score"])


def test_metrics_and_summary_from_predictions(trained, tmp_path):
    root, _ = trained
    metrics = {}
    for feature_set in ("et_and_ht_and_hl", "hl"):
        out = outputs(root, feature_set)
        test = read_predictions(out.test_predictions)
        history = read_history(out.history)
        metrics[feature_set], collapse = evaluate_predictions(
            test["y"], test["score"], history["val_loss"], resamples=50, seed=0
        )
        assert metrics[feature_set]["collapsed"] is collapse.collapsed
        assert metrics[feature_set]["collapse_reasons"] == list(collapse.reasons)
        write_json(tmp_path / f"{feature_set}.json", metrics[feature_set])
        loaded = json.loads((tmp_path / f"{feature_set}.json").read_text())
        assert loaded["auc_ci_low"] <= loaded["auc"] <= loaded["auc_ci_high"]
        assert loaded["collapsed"] is False and loaded["n_events"] == 256
    rows = auc_table_rows(metrics, LABELS)
    write_auc_table(rows, tmp_path / "auc.csv", tmp_path / "auc.md")
    csv = (tmp_path / "auc.csv").read_text().splitlines()
    assert csv[0].startswith("feature_set,model,auc,auc_ci_low,auc_ci_high,authors_auc")
    assert len(csv) == 3
    assert "0.9752" in (tmp_path / "auc.md").read_text()  # the tutorial's et_and_ht_and_hl


BACKEND_SCRIPT = textwrap.dedent(
    """
    import numpy as np
    from leptonid.synthetic import synthetic_split
    from leptonid.training import TrainConfig, configure_runtime, predict_scores, train_model
    import keras, sys, tempfile, os
    print("device:", configure_runtime(1))
    data = {}
    for name, n, seed in (("train", 256, 1), ("valid", 128, 2)):
        data[name] = synthetic_split(n, np.random.default_rng(seed))
    config = TrainConfig(conv_blocks=1, filters=2, dense_layers=1, hidden_units=4, epochs=1, batch_size=64)
    path = os.path.join(tempfile.mkdtemp(), "m.keras")
    result = train_model(data["train"], data["valid"], "et", config, path)
    scores = predict_scores(result.model, data["valid"], "et")
    print("backend:", keras.backend.backend(), "scores:", scores.shape[0], bool(np.isfinite(scores).all()))
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_tiny_training_runs_on_each_backend(backend):
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1",
           "TF_CPP_MIN_LOG_LEVEL": "3", "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run(
        [sys.executable, "-c", BACKEND_SCRIPT], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"backend: {backend} scores: 128 True" in proc.stdout
    assert "device: CPU" in proc.stdout or "device: GPU" in proc.stdout
