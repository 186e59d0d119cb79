"""Snakemake job `mle_planar`: 2-D ML estimate of (azimuth, elevation) vs their CRBs at
one grid point and scheme (jcas_job)."""

from jcas.pipeline import jobs as jcas_job

with jcas_job.job_log(snakemake.log[0]):
    jcas_job.run_mle(
        list(snakemake.input.allocs),
        snakemake.output[0],
        planar=True,
        **dict(snakemake.params.items()),
    )
