# leptonid: reproduce "Learning to identify electrons" (Collado et al., PRD 2021).
#
#   snakemake --cores all                      # the default, scaled-down run
#   snakemake --cores all --configfile presets/paper.yaml   # full size
#
# The DAG: data (simulation or the authors' data.h5) -> validate_data -> split
# -> EFPs -> training -> guided EFP search -> evaluation -> report. See README.md.


from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/simulation.smk"
include: "rules/data.smk"
include: "rules/efp.smk"
include: "rules/training.smk"
include: "rules/search.smk"
include: "rules/tune.smk"
include: "rules/evaluation.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        all_targets(),


# Opt-in: the hyperparameter search of tune.feature_sets (rules/tune.smk).
rule tune:
    input:
        tune_targets(),
