"""Stage 2: power allocation and closed-form metrics per grid point x drop block.

`closed_form` computes every closed-form scheme a point needs in one job; `sca` has
jobs of its own, so an `sca` option reruns nothing of the closed forms.

At a point of the coefficient route (a correlated or Rician channel, or a precoder without
closed forms: jcas.parts.registry.route) each job estimates the Monte-Carlo coefficients of
its drops (mc.coefficient_realizations per drop) and runs its schemes' solvers on them.
"""


rule closed_form:
    input:
        drops=f"{CACHE}/drops/{{block}}.nc",
        sources=job_sources("closed_form"),
    output:
        f"{CACHE}/alloc/{{point}}/closed_form/{{block}}.nc",
    log:
        f"{LOGS}/alloc/{{point}}/closed_form/{{block}}.log",
    benchmark:
        f"{BENCH}/alloc/{{point}}/closed_form/{{block}}.tsv"
    conda:
        "../envs/jcas.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, attempt: (1000 + n_drops(wc) // 100) * attempt,
        runtime=lambda wc, attempt: (5 + n_drops(wc) // 100000) * attempt,
    params:
        system=job_system(LINK_KEYS),
        point=lambda wc: POINTS[wc.point].as_dict(),
        schemes=lambda wc: NEEDS[wc.point]["alloc"]["closed_form"],
        options=lambda wc: {
            s: POINTS[wc.point].options(s, CFG["allocation"])
            for s in NEEDS[wc.point]["alloc"]["closed_form"]
        },
        coefficients=coefficient_sizes,
    script:
        "../scripts/closed_form.py"


rule sca:
    input:
        drops=f"{CACHE}/drops/{{block}}.nc",
        sources=job_sources("sca"),
    output:
        f"{CACHE}/alloc/{{point}}/sca/{{block}}.nc",
    log:
        f"{LOGS}/alloc/{{point}}/sca/{{block}}.log",
    benchmark:
        f"{BENCH}/alloc/{{point}}/sca/{{block}}.tsv"
    conda:
        "../envs/jcas.yaml"
    threads: 1
    resources:
        # one convex solve per group of drops and iteration: cost ~ drops x antennas
        mem_mb=lambda wc, attempt: (1000 + n_drops(wc) * antennas(wc) // 1000) * attempt,
        runtime=lambda wc, attempt: (5 + n_drops(wc) * antennas(wc) // 30000) * attempt,
    params:
        system=job_system(LINK_KEYS),
        point=lambda wc: POINTS[wc.point].as_dict(),
        schemes=["sca"],
        options=lambda wc: {"sca": POINTS[wc.point].options("sca", CFG["allocation"])},
        coefficients=coefficient_sizes,
    script:
        "../scripts/sca.py"
