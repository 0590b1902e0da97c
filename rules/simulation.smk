# Built-in physics simulation: Pythia 8 + parametric calorimeter -> data.h5 in the paper's layout.
# Chunks of each class are independent jobs (seeds from SeedSequence(seed, spawn_key=(class, chunk))).


rule simulate_chunk:
    output:
        h5="results/simulation/chunks/{cls}_{chunk}.h5",
        summary="results/simulation/chunks/{cls}_{chunk}.json",
    log:
        "logs/simulation/chunk_{cls}_{chunk}.log",
    benchmark:
        "benchmarks/simulate_chunk/{cls}_{chunk}.tsv"
    conda:
        "../envs/simulation.yaml"
    threads: 1
    resources:
        mem_mb=grows(2000),
        runtime=sim_chunk_runtime,
    params:
        simulation=sim_chunk_params,
    script:
        "../scripts/simulate_chunk.py"


rule merge_simulation:
    input:
        signal=sim_chunks("signal"),
        background=sim_chunks("background"),
    output:
        data="results/simulation/data.h5",
        unscaled="results/simulation/unscaled_data.h5",
        # truth per candidate, in data.h5's row order; never a network input
        truth="results/simulation/truth.feather",
    log:
        "logs/simulation/merge.log",
    benchmark:
        "benchmarks/merge_simulation.tsv"
    conda:
        "../envs/simulation.yaml"
    threads: 1
    resources:
        mem_mb=grows(1000, 3.0),
        runtime=grows(10, 0.05),
    params:
        n_per_class=config["simulation"]["n_per_class"],
        split=config["simulation"]["split"],
        et_bin_width=config["simulation"]["et_bin_width"],
        seed=config["simulation"]["seed"],
    script:
        "../scripts/merge_simulation.py"


rule validate_simulation:
    input:
        unscaled="results/simulation/unscaled_data.h5",
        truth="results/simulation/truth.feather",
        summaries=sim_chunks(SIM_CLASSES, "json"),
    output:
        report="results/simulation/validation.md",
        plots=report(
            directory("results/simulation/plots"),
            patterns=["{name}.png"],
            category="2. Simulation",
            caption="../report/simulation_plots.rst",
            labels={"result": "{name}"},
        ),
    log:
        "logs/simulation/validate.log",
    benchmark:
        "benchmarks/validate_simulation.tsv"
    conda:
        "../envs/simulation.yaml"
    threads: 1
    resources:
        mem_mb=grows(1000, 2.0),
        runtime=grows(10, 0.05),
    params:
        enforce_calibration=config["simulation"]["enforce_calibration"],
    script:
        "../scripts/validate_simulation.py"
