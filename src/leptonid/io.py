"""Streaming conversion of ``data.h5`` into per-split Feather files, and the loader.

One Feather (Arrow IPC file, compressed) per split with columns ``event``
(row index in the source), ``et`` and ``ht`` (fixed-size lists of float32,
961 and 1024 values, row-major), the 7 HL features by name, ``mass`` and
``y``; with ``unscaled_``-prefixed copies of the features when an unscaled
file is given. Rows are read and written in chunks, so peak memory stays at
a few chunks whatever the size of the source.
"""

from __future__ import annotations

import hashlib
import threading
from contextlib import ExitStack
from pathlib import Path
from typing import Iterable, Sequence

import h5py
import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from leptonid.atomic import atomic_output
from leptonid.contract import DataContractError, Problem, validate_file
from leptonid.layout import FEATURE_GROUPS, FEATURE_SHAPES, HL_FEATURES, LABEL_GROUP, SPLITS

#: Version of the Feather layout written by :func:`split_to_feather`.
SCHEMA_VERSION = "1"
IMAGES: tuple[str, ...] = ("et", "ht")
PENDING_HASH = "sha256-pending-"
UNSCALED_PREFIX = "unscaled_"
#: Names that :func:`load_split` understands besides the raw columns.
LOADABLE = ("event", "et", "ht", "hl", "mass", "y")


def sha256_of(path: str | Path, block: int = 8 * 2**20) -> str:
    """Hex SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            digest.update(chunk)
    return digest.hexdigest()


class _BackgroundHash(threading.Thread):
    """Compute a file's SHA-256 in a thread (hashlib releases the GIL)."""

    def __init__(self, path: str | Path):
        super().__init__(daemon=True)
        self.path = path
        self.result: str | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = sha256_of(self.path)
        except BaseException as err:  # noqa: BLE001 - re-raised in value()
            self.error = err

    def value(self) -> str:
        self.join()
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


def feather_schema(files: dict[str, h5py.File], split: str) -> pa.Schema:
    """Arrow schema of a split file; ``files`` maps a column prefix ("" or "unscaled_") to its source."""
    fields = [pa.field("event", pa.int64())]
    for prefix, f in files.items():
        fields += [
            pa.field(f"{prefix}{image}", pa.list_(pa.float32(), int(np.prod(FEATURE_SHAPES[image]))))
            for image in IMAGES
        ]
        hl_type = pa.from_numpy_dtype(f[f"hl/{split}"].dtype)
        fields += [pa.field(f"{prefix}{name}", hl_type) for name in HL_FEATURES]
        fields.append(pa.field(f"{prefix}mass", pa.from_numpy_dtype(f[f"mass/{split}"].dtype)))
    fields.append(pa.field("y", pa.from_numpy_dtype(files[""][f"y/{split}"].dtype)))
    return pa.schema(fields)


def _image_column(block: np.ndarray) -> pa.Array:
    flat = np.ascontiguousarray(block, dtype=np.float32).reshape(-1)
    width = int(np.prod(block.shape[1:]))
    return pa.FixedSizeListArray.from_arrays(pa.array(flat), width)


def _feature_columns(f: h5py.File, split: str, rows: slice) -> list[pa.Array]:
    """Columns et, ht, 7 HL, mass of one chunk of rows."""
    cols = [_image_column(f[f"{image}/{split}"][rows]) for image in IMAGES]
    hl = f[f"hl/{split}"][rows]
    cols += [pa.array(np.ascontiguousarray(hl[:, i])) for i in range(hl.shape[1])]
    cols.append(pa.array(f[f"mass/{split}"][rows].reshape(-1)))
    return cols


def _check_same_events(scaled: h5py.File, unscaled: h5py.File, scaled_path: str, unscaled_path: str) -> None:
    problems = []
    for split in SPLITS:
        for group in (*FEATURE_GROUPS, LABEL_GROUP):
            a, b = scaled[f"{group}/{split}"], unscaled[f"{group}/{split}"]
            if a.shape != b.shape:
                problems.append(
                    Problem(unscaled_path, f"{group}/{split}", f"shape {b.shape} differs from {a.shape} in {scaled_path}")
                )
    if problems:
        raise DataContractError(problems)


