"""Snakemake job `mle`: ML angle estimate vs CRB at one grid point (jcas.experiment)."""

from jcas import experiment

with experiment.job_log(snakemake.log[0]):
    experiment.run_mle(
        list(snakemake.input.allocs), snakemake.output[0], **dict(snakemake.params.items())
    )
