"""Chunk files, ET matching, train/valid/test split, standardisation, and the paper's ``data.h5``.

All h5 files are written byte-reproducibly (no timestamps, fixed chunking and
compression) and atomically (temporary file + rename).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import h5py
import numpy as np

from leptonid import layout
from leptonid.atomic import atomic_output

#: Datasets of a chunk file besides the layout groups.
CHUNK_EXTRA: tuple[str, ...] = (
    "cand_et",
    "track_pt",
    "seed_pid",
    "process",
    "true_et",
    "true_eta",
    "true_phi",
    "mass_no_noise",
    "iso_dr03_no_noise",
)
#: Columns of ``truth.feather``: one row per candidate of ``data.h5``, in its row order (train, valid, test).
TRUTH_COLUMNS: tuple[str, ...] = (
    "split",
    "index",
    "process",
    "true_et",
    "true_eta",
    "true_phi",
    "seed_pid",
    "cand_et",
    "mass_no_noise",
    "iso_dr03_no_noise",
    "y",
)
#: Label dtype in data.h5 / unscaled_data.h5 (float32 0/1, what Keras' binary cross-entropy expects).
LABEL_DTYPE = np.float32


def _atomic_h5(path: str | os.PathLike, fill) -> None:
    """Write an h5 file with ``fill(h5file)`` into a temporary file, then rename it to ``path``."""
    with atomic_output(path) as tmp, h5py.File(tmp, "w", libver="earliest", track_order=False) as f:
        fill(f)


def _dataset(group: h5py.Group, name: str, data: np.ndarray) -> None:
    """Create a dataset without timestamps; large arrays are gzip-compressed in fixed chunks."""
    data = np.ascontiguousarray(data)
    kwargs: dict = {"track_times": False}
    if data.ndim >= 1 and data.shape[0] > 0 and data.nbytes > 1 << 16:
        kwargs.update(
            chunks=(min(data.shape[0], 256),) + data.shape[1:], compression="gzip", compression_opts=1, shuffle=True
        )
    group.create_dataset(name, data=data, **kwargs)


def write_chunk(path: str | os.PathLike, arrays: Mapping[str, np.ndarray], attrs: Mapping[str, object]) -> None:
    """Write one chunk (unscaled candidate arrays of one class) to ``path``."""
    needed = set(layout.FEATURE_SHAPES) | set(CHUNK_EXTRA)
    missing = needed - set(arrays)
    if missing:
        raise ValueError(f"chunk arrays lack {sorted(missing)}")

    def fill(f: h5py.File) -> None:
        for name in sorted(needed):
            _dataset(f, name, arrays[name])
        for key in sorted(attrs):
            f.attrs[key] = attrs[key]

    _atomic_h5(path, fill)


def read_chunks(paths: Sequence[str | os.PathLike]) -> tuple[dict[str, np.ndarray], list[dict]]:
    """Concatenate chunk files (in the given order); also return each file's attributes."""
    if not paths:
        raise ValueError("no chunk files given")
    parts, attrs = [], []
    for p in paths:
        with h5py.File(p, "r") as f:
            parts.append({k: f[k][...] for k in f.keys()})
            attrs.append(dict(f.attrs))
    keys = set(parts[0])
    for p, part in zip(paths, parts):
        if set(part) != keys:
            raise ValueError(f"chunk {p} has datasets {sorted(part)}, expected {sorted(keys)}")
    return {k: np.concatenate([part[k] for part in parts]) for k in sorted(keys)}, attrs


