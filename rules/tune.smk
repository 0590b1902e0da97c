# Hyperparameter search (config: tune), opt-in: `snakemake tune` (rule tune,
# in the Snakefile beside rule all: a rule without a script takes no conda:).
#
# Bayesian search (Optuna's TPE) per feature set over the paper's ranges
# (Collado et al., Tables III and IV). Each tune_trial job is one trial; a
# cluster runs many at once (--jobs N). The trials of a feature set share one
# study in results/tune/{feature_set}/study.journal, an append-only Optuna
# journal on the shared filesystem. The journal is deliberately NOT an output:
# Snakemake deletes a job's outputs before rerunning it, and every trial job
# appends to the same file; the library creates it on first use. So a rerun
# with a larger tune.n_trials adds trials to the same study. params of
# tune_trial leave n_trials out, so raising it reruns no finished trial.


rule tune_trial:
    input:
        unpack(tune_trial_inputs),
    output:
        record="results/tune/{feature_set}/trials/{trial}.json",
    log:
        "logs/tune/{feature_set}/trial_{trial}.log",
    benchmark:
        "benchmarks/tune_trial/{feature_set}/{trial}.tsv"
    conda:
        "../envs/training.yaml"
    threads: config["tune"]["resources"]["threads"]
    resources:
        mem_mb=grows(config["tune"]["resources"]["mem_mb"], 6.0),
        runtime=grows(config["tune"]["resources"]["runtime"]),
        gpu=training_gpus,
        request_gpus=training_gpus,
    params:
        tune=tune_trial_params(),
        defaults=tune_training_defaults(),
        journal=tune_journal,
    script:
        "../scripts/tune_trial.py"


rule tune_summary:
    input:
        trials=tune_trial_files,
    output:
        best="results/tune/{feature_set}/best.yaml",
        trials="results/tune/{feature_set}/trials.csv",
        objective=report(
            "results/tune/{feature_set}/objective.png",
            category="6. Hyperparameter search",
            subcategory="{feature_set}",
            caption="../report/tune_objective.rst",
            labels={"feature set": "{feature_set}", "result": "objective"},
        ),
        importances=report(
            "results/tune/{feature_set}/importances.png",
            category="6. Hyperparameter search",
            subcategory="{feature_set}",
            caption="../report/tune_importances.rst",
            labels={"feature set": "{feature_set}", "result": "importances"},
        ),
        history=report(
            "results/tune/{feature_set}/best_history.png",
            category="6. Hyperparameter search",
            subcategory="{feature_set}",
            caption="../report/tune_history.rst",
            labels={"feature set": "{feature_set}", "result": "best trial"},
        ),
    log:
        "logs/tune/{feature_set}/summary.log",
    benchmark:
        "benchmarks/tune_summary/{feature_set}.tsv"
    conda:
        "../envs/training.yaml"
    threads: 1
    resources:
        mem_mb=grows(1000),
        runtime=grows(10),
    params:
        tune=tune_trial_params(),
        training=tune_training_section(),
        journal=tune_journal,
        schema=str(SCHEMA),
    script:
        "../scripts/tune_summary.py"
