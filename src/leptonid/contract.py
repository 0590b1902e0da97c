"""The data contract of ``data.h5``: checks and a human-readable inventory.

The contract (the layout of the authors' published data.h5, Collado et al.,
PRD 103, 116028 (2021), data release with the paper): groups ``et``, ``ht``, ``hl``, ``mass``
and ``y``, each with datasets ``train``, ``valid`` and ``test`` of shapes
(N,31,31,1), (N,32,32,1), (N,7), (N,1) and (N,). Feature datasets hold
floats, labels hold integers or floats that are 0 or 1, every split is
non-empty, has both classes and the same N in every group, and all values
are finite.

Large datasets are read in row chunks, so that checking a file of any size
takes bounded memory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import h5py
import numpy as np

from leptonid.layout import FEATURE_GROUPS, FEATURE_SHAPES, HL_FEATURES, LABEL_GROUP, SPLITS
from leptonid.progress import human_bytes

#: Bytes of one chunk read while checking values.
CHUNK_BYTES = 64 * 2**20

#: Other layouts users may have, recognised by their top-level keys, with what to do instead.
KNOWN_LAYOUTS: tuple[tuple[frozenset[str], str], ...] = (
    (
        frozenset({"ee", "efpe"}),
        "this looks like the authors' internal raw file (ee, ee_mass, efpe, efph, ...), not their published "
        "data.h5; use data.h5 from http://mlphysics.ics.uci.edu/data/2020_electron/",
    ),
    (
        frozenset({"train", "valid", "test"}),
        "this looks like the authors' efps.h5 (groups per split), not data.h5",
    ),
    (
        frozenset({"images_bg", "images_signal"}),
        "this looks like the authors' muon data (images_bg, images_signal, ...), not the electron data.h5",
    ),
)
EXPECTED_GROUPS: tuple[str, ...] = (*FEATURE_GROUPS, LABEL_GROUP)


@dataclass(frozen=True)
class Problem:
    """One way in which a file breaks the contract."""

    file: str
    dataset: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.dataset}: {self.message}"


class DataContractError(ValueError):
    """Raised when a file does not honour the data contract."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{len(problems)} problem(s) with the data contract:\n{lines}")


@dataclass
class SplitStats:
    """Statistics of one split gathered while checking it."""

    n_events: int = 0
    n_signal: int = 0
    hl_min: np.ndarray = field(default_factory=lambda: np.full(len(HL_FEATURES), np.inf))
    hl_max: np.ndarray = field(default_factory=lambda: np.full(len(HL_FEATURES), -np.inf))
    hl_sum: np.ndarray = field(default_factory=lambda: np.zeros(len(HL_FEATURES)))
    mass_min: float = np.inf
    mass_max: float = -np.inf
    mass_sum: float = 0.0


