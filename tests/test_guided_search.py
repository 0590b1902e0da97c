"""The guided search loop with planted EFPs and fake fitters, its test-split guard, and the Keras fitter."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leptonid.efp.graphs import parse_column
from leptonid.search.guided import (
    PASS_COLUMNS,
    Candidate,
    EfpTransform,
    Features,
    FitInputs,
    FitOutput,
    SearchConfig,
    SplitData,
    SplitStore,
    PrematureTestReadError,
    candidate_list,
    keras_fitter,
    run_guided_search,
)

PLANTED = "EFP_2_1_0_k_1_b_0.5"
ET_NAMES = [PLANTED, "EFP_1_0_0_k_2_b_0.5", "EFP_3_2_0_k_1_b_1", "EFP_4_3_0_k_0_b_2"]
HT_NAMES = ["EFP_2_1_0_k_-1_b_2", "EFP_3_3_0_k_0.5_b_1"]


def make_split(n: int, seed: int) -> SplitData:
    """HL sees h; the planted EFP is exp(z); the reference 'CNN' sees h + z."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.5).astype(int)
    h = rng.standard_normal(n) + 1.0 * y
    z = rng.standard_normal(n) + 1.2 * y
    hl = np.column_stack([h, rng.standard_normal(n), rng.standard_normal(n)])
    et = np.column_stack(
        [
            np.exp(2 * z),  # planted: spans decades
            rng.standard_normal(n),
            h + 0.5 * rng.standard_normal(n),  # redundant with HL
            rng.exponential(size=n),
        ]
    )
    ht = rng.standard_normal((n, 2))
    return SplitData(
        y=y,
        hl=hl,
        reference=h + z,
        efps={"et": (ET_NAMES, et), "ht": (HT_NAMES, ht)},
        mass=rng.standard_normal(n),
        event=np.arange(n) + 10_000 * seed,
    )


def make_store(n: int = 1500) -> SplitStore:
    return SplitStore({"train": make_split(n, 1), "valid": make_split(n, 2), "test": make_split(n, 3)})


def lda_fitter(inputs: FitInputs) -> FitOutput:
    """Fisher linear discriminant on [base, transformed EFPs], fitted on train."""
    transform = EfpTransform.fit(inputs.train.efps)

    def design(f: Features) -> np.ndarray:
        return np.column_stack([f.base, transform.apply(f.efps).astype(np.float64)])

    x, y = design(inputs.train), inputs.train.y.astype(bool)
    cov = np.cov(x[y].T) + np.cov(x[~y].T) + 1e-9 * np.eye(x.shape[1])
    w = np.linalg.solve(cov, x[y].mean(axis=0) - x[~y].mean(axis=0))
    return FitOutput(predict=lambda f: design(f) @ w, handle=w)


FAST = dict(n_signal_pairs=400, n_background_pairs=400, bootstrap_resamples=20)


def test_planted_efp_is_picked_first_and_closes_the_gap():
    store = make_store()
    result = run_guided_search(store, lda_fitter, SearchConfig(max_passes=2, **FAST))
    passes = result.passes
    assert list(passes.columns) == list(PASS_COLUMNS)
    assert passes["pass"].tolist()[:2] == [0, 1]
    first = passes.iloc[1]
    assert (first["image"], first["efp"]) == ("et", PLANTED)
    assert (first["n"], first["d"], first["k"], first["kappa"], first["beta"]) == (2, 1, 0, 1.0, 0.5)
    assert first["ado_on_disordered_pairs"] > 0.7
    assert 0 < first["n_disordered_pairs"] < first["n_grid_pairs"] == 400 * 400
    # the base (HL) misses z; with the planted EFP the AUC jumps towards the reference
    assert passes.iloc[0]["auc"] < result.reference_auc - 0.03
    assert first["auc"] > passes.iloc[0]["auc"] + 0.03
    assert first["ado_with_reference"] > passes.iloc[0]["ado_with_reference"]
    assert passes["test_auc"].notna().all() and passes["auc_ci_low"].le(passes["auc"]).all()
    assert result.chosen[0] == Candidate("et", PLANTED)


