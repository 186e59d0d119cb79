"""Snakemake job `drops`: user drops of one block (jcas.experiment.run_drops)."""

from jcas import experiment

with experiment.job_log(snakemake.log[0]):
    experiment.run_drops(snakemake.output[0], **dict(snakemake.params.items()))
