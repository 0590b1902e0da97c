"""The data contract: one test per kind of bad input, the inventory, and the CLI."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from leptonid.cli import main
from leptonid.contract import DataContractError, check_file, inventory_markdown, validate_file


def problems_of(path: Path) -> list[str]:
    return [str(p) for p in check_file(path)[0]]


def edit(path: Path, name: str, data: np.ndarray | None) -> None:
    """Replace (or, with None, delete) dataset ``name``."""
    with h5py.File(path, "a") as f:
        del f[name]
        if data is not None:
            f.create_dataset(name, data=data)


def test_valid_file_has_no_problems(tiny_h5: Path) -> None:
    assert problems_of(tiny_h5) == []
    stats = validate_file(tiny_h5)
    assert stats["train"].n_events == 40
    assert stats["train"].n_signal == 20


def test_missing_file(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path / "nope.h5")
    assert "nope.h5" in problem and "no such file" in problem


def test_not_hdf5(tmp_path: Path) -> None:
    path = tmp_path / "text.h5"
    path.write_text("hello")
    (problem,) = problems_of(path)
    assert "not a readable HDF5 file" in problem


def test_missing_group(tiny_h5: Path) -> None:
    with h5py.File(tiny_h5, "a") as f:
        del f["mass"]
    problems = problems_of(tiny_h5)
    assert problems == [f"{tiny_h5}: mass: missing group"]


def test_missing_dataset(tiny_h5: Path) -> None:
    edit(tiny_h5, "ht/valid", None)
    assert problems_of(tiny_h5) == [f"{tiny_h5}: ht/valid: missing dataset"]


def test_wrong_shape(tiny_h5: Path) -> None:
    edit(tiny_h5, "et/train", np.zeros((40, 32, 32, 1), np.float32))
    (problem,) = problems_of(tiny_h5)
    assert "et/train" in problem and "shape (40, 32, 32, 1), expected (N, 31, 31, 1)" in problem


def test_wrong_feature_dtype(tiny_h5: Path) -> None:
    edit(tiny_h5, "hl/test", np.zeros((20, 7), np.int32))
    (problem,) = problems_of(tiny_h5)
    assert "hl/test" in problem and "dtype int32, expected a floating-point type" in problem


def test_string_labels_rejected(tiny_h5: Path) -> None:
    edit(tiny_h5, "y/test", np.array([b"e"] * 20))
    assert any("y/test" in p and "expected integer or float labels" in p for p in problems_of(tiny_h5))


@pytest.mark.parametrize("dtype", ["int64", "float32", "float64", "uint8"])
def test_integer_and_float_labels_accepted(tiny_h5: Path, dtype: str) -> None:
    with h5py.File(tiny_h5, "r") as f:
        y = f["y/train"][...]
    edit(tiny_h5, "y/train", y.astype(dtype))
    assert problems_of(tiny_h5) == []


def test_unequal_n_within_split(tiny_h5: Path) -> None:
    edit(tiny_h5, "mass/valid", np.ones((19, 1), np.float32))
    (problem,) = problems_of(tiny_h5)
    assert "*/valid" in problem and "mass=19" in problem and "y=20" in problem


def test_non_finite_values(tiny_h5: Path) -> None:
    with h5py.File(tiny_h5, "a") as f:
        f["et/train"][7, 3, 4, 0] = np.nan
        f["hl/train"][9, 2] = np.inf
    problems = problems_of(tiny_h5)
    assert any("et/train" in p and "1 events with non-finite values" in p and "row 7" in p for p in problems)
    assert any("hl/train" in p and "row 9" in p for p in problems)


def test_labels_outside_zero_one(tiny_h5: Path) -> None:
    with h5py.File(tiny_h5, "a") as f:
        f["y/valid"][3] = 2
    (problem,) = problems_of(tiny_h5)
    assert "y/valid" in problem and "labels not in {0, 1}" in problem and "row 3" in problem


def test_empty_split(tiny_h5: Path) -> None:
    for group, shape in {"et": (31, 31, 1), "ht": (32, 32, 1), "hl": (7,), "mass": (1,)}.items():
        edit(tiny_h5, f"{group}/test", np.zeros((0, *shape), np.float32))
    edit(tiny_h5, "y/test", np.zeros((0,), np.int8))
    problems = problems_of(tiny_h5)
    assert f"{tiny_h5}: y/test: empty split (0 events)" in problems


def test_one_class_only(tiny_h5: Path) -> None:
    edit(tiny_h5, "y/train", np.ones(40, np.int8))
    (problem,) = problems_of(tiny_h5)
    assert "y/train" in problem and "no background (y=0)" in problem


def test_validate_file_raises_with_all_problems(tiny_h5: Path) -> None:
    edit(tiny_h5, "y/train", np.ones(40, np.int8))
    edit(tiny_h5, "ht/test", None)
    with pytest.raises(DataContractError) as err:
        validate_file(tiny_h5)
    assert len(err.value.problems) == 2
    assert "ht/test: missing dataset" in str(err.value)


def test_inventory_lists_tree_balance_and_ranges(tiny_h5: Path) -> None:
    text = inventory_markdown(tiny_h5)
    assert "honours the data contract" in text
    assert "et/" in text and "train  shape=(40, 31, 31, 1) dtype=float32" in text
    assert "| train | 40 | 20 | 20 | 0.500 |" in text
    with h5py.File(tiny_h5) as f:
        r_had = f["hl/train"][:, 0].astype(np.float64)
    assert f"| `r_had` | {r_had.min():.4g} / {r_had.mean():.4g} / {r_had.max():.4g}" in text


def test_cli_validate_and_inspect(tiny_h5: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tiny_h5)]) == 0
    assert main(["inspect", str(tiny_h5)]) == 0
    assert "## Class balance" in capsys.readouterr().out
    edit(tiny_h5, "y/train", np.full(40, 3, np.int8))
    assert main(["validate", str(tiny_h5)]) == 1
    assert "labels not in {0, 1}" in capsys.readouterr().err
