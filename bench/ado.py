"""Benchmark the ADO of the guided EFP search against plain numpy.

    python bench/ado.py [--quick] [--columns N] [--pairs N] [--reference-columns N] [--threads N]

1. One pass of the search: the ADO of 10,000 candidate columns against a
   reference on 1,000,000 signal-background pairs (synthetic, float64;
   the pairs join 6,000 signal and 6,000 background events, as on the
   authors' 6000 x 6000 grid). Ours: ``ado_on_pairs``. Plain numpy:
   ``ado_reference`` (Heaviside of the product of float64 differences,
   ties 1/2), run on ``--reference-columns`` of the columns (all of them
   if that is 0) and scaled per column when it is a subset; the script
   says which. The two must agree to 1e-12 on the columns both ran.
2. The exact ADO over all signal x background pairs of a paper-size test
   split (42,977 events, about 4.6e8 pairs) for a few columns, against a
   brute force that loops over blocks of signal events (no index arrays);
   in ``--quick`` the brute force runs on a 10,000-event subsample and is
   scaled by the number of pairs, and both must agree there.
3. Scaling of the exact ADO: one column at n = 10k, 20k, 40k, 80k events
   (also in ``--quick``), best of 3 runs, printed as time / (n log2 n),
   which stays about flat for an O(n log n) algorithm.

The last line reads ``ado speedup: <ratio>x`` (pass over the columns,
ours against plain numpy, same work or scaled per column as printed).
``--quick`` finishes in under a minute.
"""

from __future__ import annotations

import argparse
import os
import time

import _common  # noqa: F401  (puts src/ on the path)
import numpy as np

from leptonid.search.ado import ado_on_pairs, ado_reference, exact_ado, fold


def synthetic_pass(n_columns: int, n_pairs: int, seed: int = 0):
    """Reference scores, candidate columns and pairs like one pass of the search."""
    rng = np.random.default_rng(seed)
    n_sig = n_bkg = 6000
    y = np.r_[np.ones(n_sig, int), np.zeros(n_bkg, int)]
    ref = rng.standard_normal(y.size) + y
    cand = np.empty((y.size, n_columns), dtype=np.float64)
    for start in range(0, n_columns, 1000):  # EFP-like: positive, many decades, some correlated with ref
        k = min(1000, n_columns - start)
        mix = rng.uniform(-1, 1, k)
        cand[:, start : start + k] = np.exp(mix * ref[:, None] + rng.standard_normal((y.size, k)) * 2)
    sig = rng.integers(0, n_sig, n_pairs)
    bkg = rng.integers(n_sig, n_sig + n_bkg, n_pairs)
    return ref, cand, sig, bkg


def reference_by_blocks(ref, cand, sig, bkg, block: int = 64, chunk: int = 8192) -> np.ndarray:
    """``ado_reference`` over column blocks (bounded memory), raw orientation."""
    out = [
        ado_reference(ref, cand[:, s : s + block], sig, bkg, fold_result=False, chunk=chunk)
        for s in range(0, cand.shape[1], block)
    ]
    return np.concatenate(out)


