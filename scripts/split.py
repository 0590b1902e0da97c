"""Rule split: data.h5 (+ unscaled_data.h5) -> results/prep/{train,valid,test}.feather, streaming."""

from _workflow import setup

log = setup(snakemake)  # noqa: F821

from leptonid.io import split_to_feather  # noqa: E402

inputs = snakemake.input  # noqa: F821
split_to_feather(
    inputs.data,
    outputs={split: snakemake.output[split] for split in ("train", "valid", "test")},  # noqa: F821
    unscaled_source=inputs.unscaled if "unscaled" in inputs.keys() else None,
    chunk_events=snakemake.params.chunk_events,  # noqa: F821
    compression=snakemake.params.compression,  # noqa: F821
    check_values=False,  # validate_data checked every value just before
)
log.info("wrote %s", ", ".join(snakemake.output))  # noqa: F821