def row_chunks(dataset: h5py.Dataset, chunk_bytes: int = CHUNK_BYTES) -> Iterator[slice]:
    """Yield row slices of a dataset, each of about ``chunk_bytes`` bytes."""
    n = dataset.shape[0] if dataset.shape else 0
    row_bytes = max(1, int(np.prod(dataset.shape[1:], dtype=np.int64)) * dataset.dtype.itemsize)
    step = max(1, chunk_bytes // row_bytes)
    for start in range(0, n, step):
        yield slice(start, min(n, start + step))


def _is_float(dtype: np.dtype) -> bool:
    return np.issubdtype(dtype, np.floating)


def _listing(keys: object) -> str:
    names = sorted(str(k) for k in keys)  # type: ignore[attr-defined]
    return ", ".join(names) if names else "nothing"


def layout_problem(file: str, f: h5py.Group) -> Problem | None:
    """One problem listing the top-level keys found and those expected, when any expected group is missing."""
    found = set(f.keys())
    missing = [g for g in EXPECTED_GROUPS if g not in found]
    if not missing:
        return None
    message = (
        f"missing group(s) {', '.join(missing)}: found top-level keys {_listing(found)}; "
        f"expected {', '.join(EXPECTED_GROUPS)} (the layout of the authors' data.h5)"
    )
    for keys, hint in KNOWN_LAYOUTS:
        if keys <= found:
            message += f"; {hint}"
            break
    return Problem(file, "/", message)


def _check_dataset_meta(
    file: str, f: h5py.File, group: str, split: str
) -> tuple[list[Problem], h5py.Dataset | None]:
    """Presence, kind, shape and dtype of one dataset."""
    name = f"{group}/{split}"
    obj = f.get(name)
    if obj is None:
        found = _listing(f[group].keys()) if isinstance(f[group], h5py.Group) else "(not a group)"
        return [Problem(file, name, f"missing dataset: {group} holds {found}; expected {', '.join(SPLITS)}")], None
    if not isinstance(obj, h5py.Dataset):
        return [Problem(file, name, "is a group, expected a dataset")], None
    problems = []
    expected = FEATURE_SHAPES[group]
    if obj.ndim != 1 + len(expected) or tuple(obj.shape[1:]) != expected:
        want = "(N, " + ", ".join(map(str, expected)) + ")" if expected else "(N,)"
        problems.append(Problem(file, name, f"shape {obj.shape}, expected {want}"))
    dtype = obj.dtype
    if group == LABEL_GROUP:
        if not (np.issubdtype(dtype, np.integer) or _is_float(dtype) or dtype == np.bool_):
            problems.append(Problem(file, name, f"dtype {dtype}, expected integer or float labels"))
    elif not _is_float(dtype):
        problems.append(Problem(file, name, f"dtype {dtype}, expected a floating-point type"))
    if obj.shape and obj.shape[0] == 0:
        problems.append(Problem(file, name, "empty split (0 events)"))
    return problems, (None if problems else obj)


def _check_values(file: str, group: str, split: str, ds: h5py.Dataset, stats: SplitStats) -> list[Problem]:
    """Finite values (features) or 0/1 labels, chunk by chunk; fill ``stats``."""
    name = f"{group}/{split}"
    n_bad = 0
    first_bad = None
    for rows in row_chunks(ds):
        try:
            block = ds[rows]
        except (OSError, ValueError, TypeError) as err:
            return [Problem(file, name, f"cannot read rows {rows.start}-{rows.stop - 1} ({err}); corrupt file?")]
        if block.dtype.kind not in "biuf":
            return [Problem(file, name, f"dtype {block.dtype}, expected numbers")]
        if group == LABEL_GROUP:
            values = block.astype(np.float64)
            bad = ~np.isin(values, (0.0, 1.0))
            stats.n_signal += int(np.count_nonzero(values == 1.0))
        else:
            flat = block.reshape(block.shape[0], -1)
            bad = ~np.isfinite(flat).all(axis=1)
            # statistics of the small groups only (a float64 copy of an image chunk would double the peak)
            good = flat[~bad].astype(np.float64) if group in ("hl", "mass") else flat[:0]
            if group == "hl" and good.size:
                stats.hl_min = np.minimum(stats.hl_min, good.min(axis=0))
                stats.hl_max = np.maximum(stats.hl_max, good.max(axis=0))
                stats.hl_sum += good.sum(axis=0)
            elif group == "mass" and good.size:
                stats.mass_min = min(stats.mass_min, float(good.min()))
                stats.mass_max = max(stats.mass_max, float(good.max()))
                stats.mass_sum += float(good.sum())
        count = int(np.count_nonzero(bad))
        if count and first_bad is None:
            first_bad = rows.start + int(np.flatnonzero(bad.reshape(bad.shape[0], -1).any(axis=1))[0])
        n_bad += count
    if not n_bad:
        return []
    what = "labels not in {0, 1}" if group == LABEL_GROUP else "events with non-finite values (nan or inf)"
    return [Problem(file, name, f"{n_bad} {what}, first at row {first_bad}")]


def check_file(path: str | Path, values: bool = True) -> tuple[list[Problem], dict[str, SplitStats]]:
    """Check a file against the contract; return its problems and per-split stats.

    An empty problem list means the file honours the contract. With
    ``values=False`` only the structure is checked (groups, datasets,
    shapes, dtypes, equal N, non-empty), which reads no data.
    """
    file = str(path)
    if not Path(path).is_file():
        what = "not a file (a directory)" if Path(path).is_dir() else "no such file"
        return [Problem(file, "/", what)], {}
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        return [Problem(file, "/", _open_error(path, err))], {}
    problems: list[Problem] = []
    stats: dict[str, SplitStats] = {}
    with f:
        layout = layout_problem(file, f)
        if layout is not None:  # not the layout of data.h5: the details would only be noise
            return [layout], {}
        for group in EXPECTED_GROUPS:
            if group in f and not isinstance(f[group], h5py.Group):
                problems.append(Problem(file, group, "is a dataset, expected a group of train, valid, test"))
        for split in SPLITS:
            split_stats = SplitStats()
            datasets: dict[str, h5py.Dataset] = {}
            for group in EXPECTED_GROUPS:
                if not isinstance(f.get(group), h5py.Group):
                    continue
                meta_problems, ds = _check_dataset_meta(file, f, group, split)
                problems += meta_problems
                if ds is not None:
                    datasets[group] = ds
            lengths = {g: ds.shape[0] for g, ds in datasets.items()}
            if len(set(lengths.values())) > 1:
                listing = ", ".join(f"{g}={n}" for g, n in lengths.items())
                problems.append(Problem(file, f"*/{split}", f"different numbers of events: {listing}"))
            if not values:
                continue
            for group, ds in datasets.items():
                problems += _check_values(file, group, split, ds, split_stats)
            if LABEL_GROUP in datasets:
                split_stats.n_events = lengths[LABEL_GROUP]
                n_sig = split_stats.n_signal
                if split_stats.n_events and (n_sig == 0 or n_sig == split_stats.n_events):
                    missing = "signal (y=1)" if n_sig == 0 else "background (y=0)"
                    problems.append(Problem(file, f"y/{split}", f"only one class present: no {missing} events"))
            stats[split] = split_stats
    return problems, stats


def _open_error(path: str | Path, err: OSError) -> str:
    """What is wrong with a file h5py cannot open, in words (a truncated file says how much is missing)."""
    text = str(err)
    match = re.search(r"truncated file: eof = (\d+).*stored_eof = (\d+)", text)
    if match:
        have, want = int(match.group(1)), int(match.group(2))
        return (
            f"truncated HDF5 file: {have} bytes, but its header says {want} "
            f"({want - have} missing; an interrupted download or copy?)"
        )
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head != b"\x89HDF\r\n\x1a\n":
        return f"not an HDF5 file (it starts with {head!r}, not the HDF5 signature)"
    return f"not a readable HDF5 file ({text})"


def check_pair(scaled: str | Path, unscaled: str | Path) -> list[Problem]:
    """Problems of an unscaled file that does not hold the same events as the scaled one.

    Both files must already honour the contract. Every dataset must have the
    same shape in both (the same N), and the labels must be equal row by row
    (another order of the events shows up as different labels).
    """
    problems: list[Problem] = []
    name_a, name_b = str(scaled), str(unscaled)
    with h5py.File(scaled, "r") as a, h5py.File(unscaled, "r") as b:
        for split in SPLITS:
            for group in EXPECTED_GROUPS:
                da, db = a[f"{group}/{split}"], b[f"{group}/{split}"]
                if da.shape != db.shape:
                    problems.append(
                        Problem(name_b, f"{group}/{split}", f"shape {db.shape} differs from {da.shape} in {name_a}")
                    )
            ya, yb = a[f"{LABEL_GROUP}/{split}"], b[f"{LABEL_GROUP}/{split}"]
            if ya.shape != yb.shape:
                continue
            n_diff, first = 0, None
            for rows in row_chunks(ya):
                diff = np.flatnonzero(ya[rows].astype(np.float64) != yb[rows].astype(np.float64))
                if diff.size and first is None:
                    first = rows.start + int(diff[0])
                n_diff += int(diff.size)
            if n_diff:
                problems.append(
                    Problem(
                        name_b,
                        f"{LABEL_GROUP}/{split}",
                        f"{n_diff} labels differ from {name_a}, first at row {first} "
                        "(not the same events in the same order)",
                    )
                )
    return problems


def check_inputs(data: str | Path, unscaled: str | Path | None = None) -> list[Problem]:
    """Problems of the input files of a run: ``data`` and, if given, its unscaled twin (and the pair)."""
    problems = check_file(data)[0]
    if unscaled is not None:
        unscaled_problems = check_file(unscaled)[0]
        problems += unscaled_problems or ([] if problems else check_pair(data, unscaled))
    return problems


def validate_file(path: str | Path, values: bool = True) -> dict[str, SplitStats]:
    """Raise :class:`DataContractError` unless ``path`` honours the contract."""
    problems, stats = check_file(path, values=values)
    if problems:
        raise DataContractError(problems)
    return stats


def _tree_lines(f: h5py.File) -> list[str]:
    """The file's tree of groups and datasets, like an HDF5 viewer shows it."""
    lines = [f"{Path(f.filename).name}/"]

    def walk(group: h5py.Group, indent: str) -> None:
        keys = sorted(group.keys())
        for i, key in enumerate(keys):
            last = i == len(keys) - 1
            branch = "`-- " if last else "|-- "
            obj = group.get(key)
            if isinstance(obj, h5py.Group):
                lines.append(f"{indent}{branch}{key}/")
                walk(obj, indent + ("    " if last else "|   "))
            elif isinstance(obj, h5py.Dataset):
                stored = obj.id.get_storage_size()
                comp = f", {obj.compression}" if obj.compression else ""
                lines.append(
                    f"{indent}{branch}{key}  shape={obj.shape} dtype={obj.dtype} "
                    f"size={human_bytes(obj.size * obj.dtype.itemsize)} (stored {human_bytes(stored)}{comp})"
                )
            else:
                lines.append(f"{indent}{branch}{key}  (link or unknown object)")

    walk(f, "")
    return lines


def inventory_markdown(path: str | Path) -> str:
    """Markdown inventory: file tree, class balance per split, HL feature ranges.

    Works on any HDF5 file; the contract's problems, if any, are listed first.
    """
    problems, stats = check_file(path)
    out = [f"# Inventory of `{path}`", ""]
    if problems:
        out += ["## Problems with the data contract", ""] + [f"- {p}" for p in problems] + [""]
    else:
        out += ["The file honours the data contract.", ""]
    try:
        with h5py.File(path, "r") as f:
            out += ["## Tree", "", "```"] + _tree_lines(f) + ["```", ""]
    except OSError:
        return "\n".join(out)
    if stats:
        out += ["## Class balance", "", "| split | events | signal (y=1) | background (y=0) | signal fraction |"]
        out.append("| --- | ---: | ---: | ---: | ---: |")
        for split, s in stats.items():
            frac = s.n_signal / s.n_events if s.n_events else float("nan")
            out.append(f"| {split} | {s.n_events} | {s.n_signal} | {s.n_events - s.n_signal} | {frac:.3f} |")
        out += ["", "## High-level features (min / mean / max)", ""]
        header = "| feature | " + " | ".join(stats) + " |"
        out += [header, "| --- |" + " ---: |" * len(stats)]
        names = [*HL_FEATURES, "mass"]
        for i, name in enumerate(names):
            cells = []
            for s in stats.values():
                n = s.n_events
                if name == "mass":
                    lo, hi, total = s.mass_min, s.mass_max, s.mass_sum
                else:
                    lo, hi, total = s.hl_min[i], s.hl_max[i], s.hl_sum[i]
                cells.append(f"{lo:.4g} / {total / n:.4g} / {hi:.4g}" if n and np.isfinite(lo) else "-")
            out.append(f"| `{name}` | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)
