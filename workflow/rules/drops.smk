"""Stage 1: user drops (positions, shadowing) per block of global drop indices."""


rule drops:
    input:
        sources=job_sources("drops"),
    output:
        f"{CACHE}/drops/{{block}}.nc",
    log:
        f"{LOGS}/drops/{{block}}.log",
    benchmark:
        f"{BENCH}/drops/{{block}}.tsv"
    conda:
        "../envs/jcas.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, attempt: (800 + n_drops(wc) // 100) * attempt,
        runtime=lambda wc, attempt: (5 + n_drops(wc) // 20000) * attempt,
    params:
        system=system_of(GEOMETRY_KEYS),
        seed=CFG["seed"],
        start=lambda wc: BLOCK_RANGE[wc.block][0],
        stop=lambda wc: BLOCK_RANGE[wc.block][1],
    script:
        "../scripts/drops.py"
