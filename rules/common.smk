# Config validation, input functions and helpers shared by all rules.
import sys
from pathlib import Path

from snakemake.utils import min_version, validate

min_version("9.0")

# The library lives in src/; make it importable for the workflow itself even
# when leptonid is not installed (scripts add it to their path likewise).
sys.path.insert(0, str(Path(workflow.basedir) / "src"))

from leptonid.config import check_config  # noqa: E402
from leptonid.layout import SPLITS  # noqa: E402

SCHEMA = Path(workflow.basedir) / "schemas" / "config.schema.yaml"
check_config(config, SCHEMA)  # clear messages naming the key
validate(config, str(SCHEMA))  # Snakemake's validation; fills in the defaults


def data_files(wildcards=None):
    """The data.h5 (and unscaled_data.h5, if any) that the run uses."""
    source = config["data"]["source"]
    if source == "file":
        files = {"data": config["data"]["path"]}
        if config["data"]["unscaled_path"]:
            files["unscaled"] = config["data"]["unscaled_path"]
        return files
    if source == "simulate":
        return {
            "data": "results/simulation/data.h5",
            "unscaled": "results/simulation/unscaled_data.h5",
        }
    return {"data": "results/synthetic/data.h5"}


def prep_files():
    """The per-split Feather files, by split."""
    return {split: f"results/prep/{split}.feather" for split in SPLITS}


def all_targets():
    """Everything the default run produces."""
    targets = ["results/data/inventory.md", *prep_files().values()]
    targets += ["results/efp/unique.csv", "results/efp/gallery.pdf"]
    return targets
