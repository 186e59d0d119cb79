"""Stage 1: user drops (positions, shadowing) per block of global drop indices."""


rule drops:
    input:
        modules=MODULES["drops"],
    output:
        f"{CACHE}/drops/{{block}}.nc",
    log:
        f"{LOGS}/drops/{{block}}.log",
    benchmark:
        f"{BENCH}/drops/{{block}}.tsv"
    conda:
        "../envs/jcas.yaml"
    params:
        system=system_of(GEOMETRY_KEYS),
        seed=CFG["seed"],
        start=lambda wc: block_range(wc.block)[0],
        stop=lambda wc: block_range(wc.block)[1],
    script:
        "../scripts/drops.py"
