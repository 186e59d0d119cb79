"""Reruns derived from imports: an edit reruns exactly the jobs that run the edited code.

Each job's source set (``jcas.pipeline.sources``: the import closure of its rule's job entry
and of the modules of the parts it runs, from grimp's import graph) is checked against an
oracle computed independently: the standard library's ``modulefinder`` on the job's script
and on its part modules, the parts read from the job's own output (the params it ran with,
its provenance). On a finished sweep (``tiny_run`` plus experiments exercising the other
kinds, precoders and arrays: :data:`EXTRA`):

- every job's checksum file lists exactly the oracle's files;
- every jcas module a job imported at run time (its log's ``jcas modules:`` line) is one of
  its sources, or was imported by the registries' discovery of a part the job does not use
  (a part module and what it imports: the registries import every part module to learn the
  names, and a part module only registers its parts);
- for every module of ``jcas/`` and of ``workflow/scripts/``, appending a comment (a content
  change) makes ``snakemake -n`` schedule exactly the jobs whose oracle closure contains
  it, the checksum jobs of their source sets and the jobs downstream, nothing else;
- a new part module (a copy of a precoder registering another name), an edit to the README
  and a new document rerun nothing.

The edits run in two copies of the finished sweep side by side, each edit undone (content
and modification time) before the next.
"""

from __future__ import annotations

import json
import modulefinder
import os
import re
import subprocess
import sys
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import netCDF4
import pytest
from conftest import copy_run, snakemake

from jcas.config.kinds import KINDS
from jcas.parts.registry import ARRAYS, CHANNELS, PRECODERS, ROUTE_MODULE, SCHEMES_REGISTRY

pytestmark = [pytest.mark.pipeline, pytest.mark.slow]

EXTRA = """\
mc:
  planar_mle_trials: 4
  planar_mle_drops: 1
experiments:
  precoders: # ZF allocations (closed_form, sca) and Monte-Carlo
    enabled: true
    sweep:
      N: [16]
      snr_com_db: [20]
    precoders: [zf]
    monte_carlo: true
  crb_mc_precoders: # kind mle with MRT (crb_mc's job, reused) and ZF
    enabled: true
    sweep:
      snr_sen_db: [5]
    fixed:
      Nt: 8
    precoders: [mrt, zf]
  sca_audit: # kind sca_audit with PZF
    enabled: true
    sweep:
      snr_com_db: [20]
    fixed:
      Nt: 8
      crb0: 2.0e-4
    precoders: [pzf]
    audit_drops: 2
  mle_planar: # kind mle_planar: a UPA point (2 x 4 arrays)
    enabled: true
    sweep:
      snr_sen_db: [5]
    fixed:
      Nt: 8
      tx_rows: 2
  fairness: # schemes maxmin and weighted (closed_form jobs at fig1's point)
    enabled: true
    sweep:
      snr_com_db: [20]
    fixed:
      Nt: 8
    precoders: [mrt]
  sensing_frontier: # scheme sensing_centric
    enabled: true
    sweep:
      crb0: [1.0e-3]
      sensing_rate_target: [0.01]
    fixed:
      Nt: 8
    precoders: [mrt]
  energy_efficiency: # scheme energy (fig3's point)
    enabled: true
    sweep:
      N: [16]
      energy_antenna_power_w: [0.4]
    precoders: [mrt]
  channels_n: # the coefficient route: a correlated channel, MRT, sca on estimated terms
    enabled: true
    sweep:
      channel: [local_scattering]
      N: [16]
    precoders: [mrt]
"""
"""Experiments added to the tiny sweep so that every kind, the precoders MRT, ZF, PZF, both
arrays, every allocation scheme and the Monte-Carlo coefficient route have jobs."""

CONFIG = ("--configfile", "config_tiny.yaml", "reruns.yaml")
SOURCES = "results/cache/sources/"

AUDIT_SCHEMES = ("sca", "optimal")
"""What an sca_audit job runs: every sca variant and the exact optimum (docs/pipeline.md)."""
ALLOCATION_RULES = ("closed_form", "sca")
SIMULATION_RULES = ("monte_carlo", "mle", "mle_planar")


@dataclass
class Job:
    """One job of a dry run."""

    rule: str
    outputs: list[str] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    log: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return self.rule, self.outputs[0] if self.outputs else ""

    @property
    def sources(self) -> str:
        """The job's checksum file (its source set)."""
        return next(f for f in self.inputs if f.startswith(SOURCES))


