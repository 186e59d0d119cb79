"""jcas sweep: reproduces the paper's figures from config.yaml (docs/pipeline.md).

Run from the repository root:  snakemake --cores N
Snakemake loads the default workflow profile profiles/default/ by itself. The
configuration is validated (jcas.config) before any rule is defined, so a bad
value stops the run before a job is scheduled or a file is written.
"""

from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/sources.smk"
include: "workflow/rules/drops.smk"
include: "workflow/rules/allocation.smk"
include: "workflow/rules/montecarlo.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/audit.smk"
include: "workflow/rules/figures.smk"


rule all:
    default_target: True
    input:
        all_targets(),
