"""Snakemake job `figure`: one experiment's figure as PDF and PNG (jcas_job)."""

from jcas.pipeline import jobs as jcas_job

with jcas_job.job_log(snakemake.log[0]):
    jcas_job.run_figure(
        snakemake.input.data,
        snakemake.output.pdf,
        snakemake.output.png,
        plot=snakemake.params.plot,
    )