def dry_run(cwd: Path, *args: str) -> list[Job]:
    """Every job ``snakemake -n`` schedules (rule, outputs, inputs, log)."""
    proc = snakemake(cwd, "--dry-run", "--cores", "2", *CONFIG, *args)
    jobs: list[Job] = []
    for line in proc.stdout.splitlines():
        m = re.match(r"^(?:local)?rule (\w+):$", line)
        if m:
            jobs.append(Job(m.group(1)))
            continue
        m = re.match(r"^    (input|output|log): (.*)$", line)
        if m and jobs:
            values = [v.strip() for v in m.group(2).split(",") if v.strip()]
            if m.group(1) == "input":
                jobs[-1].inputs = values
            elif m.group(1) == "output":
                jobs[-1].outputs = values
            else:
                jobs[-1].log = values[0]
    return jobs


# --------------------------------------------------------------------------- the oracle
class Oracle:
    """Import closures by ``modulefinder`` (the standard library's, independent of grimp),
    as files relative to the tree's root: packages count (importing ``a.b`` runs
    ``a/__init__.py``), modules outside the tree are left out."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._cache: dict[str, frozenset[str]] = {}

    def _finder(self) -> modulefinder.ModuleFinder:
        return modulefinder.ModuleFinder(path=[str(self.root)])

    def _files(self, finder: modulefinder.ModuleFinder) -> frozenset[str]:
        out = set()
        for name, module in finder.modules.items():
            path = getattr(module, "__file__", None)
            if name != "__main__" and path and Path(path).is_relative_to(self.root):
                out.add(Path(path).relative_to(self.root).as_posix())
        return frozenset(out)

    def module(self, name: str) -> frozenset[str]:
        if name not in self._cache:
            finder = self._finder()
            finder.import_hook(name)
            self._cache[name] = self._files(finder)
        return self._cache[name]

    def script(self, path: str) -> frozenset[str]:
        if path not in self._cache:
            finder = self._finder()
            finder.run_script(str(self.root / path))
            self._cache[path] = self._files(finder) | {path}
        return self._cache[path]


def _provenance(path: Path) -> dict:
    with netCDF4.Dataset(path) as ds:
        return json.loads(ds.getncattr("config"))


def job_parts(root: Path, job: Job) -> list[str]:
    """The modules of the parts a job ran, from its output's provenance (the params it ran
    with): the precoder, the array and the channel of its point, the schemes it allocated
    with; for an aggregation, its kind's aggregation function; for a figure, the family
    module of its plot."""
    if job.rule in (*ALLOCATION_RULES, "sca_audit", *SIMULATION_RULES):
        params = _provenance(root / job.outputs[0])
        system = params["system"]
        out = [
            PRECODERS[system["precoder"]].module,
            ARRAYS[system["array"]].module,
            CHANNELS[system.get("channel", CHANNELS.default)].module,
        ]
        schemes: Iterable[str] = ()
        if job.rule in ALLOCATION_RULES:
            schemes = params["schemes"]
            # the coefficient route (a correlated channel, a precoder without closed forms):
            # the job estimated the terms by Monte-Carlo, as its log of modules shows
            if ROUTE_MODULE in logged_modules(root, job):
                out.append(ROUTE_MODULE)
        elif job.rule == "sca_audit":
            schemes = AUDIT_SCHEMES
        return out + [SCHEMES_REGISTRY[s].module for s in schemes]
    if job.rule == "aggregate":
        config = _provenance(root / job.outputs[0])
        (experiment,) = config["experiments"].values()
        kind = experiment.get("kind", next(iter(KINDS)))
        return [KINDS[kind].aggregation.partition(":")[0]]
    if job.rule == "figure":
        # the figure the experiment's dataset was made for (its provenance) and the family
        # module whose source defines it (found by text, not by jcas.config.figures)
        experiment = Path(job.outputs[0]).stem
        config = _provenance(root / "results" / f"{experiment}.nc")
        plot = config["experiments"][experiment].get("plot", experiment)
        families = (root / "jcas" / "report" / "figures").glob("*.py")
        return [
            f"jcas.report.figures.{f.stem}"
            for f in families
            if re.search(rf"@figure\(\s*[\"']{re.escape(plot)}[\"']", f.read_text())
        ]
    return []


def logged_modules(root: Path, job: Job) -> list[str]:
    """The jcas modules the job imported, from its log (``jcas modules: ...``)."""
    m = re.search(r"jcas modules: (.*)$", (root / job.log).read_text(), re.MULTILINE)
    assert m, job.log
    return m.group(1).split()


def oracle_sources(oracle: Oracle, root: Path, job: Job) -> frozenset[str]:
    files = set(oracle.script(f"workflow/scripts/{job.rule}.py"))
    for module in job_parts(root, job):
        files |= oracle.module(module)
    return frozenset(files)


def derived_sources(root: Path, job: Job) -> frozenset[str]:
    """The files of the job's checksum file (``sha256sum`` lines: hash, two spaces, path)."""
    lines = (root / job.sources).read_text().splitlines()
    return frozenset(line.split("  ", 1)[1] for line in lines if line)


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def finished(tiny_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny sweep with :data:`EXTRA`, finished."""
    base = copy_run(tiny_run, tmp_path_factory.mktemp("reruns") / "base")
    (base / "reruns.yaml").write_text(EXTRA)
    snakemake(base, "--cores", "2", *CONFIG)
    return base


@pytest.fixture(scope="module")
def dag(finished: Path) -> list[Job]:
    """Every job of the finished sweep (``--forceall``)."""
    jobs = dry_run(finished, "--forceall")
    rules = {j.rule for j in jobs}
    # every kind's own rule and both allocation families ran
    assert {"closed_form", "sca", "monte_carlo", "mle", "mle_planar", "sca_audit"} <= rules
    return jobs


@pytest.fixture(scope="module")
def expected(finished: Path, dag: list[Job]) -> dict[str, frozenset[str]]:
    """Oracle source files of every job (by output), but the checksum jobs and `all`."""
    oracle = Oracle(finished)
    return {
        j.outputs[0]: oracle_sources(oracle, finished, j)
        for j in dag
        if j.rule not in ("sources", "all")
    }


# --------------------------------------------------------------------------- tests
def test_each_job_has_exactly_the_oracle_sources(
    finished: Path, dag: list[Job], expected: dict[str, frozenset[str]]
) -> None:
    """The checksum file of every job lists the files of its import closure and nothing
    else (grimp's closure, as the workflow derives it, equals modulefinder's)."""
    precoders = set()
    on_route = 0
    for job in dag:
        if job.rule in ("sources", "all"):
            continue
        derived = derived_sources(finished, job)
        want = expected[job.outputs[0]]
        assert derived == want, (job.key, sorted(derived - want), sorted(want - derived))
        precoders |= {p for p in ("mrt.py", "zf.py") if f"jcas/parts/precoders/{p}" in want}
        on_route += "jcas/montecarlo/coefficients.py" in want
    assert precoders == {"mrt.py", "zf.py"}
    assert on_route > 0  # the coefficient route ran (channels_n of EXTRA)


def test_jobs_ran_only_their_sources(finished: Path, dag: list[Job]) -> None:
    """No stale results: every jcas module a job imported is one of its sources, or was
    imported by the registries' discovery of a module whose part the job does not use."""
    oracle = Oracle(finished)
    # the modules the registries' discovery imports: the parts' own and any helper module
    # beside them that registers nothing (e.g. MRT's closed forms under correlated channels)
    registries = (PRECODERS, ARRAYS, CHANNELS, SCHEMES_REGISTRY)
    registered = {m for registry in registries for m in registry.modules()} | {
        p.module
        for registry in registries
        for p in registry.values()
        if p.module.startswith("jcas.")
    }
    checked = 0
    for job in dag:
        if job.rule in ("sources", "all"):
            continue
        derived = derived_sources(finished, job)
        used = set(job_parts(finished, job))
        discovery = set().union(*(oracle.module(p) for p in registered - used))
        ran = {
            Path(*name.split("."), "__init__.py").as_posix()
            if (finished / Path(*name.split("."), "__init__.py")).is_file()
            else Path(*name.split(".")).as_posix() + ".py"
            for name in logged_modules(finished, job)
        }
        unexplained = ran - derived - discovery
        assert not unexplained, (job.key, sorted(unexplained))
        # the job's own parts ran and are sources
        assert {f for p in used for f in oracle.module(p)} <= derived
        checked += 1
    assert checked >= 50


def _edited_modules(root: Path) -> list[str]:
    out = sorted(p.relative_to(root).as_posix() for p in (root / "jcas").rglob("*.py"))
    out += sorted(
        p.relative_to(root).as_posix() for p in (root / "workflow" / "scripts").glob("*.py")
    )
    return [p for p in out if "__pycache__" not in p]


def _downstream(dag: list[Job], start: set[tuple[str, str]]) -> set[tuple[str, str]]:
    producer = {out: j.key for j in dag for out in j.outputs}
    consumers: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for j in dag:
        for f in j.inputs:
            if f in producer:
                consumers.setdefault(producer[f], set()).add(j.key)
    seen, todo = set(start), list(start)
    while todo:
        for nxt in consumers.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _expected_reruns(
    module: str, dag: list[Job], expected: dict[str, frozenset[str]]
) -> set[tuple[str, str]]:
    """The jobs an edit of ``module`` must schedule: the jobs whose oracle sources contain
    it, the checksum jobs of their source sets, and everything downstream."""
    hit = [j for j in dag if j.rule not in ("sources", "all") and module in expected[j.outputs[0]]]
    checks = {("sources", j.sources) for j in hit}
    return _downstream(dag, {j.key for j in hit} | checks) if hit else set()


def _edit_and_dry_run(tree: Path, module: str) -> set[tuple[str, str]]:
    path = tree / module
    text, stat = path.read_bytes(), path.stat()
    try:
        path.write_bytes(text + b"\n# edited by test_reruns\n")
        return {j.key for j in dry_run(tree)}
    finally:
        path.write_bytes(text)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_every_edit_reruns_exactly_the_jobs_that_run_it(
    finished: Path, dag: list[Job], expected: dict[str, frozenset[str]], tmp_path: Path
) -> None:
    """For every module of jcas/ and workflow/scripts/, a content change schedules exactly
    the jobs whose import closure contains it (and their checksum and downstream jobs)."""
    modules = _edited_modules(finished)
    assert len(modules) > 70
    trees = [copy_run(finished, tmp_path / f"tree{i}") for i in range(2)]

    def work(i: int) -> list[tuple[str, set, set]]:
        out = []
        for module in modules[i::2]:
            got = _edit_and_dry_run(trees[i], module)
            want = _expected_reruns(module, dag, expected)
            if want:
                want.add(("all", ""))
            out.append((module, got, want))
        return out

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = [r for part in pool.map(work, range(2)) for r in part]
    wrong = {
        module: {"unexpected": sorted(got - want), "missing": sorted(want - got)}
        for module, got, want in results
        if got != want
    }
    assert not wrong, wrong
    jobs = {module: got for module, got, _ in results}
    rules = {module: {rule for rule, _ in got} for module, got in jobs.items()}
    # the precision the layout buys (docs/pipeline.md, "What reruns when")
    assert rules["jcas/parts/precoders/phase_mrt.py"] == set()  # no job runs it
    per_point = ("closed_form", "sca", "monte_carlo", "mle", "sca_audit")
    zf = [out for rule, out in jobs["jcas/parts/precoders/zf.py"] if rule in per_point]
    assert zf
    assert all(re.search(r"_p?zf/", out) for out in zf), zf  # only ZF and PZF jobs
    assert {"closed_form", "sca", "monte_carlo", "mle", "sca_audit"} <= {
        r for r, out in jobs["jcas/parts/precoders/zf.py"]
    }
    assert "closed_form" not in rules["jcas/allocation/sca/_clarabel.py"]
    assert "sca" in rules["jcas/allocation/sca/_clarabel.py"]
    assert rules["jcas/allocation/schemes/equal_full.py"] >= {"closed_form"}
    assert "sca" not in rules["jcas/allocation/schemes/equal_full.py"]
    assert rules["jcas/report/plots.py"] == {"sources", "figure", "all"}
    assert rules["workflow/scripts/mle.py"] == {"sources", "mle", "aggregate", "figure", "all"}
    assert rules["jcas/pipeline/sources.py"] == set()  # the workflow's, no job's


def test_new_part_module_docs_and_readme_rerun_nothing(finished: Path, tmp_path: Path) -> None:
    tree = copy_run(finished, tmp_path / "tree")
    src = tree / "jcas" / "parts" / "precoders" / "phase_mrt.py"
    text = src.read_text()
    assert text.count('"phase_mrt"') == 2  # the class's name and the registered name
    (src.parent / "phase_mrt_copy.py").write_text(text.replace('"phase_mrt"', '"phase_mrt_copy"'))
    readme = tree / "README.md"
    readme.write_text(readme.read_text() + "\nedited by test_reruns\n")
    (tree / "docs").mkdir(exist_ok=True)
    (tree / "docs" / "new.md").write_text("# a new document\n")
    assert dry_run(tree) == []
    # the copy is registered (found by the registry of the copied tree)
    code = "from jcas.parts.registry import PRECODERS; print(PRECODERS['phase_mrt_copy'].module)"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stdout.strip() == "jcas.parts.precoders.phase_mrt_copy"
