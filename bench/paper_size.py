"""Benchmark: the whole workflow at the paper's size, every rule's wall time and peak memory.

Writes a synthetic ``data.h5`` with the paper's split sizes and layout
(137,500 train, 39,523 valid, 42,977 test: 220,000 events; et 31x31, ht
32x32, hl 7, mass 1, float32) into a temporary directory (never into the
repository), then runs the real workflow over it (``data.source: file``):
validation, split, EFPs, training, the guided search, the evaluation and
the report. Settings whose cost is only proportional are cheap: the d<=3
prime EFPs on two (kappa, beta) points, tiny networks, one epoch, two
search passes, and by default only the three feature sets the guided
search needs (et_and_ht, hl, hl_and_efps; ``--feature-sets`` takes all
eight): every rule runs, train and evaluate fewer times. Event counts,
file layout, pair grid and bootstrap are the paper preset's, so memory is
what a full-size run meets.

Every rule writes a Snakemake ``benchmark:`` file under
``benchmarks/<rule>``; the table gives per rule the jobs, the summed and the
longest wall time, the events per second of the longest job and the largest
peak resident memory (max_rss) of any of its jobs. A job's events are the
size of the split it reads (the whole sample for rules that read all splits).

Usage: python bench/paper_size.py [--scale 0.05] [--cores 2] [--workdir DIR] [--keep]
       python bench/paper_size.py --efp-cost 16 6            # the paper preset's EFP cost
       python bench/paper_size.py --plan presets/paper.yaml  # the jobs a config plans
Last line of a run: ``paper size: <events> events, peak <MiB> MiB (<rule>), <minutes> min``.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from leptonid.synthetic import write_synthetic_h5  # noqa: E402

# The paper's split sizes (paper-facts: test 42,977, train about 137,500; valid
# is the rest of 220,000).
PAPER_SPLITS = {"train": 137_500, "valid": 39_523, "test": 42_977}
ALL_FEATURE_SETS = ["et", "ht", "et_and_ht", "et_and_ht_and_hl", "hl", "mass", "hl_and_mass", "hl_and_efps"]
# what the guided search needs: its reference CNN (both images), its base and its final feature set
SEARCH_FEATURE_SETS = ["et_and_ht", "hl", "hl_and_efps"]
# every fit setting is set per model too: config.yaml's per-model keys (e.g. epochs) would otherwise merge in
FIT = {"epochs": 1, "patience": 1, "lr_patience": 1, "batch_size": 128}
CNN = {"conv_blocks": 1, "filters": 2, "dense_layers": 1, "hidden_units": 8, "learning_rate": 1.0e-3, "dropout": 0.0}
DENSE = {"conv_blocks": 0, "filters": 0, "dense_layers": 2, "hidden_units": 16, "learning_rate": 1.0e-3, "dropout": 0.0}
CNN, DENSE = {**CNN, **FIT}, {**DENSE, **FIT}
LIMIT_MIB = 4096


def split_sizes(scale: float) -> dict[str, int]:
    """The paper's split sizes times ``scale`` (at least 256 events each)."""
    return {split: max(256, round(n * scale)) for split, n in PAPER_SPLITS.items()}


def bench_config(data: Path, feature_sets: list[str]) -> dict:
    """The workflow config of the benchmark: paper event counts, cheap proportional settings."""
    models = {fs: dict(CNN if fs in ("et", "ht", "et_and_ht", "et_and_ht_and_hl") else DENSE) for fs in feature_sets}
    return {
        "data": {"source": "file", "path": str(data)},
        "efp": {
            "graph_sets": [["d<=3", "p==1"]],
            "kappas": [1],
            "betas": [0.5, 1],
            "n_chunks": 4,
            "backend": "numpy",
        },
        "training": {
            "feature_sets": feature_sets,
            "defaults": {"epochs": 1, "batch_size": 128, "patience": 1, "lr_patience": 1},
            "models": models,
            "resources": {"threads": 1},
        },
        "search": {"max_passes": 2, "resources": {"threads": 1}},
        "evaluation": {"bootstrap_resamples": 1000},
    }


def rule_of(path: Path, root: Path) -> str:
    """The rule a benchmark file belongs to: ``benchmarks/<rule>.tsv`` or ``benchmarks/<rule>/...``."""
    rel = path.relative_to(root)
    return rel.parts[0].removesuffix(".tsv")


