"""Snakemake job `sca`: the sca scheme at one grid point x drop block (jcas.pipeline.jobs.sca)."""

from jcas.pipeline.jobs import job_log, sca

with job_log(snakemake.log[0]):
    sca.run(snakemake.input.drops, snakemake.output[0], **dict(snakemake.params.items()))
