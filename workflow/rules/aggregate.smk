"""Stage 4: one dataset per experiment, results/<experiment>.nc (docs/data.md)."""


rule aggregate:
    input:
        data=experiment_inputs,
        modules=MODULES["aggregate"],
    output:
        f"{RESULTS}/{{experiment}}.nc",
    log:
        f"{LOGS}/aggregate/{{experiment}}.log",
    benchmark:
        f"{BENCH}/aggregate/{{experiment}}.tsv"
    conda:
        "../envs/jcas.yaml"
    params:
        name=lambda wc: wc.experiment,
        config=lambda wc: experiment_config(wc.experiment),
        point_keys=lambda wc: [p.key for p in PLANS[wc.experiment].unique_points],
    script:
        "../scripts/aggregate.py"
