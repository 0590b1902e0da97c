"""A generator of broken inputs: every way a data file or a config can be wrong, with the exact failure.

Each :class:`BadFile` writes, under a directory, a copy of a small valid
``data.h5`` (40/20/20 events) broken in one way, and lists the exact
problem lines ``leptonid validate`` (and the rule ``validate_data``) must
report. Each :class:`BadConfig` is a config with one mistake and the exact
line of the config check. ``tests/test_bad_inputs.py`` runs one test per case;
the README's "Reliability" section counts them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import h5py
import numpy as np

from leptonid.synthetic import write_synthetic_h5

COUNTS = {"train": 40, "valid": 20, "test": 20}
EXPECTED_KEYS = "expected et, ht, hl, mass, y (the layout of the authors' data.h5)"


def valid_file(path: Path, dtype: str = "float32") -> Path:
    """A small file that honours the contract (the same events for every seed-1 call)."""
    return write_synthetic_h5(path, COUNTS, seed=1, dtype=dtype)


def replace(path: Path, name: str, data: np.ndarray | None) -> None:
    """Replace (or, with None, delete) dataset ``name``."""
    with h5py.File(path, "a") as f:
        del f[name]
        if data is not None:
            f.create_dataset(name, data=data)


def set_values(path: Path, name: str, index: tuple, value: float) -> None:
    with h5py.File(path, "a") as f:
        f[name][index] = value


@dataclass(frozen=True)
class BadFile:
    """One broken input: ``make(directory)`` returns ``(data path, unscaled path or None)``."""

    name: str
    make: Callable[[Path], tuple[Path, Path | None]]
    #: exact problem lines; ``{data}`` and ``{unscaled}`` stand for the paths
    expected: tuple[str, ...]

    def problems(self, data: Path, unscaled: Path | None) -> list[str]:
        return [line.format(data=data, unscaled=unscaled) for line in self.expected]


def _one(edit: Callable[[Path], None]) -> Callable[[Path], tuple[Path, None]]:
    def make(directory: Path) -> tuple[Path, None]:
        path = valid_file(directory / "data.h5")
        edit(path)
        return path, None

    return make


def _missing(directory: Path) -> tuple[Path, None]:
    return directory / "data.h5", None


def _directory(directory: Path) -> tuple[Path, None]:
    (directory / "data.h5").mkdir()
    return directory / "data.h5", None


def _text(directory: Path) -> tuple[Path, None]:
    (directory / "data.h5").write_text("<html>404 Not Found</html>\n")
    return directory / "data.h5", None


def _truncated(directory: Path) -> tuple[Path, None]:
    full = valid_file(directory / "full.h5")
    cut = directory / "data.h5"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    full.unlink()
    return cut, None


def _raw_layout(directory: Path) -> tuple[Path, None]:
    """Keys of the authors' internal raw file (per split, E and ET images and EFPs)."""
    path = directory / "data.h5"
    with h5py.File(path, "w") as f:
        for key in ("ee", "ee_mass", "efpe", "efph", "et", "et_mass", "he", "y"):
            f.create_dataset(f"{key}/train", data=np.zeros((4, 1), np.float32))
    return path, None


def _pair(edit: Callable[[Path], None]) -> Callable[[Path], tuple[Path, Path]]:
    """A valid data.h5 and an unscaled twin broken by ``edit``."""

    def make(directory: Path) -> tuple[Path, Path]:
        data = valid_file(directory / "data.h5")
        unscaled = valid_file(directory / "unscaled_data.h5", dtype="float64")
        edit(unscaled)
        return data, unscaled

    return make


def _fewer_events(path: Path) -> None:
    """valid has 19 events in every group: a consistent file, but not the twin of data.h5."""
    with h5py.File(path, "a") as f:
        for group in ("et", "ht", "hl", "mass", "y"):
            values = f[f"{group}/valid"][:19]
            del f[f"{group}/valid"]
            f.create_dataset(f"{group}/valid", data=values)


def reverse_events(path: Path) -> None:
    """The events of test in reverse order (every group, so the file itself is consistent)."""
    with h5py.File(path, "a") as f:
        for group in ("et", "ht", "hl", "mass", "y"):
            f[f"{group}/test"][...] = f[f"{group}/test"][...][::-1]


def _empty_test(path: Path) -> None:
    for group, shape in {"et": (31, 31, 1), "ht": (32, 32, 1), "hl": (7,), "mass": (1,)}.items():
        replace(path, f"{group}/test", np.zeros((0, *shape), np.float32))
    replace(path, "y/test", np.zeros((0,), np.int8))


