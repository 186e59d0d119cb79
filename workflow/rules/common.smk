"""Helpers of the jcas workflow: validated config, grid, job layout, paths, params,
resources and the source set of each job (docs/pipeline.md).

Everything physical is computed by the jcas package; this file only decides which
jobs exist, where their files live and what each job depends on. Everything is
computed once while the Snakefile is parsed (dicts keyed by wildcard values), so the
input, params and resource functions below are look-ups.
"""

import os
import re
import sys
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
    SCHEMES,
    block_key,
    drop_blocks,
    job_key,
    load_config,
    plan_experiments,
    plan_routes,
    scheme_options,
)
from jcas.config.kinds import ALLOCATION_RULES, KINDS, STAGES  # noqa: E402
from jcas.config.figures import figure_modules  # noqa: E402
from jcas.model.params import SystemParams  # noqa: E402
from jcas.parts.registry import (
    ARRAYS,
    CHANNELS,
    PRECODERS,
    ROUTE_MODULE,
    SCHEMES_REGISTRY,
    route,
)  # noqa: E402
from jcas.pipeline.sources import SourceGraph, digest  # noqa: E402

# --------------------------------------------------------------------------- config
CFG = load_config(config)
PLANS = {name: p for name, p in plan_experiments(CFG).items() if p.enabled}
# Where each scheme of each point is computed (jcas.config.plan_routes): at the point
# without what the scheme does not read (another scheme's options, a key it ignores), so a
# value swept for one scheme computes no other one again; for every point without such
# keys, the point itself.
ROUTES = {name: plan_routes(plan, CFG["system"]) for name, plan in PLANS.items()}


def routed_jobs(name):
    """(job point, its schemes, precoder) of every job experiment ``name`` reads: each point
    where its schemes are computed (ROUTES), for each of its precoders; a job point serving
    several of the experiment's points comes once for each."""
    return [
        (jp, schemes, precoder)
        for routes in ROUTES[name].values()
        for jp, schemes in routes.items()
        for precoder in PLANS[name].precoders
    ]


