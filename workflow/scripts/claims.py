"""Snakemake job `claims`: results/claims.csv, the paper's claims next to our numbers
(jcas.pipeline.jobs.claims)."""

from jcas.pipeline.jobs import claims, job_log

with job_log(snakemake.log[0]):
    claims.run(
        {kind: snakemake.input[kind] for kind in snakemake.params.kinds}, snakemake.output[0]
    )