def _mixed_labels(path: Path) -> None:
    with h5py.File(path, "a") as f:
        y = f["y/valid"][...]
        y[3], y[11] = 2, -1
        f["y/valid"][...] = y


BAD_FILES: tuple[BadFile, ...] = (
    BadFile("no such file", _missing, ("{data}: /: no such file",)),
    BadFile("a directory, not a file", _directory, ("{data}: /: not a file (a directory)",)),
    BadFile(
        "not HDF5 (an error page saved as data.h5)",
        _text,
        ("{data}: /: not an HDF5 file (it starts with b'<html>40', not the HDF5 signature)",),
    ),
    BadFile(
        "truncated mid-way",
        _truncated,
        (
            "{data}: /: truncated HDF5 file: 324792 bytes, but its header says 649584 "
            "(324792 missing; an interrupted download or copy?)",
        ),
    ),
    BadFile(
        "missing group",
        _one(lambda p: replace(p, "mass", None)),
        (f"{{data}}: /: missing group(s) mass: found top-level keys et, hl, ht, y; {EXPECTED_KEYS}",),
    ),
    BadFile(
        "the authors' raw layout",
        _raw_layout,
        (
            "{data}: /: missing group(s) ht, hl, mass: found top-level keys ee, ee_mass, efpe, efph, et, et_mass, "
            f"he, y; {EXPECTED_KEYS}; this looks like the authors' internal raw file (ee, ee_mass, efpe, efph, ...), "
            "not their published data.h5; use data.h5 from http://mlphysics.ics.uci.edu/data/2020_electron/",
        ),
    ),
    BadFile(
        "missing split",
        _one(lambda p: replace(p, "ht/valid", None)),
        ("{data}: ht/valid: missing dataset: ht holds test, train; expected train, valid, test",),
    ),
    BadFile(
        "wrong image shape",
        _one(lambda p: replace(p, "et/train", np.zeros((40, 32, 32, 1), np.float32))),
        ("{data}: et/train: shape (40, 32, 32, 1), expected (N, 31, 31, 1)",),
    ),
    BadFile(
        "strings as features",
        _one(lambda p: replace(p, "hl/test", np.array([[b"0.5"] * 7] * 20))),
        ("{data}: hl/test: dtype |S3, expected a floating-point type",),
    ),
    BadFile(
        "strings as labels",
        _one(lambda p: replace(p, "y/test", np.array([b"e"] * 20))),
        ("{data}: y/test: dtype |S1, expected integer or float labels",),
    ),
    BadFile(
        "NaN in an image",
        _one(lambda p: set_values(p, "et/train", (7, 3, 4, 0), np.nan)),
        ("{data}: et/train: 1 events with non-finite values (nan or inf), first at row 7",),
    ),
    BadFile(
        "inf in the HL features",
        _one(lambda p: set_values(p, "hl/valid", (4, 1), np.inf)),
        ("{data}: hl/valid: 1 events with non-finite values (nan or inf), first at row 4",),
    ),
    BadFile(
        "NaN and -inf in the mass",
        _one(lambda p: (set_values(p, "mass/test", (5, 0), np.nan), set_values(p, "mass/test", (9, 0), -np.inf))),
        ("{data}: mass/test: 2 events with non-finite values (nan or inf), first at row 5",),
    ),
    BadFile(
        "labels other than 0 and 1",
        _one(_mixed_labels),
        ("{data}: y/valid: 2 labels not in {{0, 1}}, first at row 3",),
    ),
    BadFile(
        "one class only",
        _one(lambda p: replace(p, "y/train", np.ones(40, np.int8))),
        ("{data}: y/train: only one class present: no background (y=0) events",),
    ),
    BadFile(
        "different N across the features of a split",
        _one(lambda p: replace(p, "mass/valid", np.ones((19, 1), np.float32))),
        ("{data}: */valid: different numbers of events: et=20, ht=20, hl=20, mass=19, y=20",),
    ),
    BadFile(
        "an empty split",
        _one(_empty_test),
        tuple(f"{{data}}: {g}/test: empty split (0 events)" for g in ("et", "ht", "hl", "mass", "y")),
    ),
    BadFile(
        "an unscaled file with other N",
        _pair(_fewer_events),
        tuple(
            f"{{unscaled}}: {g}/valid: shape {shape} differs from {shape_a} in {{data}}"
            for g, shape, shape_a in (
                ("et", (19, 31, 31, 1), (20, 31, 31, 1)),
                ("ht", (19, 32, 32, 1), (20, 32, 32, 1)),
                ("hl", (19, 7), (20, 7)),
                ("mass", (19, 1), (20, 1)),
                ("y", (19,), (20,)),
            )
        ),
    ),
    BadFile(
        "an unscaled file with the events in another order",
        _pair(reverse_events),
        (
            "{unscaled}: y/test: 12 labels differ from {data}, first at row 1 "
            "(not the same events in the same order)",
        ),
    ),
)