def match_et(
    et_signal: np.ndarray, et_background: np.ndarray, bins: np.ndarray, n_max: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Pick equally many signal and background candidates in every ET bin (at most ``n_max`` per class).

    Per bin, min(n_signal, n_background) candidates of each class are kept
    (scaled down evenly when the total exceeds ``n_max``), chosen at random, so
    both classes have the same binned ET spectrum. Returns sorted indices.
    """
    b_s = np.digitize(et_signal, bins) - 1
    b_b = np.digitize(et_background, bins) - 1
    n_bins = len(bins) - 1
    c_s = np.bincount(b_s[(b_s >= 0) & (b_s < n_bins)], minlength=n_bins)
    c_b = np.bincount(b_b[(b_b >= 0) & (b_b < n_bins)], minlength=n_bins)
    take = np.minimum(c_s, c_b)
    if take.sum() > n_max:
        exact = take * (n_max / take.sum())
        take_new = np.floor(exact).astype(int)
        extra = n_max - take_new.sum()
        order = np.argsort(-(exact - take_new), kind="stable")[:extra]
        take_new[order] += 1
        take = take_new
    idx_s, idx_b = [], []
    for b in np.flatnonzero(take):
        idx_s.append(rng.choice(np.flatnonzero(b_s == b), take[b], replace=False))
        idx_b.append(rng.choice(np.flatnonzero(b_b == b), take[b], replace=False))
    if not idx_s:
        raise ValueError("no ET bin holds both signal and background candidates")
    return np.sort(np.concatenate(idx_s)), np.sort(np.concatenate(idx_b))


def split_sizes(n: int, fractions: Mapping[str, float]) -> dict[str, int]:
    """Sizes of the train/valid/test splits of ``n`` events (test takes the rounding remainder)."""
    if set(fractions) != set(layout.SPLITS):
        raise ValueError(f"split fractions must have keys {layout.SPLITS}, got {sorted(fractions)}")
    if any(v <= 0 for v in fractions.values()) or not np.isclose(sum(fractions.values()), 1.0):
        raise ValueError(f"split fractions must be positive and sum to 1, got {dict(fractions)}")
    sizes = {s: int(np.floor(n * fractions[s])) for s in ("train", "valid")}
    sizes["test"] = n - sizes["train"] - sizes["valid"]
    return sizes


def fit_scaling(train: Mapping[str, np.ndarray]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Fit the standardisation on the train split: (mean, std) per feature group.

    ``hl`` and ``mass`` are standardised per column; the images ``et`` and
    ``ht`` with one mean and std over all pixels of the group (so the image
    structure, including which pixels are empty, is kept).
    """
    out = {}
    for g in layout.FEATURE_GROUPS:
        x = np.asarray(train[g], dtype=np.float64)
        axes = tuple(range(x.ndim - 1)) if g in ("hl", "mass") else None
        mean = np.asarray(x.mean(axis=axes), dtype=np.float64)
        std = np.asarray(x.std(axis=axes), dtype=np.float64)
        std = np.where(std > 0, std, 1.0)
        out[g] = (np.atleast_1d(mean), np.atleast_1d(std))
    return out


def apply_scaling(arrays: Mapping[str, np.ndarray], scaling: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> dict:
    """Standardise feature groups with ``scaling``; ``y`` passes through."""
    out = {}
    for g, x in arrays.items():
        if g in scaling:
            mean, std = scaling[g]
            if g in ("hl", "mass"):
                out[g] = ((x - mean) / std).astype(np.float32)
            else:
                out[g] = ((x - mean[0]) / std[0]).astype(np.float32)
        else:
            out[g] = x
    return out


def write_data_file(
    path: str | os.PathLike,
    splits: Mapping[str, Mapping[str, np.ndarray]],
    attrs: Mapping[str, object],
    scaling: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> None:
    """Write ``splits[split][group]`` in the paper's layout (groups et/ht/hl/mass/y, datasets per split)."""
    for s in layout.SPLITS:
        if s not in splits:
            raise ValueError(f"missing split {s!r}")
        for g, shape in layout.FEATURE_SHAPES.items():
            a = splits[s][g]
            if a.shape[1:] != shape:
                raise ValueError(f"{s}/{g} has shape {a.shape}, expected (N,) + {shape}")

    def fill(f: h5py.File) -> None:
        for g in layout.FEATURE_SHAPES:
            grp = f.create_group(g, track_order=False)
            for s in layout.SPLITS:
                dtype = LABEL_DTYPE if g == layout.LABEL_GROUP else np.float32
                _dataset(grp, s, splits[s][g].astype(dtype))
            if scaling is not None and g in scaling:
                grp.attrs["scaling_mean"] = scaling[g][0]
                grp.attrs["scaling_std"] = scaling[g][1]
        for key in sorted(attrs):
            f.attrs[key] = attrs[key]

    _atomic_h5(path, fill)


def write_truth(path: str | os.PathLike, splits: Mapping[str, Mapping[str, np.ndarray]]) -> None:
    """Write the truth of every candidate to a Feather file, in ``data.h5``'s row order (see :data:`TRUTH_COLUMNS`).

    ``split`` and ``process`` are dictionary (categorical) columns with fixed
    categories (the splits, all process names). Byte-reproducible: no
    timestamps, fixed zstd compression; written atomically.
    """
    import pyarrow as pa
    from pyarrow import feather

    from leptonid.simulation.chunk import PROCESS_NAMES

    def category(codes: np.ndarray, names: Sequence[str]) -> pa.DictionaryArray:
        return pa.DictionaryArray.from_arrays(pa.array(codes, pa.int8()), pa.array(list(names), pa.string()))

    flat = {k: np.concatenate([splits[s][k] for s in layout.SPLITS]).reshape(-1) for k in splits[layout.SPLITS[0]]}
    split_code = np.concatenate([np.full(len(splits[s]["y"]), i, np.int8) for i, s in enumerate(layout.SPLITS)])
    index = np.concatenate([np.arange(len(splits[s]["y"]), dtype=np.int64) for s in layout.SPLITS])
    columns = {
        "split": category(split_code, layout.SPLITS),
        "index": pa.array(index),
        "process": category(flat["process"].astype(np.int8), PROCESS_NAMES),
        "true_et": pa.array(flat["true_et"].astype(np.float32)),
        "true_eta": pa.array(flat["true_eta"].astype(np.float32)),
        "true_phi": pa.array(flat["true_phi"].astype(np.float32)),
        "seed_pid": pa.array(flat["seed_pid"].astype(np.int32)),
        "cand_et": pa.array(flat["cand_et"].astype(np.float32)),
        "mass_no_noise": pa.array(flat["mass_no_noise"].astype(np.float32)),
        "iso_dr03_no_noise": pa.array(flat["iso_dr03_no_noise"].astype(np.float32)),
        "y": pa.array(flat["y"].astype(LABEL_DTYPE)),
    }
    table = pa.table([columns[c] for c in TRUTH_COLUMNS], names=list(TRUTH_COLUMNS))
    with atomic_output(path) as tmp:
        feather.write_feather(table, str(tmp), compression="zstd", compression_level=3, chunksize=1 << 20)


def merge(
    signal_chunks: Sequence[str | os.PathLike],
    background_chunks: Sequence[str | os.PathLike],
    data_path: str | os.PathLike,
    unscaled_path: str | os.PathLike,
    n_per_class: int,
    fractions: Mapping[str, float],
    et_bin_width: float,
    seed: int,
    truth_path: str | os.PathLike | None = None,
) -> dict[str, object]:
    """Merge chunk files into ``data.h5`` (standardised) and ``unscaled_data.h5`` (GeV).

    With ``truth_path``, also the truth of every candidate (:func:`write_truth`),
    carried through the same selection and shuffle, in ``data.h5``'s row order.

    Classes are balanced and matched in candidate ET (bins of ``et_bin_width``
    GeV), shuffled, split by ``fractions``; the scaling is fitted on train only.
    Returns a summary (counts per split, ET-matching efficiency per class).
    """
    sig, _ = read_chunks(signal_chunks)
    bkg, _ = read_chunks(background_chunks)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2,)))
    lo = float(min(sig["cand_et"].min(), bkg["cand_et"].min()))
    hi = float(max(sig["cand_et"].max(), bkg["cand_et"].max()))
    bins = np.arange(np.floor(lo / et_bin_width) * et_bin_width, hi + et_bin_width, et_bin_width)
    i_s, i_b = match_et(sig["cand_et"], bkg["cand_et"], bins, n_per_class, rng)
    truth_keys = tuple(c for c in TRUTH_COLUMNS if c not in ("split", "index", "y"))
    groups = tuple(layout.FEATURE_SHAPES) + truth_keys
    both = {g: np.concatenate([sig[g][i_s], bkg[g][i_b]]) for g in groups}
    for g, shape in layout.FEATURE_SHAPES.items():
        both[g] = both[g].reshape((both[g].shape[0],) + shape)
    n = both["y"].shape[0]
    order = rng.permutation(n)
    both = {g: a[order] for g, a in both.items()}
    sizes = split_sizes(n, fractions)
    splits, truth, start = {}, {}, 0
    for s in layout.SPLITS:
        splits[s] = {g: both[g][start : start + sizes[s]] for g in layout.FEATURE_SHAPES}
        truth[s] = {g: both[g][start : start + sizes[s]] for g in (*truth_keys, "y")}
        start += sizes[s]
    scaling = fit_scaling(splits["train"])
    attrs = {
        "source": "leptonid.simulation (Pythia 8 + parametric calorimeter)",
        "seed": seed,
        "label": "y: 1 electron (Z/gamma* -> ee), 0 jet faking an electron; float32",
    }
    write_data_file(unscaled_path, splits, {**attrs, "scaled": False, "units": "GeV"})
    scaled = {s: apply_scaling(splits[s], scaling) for s in layout.SPLITS}
    write_data_file(
        data_path,
        scaled,
        {
            **attrs,
            "scaled": True,
            "scaling": "hl, mass: per column (x-mean)/std; et, ht: one mean/std per image group; fitted on train",
        },
        scaling,
    )
    if truth_path is not None:
        write_truth(truth_path, truth)
    return {
        "sizes": sizes,
        "signal_kept": f"{i_s.size}/{sig['y'].shape[0]}",
        "background_kept": f"{i_b.size}/{bkg['y'].shape[0]}",
    }
