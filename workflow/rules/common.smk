"""Helpers of the jcas workflow: validated config, grid, job layout, paths, params,
resources and the jcas source files each stage runs (docs/pipeline.md).

Everything physical is computed by the jcas package; this file only decides which
jobs exist, where their files live and what each job depends on. Everything is
computed once while the Snakefile is parsed (dicts keyed by wildcard values), so the
input, params and resource functions below are look-ups.
"""

import os
import re
import sys
from glob import glob
from pathlib import Path

BASEDIR = Path(workflow.basedir)

# Jobs and this file import jcas from this tree (a copied tree imports its own copy):
# the tree goes first on sys.path here and on PYTHONPATH for the job processes (set,
# not required, so there is nothing for an `envvars:` directive to assert).
if str(BASEDIR) not in sys.path:
    sys.path.insert(0, str(BASEDIR))
_pythonpath = [str(BASEDIR), *os.environ.get("PYTHONPATH", "").split(os.pathsep)]
os.environ.update(
    PYTHONPATH=os.pathsep.join(dict.fromkeys(p for p in _pythonpath if p))
)
# one BLAS thread per job: parallelism comes from running jobs side by side
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from jcas.config import (  # noqa: E402
    MLE_KINDS,
    SCHEMES,
    block_key,
    drop_blocks,
    job_key,
    load_config,
    plan_experiments,
    scheme_options,
)
from jcas.model.params import SystemParams  # noqa: E402
from jcas.allocation.schemes.sca import SCA_VARIANTS  # noqa: E402
from jcas.parts.registry import PRECODERS  # noqa: E402

# --------------------------------------------------------------------------- config
CFG = load_config(config)
PLANS = {name: p for name, p in plan_experiments(CFG).items() if p.enabled}
# Jobs are keyed by grid point and precoder (jcas.config.job_key: the point's key for
# mrt, "<point key>_<precoder>" for the others): the `point` wildcard is this job key.
JOB_KEYS = {
    (pt, precoder): job_key(pt, precoder)
    for plan in PLANS.values()
    for pt in plan.unique_points
    for precoder in plan.precoders
}
POINTS = {key: pt for (pt, _), key in JOB_KEYS.items()}
PRECODER_OF = {key: precoder for (_, precoder), key in JOB_KEYS.items()}
BLOCK_RANGE = {
    block_key(a, b): (a, b) for a, b in drop_blocks(CFG["drops"], CFG["drops_per_job"])
}
BLOCKS = list(BLOCK_RANGE)
SYSTEM = SystemParams.from_dict(CFG["system"]).to_dict()  # normalised types

RESULTS = "results"
CACHE = f"{RESULTS}/cache"
LOGS = f"{RESULTS}/logs"
BENCH = f"{RESULTS}/benchmarks"

# System keys each stage depends on (the grid point's keys travel separately);
# "precoder" and "array" only when the validated system block has them; the planar
# array's rows, the elevation and the CRB form (docs/model.md §8) with them.
GEOMETRY_KEYS = ("K", "r_min_m", "r_max_m", "pathloss_exponent", "shadowing_db")
LINK_KEYS = (
    "K",
    "pt_dbm",
    "pp_dbm",
    "tau_p",
    "tau_c",
    "theta_deg",
    "precoder",
    "array",
    "tx_rows",
    "rx_rows",
    "elevation_deg",
    "crb_form",
    "crb0_azimuth",
    "crb0_elevation",
)
SENSING_KEYS = (*LINK_KEYS, "L")


def system_of(keys):
    """The listed system parameters that the config has (built-in types, fixed order)."""
    return {k: SYSTEM[k] for k in keys if k in SYSTEM}


def job_system(keys):
    """Params function: :func:`system_of` with the precoder of the job's key, and the
    point's own planar values (jcas.config.Point.system_values: its array, rows and
    direction) for the listed keys; a ULA point at broadside has the system's values,
    so its params are unchanged."""

    def params(wc):
        planar = POINTS[wc.point].system_values()
        own = {k: v for k, v in planar.items() if k in keys}
        return {**system_of(keys), **own, "precoder": PRECODER_OF[wc.point]}

    return params


