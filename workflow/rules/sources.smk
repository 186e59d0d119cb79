"""Stage 0: one checksum file per stage of the jcas sources it runs (common.smk, MODULES)."""


rule sources:
    input:
        lambda wc: MODULES[wc.stage],
    output:
        sources("{stage}"),
    localrule: True
    shell:
        "sha256sum {input} > {output}"
