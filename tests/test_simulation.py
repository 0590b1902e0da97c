"""Simulation: seeds, ET matching, splits, scaling, and a tiny end-to-end run through the data contract."""

import hashlib
import json

import h5py
import numpy as np
import pytest

from leptonid import layout
from leptonid.simulation import chunk, writer
from leptonid.simulation.generator import pythia_settings


def test_chunk_seeds_are_independent_and_stable():
    a = chunk.chunk_seed(7, "signal", 0).generate_state(4)
    assert np.array_equal(a, chunk.chunk_seed(7, "signal", 0).generate_state(4))
    others = [chunk.chunk_seed(7, "signal", 1), chunk.chunk_seed(7, "background", 0), chunk.chunk_seed(8, "signal", 0)]
    for s in others:
        assert not np.array_equal(a, s.generate_state(4))
    with pytest.raises(ValueError, match="class"):
        chunk.chunk_seed(7, "muon", 0)


def test_chunk_sizes_add_up():
    sizes = [chunk.chunk_size(1000, 1.1, 3, i) for i in range(3)]
    assert sum(sizes) == 1100 and max(sizes) - min(sizes) <= 1
    with pytest.raises(ValueError):
        chunk.chunk_size(10, 1.0, 2, 2)


def test_pythia_settings_reject_bad_input():
    with pytest.raises(ValueError, match="process"):
        pythia_settings("ttbar", 1, 20.0)
    with pytest.raises(ValueError, match="seed"):
        pythia_settings("zee", 0, 20.0)
    assert "HardQCD:hardbbbar = on" in pythia_settings("heavy_flavour", 5, 20.0)


def test_config_rejects_unknown_keys():
    with pytest.raises(ValueError, match="unknown simulation settings.*pt_hat_max"):
        chunk.config_from_mapping({"pt_hat_max": 30.0})
    # merge-only keys belong to the section but not to a chunk
    assert chunk.chunk_settings({"split": {}, "et_bin_width": 1.0, "seed": 3}) == {"seed": 3}


def test_config_rejects_unknown_calorimeter_key():
    with pytest.raises(ValueError, match="calorimeter"):
        chunk.config_from_mapping({"calorimeter": {"magnet": 3}})
    assert chunk.config_from_mapping({"calorimeter": {"b_field": 3.8}}).calorimeter.b_field == 3.8


def test_match_et_gives_equal_binned_spectra():
    rng = np.random.default_rng(0)
    et_s = rng.uniform(20, 60, 3000)
    et_b = 20 + rng.exponential(8, 2000)
    bins = np.arange(20, 61, 1.0)
    i_s, i_b = writer.match_et(et_s, et_b, bins, 10**6, rng)
    assert i_s.size == i_b.size > 0
    np.testing.assert_array_equal(np.histogram(et_s[i_s], bins)[0], np.histogram(et_b[i_b], bins)[0])
    assert len(np.unique(i_s)) == i_s.size
    j_s, j_b = writer.match_et(et_s, et_b, bins, 100, rng)
    assert j_s.size == j_b.size == 100


def test_split_sizes_and_bad_fractions():
    assert writer.split_sizes(101, {"train": 0.7, "valid": 0.15, "test": 0.15}) == {
        "train": 70,
        "valid": 15,
        "test": 16,
    }
    with pytest.raises(ValueError, match="sum to 1"):
        writer.split_sizes(10, {"train": 0.7, "valid": 0.2, "test": 0.2})


