# Config validation, input functions and helpers shared by all rules.
import math
import sys
from pathlib import Path

from snakemake.utils import validate

# The library lives in src/; make it importable for the workflow itself even
# when leptonid is not installed (scripts add it to their path likewise).
sys.path.insert(0, str(Path(workflow.basedir) / "src"))

from leptonid.config import check_config  # noqa: E402
from leptonid.feature_sets import (
    FEATURE_SETS,
    is_cnn,
    needs_efps,
    search_result,
)  # noqa: E402
from leptonid.layout import SPLITS  # noqa: E402
from leptonid.simulation.chunk import CLASSES as SIM_CLASSES  # noqa: E402
from leptonid.simulation.chunk import chunk_settings  # noqa: E402
from leptonid.training import resolve_config  # noqa: E402

SCHEMA = Path(workflow.basedir) / "schemas" / "config.schema.yaml"
check_config(config, SCHEMA)  # clear messages naming the key
validate(config, str(SCHEMA))  # Snakemake's validation; fills in the defaults


# Every wildcard of the workflow, constrained once here: a pattern of one rule
# can then never match another rule's files (e.g. efp_gather's
# results/efp/{image}/{split}.feather and the chunks under it).
wildcard_constraints:
    split="|".join(SPLITS),
    image="et|ht",
    chunk=r"\d+",
    cls="|".join(SIM_CLASSES),
    feature_set="|".join(FEATURE_SETS),
    trial=r"\d+",
    download="data|unscaled_data",


# Light rules run on the machine that runs Snakemake, never as cluster jobs
# (download too: compute nodes often cannot reach the internet).
localrules:
    all,
    download,
    summarize,
    report,
    efp_graphs,
    tune,


def canonical(value):
    """``value`` with every dict's keys sorted, recursively.

    Snakemake compares ``params`` as written; sorting makes the same settings
    in another key order count as unchanged (no needless reruns).
    """
    if isinstance(value, dict):
        return {k: canonical(value[k]) for k in sorted(value)}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    return value


def grows(base_mb, per_input_mb=0.0):
    """A ``mem_mb``/``runtime`` resource: ``base + per_input_mb x input size``, times the attempt.

    Grows with the input (so the paper preset asks a cluster for what it
    needs) and with each retry (``retries:`` in the cluster profiles): a job
    killed for memory gets twice as much the second time.
    """

    def value(wildcards, input, attempt):
        return int(math.ceil((base_mb + per_input_mb * input.size_mb) * attempt))

    return value


def data_files(wildcards=None):
    """The data.h5 (and unscaled_data.h5, if any) that the run uses."""
    source = config["data"]["source"]
    if source == "file":
        files = {"data": config["data"]["path"]}
        if config["data"]["unscaled_path"]:
            files["unscaled"] = config["data"]["unscaled_path"]
        return files
    if source == "url":
        return {
            role: download_path(name)
            for role, name in DOWNLOADS.items()
            if config["data"][download_key(name, "url")]
        }
    if source == "simulate":
        return {
            "data": "results/simulation/data.h5",
            "unscaled": "results/simulation/unscaled_data.h5",
        }
    return {"data": "results/synthetic/data.h5"}


# --- used by rules/data.smk (data: {source: url}) ---

# role in data_files -> file name in data.download_dir
DOWNLOADS = {"data": "data", "unscaled": "unscaled_data"}


def download_key(name, key):
    """The data.* config key of one download: url/sha256, or unscaled_url/unscaled_sha256."""
    return key if name == "data" else f"unscaled_{key}"


def download_path(name):
    """Where the download of ``name`` (data or unscaled_data) is kept."""
    return f"{config['data']['download_dir']}/{name}.h5"


def download_url(wildcards):
    return config["data"].get(download_key(wildcards.download, "url"))


def download_sha256(wildcards):
    return config["data"].get(download_key(wildcards.download, "sha256"))


def prep_files():
    """The per-split Feather files, by split."""
    return {split: f"results/prep/{split}.feather" for split in SPLITS}