def _write_split(
    f: h5py.File,
    unscaled: h5py.File | None,
    split: str,
    out: Path,
    metadata: dict[str, str],
    chunk_events: int,
    compression: str | None,
    names: tuple[str, str],
) -> None:
    """Write one split to ``out`` chunk by chunk (to a temporary name first)."""
    n = f[f"y/{split}"].shape[0]
    files = {"": f} | ({UNSCALED_PREFIX: unscaled} if unscaled is not None else {})
    schema = feather_schema(files, split).with_metadata(metadata)
    options = ipc.IpcWriteOptions(compression=compression)
    with ipc.new_file(str(out), schema, options=options) as writer:
        for start in range(0, n, chunk_events):
            rows = slice(start, min(n, start + chunk_events))
            y = f[f"y/{split}"][rows]
            cols = [pa.array(np.arange(rows.start, rows.stop, dtype=np.int64))]
            cols += _feature_columns(f, split, rows)
            if unscaled is not None:
                y_unscaled = unscaled[f"y/{split}"][rows]
                if not np.array_equal(y, y_unscaled):
                    bad = rows.start + int(np.flatnonzero(y != y_unscaled)[0])
                    raise DataContractError(
                        [Problem(names[1], f"y/{split}", f"labels differ from {names[0]} (first at row {bad})")]
                    )
                cols += _feature_columns(unscaled, split, rows)
            cols.append(pa.array(y))
            writer.write_batch(pa.record_batch(cols, schema=schema))


def split_to_feather(
    source: str | Path,
    outputs: dict[str, str | Path],
    unscaled_source: str | Path | None = None,
    chunk_events: int = 8192,
    compression: str | None = "lz4",
    check_values: bool = True,
) -> None:
    """Convert ``source`` (and optionally its unscaled twin) into one Feather file per split.

    ``outputs`` maps each split name to its output path. The structure of
    the inputs is always checked; with ``check_values`` every value is
    checked too (skip it when the file was validated just before). All
    outputs are written under temporary names and renamed only when every
    split has been written, so a failure leaves none of them behind.
    """
    if set(outputs) != set(SPLITS):
        raise ValueError(f"outputs must name exactly the splits {SPLITS}, got {sorted(outputs)}")
    if chunk_events < 1:
        raise ValueError(f"chunk_events must be >= 1, got {chunk_events}")
    sources = [source] + ([unscaled_source] if unscaled_source is not None else [])
    hashes = [_BackgroundHash(path) for path in sources if Path(path).is_file()]
    for h in hashes:
        h.start()
    for path in sources:
        validate_file(path, values=check_values)
    # The hashes are computed while the files are written: the metadata holds
    # same-length placeholders that are patched in place at the end.
    placeholders = [f"{i}{PENDING_HASH}"[:64].ljust(64, "-") for i in range(len(hashes))]
    metadata = {
        "leptonid.schema_version": SCHEMA_VERSION,
        "leptonid.source_path": str(source),
        "leptonid.source_sha256": placeholders[0],
    }
    if unscaled_source is not None:
        metadata |= {"leptonid.unscaled_path": str(unscaled_source), "leptonid.unscaled_sha256": placeholders[1]}
    with ExitStack() as stack:
        # every output under a temporary name, renamed only when all splits are written
        temps = {split: stack.enter_context(atomic_output(path)) for split, path in outputs.items()}
        f = stack.enter_context(h5py.File(source, "r"))
        u = stack.enter_context(h5py.File(unscaled_source, "r")) if unscaled_source else None
        if u is not None:
            _check_same_events(f, u, str(source), str(unscaled_source))
        names = (str(source), str(unscaled_source))
        for split in SPLITS:
            _write_split(f, u, split, temps[split], metadata, chunk_events, compression, names)
        for placeholder, h in zip(placeholders, hashes):
            digest = h.value()
            for split in SPLITS:
                _patch_in_place(temps[split], placeholder.encode(), digest.encode())


def _patch_in_place(path: Path, placeholder: bytes, value: bytes, window: int = 1 << 20) -> None:
    """Overwrite every occurrence of ``placeholder`` in the head and the tail of a file.

    Arrow IPC files keep the schema (with its metadata) in the first message
    and in the footer; both lie within ``window`` bytes of the file's ends.
    """
    assert len(placeholder) == len(value)
    size = path.stat().st_size
    found = 0
    with open(path, "r+b") as f:
        for start in sorted({0, max(0, size - window)}):
            f.seek(start)
            block = f.read(window)
            offset = block.find(placeholder)
            while offset >= 0:
                f.seek(start + offset)
                f.write(value)
                found += 1
                offset = block.find(placeholder, offset + 1)
    if found == 0:
        raise RuntimeError(f"{path}: metadata placeholder not found; cannot record the source hash")


def read_metadata(path: str | Path) -> dict[str, str]:
    """File-level metadata of a split file (source path, sha256, schema version)."""
    with pa.memory_map(str(path)) as source:
        meta = ipc.open_file(source).schema.metadata or {}
    return {k.decode(): v.decode() for k, v in meta.items()}


