"""Snakemake jobs `closed_form` and `sca`: one grid point x drop block (jcas_job)."""

from jcas.pipeline import jobs as jcas_job

with jcas_job.job_log(snakemake.log[0]):
    jcas_job.run_allocation(
        snakemake.input.drops, snakemake.output[0], **dict(snakemake.params.items())
    )