def job_events(rule: str, path: Path, sizes: dict[str, int], efp_chunks: int) -> int | None:
    """Events one job works through (None for rules whose work does not grow with events).

    A job that names a split (``efp_chunk/et_train_0``, ``efp_gather/ht_valid``) reads
    that split (an EFP chunk 1 / ``efp.n_chunks`` of it); train predicts every split;
    the guided search trains on train and scores train and valid; evaluate,
    summarize and search_summary score test; efp_dedupe reads train.
    """
    if rule in ("efp_graphs", "report"):
        return None
    stem = path.stem
    for split, n in sizes.items():
        if stem == split or stem.endswith(f"_{split}") or f"_{split}_" in stem:
            return n // efp_chunks if rule == "efp_chunk" else n
    per_rule = {
        "evaluate": sizes["test"], "summarize": sizes["test"], "search_summary": sizes["test"],
        "efp_dedupe": sizes["train"], "guided_search": sizes["train"] + sizes["valid"],
    }
    return per_rule.get(rule, sum(sizes.values()))


#: {rule: [(wall seconds, peak RSS MiB, events or None) per job]}
Jobs = dict[str, list[tuple[float, float, int | None]]]


def read_benchmarks(root: Path, sizes: dict[str, int], efp_chunks: int) -> Jobs:
    """{rule: [(seconds, max_rss MiB, events) per job]} from every benchmark file under ``root``."""
    jobs: Jobs = defaultdict(list)
    for path in sorted(root.rglob("*.tsv")):
        with path.open() as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
        if not rows:
            raise SystemExit(f"{path}: empty benchmark file")
        row = rows[-1]
        rss = row.get("max_rss", "NA")
        rule = rule_of(path, root)
        jobs[rule].append((float(row["s"]), float(rss) if rss not in ("NA", "-") else float("nan"),
                           job_events(rule, path, sizes, efp_chunks)))
    return jobs