def all_targets():
    """Everything the default run produces."""
    targets = ["results/data/inventory.md", *prep_files().values()]
    if config["data"]["source"] == "simulate":
        targets.append("results/simulation/validation.md")
        # the chunks are targets too, so that a deleted chunk is rebuilt
        targets += sim_chunks(SIM_CLASSES, "h5") + sim_chunks(SIM_CLASSES, "json")
    targets += ["results/efp/unique.csv", "results/efp/gallery.pdf"]
    targets += evaluation_targets()
    targets += search_targets()
    targets += report_targets()
    return targets


# --- used by rules/simulation.smk ---


def sim_chunk_params(wildcards=None):
    """The simulation settings that change what a chunk generates.

    Merge-only keys (split fractions, ET bin width) are left out, so that
    changing them reruns the merge only; the library owns the list.
    """
    return canonical(chunk_settings(config["simulation"]))


def sim_chunk_runtime(wildcards, attempt):
    """Minutes for one simulation chunk: its candidates at the slowest background
    rate (light QCD, about 3 per CPU second; heavy flavour and signal are faster)."""
    sim = config["simulation"]
    candidates = (
        sim["n_per_class"] * sim[f"{wildcards.cls}_oversample"] / sim["n_chunks"]
    )
    return int(math.ceil((10 + candidates / (3.0 * 60)) * attempt))


def sim_chunks(cls, ext="h5"):
    return expand(
        "results/simulation/chunks/{cls}_{chunk}.{ext}",
        cls=cls,
        chunk=range(config["simulation"]["n_chunks"]),
        ext=ext,
    )


# --- used by rules/efp.smk ---


def efp_chunk_files(wildcards):
    """The chunk files of one image and split."""
    return expand(
        "results/efp/{image}/{split}/chunk_{chunk}.feather",
        image=wildcards.image,
        split=wildcards.split,
        chunk=range(config["efp"]["n_chunks"]),
    )


def efp_chunk_inputs(wildcards):
    """The split's prep file; for valid and test also the de-duplicated column list."""
    files = {"prep": f"results/prep/{wildcards.split}.feather"}
    if wildcards.split != "train":
        files["unique"] = "results/efp/unique.csv"
    return files


def efp_engine_params():
    """Everything that changes the EFP values (a change reruns the chunks)."""
    efp = config["efp"]
    return {
        "graph_sets": efp["graph_sets"],
        "kappas": efp["kappas"],
        "betas": efp["betas"],
    }


# --- used by rules/training.smk ---


def training_feature_sets():
    """Feature sets trained by this run, in config order."""
    return list(config["training"]["feature_sets"])


def training_hyperparameters(wildcards):
    """Resolved hyperparameters of one feature set (a dict; only its own)."""
    return canonical(resolve_config(config["training"], wildcards.feature_set))


def training_gpus(wildcards):
    """GPUs of one train job: ``gpu_cnn`` for a CNN feature set, ``gpu_dense`` otherwise.

    The one place this is decided: the rule's ``gpu`` resource (SLURM's
    ``--gpus``) and ``request_gpus`` (HTCondor) both come from here.
    """
    res = config["training"]["resources"]
    return res["gpu_cnn"] if is_cnn(wildcards.feature_set) else res["gpu_dense"]


def training_inputs(wildcards):
    """The split files, plus the EFPs chosen by the guided search for EFP feature sets."""
    files = prep_files()
    if needs_efps(wildcards.feature_set):
        files.update(
            {f"efps_{split}": path for split, path in selected_efp_files().items()}
        )
    return files


# --- used by rules/search.smk ---


def search_feature_set():
    """The feature set the search builds (hl_and_efps, or hl_and_mass_and_efps)."""
    return search_result(config["search"]["base"])


def search_params():
    """The search settings that change its result (resources left out)."""
    return canonical({k: v for k, v in config["search"].items() if k != "resources"})


def search_network(wildcards=None):
    """Hyperparameters of the network the search retrains: those of its feature set (hl_and_efps)."""
    return canonical(resolve_config(config["training"], search_feature_set()))


def search_efp_tables():
    """The EFP table of every candidate image and split, keyed ``efp_<image>_<split>``."""
    return {
        f"efp_{image}_{split}": f"results/efp/{image}/{split}.feather"
        for split in SPLITS
        for image in config["search"]["images"]
    }


