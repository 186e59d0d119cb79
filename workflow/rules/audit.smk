"""The sca audit (experiments of kind sca_audit): every sca variant against the exact
optimum on held-out drops, one job per grid point and precoder (docs/pipeline.md).

The drops are drawn inside the job (global indices after every other experiment's, so
no other experiment uses them); the variants are jcas.allocation.schemes.sca.SCA_VARIANTS.
"""


rule sca_audit:
    input:
        sources=job_sources("audit"),
    output:
        f"{CACHE}/audit/{{point}}/{{block}}.nc",
    log:
        f"{LOGS}/audit/{{point}}/{{block}}.log",
    benchmark:
        f"{BENCH}/audit/{{point}}/{{block}}.tsv"
    conda:
        "../envs/jcas.yaml"
    threads: 1
    resources:
        # 6 sca variants and the optimum; a variant ~10 ms a drop at Nt = Nr = 35
        mem_mb=lambda wc, attempt: (1000 + audit_work(wc) // 1000) * attempt,
        runtime=lambda wc, attempt: (5 + audit_work(wc) // 5000) * attempt,
    params:
        system=job_system(LINK_KEYS),
        point=lambda wc: POINTS[wc.point].as_dict(),
        seed=CFG["seed"],
        start=lambda wc: AUDIT_RANGE[wc.block][0],
        stop=lambda wc: AUDIT_RANGE[wc.block][1],
        options=AUDIT_OPTIONS,
    script:
        "../scripts/sca_audit.py"
