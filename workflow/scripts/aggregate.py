"""Snakemake job `aggregate`: results/<experiment>.nc from the per-job files (jcas_job)."""

from jcas.pipeline import jobs as jcas_job

with jcas_job.job_log(snakemake.log[0]):
    jcas_job.run_aggregate(
        list(snakemake.input.data), snakemake.output[0], **dict(snakemake.params.items())
    )
