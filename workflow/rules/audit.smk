"""The sca audit (experiments of kind sca_audit): every sca variant against the exact
optimum on held-out drops, one job per grid point and precoder (docs/pipeline.md).

The drops are drawn inside the job (global indices after every other experiment's, so
no other experiment uses them); the variants are jcas.allocation.schemes.sca.SCA_VARIANTS.
"""

from jcas.allocation.schemes.sca import SCA_VARIANTS

# the sca options of the config that no variant sets (tol, max_iterations, batch_size):
# changing a feature flag of the pipeline's sca reruns no audit job
AUDIT_OPTIONS = {
    k: v
    for k, v in scheme_options("sca", CFG["allocation"]).items()
    if not any(k in variant.options for variant in SCA_VARIANTS)
}


rule sca_audit:
    input:
        sources=job_sources("sca_audit"),
    output:
        own_output("sca_audit"),
    log:
        own_log("sca_audit", LOGS),
    benchmark:
        own_log("sca_audit", BENCH)
    conda:
        "../envs/jcas.yaml"
    threads: 1
    resources:
        # 6 sca variants and the optimum; a variant ~10 ms a drop at Nt = Nr = 35
        mem_mb=lambda wc, attempt: (1000 + held_out_work(wc) // 1000) * attempt,
        runtime=lambda wc, attempt: (5 + held_out_work(wc) // 5000) * attempt,
    params:
        system=job_system(LINK_KEYS),
        point=lambda wc: POINTS[wc.point].as_dict(),
        seed=CFG["seed"],
        start=lambda wc: HELD_OUT_RANGE[wc.block][0],
        stop=lambda wc: HELD_OUT_RANGE[wc.block][1],
        options=AUDIT_OPTIONS,
    script:
        "../scripts/sca_audit.py"
