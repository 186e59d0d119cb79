"""Snakemake job `figure`: one experiment's figure as PDF and PNG (jcas.plots via experiment)."""

from jcas import experiment

with experiment.job_log(snakemake.log[0]):
    experiment.run_figure(
        snakemake.input.data,
        snakemake.output.pdf,
        snakemake.output.png,
        plot=snakemake.params.plot,
    )
