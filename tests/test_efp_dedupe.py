"""De-duplication of EFP columns on hand-built tables with known duplicates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leptonid.efp.dedupe import canonical_order, dedupe_columns, dedupe_markdown, unique_columns, write_unique_csv


def build_table(n_rows: int = 500, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.exponential(1.0, n_rows)
    b = rng.normal(0, 1, n_rows)
    return {
        "EFP_2_1_0_k_1_b_1": a,
        "EFP_2_2_0_k_1_b_0.5": 3.0 * a + 7.0,  # same after min-max normalisation
        "EFP_3_2_0_k_0.5_b_1": a * (1 + 1e-9),  # equal within tolerance
        "EFP_3_3_0_k_1_b_2": b,
        "EFP_3_2_1_k_2_b_2": -b,  # reversed: NOT a duplicate
        "EFP_1_0_0_k_1_b_1": np.full(n_rows, 1.0) + 1e-15 * rng.random(n_rows),  # constant
        "EFP_4_3_0_k_-1_b_1": np.where(np.arange(n_rows) == 3, np.inf, a),  # non-finite
        "EFP_4_3_1_k_-1_b_1": np.sqrt(a),  # monotone but not linear: kept
        "EFP_2_1_0_k_2_b_1": b + 1e-3 * rng.random(n_rows),  # close but outside tolerance
    }


def test_groups_and_reasons():
    table = build_table()
    res = dedupe_columns(list(table), table.__getitem__, tol=1e-6, image="et")
    assert res.nonfinite == ["EFP_4_3_0_k_-1_b_1"]
    assert res.constant == ["EFP_1_0_0_k_1_b_1"]
    assert sorted(res.stands_for["EFP_2_1_0_k_1_b_1"]) == ["EFP_2_2_0_k_1_b_0.5", "EFP_3_2_0_k_0.5_b_1"]
    assert "EFP_3_2_1_k_2_b_2" in res.kept and "EFP_4_3_1_k_-1_b_1" in res.kept
    assert "EFP_2_1_0_k_2_b_1" in res.kept
    assert res.n_before == len(table)
    assert len(res.kept) == len(table) - 4


def test_canonical_member_is_kept_whatever_the_input_order():
    table = build_table(seed=1)
    names = list(reversed(list(table)))
    res = dedupe_columns(names, table.__getitem__, tol=1e-6)
    assert "EFP_2_1_0_k_1_b_1" in res.kept  # fewest edges wins over 2_2_0 and 3_2_0
    assert canonical_order(["EFP_3_2_0_k_1_b_1", "EFP_2_2_0_k_1_b_1", "EFP_2_2_0_k_0.5_b_2"]) == [
        "EFP_2_2_0_k_0.5_b_2",
        "EFP_2_2_0_k_1_b_1",
        "EFP_3_2_0_k_1_b_1",
    ]


def test_many_columns_with_planted_duplicates():
    rng = np.random.default_rng(2)
    base = rng.random((2000, 300))
    table = {f"EFP_5_{j % 7 + 1}_{j}_k_1_b_1": base[:, j] for j in range(300)}
    planted = {}
    for j in range(0, 300, 10):
        name = f"EFP_9_9_{j}_k_2_b_2"
        table[name] = 2.5 * base[:, j] - 1
        planted[name] = f"EFP_5_{j % 7 + 1}_{j}_k_1_b_1"
    res = dedupe_columns(list(table), table.__getitem__, tol=1e-9)
    assert len(res.kept) == 300
    for dup, rep in planted.items():
        assert dup in res.stands_for[rep]


def test_outputs(tmp_path):
    table = build_table()
    res = dedupe_columns(list(table), table.__getitem__, tol=1e-6, image="et")
    other = dedupe_columns(["EFP_2_1_0_k_1_b_1"], lambda n: np.arange(3.0), image="ht")
    write_unique_csv([res, other], tmp_path / "unique.csv")
    assert unique_columns(tmp_path / "unique.csv", "et") == res.kept  # file order, this image only
    assert unique_columns(tmp_path / "unique.csv", "ht") == ["EFP_2_1_0_k_1_b_1"]
    df = pd.read_csv(tmp_path / "unique.csv", keep_default_na=False)
    df = df[df.image == "et"]
    assert list(df.columns) == ["efp", "image", "n", "d", "k", "kappa", "beta", "n_duplicates", "duplicates"]
    row = df.set_index("efp").loc["EFP_2_1_0_k_1_b_1"]
    assert (row.n, row.d, row.k, row.kappa, row.beta, row.n_duplicates) == (2, 1, 0, 1.0, 1.0, 2)
    md = dedupe_markdown([res], 1e-6)
    assert f"| et | 500 | {len(table)} | 1 | 1 | 2 | {len(table) - 4} |" in md


def test_bad_input():
    with pytest.raises(ValueError, match="tolerance"):
        dedupe_columns(["EFP_1_0_0_k_1_b_1"], lambda n: np.ones(3), tol=-1)
    cols = {"EFP_1_0_0_k_1_b_1": np.arange(3.0), "EFP_2_1_0_k_1_b_1": np.arange(4.0)}
    with pytest.raises(ValueError, match="rows"):
        dedupe_columns(list(cols), cols.__getitem__)
