"""Rule validate_simulation: validation report, plots and quick classifiers of the simulated sample."""

from _workflow import setup

log = setup(snakemake)  # noqa: F821

from leptonid.simulation.validation import CalibrationError, report  # noqa: E402

result = report(
    snakemake.input.unscaled,  # noqa: F821
    list(snakemake.input.summaries),  # noqa: F821
    snakemake.output.report,  # noqa: F821
    snakemake.output.plots,  # noqa: F821
    truth_path=snakemake.input.truth,  # noqa: F821
)
log.info("validation: %s", result)
failed = [name for name, ok in result["checks"].items() if not ok]
for name in failed:
    log.error("calibration check failed: %s", name)
if failed and snakemake.params.enforce_calibration:  # noqa: F821
    raise CalibrationError(
        f"{snakemake.input.unscaled}: {len(failed)} calibration check(s) of the simulated sample failed: "  # noqa: F821
        + "; ".join(failed)
        + " (simulation.enforce_calibration: false only reports them)"
    )
