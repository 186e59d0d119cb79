"""Stage 0: one checksum file per distinct source set of the jobs (common.smk, "sources")."""


rule sources:
    input:
        set_files,
    output:
        sources("{digest}"),
    log:
        f"{LOGS}/sources/{{digest}}.log",
    localrule: True
    conda:
        "../envs/jcas.yaml"
    shell:
        "sha256sum {input} > {output} 2> {log}"
