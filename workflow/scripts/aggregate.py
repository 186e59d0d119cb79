"""Snakemake job `aggregate`: results/<experiment>.nc from the per-job files (jcas.experiment)."""

from jcas import experiment

with experiment.job_log(snakemake.log[0]):
    experiment.run_aggregate(
        list(snakemake.input.data), snakemake.output[0], **dict(snakemake.params.items())
    )
