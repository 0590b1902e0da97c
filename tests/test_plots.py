"""Figures are written as PNG and PDF, atomically, for good and dead models alike."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leptonid.plots import plot_rejection, plot_roc, plot_scores, plot_training

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def outputs(tmp_path, stem):
    return [tmp_path / f"{stem}.png", tmp_path / f"{stem}.pdf"]


def check_written(paths):
    png, pdf = paths
    assert png.read_bytes()[:8] == PNG_MAGIC
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert not [p for p in png.parent.iterdir() if p.name.startswith(".")]  # no temporary files left


@pytest.fixture
def predictions():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    return {
        "et": (y, 1 / (1 + np.exp(-rng.normal(2 * y - 1, 1.0)))),
        "ht": (y, np.full(300, 0.5)),  # a dead network
    }


def test_roc_figures(tmp_path, predictions):
    plot_rejection(predictions, outputs(tmp_path, "rejection"), labels={"et": "ECal CNN"}, collapsed=["ht"])
    check_written(outputs(tmp_path, "rejection"))
    plot_roc(predictions, outputs(tmp_path, "roc"), collapsed=["ht"])
    check_written(outputs(tmp_path, "roc"))


def test_training_and_score_figures(tmp_path, predictions):
    history = pd.DataFrame(
        {
            "epoch": [1, 2, 3],
            "loss": [0.6, 0.5, 0.45],
            "val_loss": [0.55, 0.5, 0.52],
            "learning_rate": [1e-3, 1e-3, 3e-4],
        }
    )
    plot_training(history, outputs(tmp_path, "training"), title="et")
    check_written(outputs(tmp_path, "training"))
    y, s = predictions["et"]
    plot_scores(y, s, outputs(tmp_path, "scores"), title="et")
    check_written(outputs(tmp_path, "scores"))


def test_bad_arguments_are_named(tmp_path, predictions):
    with pytest.raises(ValueError, match="must end in one of"):
        plot_roc(predictions, [tmp_path / "roc.jpg"])
    with pytest.raises(ValueError, match="val_loss"):
        plot_training(pd.DataFrame({"loss": [1.0]}), outputs(tmp_path, "t"))
    with pytest.raises(ValueError, match="no predictions"):
        plot_rejection({}, outputs(tmp_path, "r"))
    assert not list(tmp_path.iterdir())


def test_roc_figures_do_not_grow_with_the_test_split(tmp_path):
    """A paper-size test split (43,000 events, 8 feature sets) draws bounded ROC curves.

    Unthinned, the 8 curves of 43,000 vertices make a PDF of about 160 kB
    (matplotlib's own path simplification included); thinned, about 40 kB.
    """
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 43_000)
    big = {f"fs{k}": (y, rng.normal(y * (0.5 + 0.4 * k), 1.0)) for k in range(8)}
    paths = outputs(tmp_path, "roc")
    plot_roc(big, paths)
    check_written(paths)
    assert paths[1].stat().st_size < 80_000, paths[1].stat().st_size