def test_honest_protocol_reads_test_only_in_the_final_step():
    store = make_store(600)
    result = run_guided_search(store, lda_fitter, SearchConfig(max_passes=1, **FAST))
    assert store.splits_read("search") == {"train", "valid"}
    assert store.splits_read("final") == {"test"}
    assert [r for r in result.reads if r[0] == "test"] == [("test", "final")]
    assert (result.passes["selection_split"] == "valid").all()
    # the final arrays are on test
    assert result.test["y"].size == 600 and set(result.test["scores"]) == set(result.passes["pass"])


def test_premature_test_read_raises():
    store = make_store(300)
    with pytest.raises(PrematureTestReadError):
        store.get("test")

    def sneaky(inputs: FitInputs) -> FitOutput:
        store.get("test")  # a fitter peeking at test during the search
        return lda_fitter(inputs)

    with pytest.raises(PrematureTestReadError):
        run_guided_search(store, sneaky, SearchConfig(max_passes=1, **FAST))


def test_test_split_is_not_loaded_before_finalize():
    loaded: list[str] = []

    def loader(name: str, seed: int):
        def load() -> SplitData:
            loaded.append(name)
            return make_split(400, seed)

        return load

    store = SplitStore({s: loader(s, i + 1) for i, s in enumerate(("train", "valid", "test"))})
    run_guided_search(store, lda_fitter, SearchConfig(max_passes=1, **FAST))
    assert loaded == ["train", "valid", "test"]


def test_authors_protocol_selects_on_test():
    store = make_store(600)
    result = run_guided_search(store, lda_fitter, SearchConfig(max_passes=1, protocol="authors", **FAST))
    assert "test" in store.splits_read("search")
    assert (result.passes["selection_split"] == "test").all()
    # on the selection split = test, the per-pass AUC is the test AUC
    np.testing.assert_allclose(result.passes["auc"], result.passes["test_auc"])


def planted_score_fitter(sign: float):
    """Score = sign * (last chosen EFP), or HL column 0 with no EFP."""

    def fit(inputs: FitInputs) -> FitOutput:
        def predict(f: Features) -> np.ndarray:
            return sign * np.log(f.efps[:, -1]) if f.efps.shape[1] else f.base[:, 0]

        return FitOutput(predict=predict)

    return fit


def reference_as_efp(n: int, seed: int) -> SplitData:
    data = make_split(n, seed)
    names, values = data.efps["et"]
    values = values.copy()
    values[:, 0] = np.exp(data.reference)  # the planted EFP IS the reference's ordering
    return SplitData(y=data.y, hl=data.hl, reference=data.reference, efps={"et": (names, values)})


def reference_store(n: int = 500) -> SplitStore:
    return SplitStore({s: reference_as_efp(n, i + 1) for i, s in enumerate(("train", "valid", "test"))})


def test_stops_when_auc_reaches_the_reference():
    result = run_guided_search(
        reference_store(), planted_score_fitter(+1.0), SearchConfig(max_passes=5, images=("et",), **FAST)
    )
    assert len(result.passes) == 2
    assert "reached the reference" in result.stop_reason
    assert result.passes.iloc[1]["auc"] == pytest.approx(result.reference_auc)


def test_stops_when_ado_reaches_one():
    # the reversed reference: ADO 1 after the fold, AUC far below the reference's
    result = run_guided_search(
        reference_store(), planted_score_fitter(-1.0), SearchConfig(max_passes=5, images=("et",), **FAST)
    )
    assert len(result.passes) == 2
    assert result.stop_reason == "ADO with the reference reached 1"
    assert result.passes.iloc[1]["ado_with_reference"] == pytest.approx(1.0)


def test_stops_after_max_passes():
    def useless(inputs: FitInputs) -> FitOutput:
        return FitOutput(predict=lambda f: f.base[:, 0])

    result = run_guided_search(make_store(400), useless, SearchConfig(max_passes=3, **FAST))
    assert result.passes["pass"].tolist() == [0, 1, 2, 3]
    assert result.stop_reason.startswith("max_passes")
    assert result.passes["efp"].iloc[1:].is_unique  # never the same EFP twice