def column_names(path: str | Path) -> list[str]:
    """Column names of a split file, from its footer."""
    with pa.memory_map(str(path)) as source:
        return ipc.open_file(source).schema.names


def count_rows(path: str | Path) -> int:
    """Number of events in a Feather file (reads only its first column, batch by batch)."""
    with pa.memory_map(str(path)) as source:
        return int(sum(_batch_sizes(source)))


def _columns_for(name: str, available: Iterable[str]) -> list[str]:
    prefix = UNSCALED_PREFIX if name.startswith(UNSCALED_PREFIX) else ""
    base = name[len(prefix):]
    if base == "hl":
        return [f"{prefix}{n}" for n in HL_FEATURES]
    if base in LOADABLE or name in available:
        return [name]
    raise KeyError(name)


def load_split(
    path: str | Path, features: Sequence[str], rows: tuple[int, int] | None = None
) -> dict[str, np.ndarray]:
    """Load features of one split file as numpy arrays in the original shapes.

    ``features`` are among ``event``, ``et``, ``ht``, ``hl``, ``mass``, ``y``,
    their ``unscaled_`` forms, or any single column (``r_had``, ...). Only
    the columns asked for are read. ``rows`` = (start, stop) selects a range
    of events. Images come back as (N, 31, 31, 1) and (N, 32, 32, 1),
    ``hl`` as (N, 7), ``mass`` as (N, 1), ``y`` and ``event`` as (N,).

    Memory: the result plus one record batch. The file is read batch by
    batch (only the batches that overlap ``rows``, only the columns asked
    for) into arrays allocated once at their final size, so a 220,000-event
    split is never held twice (decompressed Arrow table + numpy copy).
    """
    with pa.memory_map(str(path)) as source:
        available = ipc.open_file(source).schema.names
        wanted: dict[str, list[str]] = {}
        for name in features:
            try:
                cols = _columns_for(name, available)
            except KeyError:
                raise KeyError(f"{path}: unknown feature {name!r}; columns are {available}") from None
            missing = [c for c in cols if c not in available]
            if missing:
                raise KeyError(f"{path}: feature {name!r} needs missing column(s) {missing}")
            wanted[name] = cols
        needed = sorted({c for cols in wanted.values() for c in cols}, key=available.index)
        # only these columns are read (and decompressed), one record batch at a time
        options = ipc.IpcReadOptions(included_fields=[available.index(c) for c in needed])
        reader = ipc.open_file(source, options=options)
        schema = reader.schema
        sizes = _batch_sizes(source)
        total = int(sum(sizes))
        start, stop = (0, total) if rows is None else (max(0, rows[0]), min(total, max(rows[0], rows[1])))
        n = max(0, stop - start)
        out = {c: _empty_column(schema.field(c).type, n) for c in needed}
        offset = 0
        for i, size in enumerate(sizes):
            lo, hi = max(start, offset), min(stop, offset + size)
            if lo < hi:
                batch = reader.get_batch(i).slice(lo - offset, hi - lo)
                for c in needed:
                    out[c][lo - start : hi - start] = _column_values(batch.column(c)).reshape(hi - lo, -1)
            offset += size
    result: dict[str, np.ndarray] = {}
    for name, cols in wanted.items():
        base = name.removeprefix(UNSCALED_PREFIX)
        if base in IMAGES:
            result[name] = out[cols[0]].reshape((n, *FEATURE_SHAPES[base]))
        elif base == "hl":
            result[name] = np.column_stack([out[c][:, 0] for c in cols])
        elif base == "mass":
            result[name] = out[cols[0]]
        else:
            result[name] = out[cols[0]][:, 0]
    return result


def _batch_sizes(source: pa.NativeFile) -> list[int]:
    """Rows of each record batch of an open IPC file (reads only its first column)."""
    reader = ipc.open_file(source, options=ipc.IpcReadOptions(included_fields=[0]))
    return [reader.get_batch(i).num_rows for i in range(reader.num_record_batches)]


def _empty_column(dtype: pa.DataType, n: int) -> np.ndarray:
    """An (n, width) array for a column of ``dtype`` (width 1 unless a fixed-size list)."""
    if pa.types.is_fixed_size_list(dtype):
        return np.empty((n, dtype.list_size), dtype=dtype.value_type.to_pandas_dtype())
    return np.empty((n, 1), dtype=dtype.to_pandas_dtype())


def _column_values(column: pa.Array) -> np.ndarray:
    """The values of one (possibly sliced) column of a batch as a flat numpy array."""
    if pa.types.is_fixed_size_list(column.type):
        column = column.flatten()  # respects the slice's offset
    return column.to_numpy(zero_copy_only=False)
