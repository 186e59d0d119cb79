"""Snakemake job `monte_carlo`: MC rate and CRB of one allocation file (jcas.experiment)."""

from jcas import experiment

with experiment.job_log(snakemake.log[0]):
    experiment.run_monte_carlo(
        snakemake.input.alloc, snakemake.output[0], **dict(snakemake.params.items())
    )