def test_irc_safe_only_and_images_filter_candidates():
    data = make_split(50, 1)
    cands = candidate_list(data, SearchConfig(irc_safe_only=True))
    assert all(c.spec()[3] == 1.0 for c in cands) and {c.column for c in cands} == {PLANTED, "EFP_3_2_0_k_1_b_1"}
    assert {c.image for c in candidate_list(data, SearchConfig(images=("ht",)))} == {"ht"}
    result = run_guided_search(make_store(400), lda_fitter, SearchConfig(max_passes=1, base="hl_and_mass", **FAST))
    assert len(result.passes) == 2


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(protocol="sneaky"), "protocol"),
        (dict(base="cnn"), "base"),
        (dict(max_passes=0), "max_passes"),
        (dict(images=("xt",)), "images"),
        (dict(images="et"), "images"),
        (dict(n_signal_pairs=0), "n_signal_pairs"),
    ],
)
def test_config_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SearchConfig(**kwargs)


def test_config_from_mapping_and_names():
    assert SearchConfig.from_mapping({"images": ["et"], "max_passes": 2}).images == ("et",)
    with pytest.raises(ValueError, match="unknown guided-search settings"):
        SearchConfig.from_mapping({"passes": 2})
    assert parse_column("EFP_5_4_0_k_1_b_2") == (5, 4, 0, 1.0, 2.0)
    assert parse_column("EFP_2_1_0_k_-1_b_0.5") == (2, 1, 0, -1.0, 0.5)
    with pytest.raises(ValueError, match="not an EFP column"):
        parse_column("et_EFP_2_1_0")
    with pytest.raises(ValueError, match="rows differ"):
        SplitData(y=[0, 1], hl=np.zeros((3, 2)), reference=[0, 1], efps={})
    with pytest.raises(ValueError, match="needs splits"):
        SplitStore({"train": make_split(10, 1)})


def test_efp_transform_logs_wide_columns_and_standardises():
    rng = np.random.default_rng(0)
    x = np.column_stack([np.exp(rng.standard_normal(1000) * 4), rng.standard_normal(1000), np.ones(1000)])
    t = EfpTransform.fit(x)
    assert t.log_columns.tolist() == [True, False, False]
    z = t.apply(x)
    np.testing.assert_allclose(z[:, :2].mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(z[:, :2].std(axis=0), 1, atol=1e-4)
    assert np.isfinite(t.apply(np.zeros((2, 3)))).all()  # below the train range stays finite


def test_keras_fitter_runs_on_tiny_data(tmp_path):
    sizes = (("train", 300), ("valid", 200), ("test", 200))
    store = SplitStore({s: make_split(n, i + 1) for i, (s, n) in enumerate(sizes)})
    fitter = keras_fitter(tmp_path, {"epochs": 2, "batch_size": 64})
    result = run_guided_search(store, fitter, SearchConfig(max_passes=1, images=("et",), **FAST))
    assert len(result.passes) == 2
    assert np.isfinite(result.passes[["auc", "test_auc", "ado_with_reference"]].to_numpy(float)).all()
    assert (tmp_path / "pass_0.keras").exists() and (tmp_path / "pass_1.keras").exists()
    handle = result.models[1]
    assert handle["train_result"].model.count_params() > 0
    assert isinstance(result.passes, pd.DataFrame)


def test_efp_loaders_read_only_the_chosen_columns_of_train_and_test():
    calls: dict[str, list[list[str]]] = {"train": [], "valid": [], "test": []}

    def lazy(split: str, seed: int) -> SplitData:
        data = make_split(500, seed)
        efps = {}
        for image, (names, values) in data.efps.items():
            def load(cols, names=names, values=values, split=split):
                calls[split].append(list(cols))
                return values[:, [list(names).index(c) for c in cols]]

            efps[image] = (names, load)
        return SplitData(y=data.y, hl=data.hl, reference=data.reference, efps=efps)

    store = SplitStore({s: lazy(s, i + 1) for i, s in enumerate(("train", "valid", "test"))})
    result = run_guided_search(store, lda_fitter, SearchConfig(max_passes=2, **FAST))
    assert result.chosen[0] == Candidate("et", PLANTED)
    assert max(len(c) for c in calls["train"] + calls["test"]) <= 2  # only chosen columns
    assert max(len(c) for c in calls["valid"]) == len(ET_NAMES)  # a whole image for the ADOs
    eager = run_guided_search(make_store(500), lda_fitter, SearchConfig(max_passes=2, **FAST))
    assert eager.chosen[0] == result.chosen[0]
