"""Snakemake job `monte_carlo`: MC rate and CRB of one allocation file (jcas_job)."""

from jcas.pipeline import jobs as jcas_job

with jcas_job.job_log(snakemake.log[0]):
    jcas_job.run_monte_carlo(
        snakemake.input.alloc, snakemake.output[0], **dict(snakemake.params.items())
    )
