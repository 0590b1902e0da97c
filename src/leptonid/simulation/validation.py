"""Validation of the simulated sample: calibration checks, plots, quick classifiers, a markdown report.

The checks are about calibration only, never about the conclusion the
sample is used to test (:func:`calibration_checks`): electron shower shapes
against the ranges published for isolated electrons, no quantised HL
values, class balance, ET matching, and (given the noise-free mass from the
chunks) a mass made by the shower rather than by the noise model. The rule
fails when one does not hold (:class:`CalibrationError`).

The quick classifiers are reported, not required: scikit-learn histogram
gradient boosting models trained on the train split and scored (ROC AUC) on
the test split of ``unscaled_data.h5``:

- ``hl``: the 7 HL features,
- ``mass``: the deposit mass alone,
- ``hl+mass``,
- ``hl+pixel summaries``: HL plus ECal ET in rings around the centre and HCal sums,
- ``hl+pixels``: HL plus the raw central 15x15 ECal pixels and the 8x8 HCal cells.

Whether the pixel-based models beat ``hl`` is what the workflow sets out to
measure; it is shown, not gated on.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import h5py
import numpy as np

from leptonid import features, layout
from leptonid.atomic import atomic_output
from leptonid.style import CLASS_COLOURS

HL_AUC_RANGE: tuple[float, float] = (0.90, 0.985)  # the paper's regime (reported, not gated on)
#: Ranges of the median electron shower shapes (isolated electrons, ATLAS-like middle layer).
ELECTRON_MEDIAN_RANGES: dict[str, tuple[float, float]] = {
    "r_eta": (0.93, 0.97),
    "r_phi": (0.90, 0.98),
    "w_eta2": (0.009, 0.012),
}
#: No single non-zero value of an HL feature may hold more than this share of the candidates.
MAX_VALUE_SHARE = 0.02
#: The median electron mass with and without the noise model may differ by less than this.
MAX_NOISE_MASS_SHIFT = 0.25
#: Two-sample Kolmogorov-Smirnov p-value below which the classes' candidate-ET spectra count as unmatched.
ET_MATCH_MIN_P = 0.01


class CalibrationError(RuntimeError):
    """A calibration check of the simulated sample failed."""
FEATURE_LABELS = dict(
    zip(
        layout.HL_FEATURES,
        ["R_had", "w_eta2", "R_phi", "R_eta", "sigma_eta_eta", "iso dR<0.3 (GeV)", "iso dR<0.4 (GeV)"],
    )
)


def load_splits(path: str | os.PathLike) -> dict[str, dict[str, np.ndarray]]:
    """Read every group/split of a data file into memory."""
    with h5py.File(path, "r") as f:
        return {s: {g: f[g][s][...] for g in layout.FEATURE_SHAPES} for s in layout.SPLITS}


def ring_summaries(et: np.ndarray, ht: np.ndarray) -> np.ndarray:
    """ECal ET in rings (cell units) around the centre and HCal ET in the central 2x2 / all coarse cells."""
    et = et[..., 0] if et.ndim == 4 else et
    ht = ht[..., 0] if ht.ndim == 4 else ht
    k = np.arange(layout.ECAL_SIZE) - layout.ECAL_SIZE // 2
    r = np.hypot(k[:, None], k[None, :])
    edges = [0, 1, 2, 3, 5, 8, 12, 30]
    rings = [(et * ((r >= a) & (r < b))).sum(axis=(1, 2)) for a, b in zip(edges[:-1], edges[1:])]
    coarse = features.hcal_coarse(ht)
    return np.stack(rings + [coarse[:, 3:5, 3:5].sum(axis=(1, 2)), coarse.sum(axis=(1, 2))], axis=1)


def raw_pixels(et: np.ndarray, ht: np.ndarray) -> np.ndarray:
    """Central 15x15 ECal pixels and the 8x8 HCal coarse cells, flattened."""
    et = et[..., 0] if et.ndim == 4 else et
    ht = ht[..., 0] if ht.ndim == 4 else ht
    c = layout.ECAL_SIZE // 2
    return np.concatenate(
        [et[:, c - 7 : c + 8, c - 7 : c + 8].reshape(len(et), -1), features.hcal_coarse(ht).reshape(len(ht), -1)],
        axis=1,
    )


def quick_classifiers(splits: Mapping[str, Mapping[str, np.ndarray]], seed: int = 0) -> dict[str, float]:
    """Test ROC AUC of gradient-boosting models on several input sets (train on train, score on test)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    def inputs(s: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        hl, m = s["hl"], s["mass"]
        return {
            "hl": hl,
            "mass": m,
            "hl+mass": np.c_[hl, m],
            "hl+pixel summaries": np.c_[hl, ring_summaries(s["et"], s["ht"])],
            "hl+pixels": np.c_[hl, raw_pixels(s["et"], s["ht"])],
        }

    train, test = inputs(splits["train"]), inputs(splits["test"])
    y_train, y_test = splits["train"]["y"], splits["test"]["y"]
    out = {}
    for name in train:
        clf = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.1, early_stopping=False, random_state=seed)
        clf.fit(train[name], y_train)
        out[name] = float(roc_auc_score(y_test, clf.predict_proba(test[name])[:, 1]))
    return out


