"""The guided search's file side: split loading from workflow files, selected EFPs, the summary."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from leptonid.results import load_efp_features, write_predictions
from leptonid.search.files import load_search_split, write_selected_efps
from leptonid.search.guided import EfpTransform

COLUMNS = ["EFP_2_1_0_k_1_b_1", "EFP_2_1_0_k_2_b_1", "EFP_3_2_0_k_1_b_0.5"]


def efp_table(path: Path, event: np.ndarray, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"event": event})
    for i, name in enumerate(COLUMNS):
        frame[name] = rng.lognormal(mean=i, sigma=2.0, size=event.size)  # spans decades
    frame.to_feather(path)
    return path


@pytest.fixture
def files(tmp_path: Path) -> dict:
    rng = np.random.default_rng(0)
    out: dict = {"efp": {}}
    for split, n in (("train", 60), ("valid", 30), ("test", 30)):
        event = np.arange(n) + {"train": 0, "valid": 1000, "test": 2000}[split]
        out["efp"][split] = {
            "et": efp_table(tmp_path / f"et_{split}.feather", event, 1),
            "ht": efp_table(tmp_path / f"ht_{split}.feather", event, 2),
        }
        out[f"event_{split}"] = event
    passes = pd.DataFrame(
        {"pass": [0, 1, 2], "efp": [None, COLUMNS[2], COLUMNS[2]], "image": [None, "ht", "et"]}
    )
    out["passes"] = passes
    unique = pd.DataFrame({"efp": COLUMNS[:2] + COLUMNS[:1], "image": ["et", "et", "ht"]})
    unique.to_csv(tmp_path / "unique.csv", index=False)
    out["unique"] = tmp_path / "unique.csv"
    out["rng"] = rng
    return out


def test_selected_efps_are_the_chosen_columns_transformed_with_train_statistics(files: dict, tmp_path: Path) -> None:
    outputs = {split: tmp_path / f"selected_{split}.feather" for split in ("train", "valid", "test")}
    names = write_selected_efps(files["passes"], files["efp"], outputs)
    # the same EFP of two images stays two columns, in pass order
    assert names == [f"ht:{COLUMNS[2]}", f"et:{COLUMNS[2]}"]
    raw_train = np.column_stack(
        [pd.read_feather(files["efp"]["train"][image])[COLUMNS[2]] for image in ("ht", "et")]
    )
    transform = EfpTransform.fit(raw_train)
    assert transform.log_columns.all()  # lognormal with sigma 2 spans more than two decades
    train = pd.read_feather(outputs["train"])
    np.testing.assert_allclose(train[names].to_numpy(), transform.apply(raw_train), rtol=1e-6)
    np.testing.assert_allclose(train[names].mean(), 0.0, atol=1e-5)
    # the train rule reads them aligned to a split's events, and refuses other events
    values = load_efp_features(outputs["test"], files["event_test"])
    assert values.shape == (30, 2)
    with pytest.raises(ValueError, match="events differ"):
        load_efp_features(outputs["test"], files["event_valid"])


def test_nothing_chosen_is_an_error(files: dict, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="chose no EFP"):
        write_selected_efps(files["passes"].iloc[:1], files["efp"], {"train": tmp_path / "x.feather"})


def test_search_split_from_workflow_files(files: dict, tmp_path: Path) -> None:
    from leptonid.synthetic import write_synthetic_h5
    from leptonid.io import split_to_feather, load_split

    h5 = write_synthetic_h5(tmp_path / "data.h5", {"train": 60, "valid": 30, "test": 30}, seed=4)
    prep = {s: tmp_path / f"prep_{s}.feather" for s in ("train", "valid", "test")}
    split_to_feather(h5, prep)
    event = load_split(prep["valid"], ["event"])["event"]
    y = load_split(prep["valid"], ["y"])["y"]
    write_predictions(tmp_path / "ref.feather", event, y, np.linspace(0, 1, event.size))
    tables = {"et": efp_table(tmp_path / "et.feather", event, 3)}
    data = load_search_split(prep["valid"], tmp_path / "ref.feather", tables, files["unique"])
    assert data.hl.shape == (30, 7) and data.mass.shape == (30,)
    names, loader = data.efps["et"]
    assert names == COLUMNS[:2]  # only the de-duplicated columns of this image are candidates
    np.testing.assert_array_equal(loader([COLUMNS[1]])[:, 0], pd.read_feather(tables["et"])[COLUMNS[1]])
    # reference scores of other events are refused
    write_predictions(tmp_path / "bad.feather", event[::-1], y[::-1], np.zeros(event.size))
    with pytest.raises(ValueError, match="events differ"):
        load_search_split(prep["valid"], tmp_path / "bad.feather", tables, files["unique"])
