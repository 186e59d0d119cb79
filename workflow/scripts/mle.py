"""Snakemake job `mle`: ML angle estimate vs CRB at one grid point and scheme (jcas_job)."""

from jcas.pipeline import jobs as jcas_job

with jcas_job.job_log(snakemake.log[0]):
    jcas_job.run_mle(
        list(snakemake.input.allocs), snakemake.output[0], **dict(snakemake.params.items())
    )
