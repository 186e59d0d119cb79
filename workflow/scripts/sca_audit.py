"""Snakemake job `sca_audit`: the sca variants vs the exact optimum at one grid point and
precoder, on held-out drops (jcas.pipeline.jobs.sca_audit)."""

from jcas.pipeline.jobs import job_log, sca_audit

with job_log(snakemake.log[0]):
    sca_audit.run(snakemake.output[0], **dict(snakemake.params.items()))
