"""Rule validate_data: check the input files against the data contract and write the inventory."""

from _workflow import setup

log = setup(snakemake)  # noqa: F821

from leptonid.atomic import atomic_output  # noqa: E402
from leptonid.contract import DataContractError, check_file, inventory_markdown  # noqa: E402

files = [snakemake.input.data] + ([snakemake.input.unscaled] if "unscaled" in snakemake.input.keys() else [])  # noqa: F821
problems = [p for path in files for p in check_file(path)[0]]
for problem in problems:
    log.error("%s", problem)
if problems:
    raise DataContractError(problems)  # the message lists every problem
with atomic_output(snakemake.output[0]) as tmp:  # noqa: F821
    tmp.write_text("\n\n".join(inventory_markdown(path) for path in files))
log.info("%s honour the data contract", ", ".join(files))