def search_inputs(wildcards):
    """Prep files, EFP tables and reference-CNN scores of every split.

    The honest protocol reads test only in its last step (the library's
    SplitStore guards it); the authors' protocol selects on it.
    """
    reference = config["search"]["reference"]
    files = {"unique": "results/efp/unique.csv", **search_efp_tables()}
    for split in SPLITS:
        files[f"prep_{split}"] = f"results/prep/{split}.feather"
        files[f"reference_{split}"] = f"results/predictions/{reference}/{split}.feather"
    return files


def select_efps_inputs(wildcards):
    """The passes table and the EFP table of every candidate image and split."""
    return {"passes": "results/search/passes.csv", **search_efp_tables()}


def selected_efp_files():
    """The chosen EFP columns of every split (inputs of the feature set hl_and_efps)."""
    return {split: f"results/search/selected/{split}.feather" for split in SPLITS}


def search_summary_inputs(wildcards):
    """What the summary compares on test: the base, the reference CNN and the search's feature set."""
    search = config["search"]
    files = {
        "passes": "results/search/passes.csv",
        "record": "results/search/search.json",
    }
    for role, fs in (
        ("base", search["base"]),
        ("reference", search["reference"]),
        ("final", search_feature_set()),
    ):
        files[role] = f"results/predictions/{fs}/test.feather"
    return files


def search_targets():
    """Outputs of the guided search for rule all (when its feature set is trained)."""
    if search_feature_set() not in config["training"]["feature_sets"]:
        return []
    return [
        "results/search/passes.csv",
        "results/search/summary.md",
        "results/search/search.png",
    ]


# --- used by rules/tune.smk ---


def tune_journal(wildcards):
    """The Optuna journal of one feature set's study (not an output: every trial appends to it)."""
    return f"results/tune/{wildcards.feature_set}/study.journal"


def tune_trial_params():
    """Search settings that change a trial.

    n_trials is left out, so raising it reruns no finished trial; so are
    stale_minutes (house-keeping, read from config by the script) and resources.
    """
    return canonical(
        {
            k: v
            for k, v in config["tune"].items()
            if k not in ("n_trials", "feature_sets", "resources", "stale_minutes")
        }
    )


def tune_training_defaults():
    """training.defaults, under the sampled hyperparameters of every trial."""
    return canonical(dict(config["training"]["defaults"]))


def tune_training_section():
    """The training section that best.yaml is checked against (defaults; models left out)."""
    return {"defaults": tune_training_defaults()}


def tune_trial_inputs(wildcards):
    """train and valid of the split (and the chosen EFPs for EFP feature sets); never test."""
    files = {split: f"results/prep/{split}.feather" for split in ("train", "valid")}
    if needs_efps(wildcards.feature_set):
        efps = selected_efp_files()
        files.update({f"efps_{split}": efps[split] for split in ("train", "valid")})
    return files


def tune_trial_files(wildcards):
    """The trial records of one feature set: trials 0 .. tune.n_trials - 1."""
    return expand(
        "results/tune/{feature_set}/trials/{trial}.json",
        feature_set=wildcards.feature_set,
        trial=range(config["tune"]["n_trials"]),
    )


def tune_targets():
    """The targets of the tune target: summaries of every feature set in tune.feature_sets."""
    return expand(
        "results/tune/{feature_set}/{name}",
        feature_set=config["tune"]["feature_sets"],
        name=["best.yaml", "trials.csv"],
    )


# --- used by rules/evaluation.smk ---


def evaluation_params():
    """Settings shared by every evaluate job."""
    ev = config["evaluation"]
    return {
        "bootstrap_resamples": ev["bootstrap_resamples"],
        "seed": ev["seed"],
        "signal_efficiencies": list(ev["signal_efficiencies"]),
    }


def truth_files():
    """The simulation's truth per candidate, when it made the data (else none: the
    per-process AUCs need it, nothing else does)."""
    if config["data"]["source"] == "simulate":
        return ["results/simulation/truth.feather"]
    return []


def evaluation_targets():
    """The outputs of evaluation for rule all."""
    return [
        "results/tables/auc.csv",
        "results/tables/auc.md",
        "results/plots/roc_rejection.png",
        "results/plots/roc.png",
    ]


# --- used by rules/report.smk ---