# --------------------------------------------------------------------------- job layout
# Allocation jobs: per grid point and drop block, one job computes every closed-form
# scheme (microseconds per drop; `equal` reuses `optimal`'s allocation) and each
# iterative scheme has jobs of its own, so changing its options reruns nothing of the
# closed forms. Monte-Carlo jobs follow the same families; an MLE job is per point x
# scheme (a few schemes of a point may need it).
# schemes with jobs of their own (allocation.smk); the others are closed_form
OWN_JOBS = ("sca",)
FAMILIES = ("closed_form", *OWN_JOBS)


def family_of(scheme):
    """The allocation job family of a scheme: itself if it has jobs of its own."""
    return scheme if scheme in OWN_JOBS else "closed_form"


def _point_needs():
    """Per point key: schemes to allocate, to Monte-Carlo and to MLE, by family."""
    needs = {}
    for plan in PLANS.values():
        if plan.kind == "sca_audit":
            continue  # its own jobs (workflow/rules/audit.smk): no allocation job
        for pt, precoder in (
            (p, c) for p in plan.unique_points for c in plan.precoders
        ):
            key = JOB_KEYS[pt, precoder]
            need = needs.setdefault(
                key, {"alloc": set(), "mc": set(), "mle": set(), "mle_planar": set()}
            )
            need["alloc"].update(plan.schemes)
            if plan.kind in MLE_KINDS:
                need[plan.kind].update(plan.schemes)
            elif plan.monte_carlo:
                need["mc"].update(plan.schemes)
    return {
        key: {
            what: {
                fam: [s for s in SCHEMES if s in schemes and family_of(s) == fam]
                for fam in FAMILIES
            }
            for what, schemes in need.items()
        }
        for key, need in needs.items()
    }


NEEDS = _point_needs()


def mle_drops():
    """Drops 0 .. n-1 used by the MLE experiments."""
    return min(int(CFG["mc"]["mle_drops"]), int(CFG["drops"]))


MLE_BLOCKS = [b for b in BLOCKS if BLOCK_RANGE[b][0] < mle_drops()]


def planar_mle_drops():
    """Drops 0 .. n-1 used by the 2-D MLE experiments (kind mle_planar)."""
    return min(int(CFG["mc"]["planar_mle_drops"]), int(CFG["drops"]))


PLANAR_MLE_BLOCKS = [b for b in BLOCKS if BLOCK_RANGE[b][0] < planar_mle_drops()]


def experiment_config(name):
    """The part of the config experiment ``name`` depends on (its provenance)."""
    plan = PLANS[name]
    out = {
        "seed": CFG["seed"],
        "drops": CFG["drops"],
        "schemes": list(plan.schemes),
        "system": dict(SYSTEM),
        "allocation": {s: scheme_options(s, CFG["allocation"]) for s in plan.schemes},
    }
    if plan.monte_carlo:
        out["mc"] = {k: CFG["mc"][k] for k in ("realizations", "frames")}
    if plan.kind == "mle":
        out["mc"] = {"mle_trials": CFG["mc"]["mle_trials"], "mle_drops": mle_drops()}
    if plan.kind == "mle_planar":
        out["mc"] = {
            "planar_mle_trials": CFG["mc"]["planar_mle_trials"],
            "planar_mle_drops": planar_mle_drops(),
        }
    out["experiments"] = {name: CFG["experiments"][name]}
    return out


# --------------------------------------------------------------------------- paths
def alloc_path(point, family, block):
    return f"{CACHE}/alloc/{point}/{family}/{block}.nc"


def mc_path(point, family, block):
    return f"{CACHE}/mc/{point}/{family}/{block}.nc"


def mle_path(point, scheme):
    return f"{CACHE}/mle/{point}/{scheme}.nc"


def audit_path(point, start, stop):
    return f"{CACHE}/audit/{point}/{block_key(start, stop)}.nc"


def audit_range(plan):
    """Held-out drops of an sca_audit experiment: global indices after every other
    experiment's (``drops .. drops + audit_drops - 1``)."""
    return int(CFG["drops"]), int(CFG["drops"]) + int(plan.audit_drops)


