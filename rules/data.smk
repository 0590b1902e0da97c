# Get the data, check it against the data contract, split it per split.


rule make_synthetic:
    output:
        "results/synthetic/data.h5",
    log:
        "logs/make_synthetic.log",
    benchmark:
        "benchmarks/make_synthetic.tsv"
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=grows(1000),
        runtime=grows(10),
    params:
        events=config["data"]["synthetic_events"],
        seed=config["data"]["synthetic_seed"],
    script:
        "../scripts/make_synthetic.py"


rule download:
    output:
        download_path("{download}"),
    log:
        "logs/download/{download}.log",
    benchmark:
        "benchmarks/download/{download}.tsv"
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=grows(200),
        runtime=grows(120),
    params:
        url=download_url,
        sha256=download_sha256,
        attempts=config["data"]["download_attempts"],
        timeout=60,
        progress_every=10,
    script:
        "../scripts/download.py"


rule validate_data:
    input:
        unpack(data_files),
    output:
        "results/data/inventory.md",
    log:
        "logs/validate_data.log",
    benchmark:
        "benchmarks/validate_data.tsv"
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=grows(1000),
        runtime=grows(10, 0.01),
    script:
        "../scripts/validate_data.py"


rule split:
    input:
        unpack(data_files),
        inventory="results/data/inventory.md",
    output:
        **prep_files(),
    log:
        "logs/split.log",
    benchmark:
        "benchmarks/split.tsv"
    conda:
        "../envs/data.yaml"
    threads: 2
    resources:
        mem_mb=grows(config["split"]["mem_mb"]),
        runtime=grows(10, 0.01),
    params:
        chunk_events=config["split"]["chunk_events"],
        compression=config["split"]["compression"],
    script:
        "../scripts/split.py"
