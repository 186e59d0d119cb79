"""Snakemake job `drops`: user drops of one block (jcas_job.run_drops)."""

from jcas.pipeline import jobs as jcas_job

with jcas_job.job_log(snakemake.log[0]):
    jcas_job.run_drops(snakemake.output[0], **dict(snakemake.params.items()))
