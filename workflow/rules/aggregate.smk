"""Stage 4: one dataset per experiment, results/<experiment>.nc (docs/data.md)."""


rule aggregate:
    input:
        data=lambda wc: EXPERIMENT_INPUTS[wc.experiment],
        sources=job_sources("aggregate"),
    output:
        f"{RESULTS}/{{experiment}}.nc",
    log:
        f"{LOGS}/aggregate/{{experiment}}.log",
    benchmark:
        f"{BENCH}/aggregate/{{experiment}}.tsv"
    conda:
        "../envs/jcas.yaml"
    threads: 1
    resources:
        # reads every per-job file of the experiment into memory
        mem_mb=lambda wc, input, attempt: (1500 + 3 * input_mb(input)) * attempt,
        runtime=lambda wc, input, attempt: (10 + input_mb(input) // 100) * attempt,
    params:
        name=lambda wc: wc.experiment,
        config=lambda wc: experiment_config(wc.experiment),
        point_keys=lambda wc: aggregate_keys(wc.experiment),
    script:
        "../scripts/aggregate.py"
