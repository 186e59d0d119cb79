"""Snakemake job `allocate`: one grid point x scheme x drop block (jcas.experiment)."""

from jcas import experiment

with experiment.job_log(snakemake.log[0]):
    experiment.run_allocation(
        snakemake.input.drops, snakemake.output[0], **dict(snakemake.params.items())
    )
