"""Stage 3: Monte-Carlo validation (rate (14), finite-L CRB (36)) and the MLE of theta."""


rule monte_carlo:
    input:
        alloc=f"{CACHE}/alloc/{{point}}/{{family}}/{{block}}.nc",
        sources=job_sources("montecarlo"),
    output:
        f"{CACHE}/mc/{{point}}/{{family}}/{{block}}.nc",
    log:
        f"{LOGS}/mc/{{point}}/{{family}}/{{block}}.log",
    benchmark:
        f"{BENCH}/mc/{{point}}/{{family}}/{{block}}.tsv"
    conda:
        "../envs/jcas.yaml"
    threads: 1
    resources:
        # per drop and scheme: realizations x Nt x K channel draws, frames x L x Nr echoes
        mem_mb=lambda wc, attempt: (1000 + 5 * antennas(wc)) * attempt,
        runtime=lambda wc, attempt: (5 + mc_work(wc) * antennas(wc) // 15000) * attempt,
    params:
        system=job_system(SENSING_KEYS),
        point=lambda wc: POINTS[wc.point].as_dict(),
        schemes=lambda wc: NEEDS[wc.point]["mc"][wc.family],
        mc={k: CFG["mc"][k] for k in ("realizations", "frames")},
        seed=CFG["seed"],
    script:
        "../scripts/monte_carlo.py"


rule mle:
    input:
        allocs=lambda wc: [
            alloc_path(wc.point, family_of(wc.scheme), b) for b in MLE_BLOCKS
        ],
        sources=job_sources("montecarlo"),
    output:
        f"{CACHE}/mle/{{point}}/{{scheme}}.nc",
    log:
        f"{LOGS}/mle/{{point}}/{{scheme}}.log",
    benchmark:
        f"{BENCH}/mle/{{point}}/{{scheme}}.tsv"
    conda:
        "../envs/jcas.yaml"
    threads: 1
    resources:
        # mc.mle_drops drops x mc.mle_trials echoes, grid search over the Nr-element array
        mem_mb=lambda wc, attempt: (1000 + 5 * POINTS[wc.point].Nr) * attempt,
        runtime=lambda wc, attempt: (10 + POINTS[wc.point].Nr // 5) * attempt,
    params:
        system=job_system(SENSING_KEYS),
        point=lambda wc: POINTS[wc.point].as_dict(),
        scheme=lambda wc: wc.scheme,
        mc={"mle_trials": CFG["mc"]["mle_trials"]},
        seed=CFG["seed"],
        n_drops=mle_drops(),
    script:
        "../scripts/mle.py"


rule mle_planar:
    input:
        allocs=lambda wc: [
            alloc_path(wc.point, family_of(wc.scheme), b) for b in PLANAR_MLE_BLOCKS
        ],
        sources=job_sources("montecarlo"),
    output:
        f"{CACHE}/mle_planar/{{point}}/{{scheme}}.nc",
    log:
        f"{LOGS}/mle_planar/{{point}}/{{scheme}}.log",
    benchmark:
        f"{BENCH}/mle_planar/{{point}}/{{scheme}}.tsv"
    conda:
        "../envs/jcas.yaml"
    threads: 1
    resources:
        # mc.planar_mle_drops drops x mc.planar_mle_trials echoes: a 2-D FFT grid over
        # both arrays (blocks of jcas.montecarlo.planar.GRID_BYTES), then a local search
        mem_mb=lambda wc, attempt: (1000 + 5 * antennas(wc)) * attempt,
        runtime=lambda wc, attempt: (10 + antennas(wc) // 5) * attempt,
    params:
        system=job_system(SENSING_KEYS),
        point=lambda wc: POINTS[wc.point].as_dict(),
        scheme=lambda wc: wc.scheme,
        mc={"planar_mle_trials": CFG["mc"]["planar_mle_trials"]},
        seed=CFG["seed"],
        n_drops=planar_mle_drops(),
    script:
        "../scripts/mle_planar.py"
