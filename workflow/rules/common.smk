"""Helpers of the jcas workflow: validated config, grid, paths, job params, module inputs.

Everything physical is computed by the jcas package; this file only decides which
jobs exist, where their files live and what each job depends on.
"""

import ast
import os
import sys
from pathlib import Path

BASEDIR = Path(workflow.basedir)

# Jobs and this file import jcas from this tree (a copied tree imports its own copy):
# the tree goes first on sys.path here and on PYTHONPATH for the job processes (set,
# not required, so there is nothing for an `envvars:` directive to assert).
if str(BASEDIR) not in sys.path:
    sys.path.insert(0, str(BASEDIR))
_pythonpath = [str(BASEDIR), *os.environ.get("PYTHONPATH", "").split(os.pathsep)]
os.environ.update(PYTHONPATH=os.pathsep.join(p for p in _pythonpath if p))
# one BLAS thread per job: parallelism comes from running jobs side by side
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from jcas.config import (  # noqa: E402
    block_key,
    drop_blocks,
    load_config,
    plan_experiments,
    scheme_options,
)
from jcas.params import SystemParams  # noqa: E402


# --------------------------------------------------------------------------- profile
def use_default_profile(path):
    """Make a plain ``snakemake`` call use workflow/profiles/default.

    Snakemake 9 looks for a default workflow profile only in ./default,
    ./profiles/default and <Snakefile dir>/profiles/default (snakemake/cli.py,
    parse_args); for this root-level Snakefile those would be new top-level
    folders. Settings cannot be changed from here either: Snakemake replaces the
    workflow's settings objects after parsing. So a top-level command-line call
    without --workflow-profile re-executes itself once with
    ``--workflow-profile workflow/profiles/default`` added, and Snakemake loads the
    profile with its usual semantics (command-line options override its keys).
    Job subprocesses (``--mode``), API use and explicit --workflow-profile
    (including ``none``) are left alone.
    """
    argv = sys.argv
    cli = Path(argv[0]).name == "snakemake" or Path(argv[0]).parent.name == "snakemake"
    explicit = any(
        a.split("=")[0] in ("--workflow-profile", "--mode") for a in argv[1:]
    )
    if (
        not cli
        or explicit
        or os.environ.get("JCAS_DEFAULT_PROFILE")
        or not path.is_file()
    ):
        return
    os.environ.update(JCAS_DEFAULT_PROFILE=str(path))
    profile = os.path.relpath(path.parent)
    print(
        f"jcas: rerunning with --workflow-profile {profile} (workflow/rules/common.smk)",
        file=sys.stderr,
    )
    sys.stdout.flush()
    sys.stderr.flush()
    cmd = [sys.executable, "-m", "snakemake", "--workflow-profile", profile, *argv[1:]]
    os.execv(sys.executable, cmd)


use_default_profile(BASEDIR / "workflow" / "profiles" / "default" / "config.yaml")

# --------------------------------------------------------------------------- config
CFG = load_config(config)
PLANS = {name: p for name, p in plan_experiments(CFG).items() if p.enabled}
POINTS = {pt.key: pt for plan in PLANS.values() for pt in plan.unique_points}
BLOCKS = [block_key(*b) for b in drop_blocks(CFG["drops"], CFG["drops_per_job"])]
SYSTEM = SystemParams.from_dict(CFG["system"]).to_dict()  # normalised types

RESULTS = "results"
CACHE = f"{RESULTS}/cache"
LOGS = f"{RESULTS}/logs"
BENCH = f"{RESULTS}/benchmarks"

# System keys each stage depends on (the grid point's keys travel separately).
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
)
SENSING_KEYS = (*LINK_KEYS, "L")


wildcard_constraints:
    point=r"Nt\d+_Nr\d+_com[-0-9.e+]+_sen[-0-9.e+]+_crb[-0-9.e+]+",
    scheme="|".join(("sca", "optimal", "equal", "equal_full")),
    block=r"d\d+-\d+",
    experiment=r"[a-z][a-z0-9_]*",