def test_scaling_is_fitted_on_train_only():
    rng = np.random.default_rng(1)
    train = {
        "et": rng.exponential(1, (50, 31, 31, 1)),
        "ht": rng.exponential(1, (50, 32, 32, 1)),
        "hl": rng.normal(3, 2, (50, 7)),
        "mass": rng.normal(5, 1, (50, 1)),
        "y": np.ones(50),
    }
    sc = writer.fit_scaling(train)
    out = writer.apply_scaling(train, sc)
    np.testing.assert_allclose(out["hl"].mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(out["hl"].std(axis=0), 1, atol=1e-4)
    assert abs(float(out["et"].mean())) < 1e-4
    other = {k: v + 10 for k, v in train.items()}
    assert np.all(writer.apply_scaling(other, sc)["hl"].mean(axis=0) > 1)


TINY = {
    "n_per_class": 100,
    "n_chunks": 1,
    "seed": 11,
    "signal_oversample": 2.0,
    "background_oversample": 1.1,
    "heavy_flavour_fraction": 0.8,
}


@pytest.fixture(scope="module")
def tiny_sample(tmp_path_factory):
    d = tmp_path_factory.mktemp("sim")
    for cls in chunk.CLASSES:
        chunk.run_chunk(cls, 0, TINY, str(d / f"{cls}_0.h5"), str(d / f"{cls}_0.json"))
    args = dict(n_per_class=100, fractions={"train": 0.6, "valid": 0.2, "test": 0.2}, et_bin_width=2.0, seed=11)
    chunks = [d / "signal_0.h5"], [d / "background_0.h5"]
    writer.merge(*chunks, d / "data.h5", d / "unscaled.h5", truth_path=d / "truth.feather", **args)
    writer.merge(*chunks, d / "data2.h5", d / "unscaled2.h5", truth_path=d / "truth2.feather", **args)
    return d


def test_tiny_simulation_layout_and_balance(tiny_sample):
    with h5py.File(tiny_sample / "unscaled.h5", "r") as f:
        for g, shape in layout.FEATURE_SHAPES.items():
            for s in layout.SPLITS:
                assert f[g][s].shape[1:] == shape
                assert f[g][s].dtype == np.float32
        y = np.concatenate([f["y"][s][...] for s in layout.SPLITS])
        et = np.concatenate([f["et"][s][...] for s in layout.SPLITS])[..., 0]
        hl = np.concatenate([f["hl"][s][...] for s in layout.SPLITS])
        n_train = f["y"]["train"].shape[0]
    assert y.sum() == (1 - y).sum() > 50  # balanced, most of the 100 per class survive the ET matching
    assert n_train == int(0.6 * y.size)
    cand_et = et[:, 12:19, 12:19].sum(axis=(1, 2))
    assert cand_et.min() > 14.9 and cand_et.max() < 60.1
    bins = np.arange(14, 62, 2.0)
    np.testing.assert_array_equal(np.histogram(cand_et[y == 1], bins)[0], np.histogram(cand_et[y == 0], bins)[0])
    # physics sanity: electrons are narrower and less hadronic than fakes
    assert np.median(hl[y == 1, 0]) < np.median(hl[y == 0, 0])
    assert np.median(hl[y == 1, 2]) > np.median(hl[y == 0, 2])
    summary = json.loads((tiny_sample / "background_0.json").read_text())
    assert set(summary["processes"]) == {"qcd", "heavy_flavour"}


def test_tiny_simulation_is_byte_reproducible(tiny_sample):
    digest = lambda p: hashlib.sha256(p.read_bytes()).hexdigest()  # noqa: E731
    assert digest(tiny_sample / "data.h5") == digest(tiny_sample / "data2.h5")
    assert digest(tiny_sample / "unscaled.h5") == digest(tiny_sample / "unscaled2.h5")
    assert digest(tiny_sample / "truth.feather") == digest(tiny_sample / "truth2.feather")


def test_tiny_chunk_regenerates_identically(tiny_sample, tmp_path):
    params = {**TINY, "n_per_class": 20}
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    chunk.run_chunk("signal", 0, params, str(a), str(tmp_path / "a.json"))
    chunk.run_chunk("signal", 0, params, str(b), str(tmp_path / "b.json"))
    assert a.read_bytes() == b.read_bytes()


def test_tiny_simulation_passes_data_contract(tiny_sample):
    from leptonid import contract

    for name in ("data.h5", "unscaled.h5"):
        problems, _ = contract.check_file(tiny_sample / name)
        assert problems == [], problems
    with h5py.File(tiny_sample / "data.h5", "r") as f:
        hl = f["hl"]["train"][...]
    np.testing.assert_allclose(hl.mean(axis=0), 0, atol=1e-4)


def test_origins_follow_copies_to_the_z():
    """An electron radiating photons after Z -> e e keeps origin 23; a photon conversion's electron has 22."""
    from leptonid.simulation.generator import origins

    # event 0: 0 system, 1 Z, 2 e- (from Z), 3 e- copy (after FSR), 4 gamma (FSR), 5 e- from 4, 6 e+ from 4
    # event 1: 0 system, 1 B0, 2 e+ from the B, 3 pi- from the B
    pid = np.array([90, 23, 11, 11, 22, 11, -11, 90, 511, -11, -211])
    mother1 = np.array([0, 0, 1, 2, 2, 4, 4, 0, 0, 1, 1])
    got = origins(pid, mother1, np.array([7, 4]))
    assert got.tolist() == [0, 0, 23, 23, 11, 22, 22, 0, 0, 511, 511]
    assert origins(pid, mother1, np.array([7, 4]), which=np.array([3, 6, 9])).tolist() == [23, 22, 511]


def test_truth_process_marks_background_conversion_legs_only():
    from types import SimpleNamespace

    # seeds: prompt e-, conversion e+, displaced pi+ (not a conversion leg), conversion e-
    particles = SimpleNamespace(r0=np.array([0.0, 0.4, 0.3, 0.9]), pid=np.array([11, -11, 211, 11]))
    seeds = np.array([0, 1, 2, 3])

    def names(codes):
        return [chunk.PROCESS_NAMES[c] for c in codes]

    assert names(chunk.truth_process(particles, seeds, "qcd")) == ["qcd", "conversion", "qcd", "conversion"]
    assert names(chunk.truth_process(particles, seeds[[2, 3]], "heavy_flavour")) == ["heavy_flavour", "conversion"]
    assert names(chunk.truth_process(particles, seeds, "zee")) == ["zee"] * 4
    # codes of the generator's processes are stable (chunk files and truth.feather store codes)
    assert chunk.PROCESS_CODES == {"zee": 0, "qcd": 1, "heavy_flavour": 2, "conversion": 3}
    assert set(chunk.gen.PROCESSES) <= set(chunk.PROCESS_NAMES)  # every generator process has a code


def test_truth_lines_up_with_data_row_for_row(tiny_sample):
    import pandas as pd

    from leptonid.features import window_sum

    truth = pd.read_feather(tiny_sample / "truth.feather")
    assert tuple(truth.columns) == writer.TRUTH_COLUMNS
    assert list(truth["split"].cat.categories) == list(layout.SPLITS)
    assert set(truth["process"].cat.categories) == set(chunk.PROCESS_NAMES)
    with h5py.File(tiny_sample / "unscaled.h5", "r") as f:
        sizes = [f["y"][s].shape[0] for s in layout.SPLITS]
        y = np.concatenate([f["y"][s][...] for s in layout.SPLITS])
        cand_et = np.concatenate([window_sum(f["et"][s][..., 0], 7, 7) for s in layout.SPLITS])
    assert list(truth["split"]) == [s for s, n in zip(layout.SPLITS, sizes) for _ in range(n)]
    assert np.array_equal(truth["index"], np.concatenate([np.arange(n) for n in sizes]))
    np.testing.assert_array_equal(truth["y"], y)
    # the candidate ET recomputed from each unscaled image is the one stored with its truth
    np.testing.assert_allclose(truth["cand_et"], cand_et, rtol=1e-5)
    signal, background = truth[truth["y"] == 1], truth[truth["y"] == 0]
    assert (signal["process"] == "zee").all() and (signal["seed_pid"].abs() == 11).all()
    assert set(background["process"]) <= {"qcd", "heavy_flavour", "conversion"}
    assert (background.loc[background["process"] == "conversion", "seed_pid"].abs() == 11).all()
    # the truth is that candidate's: an electron's ECal ET measures its own pT (the 7x7 window keeps most of it)
    ratio = signal["cand_et"] / signal["true_et"]
    assert 0.8 < ratio.median() < 1.1, ratio.describe()
    assert np.corrcoef(signal["cand_et"], signal["true_et"])[0, 1] > 0.8
    assert truth["true_eta"].abs().max() <= TINY.get("eta_max", 2.4) + 1e-6
    assert truth["true_phi"].abs().max() <= np.pi + 1e-6


def test_read_truth_follows_the_predictions_event_order(tiny_sample):
    import pandas as pd

    from leptonid.results import read_truth

    truth = pd.read_feather(tiny_sample / "truth.feather")
    test = truth[truth["split"] == "test"].reset_index(drop=True)
    event = np.random.default_rng(0).permutation(len(test))
    got = read_truth(tiny_sample / "truth.feather", "test", event)
    np.testing.assert_array_equal(got["index"], event)
    np.testing.assert_array_equal(got["cand_et"], test["cand_et"].to_numpy()[event])
    assert list(got["process"].astype(str)) == list(test["process"].astype(str).to_numpy()[event])
    with pytest.raises(ValueError, match="no truth for 1 test events"):
        read_truth(tiny_sample / "truth.feather", "test", np.array([0, len(test)]))