def report_pages():
    """The run's Markdown and CSV files shown as pages of the HTML report.

    ``{name: (source file, title, category, subcategory)}``; the report rule writes
    ``results/report/{name}.html`` and ``report/{name}.rst`` is its caption.
    """
    pages = {"inventory": ("results/data/inventory.md", "input file", "1. Data", None)}
    if config["data"]["source"] == "simulate":
        pages["validation"] = (
            "results/simulation/validation.md",
            "validation",
            "2. Simulation",
            None,
        )
    pages["dedupe"] = ("results/efp/dedupe.md", "de-duplication", "3. EFPs", None)
    pages["auc"] = ("results/tables/auc.md", "AUC table", "4. Models", "performance")
    if search_targets():
        pages["search_summary"] = (
            "results/search/summary.md",
            "summary",
            "5. Guided search",
            None,
        )
        pages["search_passes"] = (
            "results/search/passes.csv",
            "passes",
            "5. Guided search",
            None,
        )
    return pages


def benchmark_files():
    """The benchmark file of every benchmarked job of this run, by rule.

    Paths follow each rule's ``benchmark:`` (benchmarks/<rule>.tsv or
    benchmarks/<rule>/<wildcards>.tsv); tests/test_report.py checks that
    every rule the default run executes is listed here, so the report's
    runtime figure misses none.
    """
    source = config["data"]["source"]
    files = {}
    if source == "simulate":
        files["simulate_chunk"] = expand(
            "benchmarks/simulate_chunk/{cls}_{chunk}.tsv",
            cls=SIM_CLASSES,
            chunk=range(config["simulation"]["n_chunks"]),
        )
        files["merge_simulation"] = ["benchmarks/merge_simulation.tsv"]
        files["validate_simulation"] = ["benchmarks/validate_simulation.tsv"]
    elif source == "synthetic":
        files["make_synthetic"] = ["benchmarks/make_synthetic.tsv"]
    elif source == "url":
        files["download"] = expand(
            "benchmarks/download/{download}.tsv",
            download=[
                name
                for name in ("data", "unscaled_data")
                if config["data"].get(download_key(name, "url"))
            ],
        )
    files["validate_data"] = ["benchmarks/validate_data.tsv"]
    files["split"] = ["benchmarks/split.tsv"]
    chunks = range(config["efp"]["n_chunks"])
    efp_images = {"train": config["efp"]["images"]}
    if search_targets():  # valid and test EFPs are computed for the search only
        efp_images.update(
            valid=config["search"]["images"], test=config["search"]["images"]
        )
    files["efp_chunk"] = [
        f"benchmarks/efp_chunk/{image}_{split}_{chunk}.tsv"
        for split, images in efp_images.items()
        for image in images
        for chunk in chunks
    ]
    files["efp_gather"] = [
        f"benchmarks/efp_gather/{image}_{split}.tsv"
        for split, images in efp_images.items()
        for image in images
    ]
    files["efp_dedupe"] = ["benchmarks/efp_dedupe.tsv"]
    files["efp_graphs"] = ["benchmarks/efp_graphs.tsv"]
    feature_sets = config["training"]["feature_sets"]
    files["train"] = expand("benchmarks/train/{fs}.tsv", fs=feature_sets)
    files["evaluate"] = expand("benchmarks/evaluate/{fs}.tsv", fs=feature_sets)
    files["summarize"] = ["benchmarks/summarize.tsv"]
    files["data_figures"] = ["benchmarks/data_figures.tsv"]
    if search_targets():
        files["guided_search"] = ["benchmarks/guided_search.tsv"]
        files["select_efps"] = ["benchmarks/select_efps.tsv"]
        files["search_summary"] = ["benchmarks/search_summary.tsv"]
    return files


def report_targets():
    """The report outputs that the default target asks for: headline, pages, data figures."""
    return [
        "results/report/headline.html",
        "results/report/runtimes.png",
        *expand("results/report/{name}.html", name=report_pages()),
        *expand(
            "results/report/data/{name}.png",
            name=["class_balance", "mean_images", "events", "features"],
        ),
    ]


def report_page_outputs():
    """Each page of report_pages() as an output marked for the report, with its caption."""
    return {
        name: report(
            f"results/report/{name}.html",
            category=category,
            subcategory=subcategory,
            caption=f"../report/{name}.rst",
            labels={"result": title},
        )
        for name, (source, title, category, subcategory) in report_pages().items()
    }
