"""Snakemake job `mle_planar`: 2-D ML estimate of (azimuth, elevation) vs their CRBs at
one grid point and scheme (jcas.pipeline.jobs.mle)."""

from jcas.pipeline.jobs import job_log, mle

with job_log(snakemake.log[0]):
    mle.run_planar(
        list(snakemake.input.allocs), snakemake.output[0], **dict(snakemake.params.items())
    )
