"""Stage 2: power allocation and closed-form metrics per grid point x scheme x drop block."""


rule allocate:
    input:
        drops=f"{CACHE}/drops/{{block}}.nc",
        modules=MODULES["allocation"],
    output:
        f"{CACHE}/alloc/{{point}}/{{scheme}}/{{block}}.nc",
    log:
        f"{LOGS}/alloc/{{point}}/{{scheme}}/{{block}}.log",
    benchmark:
        f"{BENCH}/alloc/{{point}}/{{scheme}}/{{block}}.tsv"
    conda:
        "../envs/jcas.yaml"
    params:
        system=system_of(LINK_KEYS),
        point=lambda wc: POINTS[wc.point].as_dict(),
        scheme=lambda wc: wc.scheme,
        options=lambda wc: scheme_options(wc.scheme, CFG["allocation"]),
    script:
        "../scripts/allocate.py"
