# Evaluate each trained network on the test split, then summarise all of them
# beside the published AUCs (config: evaluation). With the simulation's truth
# (data.source: simulate) evaluate also reports the AUC against each
# background process; summarize adds the CNN-HL gap with a paired bootstrap.


rule evaluate:
    input:
        test="results/predictions/{feature_set}/test.feather",
        history="results/models/{feature_set}/history.csv",
        truth=truth_files(),
    output:
        metrics="results/metrics/{feature_set}.json",
        training_png=report(
            "results/plots/training/{feature_set}.png",
            category="4. Models",
            subcategory="training curves",
            caption="../report/training_curve.rst",
            labels={"feature set": "{feature_set}", "result": "loss per epoch"},
        ),
        training_pdf="results/plots/training/{feature_set}.pdf",
        scores_png=report(
            "results/plots/scores/{feature_set}.png",
            category="4. Models",
            subcategory="score distributions",
            caption="../report/scores.rst",
            labels={"feature set": "{feature_set}", "result": "score per class"},
        ),
        scores_pdf="results/plots/scores/{feature_set}.pdf",
    log:
        "logs/evaluate/{feature_set}.log",
    benchmark:
        "benchmarks/evaluate/{feature_set}.tsv"
    conda:
        "../envs/training.yaml"
    threads: 1
    resources:
        mem_mb=grows(500, 4.0),
        runtime=grows(10),
    params:
        **evaluation_params(),
    script:
        "../scripts/evaluate.py"


rule summarize:
    input:
        metrics=expand("results/metrics/{fs}.json", fs=training_feature_sets()),
        predictions=expand(
            "results/predictions/{fs}/test.feather", fs=training_feature_sets()
        ),
    output:
        csv="results/tables/auc.csv",
        markdown="results/tables/auc.md",
        gap="results/tables/gap.json",
        rejection_png=report(
            "results/plots/roc_rejection.png",
            category="4. Models",
            subcategory="performance",
            caption="../report/roc_rejection.rst",
            labels={"result": "background rejection vs signal efficiency"},
        ),
        rejection_pdf="results/plots/roc_rejection.pdf",
        roc_png=report(
            "results/plots/roc.png",
            category="4. Models",
            subcategory="performance",
            caption="../report/roc.rst",
            labels={"result": "ROC"},
        ),
        roc_pdf="results/plots/roc.pdf",
    log:
        "logs/summarize.log",
    benchmark:
        "benchmarks/summarize.tsv"
    conda:
        "../envs/training.yaml"
    threads: 1
    resources:
        mem_mb=grows(1000, 4.0),
        runtime=grows(10),
    params:
        feature_sets=training_feature_sets(),
        bootstrap_resamples=config["evaluation"]["bootstrap_resamples"],
        seed=config["evaluation"]["seed"],
    script:
        "../scripts/summarize.py"
