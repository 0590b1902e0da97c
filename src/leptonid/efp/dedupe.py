"""De-duplication of EFP columns over a whole split.

A column is dropped when it is

* ``nonfinite``: any value is NaN or infinite;
* ``constant``: ``max - min <= tol * max(|max|, |min|)`` (e.g. sum z = 1 at kappa = 1);
* ``duplicate``: after min-max normalisation to [0, 1] every value is within
  ``tol`` of the normalised values of an earlier, canonical column.

Canonical order (the column that is kept): fewest edges d, then fewest
vertices n, then smallest kappa, then smallest beta, then graph index k.

Columns are read one at a time (memory ~ a few columns), so a 137k x 7,700
table is fine. Candidates are found with two random projections of each
normalised column (two columns within ``tol`` everywhere have projections
within ``tol``), kept in sorted order, and confirmed exactly.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from leptonid.efp.graphs import parse_column

__all__ = [
    "DedupeResult",
    "dedupe_columns",
    "dedupe_feather",
    "canonical_order",
    "write_unique_csv",
    "unique_columns",
    "dedupe_markdown",
]


@dataclass
class DedupeResult:
    """Outcome for one image: kept columns and why the others were dropped."""

    image: str
    n_rows: int
    kept: list[str] = field(default_factory=list)
    stands_for: dict[str, list[str]] = field(default_factory=dict)
    nonfinite: list[str] = field(default_factory=list)
    constant: list[str] = field(default_factory=list)

    @property
    def n_before(self) -> int:
        return len(self.kept) + len(self.nonfinite) + len(self.constant) + self.n_duplicate

    @property
    def n_duplicate(self) -> int:
        return sum(len(v) for v in self.stands_for.values())


def canonical_order(names: Sequence[str]) -> list[str]:
    """Sort EFP column names: d, then n, then kappa, then beta, then k."""

    def key(name: str) -> tuple:
        n, d, k, kappa, beta = parse_column(name)
        return (d, n, kappa, beta, k)

    return sorted(names, key=key)


def dedupe_columns(
    names: Sequence[str],
    get_column: Callable[[str], np.ndarray],
    tol: float = 1e-6,
    image: str = "",
    seed: int = 0,
) -> DedupeResult:
    """Find non-finite, constant and duplicate columns.

    Arguments:
        names: EFP column names (``EFP_<n>_<d>_<k>_k_<kappa>_b_<beta>``).
        get_column: returns the values of one column as a 1-d float array.
        tol: tolerance on min-max normalised values (and relative range for
            constant columns).
        image: label stored in the result.
        seed: seed of the random projection weights.
    """
    if tol < 0:
        raise ValueError(f"dedupe tolerance must be >= 0, got {tol}")
    if len(set(names)) != len(names):
        raise ValueError("column names are not unique")
    result = DedupeResult(image=image, n_rows=0)
    weights: np.ndarray | None = None
    cache: dict[str, np.ndarray] = {}
    reps: list[tuple[float, str]] = []  # (first projection, name), sorted
    second: dict[str, float] = {}
    scale: dict[str, tuple[float, float]] = {}

    def normalised(name: str) -> np.ndarray:
        lo, span = scale[name]
        return (np.asarray(get_column(name), dtype=np.float64) - lo) / span

    for name in canonical_order(names):
        x = np.asarray(get_column(name), dtype=np.float64)
        if weights is None:
            result.n_rows = len(x)
            weights = np.random.default_rng(seed).random(len(x)) / max(len(x), 1)
        elif len(x) != result.n_rows:
            raise ValueError(f"column {name} has {len(x)} rows, expected {result.n_rows}")
        if len(x) == 0 or not np.all(np.isfinite(x)):
            result.nonfinite.append(name)
            continue
        lo, hi = float(x.min()), float(x.max())
        if hi - lo <= tol * max(abs(hi), abs(lo)):
            result.constant.append(name)
            continue
        scale[name] = (lo, hi - lo)
        u = (x - lo) / (hi - lo)
        p1, p2 = float(u.mean()), float(u @ weights)
        match = None
        i = bisect.bisect_left(reps, (p1 - tol, ""))
        while i < len(reps) and reps[i][0] <= p1 + tol:
            rep = reps[i][1]
            if abs(second[rep] - p2) <= tol:
                if rep not in cache:
                    cache[rep] = normalised(rep)
                if np.max(np.abs(cache[rep] - u)) <= tol:
                    match = rep
                    break
            i += 1
        if match is None:
            bisect.insort(reps, (p1, name))
            second[name] = p2
            result.kept.append(name)
            result.stands_for[name] = []
        else:
            result.stands_for[match].append(name)
        if len(cache) > 64:
            cache.clear()
    return result


def dedupe_feather(path: str | Path, image: str, tol: float = 1e-6) -> DedupeResult:
    """Run :func:`dedupe_columns` on the ``EFP_*`` columns of a Feather file (memory-mapped)."""
    import pyarrow as pa
    import pyarrow.ipc as ipc

    with pa.memory_map(str(path)) as source:
        table = ipc.open_file(source).read_all()
        names = [c for c in table.column_names if c.startswith("EFP_")]
        if not names:
            raise ValueError(f"{path}: no EFP_ columns")

        def get(name: str) -> np.ndarray:
            return table.column(name).to_numpy()

        return dedupe_columns(names, get, tol=tol, image=image)


def write_unique_csv(results: Sequence[DedupeResult], path: str | Path) -> None:
    """Write the kept EFPs: efp, image, n, d, k, kappa, beta, n_duplicates, duplicates."""
    import pandas as pd

    rows = []
    for res in results:
        for name in res.kept:
            n, d, k, kappa, beta = parse_column(name)
            dups = res.stands_for[name]
            rows.append(
                {
                    "efp": name,
                    "image": res.image,
                    "n": n,
                    "d": d,
                    "k": k,
                    "kappa": kappa,
                    "beta": beta,
                    "n_duplicates": len(dups),
                    "duplicates": " ".join(dups),
                }
            )
    cols = ["efp", "image", "n", "d", "k", "kappa", "beta", "n_duplicates", "duplicates"]
    pd.DataFrame(rows, columns=cols).to_csv(path, index=False)


def unique_columns(path: str | Path, image: str) -> list[str]:
    """The kept EFP columns of one image in a ``unique.csv`` of :func:`write_unique_csv`, in file order."""
    import pandas as pd

    table = pd.read_csv(path, usecols=["efp", "image"], dtype=str, keep_default_na=False)
    return table.loc[table["image"] == image, "efp"].tolist()


def dedupe_markdown(results: Sequence[DedupeResult], tol: float) -> str:
    """Counts before and after, per image and per reason, as Markdown."""
    lines = [
        "# EFP de-duplication",
        "",
        f"Over the whole train split. Dropped: columns with any non-finite value; constant columns "
        f"(max - min <= {tol:g} x max(|max|, |min|)); columns equal to an earlier one after min-max "
        f"normalisation (all values within {tol:g}). Kept per group: fewest edges d, then fewest "
        "vertices n, then smallest kappa, then smallest beta.",
        "",
        "| image | events | before | non-finite | constant | duplicate | kept |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(
            f"| {r.image} | {r.n_rows} | {r.n_before} | {len(r.nonfinite)} | {len(r.constant)} "
            f"| {r.n_duplicate} | {len(r.kept)} |"
        )
    tot = [
        sum(getattr(r, a) if isinstance(getattr(r, a), int) else len(getattr(r, a)) for r in results)
        for a in ("n_before", "nonfinite", "constant", "n_duplicate", "kept")
    ]
    lines.append(f"| all | | {tot[0]} | {tot[1]} | {tot[2]} | {tot[3]} | {tot[4]} |")
    for r in results:
        if r.constant or r.nonfinite:
            lines += ["", f"## {r.image}", ""]
            if r.constant:
                lines.append(f"Constant: {', '.join(r.constant)}")
            if r.nonfinite:
                lines.append(f"Non-finite: {', '.join(r.nonfinite)}")
    return "\n".join(lines) + "\n"
