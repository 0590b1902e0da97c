# Train one network per feature set (config: training).
#
# params.hyperparameters holds only this feature set's resolved settings
# (training.defaults merged with training.models[feature_set]), so editing
# one feature set's learning rate reruns only its train job (and, through the
# new predictions, its evaluate job and the summary).


rule train:
    input:
        unpack(training_inputs),
    output:
        model="results/models/{feature_set}/model.keras",
        history="results/models/{feature_set}/history.csv",
        train="results/predictions/{feature_set}/train.feather",
        valid="results/predictions/{feature_set}/valid.feather",
        test="results/predictions/{feature_set}/test.feather",
    log:
        "logs/train/{feature_set}.log",
    benchmark:
        "benchmarks/train/{feature_set}.tsv"
    conda:
        "../envs/training.yaml"
    threads: config["training"]["resources"]["threads"]
    resources:
        mem_mb=grows(config["training"]["resources"]["mem_mb"], 6.0),
        runtime=grows(config["training"]["resources"]["runtime"]),
        gpu=training_gpus,
        request_gpus=training_gpus,
    params:
        hyperparameters=training_hyperparameters,
    script:
        "../scripts/train.py"