# (start, stop) of the held-out block of every sca_audit experiment, by block key: a
# look-up like BLOCK_RANGE (no wildcard text is parsed)
AUDIT_RANGE = {
    block_key(*audit_range(plan)): audit_range(plan)
    for plan in PLANS.values()
    if plan.kind == "sca_audit"
}


# the sca options of the config that no variant sets (tol, max_iterations, batch_size):
# changing a feature flag of the pipeline's sca reruns no audit job
AUDIT_OPTIONS = {
    k: v
    for k, v in scheme_options("sca", CFG["allocation"]).items()
    if not any(k in variant.options for variant in SCA_VARIANTS)
}


def mle_planar_path(point, scheme):
    return f"{CACHE}/mle_planar/{point}/{scheme}.nc"


def _experiment_inputs(plan):
    """Per-job files of one experiment: every point x family (x block), or x scheme."""
    files = []
    for pt, precoder in ((p, c) for p in plan.unique_points for c in plan.precoders):
        key = JOB_KEYS[pt, precoder]
        if plan.kind == "mle":
            files += [mle_path(key, s) for s in plan.schemes]
            continue
        if plan.kind == "sca_audit":
            files.append(audit_path(key, *audit_range(plan)))
            continue
        if plan.kind == "mle_planar":
            files += [mle_planar_path(key, s) for s in plan.schemes]
            continue
        families = [f for f in FAMILIES if any(family_of(s) == f for s in plan.schemes)]
        for fam in families:
            for block in BLOCKS:
                files.append(alloc_path(key, fam, block))
                if plan.monte_carlo:
                    files.append(mc_path(key, fam, block))
    return files


def aggregate_keys(name):
    """Job key -> point key of every per-job directory experiment ``name`` reads."""
    plan = PLANS[name]
    return {
        JOB_KEYS[pt, c]: pt.key for pt in plan.unique_points for c in plan.precoders
    }


EXPERIMENT_INPUTS = {name: _experiment_inputs(plan) for name, plan in PLANS.items()}
CLAIM_KINDS = ("fig1", "fig2", "fig3", "pareto")


def claims_inputs():
    """Experiment files for jcas.report.claims, by figure kind (first enabled MRT-only one)."""
    out = {}
    for kind in CLAIM_KINDS:
        for name, plan in PLANS.items():
            mrt_only = plan.precoders == ("mrt",)
            if plan.plot == kind and mrt_only and kind not in out:
                out[kind] = f"{RESULTS}/{name}.nc"
    return out


def all_targets():
    """Every experiment dataset and figure, and the claims table."""
    out = []
    for name, plan in PLANS.items():
        out.append(f"{RESULTS}/{name}.nc")
        if plan.plot != "none":
            out += [f"{RESULTS}/figures/{name}.pdf", f"{RESULTS}/figures/{name}.png"]
    if CFG["claims"] and claims_inputs():
        out.append(f"{RESULTS}/claims.csv")
    return out


# --------------------------------------------------------------------------- resources
# Functions of the wildcards (and the retry attempt): runtime in minutes, mem_mb in MB,
# one thread per job. Calibration (2-core development machine, 1000 drops per job,
# Nt = Nr = 50, the largest array of the default config): sca 17 s and 222 MB peak RSS,
# Monte-Carlo of one scheme 14 s and 157 MB (100 realizations), of which about 150 MB is
# the Python start-up; the formulas leave at least a factor of 10 on time.
def n_drops(wc):
    """Drops of the job's block."""
    start, stop = BLOCK_RANGE[wc.block]
    return stop - start


def audit_work(wc):
    """Held-out drops x (Nt + Nr) of an sca_audit job."""
    start, stop = AUDIT_RANGE[wc.block]
    return (stop - start) * antennas(wc)


def antennas(wc):
    """Nt + Nr of the job's grid point."""
    pt = POINTS[wc.point]
    return pt.Nt + pt.Nr


