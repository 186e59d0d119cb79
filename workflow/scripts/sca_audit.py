"""Snakemake job `sca_audit`: the sca variants vs the exact optimum at one grid point and
precoder, on held-out drops (jcas_job)."""

from jcas.pipeline import jobs as jcas_job

with jcas_job.job_log(snakemake.log[0]):
    jcas_job.run_sca_audit(snakemake.output[0], **dict(snakemake.params.items()))
