"""Stage 3: Monte-Carlo validation (rate (14), finite-L CRB (36)) and the MLE of theta."""


rule monte_carlo:
    input:
        alloc=f"{CACHE}/alloc/{{point}}/{{scheme}}/{{block}}.nc",
        modules=MODULES["montecarlo"],
    output:
        f"{CACHE}/mc/{{point}}/{{scheme}}/{{block}}.nc",
    log:
        f"{LOGS}/mc/{{point}}/{{scheme}}/{{block}}.log",
    benchmark:
        f"{BENCH}/mc/{{point}}/{{scheme}}/{{block}}.tsv"
    conda:
        "../envs/jcas.yaml"
    params:
        system=system_of(SENSING_KEYS),
        point=lambda wc: POINTS[wc.point].as_dict(),
        mc={k: CFG["mc"][k] for k in ("realizations", "frames")},
        seed=CFG["seed"],
    script:
        "../scripts/monte_carlo.py"


rule mle:
    input:
        allocs=lambda wc: [alloc_path(wc.point, wc.scheme, b) for b in mle_blocks()],
        modules=MODULES["montecarlo"],
    output:
        f"{CACHE}/mle/{{point}}/{{scheme}}.nc",
    log:
        f"{LOGS}/mle/{{point}}/{{scheme}}.log",
    benchmark:
        f"{BENCH}/mle/{{point}}/{{scheme}}.tsv"
    conda:
        "../envs/jcas.yaml"
    params:
        system=system_of(SENSING_KEYS),
        point=lambda wc: POINTS[wc.point].as_dict(),
        mc={"mle_trials": CFG["mc"]["mle_trials"]},
        seed=CFG["seed"],
        n_drops=mle_drops(),
    script:
        "../scripts/mle.py"
