"""The sweep: per-point stages, aggregation and the job entry points of the workflow."""
