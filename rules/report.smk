# One page that gathers what the run produced: results/report.md.
# (`snakemake --report report.html` builds Snakemake's HTML report from the
# outputs wrapped in report() as well.)


rule report:
    input:
        sections=list(report_sections().values()),
        figures=list(report_figures().values()),
    output:
        "results/report.md",
    log:
        "logs/report.log",
    benchmark:
        "benchmarks/report.tsv"
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=grows(500),
        runtime=grows(5),
    params:
        title=config["report"]["title"],
        section_titles=list(report_sections()),
        figure_titles=list(report_figures()),
        summary={
            "data.source": config["data"]["source"],
            "training.feature_sets": ", ".join(config["training"]["feature_sets"]),
            "efp.graph_sets": config["efp"]["graph_sets"],
        },
    script:
        "../scripts/report.py"