# --------------------------------------------------------------------------- params
def system_of(keys):
    """The listed system parameters (built-in types, fixed order)."""
    return {k: SYSTEM[k] for k in keys}


def block_range(block):
    """``(start, stop)`` of a block key ``d<start>-<stop>``."""
    start, stop = block[1:].split("-")
    return int(start), int(stop)


def mle_drops():
    """Drops 0 .. n-1 used by the MLE experiment."""
    return min(int(CFG["mc"]["mle_drops"]), int(CFG["drops"]))


def mle_blocks():
    """The drop blocks holding drops 0 .. mle_drops()-1."""
    return [b for b in BLOCKS if block_range(b)[0] < mle_drops()]


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
    out["experiments"] = {name: CFG["experiments"][name]}
    return out


# --------------------------------------------------------------------------- paths
def alloc_path(point, scheme, block):
    return f"{CACHE}/alloc/{point}/{scheme}/{block}.nc"


def mc_path(point, scheme, block):
    return f"{CACHE}/mc/{point}/{scheme}/{block}.nc"


def mle_path(point, scheme):
    return f"{CACHE}/mle/{point}/{scheme}.nc"


def experiment_inputs(wildcards):
    """Per-job files of one experiment: every point x scheme (x block)."""
    plan = PLANS[wildcards.experiment]
    files = []
    for pt in plan.unique_points:
        for scheme in plan.schemes:
            if plan.kind == "mle":
                files.append(mle_path(pt.key, scheme))
                continue
            for block in BLOCKS:
                files.append(alloc_path(pt.key, scheme, block))
                if plan.monte_carlo:
                    files.append(mc_path(pt.key, scheme, block))
    return files


CLAIM_KINDS = ("fig1", "fig2", "fig3", "pareto")


def claims_inputs():
    """Experiment files for jcas.claims, by figure kind (first enabled one of each)."""
    out = {}
    for kind in CLAIM_KINDS:
        for name, plan in PLANS.items():
            if plan.plot == kind and kind not in out:
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


# --------------------------------------------------------------------------- modules
def _imports(path):
    """jcas modules imported anywhere in a file (including imports inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return {n for n in names if n == "jcas" or n.startswith("jcas.")}


def _module_files(name):
    """Files of module ``jcas.x.y`` and of the packages above it."""
    parts = name.split(".")
    files = []
    for i in range(1, len(parts) + 1):
        base = BASEDIR.joinpath(*parts[:i])
        if base.with_suffix(".py").is_file():
            files.append(base.with_suffix(".py"))
        elif (base / "__init__.py").is_file():
            files.append(base / "__init__.py")
    return files


def jcas_modules(*entries, scan=True):
    """The source files of the jcas modules ``entries`` and, transitively, of every jcas
    module they import (``scan=False``: the entries only). Used as rule inputs, so an
    edit to a module a rule uses reruns it (mtime trigger), and nothing else does."""
    todo = [f for e in entries for f in _module_files(e)]
    seen = set()
    while todo:
        f = todo.pop()
        if f in seen:
            continue
        seen.add(f)
        if scan:
            for name in _imports(f):
                todo += _module_files(name)
    return sorted(os.path.relpath(f) for f in seen)


# jcas.experiment imports each stage's modules lazily, so it is listed without a scan
_DRIVER = [
    *jcas_modules("jcas.experiment", "jcas.config", scan=False),
    *jcas_modules("jcas.results"),
]
MODULES = {
    "drops": sorted({*_DRIVER, *jcas_modules("jcas.drops", "jcas.params")}),
    "allocation": sorted(
        {*_DRIVER, *jcas_modules("jcas.allocation", "jcas.channel", "jcas.metrics")}
    ),
    "montecarlo": sorted({*_DRIVER, *jcas_modules("jcas.montecarlo")}),
    "aggregate": sorted({*_DRIVER, *jcas_modules("jcas.results")}),
    "figures": sorted({*_DRIVER, *jcas_modules("jcas.plots")}),
    "claims": sorted({*jcas_modules("jcas.claims"), *_DRIVER}),
}