# Jobs are keyed by grid point and precoder (jcas.config.job_key: the point's key for
# mrt, "<point key>_<precoder>" for the others): the `point` wildcard is this job key.
JOB_KEYS = {
    (jp, precoder): job_key(jp, precoder)
    for name in PLANS
    for jp, _, precoder in routed_jobs(name)
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
    "channel",
    *(p.key for c in CHANNELS.values() for p in c.params),
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
# Allocation jobs: per grid point and drop block, one job per job family of the schemes
# (jcas.parts.registry.Part.family; jcas.config.kinds.ALLOCATION_RULES are their rules). A
# `closed_form` job computes every closed-form scheme (microseconds per drop; `equal` reuses
# `optimal`'s allocation) and an iterative scheme has jobs of its own, so changing its
# options reruns nothing of the closed forms. Monte-Carlo jobs follow the same families.
# Every experiment kind (jcas.config.kinds.KINDS) says which rules its experiments run and
# how its own per-point files are laid out: nothing below names a kind.
FAMILIES = ALLOCATION_RULES


def family_of(scheme):
    """The allocation job family of a scheme (its rule)."""
    return SCHEMES_REGISTRY[scheme].family


def kind_of(plan):
    """The experiment kind of a plan (jcas.config.kinds.Kind)."""
    return KINDS[plan.kind]


# the kind whose own per-point stage a stage (rule) is
KIND_OF_STAGE = {k.stage: k for k in KINDS.values() if k.stage}


def _point_needs():
    """Per job key: schemes to allocate, to Monte-Carlo and to each kind's own per-scheme
    rule, by family."""
    needs = {}
    own = [k.stage for k in KINDS.values() if k.stage and k.per_scheme]
    for name, plan in PLANS.items():
        kind = kind_of(plan)
        for jp, schemes, precoder in routed_jobs(name):
            key = JOB_KEYS[jp, precoder]
            need = needs.setdefault(
                key, {"alloc": set(), "mc": set(), **{rule: set() for rule in own}}
            )
            if kind.allocates():
                need["alloc"].update(schemes)
            if kind.stage in own:
                need[kind.stage].update(schemes)
            elif "monte_carlo" in kind.rules and plan.monte_carlo:
                need["mc"].update(schemes)
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


def first_drops(kind):
    """Drops 0 .. n-1 used by the jobs of a kind with drops "first" (mc.<drops_key>,
    capped at the config's drops)."""
    return min(int(CFG["mc"][KINDS[kind].drops_key]), int(CFG["drops"]))


def first_blocks(kind):
    """The allocation blocks holding the drops of :func:`first_drops`."""
    return [b for b in BLOCKS if BLOCK_RANGE[b][0] < first_drops(kind)]


def kind_mc(kind):
    """The mc.* keys the jobs of a kind depend on, with their values."""
    return {k: CFG["mc"][k] for k in KINDS[kind].mc_keys}


def held_out_range(plan):
    """Held-out drops of an experiment of a kind with drops "held_out": global indices
    after every other experiment's (``drops .. drops + <drops_key> - 1``)."""
    n = int(plan.extra[kind_of(plan).drops_key])
    return int(CFG["drops"]), int(CFG["drops"]) + n


def experiment_config(name):
    """The part of the config experiment ``name`` depends on (its provenance)."""
    plan = PLANS[name]
    kind = kind_of(plan)
    out = {
        "seed": CFG["seed"],
        "drops": CFG["drops"],
        "schemes": list(plan.schemes),
        "system": dict(SYSTEM),
        "allocation": {s: scheme_options(s, CFG["allocation"]) for s in plan.schemes},
    }
    if kind.mc_keys and (kind.stage or plan.monte_carlo):
        out["mc"] = kind_mc(kind.name)
        if kind.drops == "first":
            out["mc"][kind.drops_key] = first_drops(kind.name)
    out["experiments"] = {name: CFG["experiments"][name]}
    return out


# --------------------------------------------------------------------------- paths
def alloc_path(point, family, block):
    return f"{CACHE}/alloc/{point}/{family}/{block}.nc"


def mc_path(point, family, block):
    return f"{CACHE}/mc/{point}/{family}/{block}.nc"


def own_path(kind, point, leaf):
    """A per-point file of a kind's own rule: ``<cache>/<directory>/<job key>/<leaf>.nc``
    (``leaf``: the scheme, or the drop block)."""
    return f"{CACHE}/{KINDS[kind].cache_directory}/{point}/{leaf}.nc"


def own_output(kind):
    """The output pattern of a kind's own rule (wildcards point and scheme or block)."""
    leaf = "{scheme}" if KINDS[kind].per_scheme else "{block}"
    return own_path(kind, "{point}", leaf)


def own_log(kind, what):
    """The log (or benchmark, ``what``) pattern of a kind's own rule."""
    leaf = "{scheme}" if KINDS[kind].per_scheme else "{block}"
    ext = "log" if what == LOGS else "tsv"
    return f"{what}/{KINDS[kind].cache_directory}/{{point}}/{leaf}.{ext}"


def own_blocks(plan):
    """The drop blocks of the per-point files of a kind's own per-block rule."""
    kind = kind_of(plan)
    if kind.drops == "held_out":
        return [block_key(*held_out_range(plan))]
    return BLOCKS


# (start, stop) of the held-out block of every experiment whose kind draws held-out
# drops, by block key: a look-up like BLOCK_RANGE (no wildcard text is parsed)
HELD_OUT_RANGE = {
    block_key(*held_out_range(plan)): held_out_range(plan)
    for plan in PLANS.values()
    if kind_of(plan).drops == "held_out"
}


def _experiment_inputs(name):
    """Per-job files of one experiment: every point x family (x block) where its schemes
    are computed (ROUTES), or its kind's own files (per scheme or per block)."""
    plan = PLANS[name]
    kind = kind_of(plan)
    files = []
    for jp, schemes, precoder in routed_jobs(name):
        key = JOB_KEYS[jp, precoder]
        if kind.stage and kind.per_scheme:
            files += [own_path(kind.name, key, s) for s in schemes]
        elif kind.stage:
            files += [own_path(kind.name, key, b) for b in own_blocks(plan)]
        else:
            families = [f for f in FAMILIES if any(family_of(s) == f for s in schemes)]
            for fam in families:
                for block in BLOCKS:
                    files.append(alloc_path(key, fam, block))
                    if plan.monte_carlo:
                        files.append(mc_path(key, fam, block))
    return list(dict.fromkeys(files))  # a job point may serve several points


def aggregate_keys(name):
    """Job key -> the key of its point, for every per-job directory experiment ``name``
    reads (jcas.pipeline.jobs.aggregate routes each scheme of each point to it)."""
    return {JOB_KEYS[jp, c]: jp.key for jp, _, c in routed_jobs(name)}


EXPERIMENT_INPUTS = {name: _experiment_inputs(name) for name in PLANS}
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


def antennas(wc):
    """Nt + Nr of the job's grid point."""
    pt = POINTS[wc.point]
    return pt.Nt + pt.Nr


def held_out_work(wc):
    """Held-out drops x (Nt + Nr) of a job of a kind drawing held-out drops."""
    start, stop = HELD_OUT_RANGE[wc.block]
    return (stop - start) * antennas(wc)


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
# The source set of each job (jcas.pipeline.sources): its rule's script, and the import
# closure of the rule's job entry (jcas.config.kinds.STAGES), of the modules of the parts
# its point uses (precoder, array, the schemes it allocates with: Part.module) and of the
# functions its experiment's kind names (an aggregation). Derived from the package's import
# graph (grimp parses the sources without importing them), never listed by hand. Snakemake
# does not track imported code, so rule `sources` writes one checksum file per distinct
# set (a local shell job) and every job has its set's file as an input: an edit to one of
# the files reruns exactly the jobs that run it (and what depends on them), an edit
# anywhere else reruns nothing, and a touch without a change reruns nothing either
# (Snakemake compares the checksums of small inputs).
GRAPH = SourceGraph(BASEDIR)
SOURCE_SETS = {}  # digest -> files of the set (filled as the jobs ask for their sets)
_JOB_SETS = {}


def _module(ref):
    """The module of a function reference "<module>:<function>"."""
    return ref.partition(":")[0]


def job_schemes(name, wc):
    """The schemes a job of ``name`` (a rule) allocates with."""
    if name in ALLOCATION_RULES:
        return NEEDS[wc.point]["alloc"][name]
    kind = KIND_OF_STAGE[name]
    return [wc.scheme] if kind.per_scheme else list(kind.fixed_schemes)


def job_modules(name, wc):
    """The modules a job of ``name`` (a rule) runs besides its entry: its parts' modules
    (STAGES[name].parts), for `aggregate` its experiment kind's aggregation, and for `figure`
    its figure's family module."""
    parts = STAGES[name].parts
    out = []
    if "precoder" in parts:
        out.append(PRECODERS[PRECODER_OF[wc.point]].module)
    if "array" in parts:
        out.append(ARRAYS[POINTS[wc.point].array].module)
    if "channel" in parts:
        out.append(CHANNELS[POINTS[wc.point].channel].module)
    if "schemes" in parts:
        out += [SCHEMES_REGISTRY[s].module for s in job_schemes(name, wc)]
    if name in ALLOCATION_RULES and _on_route(wc):  # the coefficients' Monte-Carlo
        out.append(ROUTE_MODULE)
    if name == "aggregate":
        out.append(_module(kind_of(PLANS[wc.experiment]).aggregation))
    if name == "figure":
        out.append(figure_modules()[PLANS[wc.experiment].plot])
    return out


def _on_route(wc):
    """Whether the job's point is on the coefficient route (jcas.parts.registry.route)."""
    system = POINTS[wc.point].system({**SYSTEM, "precoder": PRECODER_OF[wc.point]})
    return route(system) == "coefficients"


def source_set(name, modules):
    """The digest of the source set of a job of ``name`` (a rule) running ``modules`` (a part
    registered from a module outside the package is not tracked: not a source of it)."""
    key = (name, tuple(sorted({m for m in modules if m in GRAPH.modules})))
    found = _JOB_SETS.get(key)
    if found is None:
        files = (
            f"workflow/scripts/{name}.py",
            *GRAPH.files([_module(STAGES[name].job), *key[1]]),
        )
        found = digest(files)
        SOURCE_SETS[found] = files
        _JOB_SETS[key] = found
    return found


def sources(set_digest):
    """The checksum file of a source set (an input of each job that runs it)."""
    return f"{CACHE}/sources/{set_digest}.sha256"


def job_sources(name):
    """Input function of ``name`` (a rule): the checksum file of the job's source set."""
    return lambda wc: sources(source_set(name, job_modules(name, wc)))


def set_files(wc):
    """Input function of the checksum jobs (`sources`), the files of a source set."""
    if wc.digest not in SOURCE_SETS:
        raise ValueError(
            f"{sources(wc.digest)}: not the source set of a job of this workflow "
            "(source sets are named by the jobs that run them)"
        )
    return list(SOURCE_SETS[wc.digest])


wildcard_constraints:
    point="|".join(sorted((re.escape(k) for k in POINTS), key=len, reverse=True))
    or "(?!)",
    scheme="|".join(SCHEMES),
    family="|".join(FAMILIES),
    block=r"d\d+-\d+",
    experiment=r"[a-z][a-z0-9_]*",
    digest=r"[0-9a-f]{16}",


def figure_caption(wildcards, output):
    """The caption the figure job wrote beside its PDF (setup, variants, entry counts), for the
    report's figure.rst. A function of the output: Snakemake does not count it as a rerun
    trigger; empty before the job has run."""
    path = Path(output.caption)
    return path.read_text(encoding="utf-8").strip() if path.exists() else ""


def coefficient_sizes(wc):
    """Params function of the allocation rules: the coefficient route's sizes at the job's
    point ({} off the route: jcas.parts.registry.route)."""
    if not _on_route(wc):
        return {}
    return {"realizations": CFG["mc"]["coefficient_realizations"]}
