"""Safety: no code runs from data, config or model files.

The package, the scripts, the rules and the Snakefile use no pickle (nor
``allow_pickle``, ``eval``, ``exec``, ``yaml.load`` without a safe loader),
and every model is loaded in Keras's safe mode.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from runner import REPO
from leptonid.models import ModelParams, build_model, load_model

#: What may not appear in the code, and why.
FORBIDDEN = {
    r"pickle": "pickle runs code from the file it loads",
    r"allow_pickle": "numpy's allow_pickle runs code from the file",
    r"(?<![\w.])eval\(": "eval runs a string as code",
    r"(?<![\w.])exec\(": "exec runs a string as code",
    r"yaml\.(unsafe_)?load\(": "yaml.load can build any Python object; use yaml.safe_load",
    r"\bmarshal\b|\bshelve\b": "marshal and shelve load code objects",
    r"safe_mode\s*=\s*False": "Keras's unsafe mode runs code stored in a model",
}


def code_files() -> list[Path]:
    files = [REPO / "Snakefile"]
    for folder, pattern in (("src", "*.py"), ("scripts", "*.py"), ("rules", "*.smk")):
        files += sorted((REPO / folder).rglob(pattern))
    return files


def test_no_code_runs_from_data_or_config() -> None:
    files = code_files()
    assert len(files) > 30 and all(f.is_file() for f in files)
    found = []
    for path in files:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for pattern, why in FORBIDDEN.items():
                if re.search(pattern, line):
                    found.append(f"{path.relative_to(REPO)}:{number}: {line.strip()} ({why})")
    assert not found, "\n".join(found)


def test_the_scan_finds_what_it_forbids() -> None:
    """The patterns match the calls they are meant to catch, and not look-alikes."""
    bad = ["data = pickle.load(f)", "np.load(p, allow_pickle=True)", "x = eval(text)", "exec(code)",
           "yaml.load(f)", "keras.saving.load_model(p, safe_mode=False)"]
    fine = ["model.evaluate(x)", "executor.submit(f)", "yaml.safe_load(f)", "leptonid.models.load_model(p)"]
    hits = lambda line: any(re.search(p, line) for p in FORBIDDEN)  # noqa: E731
    assert all(hits(line) for line in bad) and not any(hits(line) for line in fine)


@pytest.mark.slow  # imports Keras (shared with the other model tests in a full run)
def test_models_are_loaded_in_safe_mode_only(tmp_path: Path) -> None:
    """Every load_model call goes through leptonid.models.load_model, which loads with safe_mode=True."""
    calls = [
        f"{path.relative_to(REPO)}: {line.strip()}"
        for path in code_files()
        for line in path.read_text().splitlines()
        if "load_model(" in line and "def load_model(" not in line
    ]
    unsafe = [c for c in calls if "keras.saving.load_model(" in c and "safe_mode=True" not in c]
    assert not unsafe, unsafe
    # a network with every kind of layer (conv tower, concatenation, dropout) round-trips in safe mode
    shapes = {"et": (31, 31, 1), "hl": (7,)}
    model = build_model(shapes, ModelParams(conv_blocks=1, filters=2, dense_layers=2, hidden_units=8, dropout=0.1))
    model.save(tmp_path / "model.keras")
    loaded = load_model(tmp_path / "model.keras")
    rng = np.random.default_rng(0)
    x = {name: rng.normal(size=(5, *shape)).astype("float32") for name, shape in shapes.items()}
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
