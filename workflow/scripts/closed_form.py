"""Snakemake job `closed_form`: the closed-form schemes of one grid point x drop block
(jcas.pipeline.jobs.allocation)."""

from jcas.pipeline.jobs import allocation, job_log

with job_log(snakemake.log[0]):
    allocation.run(snakemake.input.drops, snakemake.output[0], **dict(snakemake.params.items()))