def mc_work(wc):
    """Drops x schemes x realizations (in hundreds) of a Monte-Carlo job."""
    schemes = len(NEEDS[wc.point]["mc"][wc.family])
    return n_drops(wc) * schemes * max(1, CFG["mc"]["realizations"] // 100)


def input_mb(input):
    """Size of a job's inputs (MB), from the files themselves: ``input.size_mb`` is a
    coroutine that ``snakemake --report`` cannot run (it warned for every rule using it).
    """
    return sum(os.path.getsize(f) for f in input if os.path.exists(f)) // 2**20


# --------------------------------------------------------------------------- sources
# The jcas source files each stage runs. Snakemake does not track imported code, so
# rule `sources` writes one checksum file per stage from them (a local shell job), and
# every job of the stage has that file as an input: an edit to one of the files reruns
# the stage's jobs (and what depends on them), an edit anywhere else reruns nothing, and
# a touch without a change reruns nothing either (Snakemake compares the checksums of
# small inputs). Sub-packages are listed by directory, so a module added to one of them
# is covered without an edit here. The stages that run a precoder (allocation,
# montecarlo) have one checksum file per precoder, `<stage>_<precoder>`, with that
# precoder's modules only (jcas.parts.registry.precoder_sources): an edit to zf.py reruns no
# MRT job, and a precoder module added to the package reruns nothing.
def precoder_sources(name):
    """The modules of precoder ``name``'s class hierarchy and the precoders' interface."""
    import inspect

    files = {"jcas/parts/precoders/__init__.py", "jcas/parts/precoders/base.py"}
    for cls in inspect.getmro(PRECODERS[name].build):
        if cls.__module__.startswith("jcas.parts.precoders."):
            files.add(os.path.join(*cls.__module__.split(".")) + ".py")
    return sorted(files)


CORE = [
    "jcas/__init__.py",
    "jcas/allocation/schemes/*.py",
    "jcas/config/__init__.py",
    "jcas/model/params.py",
    "jcas/parts/registry.py",
    "jcas/io/atomic.py",
    "jcas/io/metadata.py",
    "jcas/io/provenance.py",
    "jcas/io/results.py",
    "jcas/io/stats.py",
    "jcas/pipeline/experiment.py",
    "jcas/pipeline/jobs.py",
]
MODEL = [
    "jcas/parts/arrays/*.py",
    "jcas/model/channel.py",
    "jcas/model/metrics.py",
]
STAGE_SOURCES = {
    "drops": [*CORE, "jcas/model/drops.py"],
    **{
        f"allocation_{p}": [
            *CORE,
            *MODEL,
            *precoder_sources(p),
            "jcas/allocation/*.py",
            "jcas/allocation/sca/*.py",
        ]
        for p in PRECODERS
    },
    **{
        f"montecarlo_{p}": [
            *CORE,
            *MODEL,
            *precoder_sources(p),
            "jcas/model/drops.py",
            "jcas/montecarlo/*.py",
        ]
        for p in PRECODERS
    },
    **{
        f"audit_{p}": [
            *CORE,
            *MODEL,
            *precoder_sources(p),
            "jcas/model/drops.py",
            "jcas/allocation/*.py",
            "jcas/allocation/sca/*.py",
        ]
        for p in PRECODERS
    },
    "aggregate": CORE,
    "figures": [*CORE, "jcas/report/plots.py", "jcas/report/figures/*.py"],
    "claims": [*CORE, "jcas/report/claims.py"],
}
MODULES = {
    stage: sorted(
        {
            os.path.relpath(BASEDIR / f)
            for p in patterns
            for f in glob(p, root_dir=BASEDIR)
        }
    )
    for stage, patterns in STAGE_SOURCES.items()
}


def sources(stage):
    """The checksum file of a stage's jcas sources (an input of each of its jobs)."""
    return f"{CACHE}/sources/{stage}.sha256"


def job_sources(stage):
    """Input function: the checksum file of ``stage`` with the job's precoder."""
    return lambda wc: sources(f"{stage}_{PRECODER_OF[wc.point]}")


wildcard_constraints:
    point="|".join(sorted((re.escape(k) for k in POINTS), key=len, reverse=True))
    or "(?!)",
    scheme="|".join(SCHEMES),
    family="|".join(FAMILIES),
    block=r"d\d+-\d+",
    experiment=r"[a-z][a-z0-9_]*",
    stage="|".join(STAGE_SOURCES),
