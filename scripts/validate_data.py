"""Rule validate_data: check the input files against the data contract and write the inventory."""

from _workflow import setup

log = setup(snakemake)  # noqa: F821

from leptonid.atomic import atomic_output  # noqa: E402
from leptonid.contract import DataContractError, check_inputs, inventory_markdown  # noqa: E402

unscaled = snakemake.input.unscaled if "unscaled" in snakemake.input.keys() else None  # noqa: F821
files = [snakemake.input.data] + ([unscaled] if unscaled else [])  # noqa: F821
problems = check_inputs(snakemake.input.data, unscaled)  # noqa: F821
for problem in problems:
    log.error("%s", problem)
if problems:
    raise DataContractError(problems)  # the message lists every problem
with atomic_output(snakemake.output[0]) as tmp:  # noqa: F821
    tmp.write_text("\n\n".join(inventory_markdown(path) for path in files))
log.info("%s honour the data contract", ", ".join(files))
