"""The split into per-split Feather files and the loader."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pyarrow.feather as feather
import pytest

from leptonid.contract import DataContractError
from leptonid.io import count_rows, load_split, read_metadata, sha256_of, split_to_feather
from leptonid.layout import HL_FEATURES, SPLITS


def outputs_in(directory: Path) -> dict[str, Path]:
    return {split: directory / f"{split}.feather" for split in SPLITS}


@pytest.mark.parametrize("chunk_events", [1, 7, 8192])
def test_round_trip_bit_for_bit(tiny_h5: Path, tmp_path: Path, chunk_events: int) -> None:
    outputs = outputs_in(tmp_path / "prep")
    split_to_feather(tiny_h5, outputs, chunk_events=chunk_events)
    with h5py.File(tiny_h5) as f:
        for split, path in outputs.items():
            loaded = load_split(path, ["event", "et", "ht", "hl", "mass", "y"])
            n = f[f"y/{split}"].shape[0]
            np.testing.assert_array_equal(loaded["event"], np.arange(n))
            for group in ("et", "ht", "hl", "mass", "y"):
                expected = f[f"{group}/{split}"][...]
                assert loaded[group].shape == expected.shape
                assert loaded[group].dtype == expected.dtype
                # bit for bit, in order
                assert loaded[group].tobytes() == expected.tobytes(), (split, group)


def test_columns_and_metadata(tiny_h5: Path, tmp_path: Path) -> None:
    outputs = outputs_in(tmp_path)
    split_to_feather(tiny_h5, outputs)
    table = feather.read_table(outputs["train"])
    assert table.column_names == ["event", "et", "ht", *HL_FEATURES, "mass", "y"]
    assert str(table.schema.field("et").type) == "fixed_size_list<item: float>[961]"
    assert str(table.schema.field("ht").type) == "fixed_size_list<item: float>[1024]"
    meta = read_metadata(outputs["train"])
    assert meta["leptonid.source_path"] == str(tiny_h5)
    assert meta["leptonid.source_sha256"] == sha256_of(tiny_h5)
    assert meta["leptonid.schema_version"] == "1"
    assert count_rows(outputs["valid"]) == 20
    with h5py.File(tiny_h5) as f:
        np.testing.assert_array_equal(table.column("iso_dr04").to_numpy(), f["hl/train"][:, 6])


def test_row_major_image_order(tiny_h5: Path, tmp_path: Path) -> None:
    outputs = outputs_in(tmp_path)
    split_to_feather(tiny_h5, outputs)
    flat = feather.read_table(outputs["test"]).column("et")[0].values.to_numpy()
    with h5py.File(tiny_h5) as f:
        image = f["et/test"][0, :, :, 0]
    assert flat[31 * 2 + 5] == image[2, 5]


def test_unscaled_columns(tiny_pair: tuple[Path, Path], tmp_path: Path) -> None:
    scaled, unscaled = tiny_pair
    outputs = outputs_in(tmp_path)
    split_to_feather(scaled, outputs, unscaled_source=unscaled)
    loaded = load_split(outputs["train"], ["et", "unscaled_et", "unscaled_hl", "unscaled_mass"])
    with h5py.File(unscaled) as f:
        np.testing.assert_array_equal(loaded["unscaled_et"], f["et/train"][...].astype(np.float32))
        np.testing.assert_array_equal(loaded["unscaled_hl"], f["hl/train"][...])
        assert loaded["unscaled_mass"].shape == (40, 1)
    meta = read_metadata(outputs["train"])
    assert meta["leptonid.unscaled_sha256"] == sha256_of(unscaled)


def test_unscaled_with_other_labels_is_refused(tiny_pair: tuple[Path, Path], tmp_path: Path) -> None:
    scaled, unscaled = tiny_pair
    with h5py.File(unscaled, "a") as f:
        f["y/valid"][0] = 1 - f["y/valid"][0]
    outputs = outputs_in(tmp_path)
    with pytest.raises(DataContractError, match="y/valid: labels differ"):
        split_to_feather(scaled, outputs, unscaled_source=unscaled)
    assert not any(p.exists() for p in outputs.values())
    assert list(tmp_path.glob(".*tmp*")) == []


def test_bad_file_leaves_no_output(tiny_h5: Path, tmp_path: Path) -> None:
    with h5py.File(tiny_h5, "a") as f:
        f["mass/test"][0, 0] = np.nan
    outputs = outputs_in(tmp_path / "prep")
    with pytest.raises(DataContractError, match="mass/test"):
        split_to_feather(tiny_h5, outputs)
    assert not (tmp_path / "prep").exists() or list((tmp_path / "prep").iterdir()) == []


def test_loader_reads_only_requested_columns_and_rows(tiny_h5: Path, tmp_path: Path) -> None:
    outputs = outputs_in(tmp_path)
    split_to_feather(tiny_h5, outputs)
    loaded = load_split(outputs["train"], ["r_had", "y"], rows=(5, 15))
    assert set(loaded) == {"r_had", "y"}
    with h5py.File(tiny_h5) as f:
        np.testing.assert_array_equal(loaded["r_had"], f["hl/train"][5:15, 0])
        np.testing.assert_array_equal(loaded["y"], f["y/train"][5:15])


def test_loader_unknown_feature(tiny_h5: Path, tmp_path: Path) -> None:
    outputs = outputs_in(tmp_path)
    split_to_feather(tiny_h5, outputs)
    with pytest.raises(KeyError, match="unknown feature 'efps'"):
        load_split(outputs["train"], ["efps"])
    with pytest.raises(KeyError, match="missing column"):
        load_split(outputs["train"], ["unscaled_et"])


@pytest.mark.parametrize("rows", [(0, 7), (5, 9), (3, 40), (6, 6), (38, 99), (50, 60)])
def test_loader_row_ranges_across_batches(tiny_h5: Path, tmp_path: Path, rows: tuple[int, int]) -> None:
    """Batches of 7 events: any row range equals the same slice of the whole split (empty past the end)."""
    outputs = outputs_in(tmp_path)
    split_to_feather(tiny_h5, outputs, chunk_events=7)
    whole = load_split(outputs["train"], ["event", "et", "hl", "y"])
    part = load_split(outputs["train"], ["event", "et", "hl", "y"], rows=rows)
    for name, values in whole.items():
        expected = values[rows[0] : rows[1]]
        assert part[name].shape == expected.shape and part[name].dtype == expected.dtype, name
        np.testing.assert_array_equal(part[name], expected)


def test_loader_holds_one_batch_not_the_split(tmp_path: Path) -> None:
    """Loading the images of a split keeps at most about one record batch in Arrow memory.

    The Feather file is compressed, so reading it whole would decompress the
    whole column into Arrow memory beside the numpy result (the split held
    twice: 2 x 1.6 GiB for the paper's 220,000 ECal + HCal images).
    """
    import subprocess
    import sys

    from leptonid.synthetic import write_synthetic_h5

    h5 = write_synthetic_h5(tmp_path / "data.h5", {"train": 2048, "valid": 4, "test": 4}, seed=2)
    outputs = outputs_in(tmp_path)
    split_to_feather(h5, outputs, chunk_events=128, compression="lz4")
    code = (
        "import sys, pyarrow as pa; from leptonid.io import load_split; "
        "d = load_split(sys.argv[1], ['et', 'ht']); "
        "print(d['et'].nbytes + d['ht'].nbytes, pa.default_memory_pool().max_memory())"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(outputs["train"])], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    result_bytes, arrow_peak = map(int, proc.stdout.split())
    assert result_bytes == 2048 * (961 + 1024) * 4
    # one batch of both images is 128 / 2048 of the result; allow a few batches
    assert arrow_peak < result_bytes / 4, (arrow_peak, result_bytes)
