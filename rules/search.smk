# The guided EFP search (config: search), the paper's central result: which
# EFPs make the 7 HL features as good as the CNN on the images.
#
# guided_search reads train and valid only (protocol honest; test as well for
# protocol authors): the pairs, the ADOs, every retraining and its early
# stopping. select_efps writes the chosen EFP columns of every split, scaled
# with train statistics, for the train rule's feature set hl_and_efps.
# search_summary reads the test predictions once, for the final figures.


rule guided_search:
    input:
        unpack(search_inputs),
    output:
        passes=report(
            "results/search/passes.csv",
            category="Guided search",
            caption="../report/search_passes.rst",
            labels={"table": "passes"},
        ),
    log:
        "logs/search/guided_search.log",
    benchmark:
        "benchmarks/search/guided_search.tsv"
    conda:
        "../envs/training.yaml"
    threads: config["search"]["resources"]["threads"]
    resources:
        mem_mb=grows(config["search"]["resources"]["mem_mb"], 4.0),
        runtime=grows(config["search"]["resources"]["runtime"]),
    params:
        search=search_params(),
        network=search_network,
        splits=search_splits(),
    script:
        "../scripts/guided_search.py"


rule select_efps:
    input:
        passes="results/search/passes.csv",
        efps=expand(
            "results/efp/{image}/{split}.feather",
            image=config["search"]["images"],
            split=SPLITS,
        ),
    output:
        **selected_efp_files(),
    log:
        "logs/search/select_efps.log",
    conda:
        "../envs/training.yaml"
    threads: 1
    resources:
        mem_mb=grows(1000, 0.5),
        runtime=grows(10),
    params:
        images=config["search"]["images"],
    script:
        "../scripts/select_efps.py"


rule search_summary:
    input:
        unpack(search_summary_inputs),
    output:
        summary=report(
            "results/search/summary.md",
            category="Guided search",
            caption="../report/search_summary.rst",
            labels={"table": "summary"},
        ),
        png=report(
            "results/search/search.png",
            category="Guided search",
            caption="../report/search_figure.rst",
            labels={"figure": "AUC and ADO per pass"},
        ),
        pdf="results/search/search.pdf",
    log:
        "logs/search/summary.log",
    conda:
        "../envs/training.yaml"
    threads: 1
    resources:
        mem_mb=grows(1000, 4.0),
        runtime=grows(10),
    params:
        search=search_params(),
        bootstrap_resamples=config["evaluation"]["bootstrap_resamples"],
        seed=config["evaluation"]["seed"],
    script:
        "../scripts/search_summary.py"