def brute_all_pairs(f: np.ndarray, g: np.ndarray, y: np.ndarray, rows: int = 256) -> float:
    """Raw ADO over all signal x background pairs by blocks of signal events (plain numpy)."""
    lab = y.astype(bool)
    fs, gs, fb, gb = f[lab], g[lab], f[~lab], g[~lab]
    total = 0.0
    for start in range(0, fs.size, rows):
        prod = (fs[start : start + rows, None] - fb[None, :]) * (gs[start : start + rows, None] - gb[None, :])
        total += np.heaviside(prod, 0.5).sum()
    return total / (fs.size * fb.size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, under a minute")
    parser.add_argument("--columns", type=int, default=None, help="candidate columns (10,000; quick 1,000)")
    parser.add_argument("--pairs", type=int, default=None, help="pairs (1,000,000; quick 300,000)")
    parser.add_argument(
        "--reference-columns", type=int, default=None,
        help="columns the plain numpy reference runs on (0 = all; default 200, quick 50)",
    )
    parser.add_argument("--threads", type=int, default=None, help="threads of ado_on_pairs (default: all cores)")
    args = parser.parse_args()
    n_columns = args.columns or (1000 if args.quick else 10_000)
    n_pairs = args.pairs or (300_000 if args.quick else 1_000_000)
    n_ref = args.reference_columns if args.reference_columns is not None else (50 if args.quick else 200)
    n_ref = n_columns if n_ref in (0, None) or n_ref > n_columns else n_ref
    threads = args.threads or os.cpu_count() or 1
    print(f"cores: {os.cpu_count()}, ado_on_pairs threads: {threads}")

    # --- 1. one pass over the candidate columns ---------------------------
    ref, cand, sig, bkg = synthetic_pass(n_columns, n_pairs)
    print(f"pass: {n_columns} candidate columns x {n_pairs} pairs (12,000 events, float64)")
    t0 = time.perf_counter()
    ours = ado_on_pairs(ref, cand, sig, bkg, fold_result=False, threads=threads)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    plain = reference_by_blocks(ref, cand[:, :n_ref], sig, bkg)
    t_ref = time.perf_counter() - t0
    diff = float(np.abs(ours[:n_ref] - plain).max())
    if diff > 1e-12:
        raise SystemExit(f"ado_on_pairs and the reference disagree by {diff}")
    per_col_ref = t_ref / n_ref
    t_ref_all = per_col_ref * n_columns
    scaled = n_ref < n_columns
    print(f"  ado_on_pairs: {t_ours:8.2f} s for {n_columns} columns ({1e3 * t_ours / n_columns:.2f} ms/column)")
    print(
        f"  plain numpy:  {t_ref:8.2f} s for {n_ref} columns ({1e3 * per_col_ref:.2f} ms/column)"
        + (f" -> {t_ref_all:.1f} s for {n_columns} columns (scaled per column)" if scaled else " (same work)")
    )
    print(f"  agree on {n_ref} columns: max |difference| {diff:.1e}; best folded ADO {fold(ours).max():.4f}")
    del cand

    # --- 2. exact ADO over all pairs of a paper-size test split ------------
    rng = np.random.default_rng(1)
    n_test = 42_977
    y = (rng.random(n_test) < 0.5).astype(int)
    f = np.round(rng.standard_normal(n_test) + 1.5 * y, 3)  # rounded: real ties
    n_exact = 2 if args.quick else 4
    g = np.round(f[:, None] + rng.standard_normal((n_test, n_exact)), 2)
    n_s, n_b = int(y.sum()), int(n_test - y.sum())
    print(f"exact ADO: {n_test} events, {n_s} x {n_b} = {n_s * n_b:.3g} pairs per column, {n_exact} columns")
    t0 = time.perf_counter()
    exact = exact_ado(f, g, y, fold_result=False)
    t_exact = (time.perf_counter() - t0) / n_exact
    if args.quick:
        sub = rng.choice(n_test, 10_000, replace=False)
        ys, fs_, gs_ = y[sub], f[sub], g[sub, 0]
        t0 = time.perf_counter()
        brute = brute_all_pairs(fs_, gs_, ys)
        t_sub = time.perf_counter() - t0
        check = float(exact_ado(fs_, gs_, ys, fold_result=False))
        pairs_sub = int(ys.sum()) * int((1 - ys).sum())
        t_brute = t_sub * (n_s * n_b) / pairs_sub
        note = f"brute force on a 10,000-event subsample ({pairs_sub:.3g} pairs, {t_sub:.2f} s), scaled by pairs"
    else:
        t0 = time.perf_counter()
        brute = brute_all_pairs(f, g[:, 0], y)
        t_brute = time.perf_counter() - t0
        check = float(exact[0])
        note = "brute force on all pairs of column 0 (same work)"
    if abs(brute - check) > 1e-12:
        raise SystemExit(f"exact ADO {check} and brute force {brute} disagree")
    print(f"  exact_ado:   {t_exact:8.3f} s/column")
    print(f"  brute force: {t_brute:8.2f} s/column ({note}); agree to {abs(brute - check):.1e}")
    print(f"exact ado speedup: {t_brute / t_exact:.0f}x")

    # --- 3. scaling of the exact ADO: time / (n log2 n) ---------------------
    sizes = (10_000, 20_000, 40_000, 80_000)
    print("exact ADO scaling, one column (best of 3):")
    print(f"  {'n':>7} {'pairs':>9} {'seconds':>9} {'ns / (n log2 n)':>16}")
    for n in sizes:
        rng_n = np.random.default_rng(n)
        y_n = (rng_n.random(n) < 0.5).astype(int)
        f_n = np.round(rng_n.standard_normal(n) + 1.5 * y_n, 3)
        g_n = np.round(f_n + rng_n.standard_normal(n), 2)
        best = np.inf
        for _ in range(3):
            t0 = time.perf_counter()
            exact_ado(f_n, g_n, y_n)
            best = min(best, time.perf_counter() - t0)
        pairs_n = int(y_n.sum()) * int(n - y_n.sum())
        print(f"  {n:7d} {pairs_n:9.2e} {best:9.4f} {1e9 * best / (n * np.log2(n)):16.2f}")
    print(f"ado speedup: {t_ref_all / t_ours:.1f}x" + (" (plain numpy scaled per column)" if scaled else ""))


if __name__ == "__main__":
    main()
