"""Snakemake job `monte_carlo`: MC rate and CRB of one allocation file
(jcas.pipeline.jobs.monte_carlo)."""

from jcas.pipeline.jobs import job_log, monte_carlo

with job_log(snakemake.log[0]):
    monte_carlo.run(snakemake.input.alloc, snakemake.output[0], **dict(snakemake.params.items()))
