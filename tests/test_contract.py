"""The data contract: valid files, accepted label types, the inventory and the CLI.

One test per kind of bad file is in tests/test_bad_inputs.py (the corpus of tests/bad_inputs.py).
"""

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


def test_wrong_feature_dtype(tiny_h5: Path) -> None:
    edit(tiny_h5, "hl/test", np.zeros((20, 7), np.int32))
    (problem,) = problems_of(tiny_h5)
    assert "hl/test" in problem and "dtype int32, expected a floating-point type" in problem


@pytest.mark.parametrize("dtype", ["int64", "float32", "float64", "uint8"])
def test_integer_and_float_labels_accepted(tiny_h5: Path, dtype: str) -> None:
    with h5py.File(tiny_h5, "r") as f:
        y = f["y/train"][...]
    edit(tiny_h5, "y/train", y.astype(dtype))
    assert problems_of(tiny_h5) == []


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
