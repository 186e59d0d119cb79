"""Snakemake job `aggregate`: results/<experiment>.nc from the per-job files
(jcas.pipeline.jobs.aggregate)."""

from jcas.pipeline.jobs import aggregate, job_log

with job_log(snakemake.log[0]):
    aggregate.run(list(snakemake.input.data), snakemake.output[0], **dict(snakemake.params.items()))
