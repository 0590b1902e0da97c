"""`leptonid show` and the data figures: any file in the data.h5 layout, physical units where the file allows."""

from __future__ import annotations

import logging
from pathlib import Path

import h5py
import numpy as np

from leptonid import display
from leptonid.cli import main
from leptonid.layout import HL_FEATURES
from leptonid.progress import progress, summary_line

PNG = b"\x89PNG\r\n\x1a\n"


def test_show_one_event_draws_and_prints_its_values(tiny_h5: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "event.png"
    assert main(["show", str(tiny_h5), "--split", "test", "--event", "17", "--png", str(out)]) == 0
    assert out.read_bytes()[:8] == PNG
    printed = capsys.readouterr().out
    with h5py.File(tiny_h5) as f:
        label = int(f["y/test"][17])
        hl = f["hl/test"][17]
    assert f"test event 17, label y = {label}" in printed
    for name, value in zip(HL_FEATURES, hl):
        assert f"{name:<14s} = {value:10.4g}" in printed
    assert "mass" in printed
    assert "(standardised values, as stored)" in printed  # the synthetic file's HL values go below 0: no units


def test_show_mean_images(tiny_h5: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "mean.png"
    assert main(["show", str(tiny_h5), "--split", "train", "--mean", "--png", str(out)]) == 0
    assert out.read_bytes()[:8] == PNG
    means = display.class_means(tiny_h5, "train", chunk=7)  # chunks that do not divide the split
    with h5py.File(tiny_h5) as f:
        y, et = f["y/train"][...], f["et/train"][...][..., 0]
    np.testing.assert_allclose(means[1]["et"], et[y == 1].mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(means[0]["et"], et[y == 0].mean(axis=0), rtol=1e-6)
    assert f"electrons: {int((y == 1).sum())} events" in capsys.readouterr().out


def test_show_names_what_is_wrong(tiny_h5: Path, tmp_path: Path, capsys) -> None:
    assert main(["show", str(tiny_h5), "--event", "20"]) == 1
    assert "test has 20 events; event 20 does not exist" in capsys.readouterr().err
    assert main(["show", str(tmp_path / "missing.h5")]) == 1
    assert "missing.h5" in capsys.readouterr().err
    assert main(["show", str(tiny_h5), "--png", str(tmp_path / "x.jpg")]) == 1
    assert "must end in .png" in capsys.readouterr().err
    broken = tmp_path / "broken.h5"
    with h5py.File(tiny_h5) as src, h5py.File(broken, "w") as dst:
        for group in ("et", "hl", "mass", "y"):
            src.copy(group, dst)
    assert main(["show", str(broken), "--event", "0"]) == 1
    assert "no dataset 'ht/test'" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.png"))  # nothing half-written


def test_standardised_values_are_shown_in_physical_units_when_the_file_says_how(tiny_h5: Path) -> None:
    raw = display.read_event(tiny_h5, "valid", 3)
    with h5py.File(tiny_h5, "a") as f:
        f["et"].attrs["scaling_mean"], f["et"].attrs["scaling_std"] = 0.5, 2.0
        f["hl"].attrs["scaling_mean"], f["hl"].attrs["scaling_std"] = np.arange(7.0), np.full(7, 3.0)
    event = display.read_event(tiny_h5, "valid", 3)
    np.testing.assert_allclose(event.et, raw.et * 2.0 + 0.5)
    np.testing.assert_allclose(event.features["w_eta2"], raw.features["w_eta2"] * 3.0 + 1.0)
    assert event.features["mass"] == raw.features["mass"]  # mass has no scaling attributes: as stored


def test_data_figures(tiny_h5: Path, tmp_path: Path) -> None:
    labels = display.read_labels(tiny_h5)
    assert {s: len(v) for s, v in labels.items()} == {"train": 40, "valid": 20, "test": 20}
    display.plot_class_balance(labels, [tmp_path / "balance.png"])
    columns, y, _ = display.read_features(tiny_h5, "test")
    assert set(columns) == {*HL_FEATURES, "mass"} and len(y) == 20
    display.plot_feature_distributions(columns, y, [tmp_path / "features.png"])
    assert display.read_event(tiny_h5, "test", -1).index == 19
    for name in ("balance", "features"):
        assert (tmp_path / f"{name}.png").read_bytes()[:8] == PNG


def test_progress_logs_rate_eta_and_a_summary(caplog) -> None:
    log = logging.getLogger("test.progress")
    with caplog.at_level(logging.INFO, logger="test.progress"), progress(10, "chunk", "events", log, 0.0) as bar:
        for _ in range(5):
            bar.update(2)
    lines = [r.getMessage() for r in caplog.records]
    assert any("chunk:  40%" in line and "events/s" in line and "<" in line for line in lines), lines  # rate, ETA
    assert lines[-1].startswith("chunk: 10 events in ") and lines[-1].endswith(" events/s)")
    assert summary_line("x", 1000, 4.0) == "x: 1,000 events in 4.0 s (250.0 events/s)"
    assert summary_line("data.h5", 3 * 1024**2, 2.0, "B") == "data.h5: 3.0 MiB in 2.0 s (1.5 MiB/s)"