def table(jobs: Jobs) -> list[str]:
    """Markdown table: rule, jobs, wall time (sum, longest job), events/s of the longest job, peak RSS."""
    lines = ["| rule | jobs | wall s (sum) | wall s (longest job) | events/s (longest job) | peak RSS MiB |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for rule, rows in sorted(jobs.items(), key=lambda kv: -sum(r[0] for r in kv[1])):
        seconds, _, events = max(rows, key=lambda r: r[0])
        peak = max(r[1] for r in rows)
        rate = "-" if events is None or seconds <= 0 else f"{events / seconds:,.0f}"
        lines.append(f"| {rule} | {len(rows)} | {sum(r[0] for r in rows):,.1f} | {seconds:,.1f} | "
                     f"{rate} | {peak:,.0f} |")
    return lines


def efp_cost(n_ecal: int, n_hcal: int) -> list[str]:
    """Core-hours of the paper preset's EFPs (d<=7 + d<=8 c==4, 15 points) for 220,000 events, per image.

    Our engine (numpy, one thread) on a sample: ECal-like images of
    bench/efp.py (60-130 pixels) and HCal-like images of bench/gpu_check.py
    (5-20 occupied coarse cells, 80-320 pixels); CPU time per event,
    extrapolated. Train computes every column; valid and test only the kept
    ones, counted here as every column (an upper bound).
    """
    sys.path.insert(0, str(REPO / "bench"))
    from efp import realistic_ecal_images
    from gpu_check import BETAS, GRAPH_SETS, KAPPAS, hcal_like_images

    from leptonid.efp import EFPCalculator, graphs_from_specs, particles_from_images

    calc = EFPCalculator(graphs_from_specs(GRAPH_SETS), KAPPAS, BETAS)
    lines = []
    for image, images in (("et", realistic_ecal_images(n_ecal, seed=1)), ("ht", hcal_like_images(n_hcal, seed=2))):
        z, eta, phi, mask = particles_from_images(images, image)
        calc.compute(z[:2], eta[:2], phi[:2], mask[:2])  # warm-up
        start = time.process_time()
        calc.compute(z, eta, phi, mask)
        per_event = (time.process_time() - start) / len(z)
        n_part = mask.sum(axis=1)
        hours = per_event * sum(PAPER_SPLITS.values()) / 3600
        lines.append(f"EFP {image}: {len(calc.columns)} EFPs (15 points), {len(z)} events of {n_part.min()}-"
                     f"{n_part.max()} pixels: {per_event:.3f} CPU s per event and grid -> "
                     f"{hours:,.1f} core-hours for 220,000 events")
    return lines


def plan(configfile: Path) -> list[str]:
    """Per rule: jobs, threads and resources of ``snakemake -n --configfile <configfile>`` (a cluster's view).

    Run with many cores so that threads are not capped by this machine;
    resources that grow with the input size are printed as ``input`` (unknown
    before the inputs exist).
    """
    import re

    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(REPO / "config.yaml", Path(tmp) / "config.yaml")
        cmd = [str(Path(sys.executable).parent / "snakemake"), "-n", "--snakefile", str(REPO / "Snakefile"),
               "--directory", tmp, "--configfile", str(configfile), "--cores", "1024"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"dry run failed:\n{proc.stderr[-3000:]}")
    rules: dict[str, dict[str, set[str]]] = {}
    for block in re.split(r"\n(?=\[[^\n]*\]\n(?:local)?rule )", proc.stdout + proc.stderr):
        match = re.search(r"^(local)?rule (\w+):", block, re.M)
        if match is None or match.group(2) == "all":
            continue
        info = rules.setdefault(match.group(2), {"jobs": set(), "threads": set(), "local": set()})
        info["jobs"].add(re.search(r"jobid: (\d+)", block).group(1))
        info["local"].add("local" if match.group(1) else "")
        threads = re.search(r"threads: (\d+)", block)
        info["threads"].add(threads.group(1) if threads else "1")
        res = re.search(r"resources: (.*)", block)
        for item in (res.group(1).split(", ") if res else []):
            key, _, value = item.partition("=")
            if key in ("mem_mb", "runtime", "gpu"):
                info.setdefault(key, set()).add("input" if value == "<TBD>" else value)
    lines = ["| rule | jobs | threads | GPUs | mem_mb | runtime (min) |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for rule, info in sorted(rules.items(), key=lambda kv: -len(kv[1]["jobs"])):
        cell = {k: "/".join(sorted(info.get(k, {"0" if k == "gpu" else "-"}), key=lambda v: (len(v), v)))
                for k in ("threads", "gpu", "mem_mb", "runtime")}
        name = f"{rule} (local)" if "local" in info["local"] else rule
        lines.append(f"| {name} | {len(info['jobs'])} | {cell['threads']} | {cell['gpu']} | {cell['mem_mb']} | "
                     f"{cell['runtime']} |")
    total = sum(len(info["jobs"]) for info in rules.values())
    lines.append(f"{total} jobs in {len(rules)} rules")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the paper's split sizes (debug: 0.05)")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=None, help="run here (default: a temporary directory)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument(
        "--feature-sets", nargs="+", default=SEARCH_FEATURE_SETS, choices=ALL_FEATURE_SETS,
        help="feature sets to train (default: the three the guided search needs; every rule runs)",
    )
    parser.add_argument(
        "--efp-cost", nargs=2, type=int, metavar=("N_ECAL", "N_HCAL"),
        help="instead of the run: time the paper preset's EFP set on N sample events per image and extrapolate",
    )
    parser.add_argument("--plan", type=Path, metavar="CONFIGFILE",
                        help="instead of the run: summarise the jobs a dry run with this config file plans")
    args = parser.parse_args()
    if args.plan:
        print("\n".join(plan(args.plan.resolve())))
        return
    if args.efp_cost:
        print("\n".join(efp_cost(*args.efp_cost)))
        return

    import yaml

    sizes = split_sizes(args.scale)
    events = sum(sizes.values())
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="leptonid-paper-size-"))
    workdir.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()
    print(f"{events:,} events ({', '.join(f'{k} {v:,}' for k, v in sizes.items())}) in {workdir}; "
          f"feature sets {' '.join(args.feature_sets)}; {args.cores} cores, "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", flush=True)
    try:
        start = time.perf_counter()
        data = write_synthetic_h5(workdir / "input" / "data.h5", sizes, seed=1)
        print(f"synthetic data.h5: {data.stat().st_size / 2**20:,.0f} MiB in {time.perf_counter() - start:.0f} s "
              "(not part of the run's time)", flush=True)
        config = workdir / "config.yaml"
        config.write_text(yaml.safe_dump(bench_config(data, args.feature_sets), sort_keys=False))
        cmd = [str(Path(sys.executable).parent / "snakemake"), "--snakefile", str(REPO / "Snakefile"),
               "--directory", str(workdir), "--configfile", str(config), "--cores", str(args.cores)]
        env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "TF_CPP_MIN_LOG_LEVEL": "2",
               "CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES", "")}
        start = time.perf_counter()
        with (workdir / "snakemake.log").open("w") as log:
            proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        minutes = (time.perf_counter() - start) / 60
        if proc.returncode != 0:
            tail = (workdir / "snakemake.log").read_text()[-4000:]
            raise SystemExit(f"workflow failed ({proc.returncode}) after {minutes:.1f} min; log "
                             f"{workdir / 'snakemake.log'}:\n{tail}")
        cfg = bench_config(data, args.feature_sets)
        jobs = read_benchmarks(workdir / "benchmarks", sizes, cfg["efp"]["n_chunks"])
        print("\n".join(table(jobs)))
        rule, peak = max(((r, max(x[1] for x in rows)) for r, rows in jobs.items()), key=lambda kv: kv[1])
        over = [r for r, rows in jobs.items() if max(x[1] for x in rows) > LIMIT_MIB]
        load = os.getloadavg()
        print(f"load average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
              f"rules over {LIMIT_MIB} MiB: {', '.join(over) or 'none'}")
        print(f"paper size: {events} events, peak {peak:.0f} MiB ({rule}), {minutes:.1f} min")
    finally:
        if args.workdir is None and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
