# The guided EFP search (config: search), the paper's central result: which
# EFPs make the 7 HL features as good as the CNN on the images.
#
# guided_search: under protocol honest the pairs, the ADOs, every retraining
# and its early stopping use train and valid only; test is read once, in the
# last step, to score each pass's network (the library's SplitStore raises
# if anything reads it earlier). select_efps writes the chosen EFP columns of
# every split, scaled with train statistics, for the train rule's feature
# set hl_and_efps. search_summary compares hl, the CNN and hl_and_efps on the
# same test events (paired bootstrap) and draws the figure.
#
# Memory: the EFP tables are read a few columns at a time (all candidates of
# one image of the selection split once per pass, the chosen ones of the
# other splits), so the search asks for a quarter of its input size, not all.


rule guided_search:
    input:
        unpack(search_inputs),
    output:
        passes="results/search/passes.csv",
        record="results/search/search.json",
    log:
        "logs/search/guided_search.log",
    benchmark:
        "benchmarks/guided_search.tsv"
    conda:
        "../envs/training.yaml"
    threads: config["search"]["resources"]["threads"]
    resources:
        mem_mb=grows(config["search"]["resources"]["mem_mb"], 0.25),
        runtime=grows(config["search"]["resources"]["runtime"]),
    params:
        search=search_params(),
        network=search_network,
        bootstrap_resamples=config["evaluation"]["bootstrap_resamples"],
    script:
        "../scripts/guided_search.py"


rule select_efps:
    input:
        unpack(select_efps_inputs),
    output:
        **selected_efp_files(),
    log:
        "logs/search/select_efps.log",
    benchmark:
        "benchmarks/select_efps.tsv"
    conda:
        "../envs/training.yaml"
    threads: 1
    resources:
        mem_mb=grows(1000, 0.05),
        runtime=grows(10),
    params:
        images=config["search"]["images"],
    script:
        "../scripts/select_efps.py"


rule search_summary:
    input:
        unpack(search_summary_inputs),
    output:
        summary="results/search/summary.md",
        png=report(
            "results/search/search.png",
            category="5. Guided search",
            caption="../report/search_figure.rst",
            labels={"result": "AUC and ADO per pass"},
        ),
        pdf="results/search/search.pdf",
    log:
        "logs/search/summary.log",
    benchmark:
        "benchmarks/search_summary.tsv"
    conda:
        "../envs/training.yaml"
    threads: 1
    resources:
        mem_mb=grows(1000, 4.0),
        runtime=grows(10),
    params:
        search=search_params(),
        final=search_feature_set(),
        graph_sets=config["efp"]["graph_sets"],
        bootstrap_resamples=config["evaluation"]["bootstrap_resamples"],
        seed=config["evaluation"]["seed"],
    script:
        "../scripts/search_summary.py"
