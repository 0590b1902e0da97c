"""Rule download: fetch one input file (data.h5 or unscaled_data.h5), resumable, checksummed."""

from _workflow import setup

log = setup(snakemake)  # noqa: F821

from leptonid.download import download  # noqa: E402

sm = snakemake  # noqa: F821
download(
    sm.params.url,
    sm.output[0],
    sha256=sm.params.sha256,
    attempts=sm.params.attempts,
    timeout=sm.params.timeout,
    progress_every=sm.params.progress_every,
)
