"""Snakemake job `mle`: ML angle estimate vs CRB at one grid point and scheme
(jcas.pipeline.jobs.mle)."""

from jcas.pipeline.jobs import job_log, mle

with job_log(snakemake.log[0]):
    mle.run(list(snakemake.input.allocs), snakemake.output[0], **dict(snakemake.params.items()))
