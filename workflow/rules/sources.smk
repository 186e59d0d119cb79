"""Stage 0: one checksum file per stage of the jcas sources it runs (common.smk, MODULES)."""


rule sources:
    input:
        lambda wc: MODULES[wc.stage],
    output:
        sources("{stage}"),
    log:
        f"{LOGS}/sources/{{stage}}.log",
    localrule: True
    conda:
        "../envs/jcas.yaml"
    shell:
        "sha256sum {input} > {output} 2> {log}"
