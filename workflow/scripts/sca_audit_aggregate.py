"""Snakemake job `aggregate_audit`: results/<experiment>.nc of an sca_audit experiment."""

import jcas_job

with jcas_job.job_log(snakemake.log[0]):
    jcas_job.run_sca_audit_aggregate(
        list(snakemake.input.data), snakemake.output[0], **dict(snakemake.params.items())
    )
