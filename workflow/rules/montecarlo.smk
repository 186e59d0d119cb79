"""Stage 3: Monte-Carlo validation (rate (14), finite-L CRB (36)) and the MLE of theta."""


rule monte_carlo:
    input:
        alloc=f"{CACHE}/alloc/{{point}}/{{family}}/{{block}}.nc",
        sources=job_sources("monte_carlo"),
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
        mc=kind_mc("sweep"),
        seed=CFG["seed"],
    script:
        "../scripts/monte_carlo.py"


rule mle:
    input:
        allocs=lambda wc: [
            alloc_path(wc.point, family_of(wc.scheme), b) for b in first_blocks("mle")
        ],
        sources=job_sources("mle"),
    output:
        own_output("mle"),
    log:
        own_log("mle", LOGS),
    benchmark:
        own_log("mle", BENCH)
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
        mc=kind_mc("mle"),
        seed=CFG["seed"],
        n_drops=first_drops("mle"),
    script:
        "../scripts/mle.py"


rule mle_planar:
    input:
        allocs=lambda wc: [
            alloc_path(wc.point, family_of(wc.scheme), b)
            for b in first_blocks("mle_planar")
        ],
        sources=job_sources("mle_planar"),
    output:
        own_output("mle_planar"),
    log:
        own_log("mle_planar", LOGS),
    benchmark:
        own_log("mle_planar", BENCH)
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
        mc=kind_mc("mle_planar"),
        seed=CFG["seed"],
        n_drops=first_drops("mle_planar"),
    script:
        "../scripts/mle_planar.py"
