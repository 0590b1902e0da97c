"""Calibration checks of the simulated sample: they pass on calibrated showers and catch what they name."""

import numpy as np
import pytest

from leptonid import layout
from leptonid.simulation import validation


def sample(rng: np.random.Generator, n: int = 400) -> dict[str, dict[str, np.ndarray]]:
    """Electrons and fakes with continuous, ATLAS-like electron shower shapes and matched ET."""
    y = np.repeat([1.0, 0.0], n // 2)
    hl = np.empty((n, 7))
    hl[:, 0] = rng.exponential(0.01, n)  # r_had
    hl[:, 1] = rng.normal(0.0105, 0.001, n)  # w_eta2
    hl[:, 2] = rng.normal(0.95, 0.01, n)  # r_phi
    hl[:, 3] = rng.normal(0.95, 0.01, n)  # r_eta
    hl[:, 4:] = rng.normal(1.0, 0.2, (n, 3))
    et = np.zeros((n, 31, 31, 1))
    spectrum = rng.uniform(15, 60, n // 2)
    et[:, 15, 15, 0] = np.concatenate([spectrum, rng.permutation(spectrum)])  # matched: the same ETs
    mass = rng.gamma(4.0, 0.3, (n, 1))
    splits = {}
    bounds = np.linspace(0, n, 4).astype(int)
    order = rng.permutation(n)
    for s, a, b in zip(layout.SPLITS, bounds[:-1], bounds[1:]):
        i = order[a:b]
        splits[s] = {"y": y[i], "hl": hl[i], "et": et[i], "mass": mass[i]}
    return splits


def no_noise_of(splits, factor: float) -> dict[str, np.ndarray]:
    mass = np.concatenate([splits[s]["mass"][:, 0] for s in layout.SPLITS])
    iso = np.concatenate([splits[s]["hl"][:, 5] for s in layout.SPLITS])
    return {"mass": mass * factor, "iso_dr03": iso}


def test_calibrated_sample_passes_every_check():
    splits = sample(np.random.default_rng(0))
    checks, values = validation.calibration_checks(splits, no_noise_of(splits, 1.1))
    assert all(checks.values()), checks
    assert len(checks) == 7  # 3 medians, quantisation, balance, ET matching, mass
    assert values["electron median r_eta"] == pytest.approx(0.95, abs=0.005)


def shift(column: int, by: float):
    def apply(splits):
        for s in layout.SPLITS:
            splits[s]["hl"][:, column] += by

    return apply


def quantise(splits):
    splits["train"]["hl"][:20, 2] = 0.875  # 20 of 400 candidates share one R_phi value: 5%


def unbalance(splits):
    splits["valid"]["y"][:] = 1.0


def harder_electrons(splits):
    for s in layout.SPLITS:
        electron = splits[s]["y"] > 0.5
        splits[s]["et"][electron, 15, 15, 0] *= 1.3


@pytest.mark.parametrize(
    "break_it, name",
    [
        (shift(3, -0.05), "R_eta in [0.93, 0.97]"),
        (shift(1, 0.005), "w_eta2 in [0.009, 0.012]"),
        (shift(2, -0.1), "R_phi in [0.9, 0.98]"),
        (quantise, "no non-zero HL value"),
        (unbalance, "classes balanced"),
        (harder_electrons, "candidate ET matched"),
    ],
)
def test_each_check_catches_its_problem(break_it, name):
    splits = sample(np.random.default_rng(1))
    break_it(splits)
    checks, _ = validation.calibration_checks(splits)
    failed = [k for k, ok in checks.items() if not ok]
    assert failed and all(name in k for k in failed), failed


def test_noise_that_makes_the_mass_fails():
    splits = sample(np.random.default_rng(2))
    checks, values = validation.calibration_checks(splits, no_noise_of(splits, 0.5))  # noise doubles the mass
    failed = [k for k, ok in checks.items() if not ok]
    assert len(failed) == 1 and "mass with and without noise" in failed[0], failed
    assert values["electron median mass without noise (GeV)"] < values["electron median mass (GeV)"]
    # the pixels-beat-HL question is not a check
    assert not any("pixel" in k for k in checks)