@dataclass(frozen=True)
class BadConfig:
    """A config with one mistake and the exact line the config check gives."""

    name: str
    config: dict[str, Any]
    expected: str


BAD_CONFIGS: tuple[BadConfig, ...] = (
    BadConfig("unknown key", {"split": {"chunk_evnts": 5}},
              "config key 'split.chunk_evnts': unknown key (not in schemas/config.schema.yaml)"),
    BadConfig("unknown section", {"dta": {}}, "config key 'dta': unknown key (not in schemas/config.schema.yaml)"),
    BadConfig("wrong type", {"split": {"chunk_events": "many"}},
              "config key 'split.chunk_events': 'many' is not of type 'integer'"),
    BadConfig("zero events", {"data": {"source": "synthetic", "synthetic_events": 0}},
              "config key 'data.synthetic_events': 0 is less than the minimum of 2"),
    BadConfig("negative events", {"simulation": {"n_per_class": -5}},
              "config key 'simulation.n_per_class': -5 is less than the minimum of 10"),
    BadConfig("zero chunk size", {"split": {"chunk_events": 0}},
              "config key 'split.chunk_events': 0 is less than the minimum of 1"),
    BadConfig("unknown feature set", {"training": {"feature_sets": ["hl", "et_ht"]}},
              "config key 'training.feature_sets.1': unknown feature set 'et_ht'; known: et, ht, et_and_ht, "
              "et_and_ht_and_hl, hl, mass, hl_and_mass, hl_and_efps, hl_and_mass_and_efps"),
    BadConfig("beta zero", {"efp": {"betas": [0, 1]}},
              "config key 'efp.betas.0': 0 is less than or equal to the minimum of 0"),
    BadConfig("beta negative", {"efp": {"betas": [1, -0.5]}},
              "config key 'efp.betas.1': -0.5 is less than or equal to the minimum of 0"),
    BadConfig("beta a string", {"efp": {"betas": ["one"]}}, "config key 'efp.betas.0': 'one' is not of type 'number'"),
    BadConfig("kappa a string", {"efp": {"kappas": [1, "2"]}}, "config key 'efp.kappas.1': '2' is not of type 'number'"),
    BadConfig("unknown data source", {"data": {"source": "magic"}},
              "config key 'data.source': 'magic' is not one of ['simulate', 'file', 'url', 'synthetic']"),
    BadConfig("data file not named", {"data": {"source": "file"}}, "config key 'data.path': required here but missing"),
    BadConfig("data file missing", {"data": {"source": "file", "path": "/no/such/file.h5"}},
              "config key 'data.path': /no/such/file.h5 does not exist"),
    BadConfig("unscaled file missing",
              {"data": {"source": "file", "path": "/", "unscaled_path": "/no/such/unscaled.h5"}},
              "config key 'data.unscaled_path': /no/such/unscaled.h5 does not exist"),
    BadConfig("data path a directory", {"data": {"source": "file", "path": "/"}},
              "config key 'data.path': / is not a file"),
    BadConfig("download without a URL", {"data": {"source": "url"}}, "config key 'data.url': required here but missing"),
    BadConfig("download from an ftp URL", {"data": {"source": "url", "url": "ftp://example.org/data.h5"}},
              "config key 'data.url': 'ftp://example.org/data.h5' does not match '^https?://'"),
    BadConfig("a checksum that is not a SHA-256",
              {"data": {"source": "url", "url": "http://example.org/data.h5", "sha256": "abc"}},
              "config key 'data.sha256': 'abc' does not match '^[0-9a-fA-F]{64}$'"),
    BadConfig("unscaled checksum without its URL",
              {"data": {"source": "url", "url": "http://example.org/data.h5", "unscaled_sha256": "a" * 64}},
              "config key 'data.unscaled_sha256': given, but data.unscaled_url is not set"),
    BadConfig("more EFP chunks than events",
              {"data": {"source": "synthetic", "synthetic_events": 8}, "efp": {"n_chunks": 10}},
              "config key 'efp.n_chunks': 10 chunks per split, more than the 8 events of a split "
              "(data.synthetic_events)"),
)
