"""Snakemake job `drops`: user drops of one block (jcas.pipeline.jobs.drops)."""

from jcas.pipeline.jobs import drops, job_log

with job_log(snakemake.log[0]):
    drops.run(snakemake.output[0], **dict(snakemake.params.items()))
