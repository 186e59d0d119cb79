"""Snakemake job `claims`: results/claims.csv, the paper's claims next to our numbers."""

from jcas import experiment

with experiment.job_log(snakemake.log[0]):
    experiment.run_claims(
        {kind: snakemake.input[kind] for kind in snakemake.params.kinds}, snakemake.output[0]
    )
