"""Snakemake job `figure`: one experiment's figure as PDF and PNG (jcas.pipeline.jobs.figure)."""

from jcas.pipeline.jobs import figure, job_log

with job_log(snakemake.log[0]):
    figure.run(
        snakemake.input.data,
        snakemake.output.pdf,
        snakemake.output.png,
        plot=snakemake.params.plot,
    )
