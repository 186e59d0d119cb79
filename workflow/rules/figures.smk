"""Stage 5: figures (jcas.report.plots: PDF, PNG, tidy CSV, caption) and the paper-claims table (jcas.report.claims)."""


rule figure:
    input:
        data=f"{RESULTS}/{{experiment}}.nc",
        sources=job_sources("figure"),
    output:
        pdf=report(
            f"{RESULTS}/figures/{{experiment}}.pdf",
            caption="../report/figure.rst",
            category="Figures",
            subcategory="PDF",
            labels={"experiment": "{experiment}"},
        ),
        png=report(
            f"{RESULTS}/figures/{{experiment}}.png",
            caption="../report/figure.rst",
            category="Figures",
            subcategory="PNG",
            labels={"experiment": "{experiment}"},
        ),
        # the plotted points, one row per point (panel, series, x, y, y_err, ...), and the
        # caption: written beside the PDF by jcas.report.plots.save_figure
        csv=report(
            f"{RESULTS}/figures/{{experiment}}.csv",
            caption="../report/figure.rst",
            category="Figures",
            subcategory="Data (CSV)",
            labels={"experiment": "{experiment}"},
        ),
        caption=f"{RESULTS}/figures/{{experiment}}.caption.txt",
    log:
        f"{LOGS}/figures/{{experiment}}.log",
    benchmark:
        f"{BENCH}/figures/{{experiment}}.tsv"
    conda:
        "../envs/jcas.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, input, attempt: (1500 + 3 * input_mb(input)) * attempt,
        runtime=lambda wc, attempt: 10 * attempt,
    params:
        plot=lambda wc: PLANS[wc.experiment].plot,
        caption=figure_caption,
    script:
        "../scripts/figure.py"


rule claims:
    input:
        **claims_inputs(),
        sources=job_sources("claims"),
    output:
        report(
            f"{RESULTS}/claims.csv",
            caption="../report/claims.rst",
            category="Paper claims",
        ),
    log:
        f"{LOGS}/claims.log",
    benchmark:
        f"{BENCH}/claims.tsv"
    conda:
        "../envs/jcas.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, input, attempt: (1500 + 3 * input_mb(input)) * attempt,
        runtime=lambda wc, attempt: 10 * attempt,
    params:
        kinds=list(claims_inputs()),
    script:
        "../scripts/claims.py"
