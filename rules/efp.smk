# Energy flow polynomials of the ECal (et) and HCal (ht) images (config: efp).
#
# efp_chunk computes one of `efp.n_chunks` row ranges of a split (the range is
# worked out from the Feather file's row count at run time, so the DAG needs
# no checkpoint): the whole graph set x (kappa, beta) grid for train, and
# only the columns kept by de-duplication (results/efp/unique.csv) for valid
# and test. efp_gather joins them in `event` order; efp_dedupe drops
# non-finite, constant and duplicate columns over the whole train split;
# efp_graphs draws the multigraphs of the kept EFPs.


rule efp_chunk:
    input:
        unpack(efp_chunk_inputs),
    output:
        temp("results/efp/{image}/{split}/chunk_{chunk}.feather"),
    log:
        "logs/efp_chunk/{image}_{split}_{chunk}.log",
    benchmark:
        "benchmarks/efp_chunk/{image}_{split}_{chunk}.tsv"
    conda:
        "../envs/efp.yaml"
    threads: 1
    resources:
        mem_mb=grows(config["efp"]["resources"]["mem_mb"]),
        runtime=grows(config["efp"]["resources"]["runtime"]),
        gpu=config["efp"]["resources"]["gpu"],
    params:
        engine=efp_engine_params(),
        n_chunks=config["efp"]["n_chunks"],
        backend=config["efp"]["backend"],
        batch_size=config["efp"]["batch_size"],
    script:
        "../scripts/efp_chunk.py"


rule efp_gather:
    input:
        prep="results/prep/{split}.feather",
        chunks=efp_chunk_files,
    output:
        "results/efp/{image}/{split}.feather",
    log:
        "logs/efp_gather/{image}_{split}.log",
    benchmark:
        "benchmarks/efp_gather/{image}_{split}.tsv"
    conda:
        "../envs/efp.yaml"
    threads: 1
    resources:
        mem_mb=grows(config["efp"]["resources"]["gather_mem_mb"], 2.0),
        runtime=grows(10, 0.02),
    script:
        "../scripts/efp_gather.py"


rule efp_dedupe:
    input:
        expand("results/efp/{image}/train.feather", image=config["efp"]["images"]),
    output:
        unique="results/efp/unique.csv",
        summary="results/efp/dedupe.md",
    log:
        "logs/efp_dedupe.log",
    benchmark:
        "benchmarks/efp_dedupe.tsv"
    conda:
        "../envs/efp.yaml"
    threads: 1
    resources:
        mem_mb=grows(config["efp"]["resources"]["gather_mem_mb"], 3.0),
        runtime=grows(10, 0.05),
    params:
        images=config["efp"]["images"],
        tolerance=config["efp"]["dedupe_tolerance"],
    script:
        "../scripts/efp_dedupe.py"


rule efp_graphs:
    input:
        unique="results/efp/unique.csv",
    output:
        graphs=directory("results/efp/graphs"),
        gallery_pdf="results/efp/gallery.pdf",
        gallery_png=report(
            "results/efp/gallery.png",
            category="3. EFPs",
            caption="../report/efp_gallery.rst",
            labels={"result": "graphs of the kept EFPs"},
        ),
    log:
        "logs/efp_graphs.log",
    benchmark:
        "benchmarks/efp_graphs.tsv"
    conda:
        "../envs/efp.yaml"
    threads: 1
    resources:
        mem_mb=grows(2000),
        runtime=grows(20),
    params:
        graph_sets=config["efp"]["graph_sets"],
    script:
        "../scripts/efp_graphs.py"
