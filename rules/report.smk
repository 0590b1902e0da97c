# The HTML report's own pieces (./bootstrap.sh report runs
# `snakemake --report results/report.html` after the workflow):
#
# data_figures: what the data look like, for any data source: class balance,
#   mean ECal/HCal image per class, one random electron and jet drawn with
#   their HL values, the HL features and mass per class.
# report: the landing page's headline (included by report/workflow.rst), the
#   run's Markdown/CSV files as readable pages, and the runtime per rule from
#   benchmarks/.
#
# Categories are numbered in reading order (the report sorts them by name).


rule data_figures:
    input:
        unpack(data_files),
        inventory="results/data/inventory.md",
    output:
        balance=report(
            "results/report/data/class_balance.png",
            category="1. Data",
            caption="../report/data_class_balance.rst",
            labels={"result": "class balance"},
        ),
        means=report(
            "results/report/data/mean_images.png",
            category="1. Data",
            caption="../report/data_mean_images.rst",
            labels={"result": "mean images per class"},
        ),
        events=report(
            "results/report/data/events.png",
            category="1. Data",
            caption="../report/data_events.rst",
            labels={"result": "one electron, one jet"},
        ),
        features=report(
            "results/report/data/features.png",
            category="1. Data",
            caption="../report/data_features.rst",
            labels={"result": "HL features and mass per class"},
        ),
    log:
        "logs/report/data_figures.log",
    benchmark:
        "benchmarks/data_figures.tsv"
    conda:
        "../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=grows(1000, 0.5),
        runtime=grows(10, 0.02),
    params:
        split=config["report"]["split"],
        seed=config["report"]["seed"],
    script:
        "../scripts/data_figures.py"


rule report:
    input:
        pages=[page[0] for page in report_pages().values()],
        auc="results/tables/auc.csv",
        gap="results/tables/gap.json",
        rejection="results/plots/roc_rejection.png",
        prep=list(prep_files().values()),
        benchmarks=[f for files in benchmark_files().values() for f in files],
        search_summary=(["results/search/summary.md"] if search_targets() else []),
    output:
        **report_page_outputs(),
        headline="results/report/headline.html",
        runtimes=report(
            "results/report/runtimes.png",
            category="7. Workflow",
            caption="../report/runtimes.rst",
            labels={"result": "runtime per rule"},
        ),
        runtimes_csv="results/report/runtimes.csv",
    log:
        "logs/report/report.log",
    benchmark:
        "benchmarks/report.tsv"
    conda:
        "../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=grows(500),
        runtime=grows(5),
    params:
        pages={name: page[1] for name, page in report_pages().items()},
        benchmark_rules=[
            rule for rule, files in benchmark_files().items() for _ in files
        ],
        data_source=config["data"]["source"],
        data_path=data_files()["data"],
    script:
        "../scripts/report.py"