def process_rates(chunk_summaries: Sequence[str | os.PathLike]) -> dict[str, dict[str, float]]:
    """Sum events, candidates and seconds per process over chunk JSON summaries.

    Rates are per CPU second (the cost per core, whatever else shares the
    machine); a summary without ``cpu_seconds`` counts its wall time instead.
    """
    total: dict[str, dict[str, float]] = {}
    for p in chunk_summaries:
        with open(p) as f:
            summary = json.load(f)
        for proc, st in summary["processes"].items():
            t = total.setdefault(proc, {"events": 0, "candidates": 0, "seconds": 0.0, "cpu_seconds": 0.0})
            for k in ("events", "candidates", "seconds"):
                t[k] += st[k]
            t["cpu_seconds"] += st.get("cpu_seconds", st["seconds"])
    for t in total.values():
        cpu = t["cpu_seconds"]
        t["candidates_per_s"] = t["candidates"] / cpu if cpu > 0 else 0.0
        t["events_per_s"] = t["events"] / cpu if cpu > 0 else 0.0
    return total


def make_plots(
    splits: Mapping[str, Mapping[str, np.ndarray]], rates: Mapping[str, Mapping[str, float]], plot_dir: Path
) -> list[str]:
    """Write the validation plots; return their file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    plot_dir.mkdir(parents=True, exist_ok=True)
    allv = {g: np.concatenate([splits[s][g] for s in layout.SPLITS]) for g in layout.FEATURE_SHAPES}
    y = allv["y"] > 0.5
    classes = (("electron", y), ("fake", ~y))
    colours = {"electron": CLASS_COLOURS[1], "fake": CLASS_COLOURS[0]}  # the same in every figure
    names = []

    fig, axes = plt.subplots(2, 2, figsize=(9, 8))
    for row, g in enumerate(("et", "ht")):
        for col, (label, m) in enumerate(classes):
            mean = allv[g][m][..., 0].mean(axis=0)
            im = axes[row, col].imshow(
                np.clip(mean, 1e-4, None), norm=LogNorm(vmin=1e-4, vmax=max(mean.max(), 1e-3)), origin="lower"
            )
            axes[row, col].set_title(f"mean {g} image, {label}")
            axes[row, col].set_xlabel("phi cell")
            axes[row, col].set_ylabel("eta cell")
            fig.colorbar(im, ax=axes[row, col], label="ET (GeV)")
    fig.tight_layout()
    fig.savefig(plot_dir / "mean_images.png", dpi=80)
    plt.close(fig)
    names.append("mean_images.png")

    fig, axes = plt.subplots(2, 4, figsize=(16, 7))
    cols = [(FEATURE_LABELS[n], allv["hl"][:, i]) for i, n in enumerate(layout.HL_FEATURES)] + [
        ("mass (GeV)", allv["mass"][:, 0])
    ]
    for ax, (label, v) in zip(axes.flat, cols):
        lo, hi = np.quantile(v, [0.0, 0.995])
        bins = np.linspace(lo, hi if hi > lo else lo + 1, 50)
        for cl, m in classes:
            ax.hist(v[m], bins=bins, histtype="step", density=True, label=cl, color=colours[cl])
        ax.set_xlabel(label)
    axes.flat[0].legend()
    fig.tight_layout()
    fig.savefig(plot_dir / "hl_features.png", dpi=80)
    plt.close(fig)
    names.append("hl_features.png")

    cand_et = features.window_sum(allv["et"][..., 0].astype(np.float64), 7, 7)
    fig, ax = plt.subplots(figsize=(6, 4))
    bins = np.linspace(cand_et.min(), cand_et.max(), 50)
    for cl, m in classes:
        ax.hist(cand_et[m], bins=bins, histtype="step", label=cl, color=colours[cl])
    ax.set_xlabel("candidate ET, ECal 7x7 [GeV]")
    ax.set_ylabel("candidates")
    ax.legend()
    fig.tight_layout()
    fig.savefig(plot_dir / "candidate_et.png", dpi=80)
    plt.close(fig)
    names.append("candidate_et.png")

    fig, ax = plt.subplots(figsize=(6, 4))
    procs = list(rates)
    ax.bar(procs, [rates[p]["candidates_per_s"] for p in procs])
    ax.set_ylabel("candidates per CPU second")
    ax.set_xlabel("process")
    ax.set_yscale("log")
    fig.tight_layout()
    fig.savefig(plot_dir / "rates.png", dpi=80)
    plt.close(fig)
    names.append("rates.png")
    return names


def most_common_share(values: np.ndarray) -> float:
    """Share of the candidates that hold the most frequent non-zero value (0 when all are zero)."""
    nonzero = values[values != 0]
    if nonzero.size == 0:
        return 0.0
    return float(np.unique(nonzero, return_counts=True)[1].max()) / values.size


def calibration_checks(
    splits: Mapping[str, Mapping[str, np.ndarray]], no_noise: Mapping[str, np.ndarray] | None = None
) -> tuple[dict[str, bool], dict[str, float]]:
    """Calibration checks of a sample (all splits together); also return the numbers they test.

    ``no_noise``: ``mass`` and ``iso_dr03`` of every candidate (in the row
    order of the splits, train, valid, test) from the same showers without
    the measurement (resolution smearing, noise, thresholds), as
    ``truth.feather`` holds them; the mass check is left out without it.
    """
    from scipy.stats import ks_2samp

    allv = {g: np.concatenate([splits[s][g] for s in layout.SPLITS]) for g in ("hl", "mass", "y", "et")}
    electron = allv["y"] > 0.5
    hl = allv["hl"]
    values: dict[str, float] = {}
    checks: dict[str, bool] = {}
    for name, (lo, hi) in ELECTRON_MEDIAN_RANGES.items():
        med = float(np.median(hl[electron, layout.HL_FEATURES.index(name)]))
        values[f"electron median {name}"] = med
        checks[f"electron median {FEATURE_LABELS[name]} in [{lo}, {hi}] ({med:.4f})"] = lo <= med <= hi
    n = hl.shape[0]
    shares = {name: most_common_share(hl[:, j]) for j, name in enumerate(layout.HL_FEATURES)}
    worst = max(shares, key=shares.get)
    values["largest share of one non-zero HL value"] = shares[worst]
    allowed = max(MAX_VALUE_SHARE * n, 1.0) / n
    checks[
        f"no non-zero HL value holds more than {MAX_VALUE_SHARE:.0%} of the candidates "
        f"(largest: {FEATURE_LABELS[worst]}, {shares[worst]:.2%})"
    ] = shares[worst] <= allowed
    n_sig = int(electron.sum())
    checks[f"classes balanced ({n_sig} electrons, {n - n_sig} fakes)"] = n_sig == n - n_sig
    cand_et = features.window_sum(allv["et"][..., 0].astype(np.float64), 7, 7)
    p_et = float(ks_2samp(cand_et[electron], cand_et[~electron]).pvalue) if 0 < n_sig < n else 0.0
    values["candidate ET KS p-value"] = p_et
    checks[f"candidate ET matched between classes (KS p = {p_et:.3f} >= {ET_MATCH_MIN_P})"] = p_et >= ET_MATCH_MIN_P
    if no_noise is not None:
        iso = hl[:, layout.HL_FEATURES.index("iso_dr03")]
        values["electron median iso dR<0.3 (GeV)"] = float(np.median(iso[electron]))
        values["electron median iso dR<0.3 without noise (GeV)"] = float(np.median(no_noise["iso_dr03"][electron]))
        with_noise = float(np.median(allv["mass"][electron, 0]))
        without = float(np.median(no_noise["mass"][electron]))
        values["electron median mass (GeV)"] = with_noise
        values["electron median mass without noise (GeV)"] = without
        shift = abs(with_noise / without - 1.0) if without > 0 else float("inf")
        checks[
            f"electron median mass with and without noise within {MAX_NOISE_MASS_SHIFT:.0%} "
            f"({with_noise:.3f} vs {without:.3f} GeV)"
        ] = shift < MAX_NOISE_MASS_SHIFT
    return checks, values


def report(
    unscaled_path: str | os.PathLike,
    chunk_summaries: Sequence[str | os.PathLike],
    out_md: str | os.PathLike,
    plot_dir: str | os.PathLike,
    truth_path: str | os.PathLike | None = None,
) -> dict:
    """Write the validation markdown report and plots; return the AUCs, checks and observations.

    The report is written whatever the checks say (it is how a failure is
    read); the caller fails the rule when a calibration check fails.
    """
    splits = load_splits(unscaled_path)
    rates = process_rates(chunk_summaries)
    plot_dir = Path(plot_dir)
    plots = make_plots(splits, rates, plot_dir)
    aucs = quick_classifiers(splits)
    no_noise = None
    if truth_path is not None:
        import pandas as pd

        truth = pd.read_feather(truth_path, columns=["mass_no_noise", "iso_dr03_no_noise"])
        no_noise = {"mass": truth["mass_no_noise"].to_numpy(), "iso_dr03": truth["iso_dr03_no_noise"].to_numpy()}
    checks, values = calibration_checks(splits, no_noise)
    observations = {
        f"HL AUC in the paper's regime [{HL_AUC_RANGE[0]}, {HL_AUC_RANGE[1]}]": HL_AUC_RANGE[0]
        <= aucs["hl"]
        <= HL_AUC_RANGE[1],
        "mass alone weaker than HL": aucs["mass"] < aucs["hl"],
        "pixels add information (hl+pixel summaries or hl+pixels beats hl)": max(
            aucs["hl+pixel summaries"], aucs["hl+pixels"]
        )
        > aucs["hl"],
    }
    sizes = {s: int(splits[s]["y"].shape[0]) for s in layout.SPLITS}
    sig = {s: int((splits[s]["y"] > 0.5).sum()) for s in layout.SPLITS}
    lines = [
        "# Simulation validation",
        "",
        "## Sample",
        "",
        "| split | events | electrons | fakes |",
        "| --- | --- | --- | --- |",
    ]
    lines += [f"| {s} | {sizes[s]} | {sig[s]} | {sizes[s] - sig[s]} |" for s in layout.SPLITS]
    lines += [
        "",
        "## Quick classifiers (gradient boosting, train -> test ROC AUC)",
        "",
        "| inputs | test AUC |",
        "| --- | --- |",
    ]
    lines += [f"| {k} | {v:.4f} |" for k, v in aucs.items()]
    lines += [
        "",
        "Observations (reported, never required: they are what the workflow measures):",
        "",
    ] + [f"- {'yes' if ok else 'no'}: {name}" for name, ok in observations.items()]
    lines += ["", "## Calibration numbers", "", "| quantity | value |", "| --- | ---: |"]
    lines += [f"| {k} | {v:.4g} |" for k, v in values.items()]
    failed = [name for name, ok in checks.items() if not ok]
    lines += [
        "",
        "## Calibration checks",
        "",
        "The rule fails when one does not hold. " + ("All hold." if not failed else f"{len(failed)} FAILED."),
        "",
    ] + [f"- [{'x' if ok else ' '}] {name}" for name, ok in checks.items()]
    lines += [
        "",
        "## Generation rates per core (per CPU second of the chunk jobs)",
        "",
        "| process | events | candidates | CPU seconds | wall seconds | candidates/s | events/s |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {p} | {int(r['events'])} | {int(r['candidates'])} | {r['cpu_seconds']:.1f} | {r['seconds']:.1f} "
        f"| {r['candidates_per_s']:.2f} | {r['events_per_s']:.1f} |"
        for p, r in rates.items()
    ]
    rel = os.path.relpath(plot_dir, Path(out_md).parent)
    lines += ["", "## Plots", ""] + [f"![{n}]({rel}/{n})" for n in plots] + [""]
    with atomic_output(out_md) as tmp:
        tmp.write_text("\n".join(lines))
    return {"aucs": aucs, "checks": checks, "values": values, "observations": observations, "rates": rates}
