"""Metrics on hand-made scores with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from leptonid.metrics import (
    REFERENCE_AUC,
    auc_per_process,
    auc_table_markdown,
    auc_table_rows,
    background_efficiency_at,
    bootstrap_auc,
    evaluate_scores,
    gap_markdown,
    paired_auc_difference,
    per_process_markdown,
    rejection_at,
    roc_auc,
    roc_curve,
    thin_curve,
)

# Test-set ROC AUCs of Collado et al., "Learning to identify electrons", PRD 103,
# 116028 (2021) (authors) and of the tutorial that reproduced them, typed here
# as the independent check of leptonid.metrics.REFERENCE_AUC.
AUTHORS_AUC = {
    "et": 0.9176,
    "ht": 0.8250,
    "et_and_ht": 0.9720,
    "hl": 0.9446,
    "hl_and_mass": 0.9525,
    "hl_and_efps": 0.9708,
}
TUTORIAL_AUC = {
    "et": 0.9194,
    "ht": 0.5000,
    "et_and_ht": 0.9738,
    "et_and_ht_and_hl": 0.9752,
    "hl": 0.9472,
    "hl_and_mass": 0.9566,
    "mass": 0.7766,
}


def brute_force_auc(y, s):
    sig, bkg = s[y == 1], s[y == 0]
    diff = sig[:, None] - bkg[None, :]
    return ((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size


def test_auc_known_answers():
    y = np.array([0, 0, 1, 1])
    assert roc_auc(y, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert roc_auc(y, np.array([0.9, 0.8, 0.2, 0.1])) == 0.0
    assert roc_auc(y, np.full(4, 0.3)) == 0.5
    assert roc_auc(y, np.array([0.1, 0.4, 0.35, 0.8])) == 0.75
    assert roc_auc(y, np.array([0.1, 0.5, 0.5, 0.9])) == 0.875  # one tie counts one half


def test_auc_matches_pairwise_count_with_ties():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 500)
    s = np.round(rng.normal(y * 0.7, 1.0), 1)  # many ties
    assert roc_auc(y, s) == pytest.approx(brute_force_auc(y, s), abs=1e-12)


def test_roc_curve_ends_and_monotone():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 200)
    s = rng.normal(y, 1.0)
    fpr, tpr, thr = roc_curve(y, s)
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0) and np.all(np.diff(thr) < 0)
    assert np.trapezoid(tpr, fpr) == pytest.approx(roc_auc(y, s))


def test_rejection_at_signal_efficiencies():
    # signal at 0.5, 1.5, ..., 9.5 and background at 0, 1, ..., 9
    y = np.r_[np.ones(10), np.zeros(10)].astype(int)
    s = np.r_[np.arange(10) + 0.5, np.arange(10)]
    eff_b = background_efficiency_at(y, s, [0.5, 0.7, 0.55, 1.0])
    assert eff_b[0.5] == pytest.approx(0.4)  # cut at 5.5 keeps background 6..9
    assert eff_b[0.7] == pytest.approx(0.6)  # cut at 3.5 keeps 4..9
    assert eff_b[0.55] == pytest.approx(0.5)  # on the vertical step of the ROC
    assert eff_b[1.0] == pytest.approx(0.9)  # cut at 0.5 keeps background 1..9
    rej = rejection_at(y, s, [0.5, 0.7])
    assert rej == {0.5: pytest.approx(2.5), 0.7: pytest.approx(1 / 0.6)}
    perfect = rejection_at(np.array([0, 1]), np.array([0.0, 1.0]), [0.9])
    assert perfect[0.9] == math.inf


def test_bootstrap_interval_covers_the_truth():
    # two unit Gaussians one sigma apart: AUC = Phi(1/sqrt 2)
    truth = 0.5 * (1 + math.erf(0.5))
    rng = np.random.default_rng(11)
    trials, covered, widths = 60, 0, []
    for trial in range(trials):
        y = rng.integers(0, 2, 400)
        s = rng.normal(y, 1.0)
        low, high = bootstrap_auc(y, s, resamples=200, seed=trial)
        covered += low <= truth <= high
        widths.append(high - low)
        assert low <= roc_auc(y, s) <= high
    assert covered / trials >= 0.85  # nominal 95%
    assert 0.03 < np.mean(widths) < 0.15


def test_bootstrap_is_seeded_and_shrinks_with_more_events():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 4000)
    s = rng.normal(y, 1.0)
    assert bootstrap_auc(y, s, 100, seed=1) == bootstrap_auc(y, s, 100, seed=1)
    small = bootstrap_auc(y[:400], s[:400], 200, seed=1)
    large = bootstrap_auc(y, s, 200, seed=1)
    assert large[1] - large[0] < small[1] - small[0]


def test_evaluate_scores_is_json_ready():
    y = np.array([0, 1] * 50)
    s = np.where(y == 1, 0.9, 0.1) + np.linspace(0, 0.01, 100)
    result = evaluate_scores(y, s, [0.5, 0.9], resamples=20, seed=0)
    assert result["auc"] == 1.0 and result["n_events"] == 100 and result["n_signal"] == 50
    assert [r["value"] for r in result["rejection"]] == [None, None]  # no background passes
    import json

    json.dumps(result, allow_nan=False)


@pytest.mark.parametrize(
    ("y", "s", "message"),
    [
        ([1, 1], [0.1, 0.2], "both signal"),
        ([0, 1], [0.1, np.nan], "NaN"),
        ([0, 1, 1], [0.1, 0.2], "differ in length"),
        ([0, 2], [0.1, 0.2], "labels must be"),
    ],
)
def test_bad_input_is_named(y, s, message):
    with pytest.raises(ValueError, match=message):
        roc_auc(np.array(y), np.array(s))


def test_table_sets_our_auc_beside_the_published_ones():
    metrics = {
        "et": {"auc": 0.9, "auc_ci_low": 0.89, "auc_ci_high": 0.91, "n_events": 100, "collapsed": False},
        "ht": {"auc": 0.5, "auc_ci_low": 0.49, "auc_ci_high": 0.51, "n_events": 100, "collapsed": True},
        "mass": {"auc": 0.7, "auc_ci_low": 0.69, "auc_ci_high": 0.71, "n_events": 100},
    }
    rows = auc_table_rows(metrics)
    assert rows[0]["authors_auc"] == AUTHORS_AUC["et"] and rows[0]["tutorial_auc"] == TUTORIAL_AUC["et"]
    assert rows[0]["diff_authors"] == pytest.approx(0.9 - AUTHORS_AUC["et"])
    assert rows[0]["diff_tutorial"] == pytest.approx(0.9 - TUTORIAL_AUC["et"])
    assert rows[1]["tutorial_auc"] == TUTORIAL_AUC["ht"]  # the tutorial's dead HCal CNN
    assert rows[2]["authors_auc"] is None and rows[2]["diff_authors"] is None
    text = auc_table_markdown(rows)
    assert "**COLLAPSED**" in text.splitlines()[3] and "COLLAPSED" not in text.splitlines()[2]
    assert len([line for line in text.splitlines() if line.startswith("| `")]) == 3


def test_reference_aucs_are_the_published_ones():
    assert set(REFERENCE_AUC) == set(AUTHORS_AUC) | set(TUTORIAL_AUC)
    for fs, ref in REFERENCE_AUC.items():
        assert ref["authors"] == AUTHORS_AUC.get(fs), fs
        assert ref["tutorial"] == TUTORIAL_AUC.get(fs), fs


def test_metrics_imports_neither_collapse_nor_training():
    import subprocess
    import sys

    code = (
        "import sys, leptonid.metrics; "
        "print(sorted(m for m in sys.modules if m in ('leptonid.collapse', 'leptonid.training')))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"


def test_thin_curve_bounds_the_points_and_keeps_the_shape():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 100_000).astype(bool)
    fpr, tpr, _ = roc_curve(y, rng.normal(y * 1.5, 1.0))
    keep = thin_curve(fpr, tpr, 500)
    assert keep[0] == 0 and keep[-1] == fpr.size - 1 and np.all(np.diff(keep) > 0)
    assert keep.size <= 501 < fpr.size
    # the thinned curve, interpolated back, is within 1/200 of the full one everywhere
    assert np.max(np.abs(np.interp(fpr, fpr[keep], tpr[keep]) - tpr)) < 0.005
    np.testing.assert_array_equal(thin_curve(fpr[:10], tpr[:10], 500), np.arange(10))
    with pytest.raises(ValueError, match="max_points"):
        thin_curve(fpr, tpr, 1)


def test_auc_per_process_is_signal_against_each_background_alone():
    rng = np.random.default_rng(5)
    n_sig, n_easy, n_hard = 400, 300, 200
    y = np.r_[np.ones(n_sig), np.zeros(n_easy + n_hard + 6)].astype(int)
    process = np.array(["zee"] * n_sig + ["easy"] * n_easy + ["hard"] * n_hard + ["rare"] * 6)
    score = np.r_[rng.normal(2.0, 1, n_sig), rng.normal(-2.0, 1, n_easy), rng.normal(1.8, 1, n_hard), np.zeros(6)]
    rows = auc_per_process(y, score, process, ["easy", "hard", "rare", "none"], resamples=50, seed=1)
    by = {r["process"]: r for r in rows}
    assert [r["process"] for r in rows] == ["easy", "hard", "rare", "none"]
    for name in ("easy", "hard"):
        keep = (y == 1) | (process == name)
        assert by[name]["auc"] == pytest.approx(brute_force_auc(y[keep], score[keep]))
        assert by[name]["auc_ci_low"] < by[name]["auc"] < by[name]["auc_ci_high"]
        assert by[name]["skipped"] is None and by[name]["n_signal"] == n_sig
    assert by["easy"]["auc"] > 0.97 and 0.5 < by["hard"]["auc"] < 0.6
    assert by["easy"]["n_background"] == n_easy and by["hard"]["n_background"] == n_hard
    # fewer than 10 background events: no AUC, and the reason says why
    for name, n in (("rare", 6), ("none", 0)):
        assert by[name]["auc"] is None and by[name]["n_background"] == n and f"{n} background" in by[name]["skipped"]
    text = per_process_markdown({"hl": {"auc_per_process": rows}}, {"hl": "HL"})
    assert text.startswith("## AUC per background process")
    assert "`easy` (300 jets)" in text and "`rare` (6 jets)" in text
    row = next(line for line in text.splitlines() if line.startswith("| `hl`"))
    assert f"{by['hard']['auc']:.4f} ({by['hard']['auc_ci_low']:.4f} to" in row and row.count("skipped") == 2
    assert "`rare` (6 background test events, fewer than 10)" in text
    assert per_process_markdown({"hl": {"auc": 0.9}}) == ""  # no truth (data.source: file): no table


def test_paired_gap_interval_is_narrower_than_the_unpaired_one():
    rng = np.random.default_rng(8)
    n = 2000
    y = rng.integers(0, 2, n)
    base = rng.normal(size=n) + 1.2 * y
    better = base + 0.4 * y + 0.3 * rng.normal(size=n)  # a bit better, strongly correlated with base
    gap = paired_auc_difference(y, better, base, resamples=300, seed=4)
    assert gap["difference"] == pytest.approx(roc_auc(y, better) - roc_auc(y, base))
    assert 0 < gap["ci_low"] < gap["difference"] < gap["ci_high"]
    lo_a, hi_a = bootstrap_auc(y, better, resamples=300, seed=4)
    lo_b, hi_b = bootstrap_auc(y, base, resamples=300, seed=5)
    unpaired = math.hypot(hi_a - lo_a, hi_b - lo_b)
    assert gap["ci_high"] - gap["ci_low"] < 0.6 * unpaired
    # the same scores twice: exactly no difference on every resample
    same = paired_auc_difference(y, base, base, resamples=50, seed=4)
    assert same["difference"] == same["ci_low"] == same["ci_high"] == 0.0
    assert paired_auc_difference(y, better, base, resamples=300, seed=4) == gap  # seeded
    text = gap_markdown(gap)
    assert f"**{gap['difference']:+.4f}**" in text and f"{gap['ci_low']:+.4f} to {gap['ci_high']:+.4f}" in text
    assert "300 resamples" in text and "The paper: +0.0274" in text
    assert "not available" in gap_markdown(None, missing=["hl"]) and "`hl`" in gap_markdown(None, missing=["hl"])
    assert "collapsed model `hl`" in gap_markdown(gap, collapsed=["hl"])
