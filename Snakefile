"""jcas sweep: reproduces the paper's figures from config.yaml (docs/pipeline.md).

Run from the repository root:  python -m snakemake --cores N
The configuration is validated (jcas.config) before any rule is defined, so a
bad value stops the run before a job is scheduled or a file is written.
"""


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/drops.smk"
include: "workflow/rules/allocation.smk"
include: "workflow/rules/montecarlo.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/figures.smk"


rule all:
    default_target: True
    input:
        all_targets(),
