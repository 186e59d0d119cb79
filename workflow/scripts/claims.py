"""Snakemake job `claims`: results/claims.csv, the paper's claims next to our numbers."""

from jcas.pipeline import jobs as jcas_job

with jcas_job.job_log(snakemake.log[0]):
    jcas_job.run_claims(
        {kind: snakemake.input[kind] for kind in snakemake.params.kinds}, snakemake.output[0]
    )
