"""Cluster execution through ``profiles/slurm`` on a real single-node Slurm.

The module-scoped fixture installs the Debian packages if missing (``tests/slurm/install.sh``),
writes ``/etc/slurm/slurm.conf`` (``configure.sh``), starts munge, slurmctld and slurmd with
their PIDs recorded (``start.sh``), and always stops them by those PIDs (``stop.sh``), also
when a test fails. The test runs a reduced sweep of the real pipeline twice, in two temporary
copies of the repository: once through the Slurm profile, once locally; it proves that every
non-local job ran as a Slurm job (job ids from the Snakemake log, matched in the slurmctld
and slurmd logs, in the kept per-job Slurm logs and in squeue's list of finished jobs) and
that the NetCDF results hold exactly equal arrays. A second test, which needs neither root
nor Slurm, dry-runs the default grid through the profile and checks that every resource
expression evaluates and scales with the drops per job and the antennas.

It skips, with the reason, when not run as root on Linux, when the Debian packages cannot be
installed, when a ``/etc/slurm/slurm.conf`` not written by ``configure.sh`` exists, or when
``JCAS_SKIP_SLURM=1``. Time on the 2-core CI machine: see ``docs/cluster.md``.
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import xarray as xr
import yaml

from jcas.io.results import read_netcdf

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "tests" / "slurm"
PROFILE = "profiles/slurm"
LOCK_FILE = Path("/run/lock/jcas-slurm-test.lock")

# CI overrides on top of the profile. The first status check comes this many seconds after a
# submission (the profile's site value is larger); MinJobAge in configure.sh (300 s) is at
# least 3x this, as the executor's squeue status command requires.
INIT_SECONDS = 10
SNAKEMAKE_TIMEOUT_S = 240
# Variables that measure wall time and so differ between any two runs.
TIMING_VARIABLES = frozenset({"solve_time"})

SUBMITTED = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (\S+?)\)\.")
RULE_LINE = re.compile(r"^\s*(local)?rule (\w+):\s*$", re.MULTILINE)


@dataclass
class SlurmCluster:
    """A running single-node Slurm started by ``tests/slurm/start.sh``."""

    state_dir: Path
    start_seconds: float
    pids: dict[str, int] = field(default_factory=dict)

    @property
    def ctld_log(self) -> Path:
        return self.state_dir / "log" / "slurmctld.log"

    @property
    def slurmd_log(self) -> Path:
        return self.state_dir / "log" / "slurmd.log"


def _run_script(name: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPTS / name), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _cannot_run_reason() -> str | None:
    if os.environ.get("JCAS_SKIP_SLURM", "") not in ("", "0"):
        return "JCAS_SKIP_SLURM is set"
    if not sys.platform.startswith("linux"):
        return f"local Slurm test needs Linux, this is {sys.platform}"
    if os.geteuid() != 0:
        return (
            "local Slurm test needs root (it installs Debian packages and starts munged, "
            "slurmctld and slurmd); run pytest as root, as CI does"
        )
    return None


def _tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return f"({path} does not exist)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlurmCluster]:
    """Bring a single-node Slurm up on localhost; always tear it down by recorded PID."""
    reason = _cannot_run_reason()
    if reason:
        pytest.skip(reason)
    if shutil.which("apt-get") is None and shutil.which("slurmctld") is None:
        pytest.skip("Slurm is not installed and there is no apt-get to install it")
    installed = _run_script("install.sh", timeout=600)
    if installed.returncode != 0:
        pytest.skip(
            "the Debian packages slurmctld slurmd slurm-client munge could not be installed: "
            + (installed.stderr or installed.stdout)[-2000:]
        )
    # One local cluster per machine at a time: /etc/slurm/slurm.conf is a fixed path.
    LOCK_FILE.parent.mkdir(parents=True, exist_ok=True)
    with open(LOCK_FILE, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pytest.skip(f"another local Slurm test holds {LOCK_FILE}")
        state = tmp_path_factory.mktemp("slurm")
        configured = _run_script("configure.sh", str(state))
        if configured.returncode == 3:
            pytest.skip(configured.stderr.strip())
        assert configured.returncode == 0, configured.stdout + configured.stderr
        pids: dict[str, int] = {}
        try:
            t0 = time.perf_counter()
            started = _run_script("start.sh", str(state), timeout=120)
            start_seconds = time.perf_counter() - t0
            assert started.returncode == 0, started.stdout + started.stderr
            pids.update(
                (p.name.removesuffix(".pid"), int(p.read_text().strip()))
                for p in (state / "pids").glob("*.pid")
            )
            print(f"slurm started in {start_seconds:.2f} s: {started.stdout.strip()}")
            yield SlurmCluster(state_dir=state, start_seconds=start_seconds, pids=pids)
        finally:
            t0 = time.perf_counter()
            stopped = _run_script("stop.sh", str(state), timeout=120)
            print(f"slurm stopped in {time.perf_counter() - t0:.2f} s: {stopped.stdout.strip()}")
            # A daemon that outlived stop.sh would be a bug in it: fail loudly.
            for name, pid in pids.items():
                with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                    stat = Path(f"/proc/{pid}/stat").read_text()
                    assert stat.split()[2] == "Z", f"{name} ({pid}) still running after stop.sh"


def _copy_repo(dest: Path, src: Path = REPO) -> Path:
    """Copy the working tree (no results, caches, git or Snakemake state) to ``dest``."""
    ignore = shutil.ignore_patterns(
        ".git",
        ".snakemake",
        "results",
        "logs",
        "benchmarks",
        "__pycache__",
        "*.egg-info",
        ".pytest_cache",
        ".ruff_cache",
        ".hypothesis",
        "report.html",
    )
    shutil.copytree(src, dest, ignore=ignore, symlinks=True)
    (dest / "results").mkdir(exist_ok=True)
    return dest


def _snakemake(workdir: Path, *args: str, log_name: str) -> str:
    """Run Snakemake in ``workdir`` (own process group, killed on timeout); return its log."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    for key in [k for k in env if k.startswith("SLURM_")]:
        del env[key]
    log_path = workdir / log_name
    cmd = [sys.executable, "-m", "snakemake", *args]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            cmd, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            code = proc.wait(timeout=SNAKEMAKE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 15)
            proc.wait(timeout=30)
            pytest.fail(f"snakemake timed out after {SNAKEMAKE_TIMEOUT_S} s:\n{_tail(log_path)}")
    text = log_path.read_text(errors="replace")
    assert code == 0, f"{' '.join(cmd)} failed ({code}):\n{_tail(log_path, 80)}"
    return text


def _nc_files(workdir: Path) -> dict[str, Path]:
    return {str(p.relative_to(workdir)): p for p in sorted((workdir / "results").rglob("*.nc"))}


def _assert_same_arrays(a_path: Path, b_path: Path) -> None:
    """Data variables and coordinates exactly equal (attributes, e.g. history, may differ)."""
    a, b = read_netcdf(a_path), read_netcdf(b_path)
    assert set(a.data_vars) == set(b.data_vars), a_path.name
    timing = [v for v in TIMING_VARIABLES if v in a.data_vars]
    for v in timing:  # measured wall time: only the layout must agree
        assert a[v].sizes == b[v].sizes, (a_path.name, v)
    # assert_equal: same dims, coordinates and values, NaN == NaN, attributes ignored.
    xr.testing.assert_equal(a.drop_vars(timing), b.drop_vars(timing))


def _require_plugin() -> None:
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        pytest.fail(
            "snakemake-executor-plugin-slurm is not installed: install the test extra "
            "(pip install -e '.[test]')"
        )


def _rule_counts(log_text: str) -> collections.Counter[str]:
    return collections.Counter(name for _, name in RULE_LINE.findall(log_text))


@dataclass
class SweepRuns:
    """Logs and result files of the same sweep run through Slurm and locally."""

    slurm_dir: Path
    local_dir: Path
    slurm_log: str
    local_log: str
    slurm_seconds: float
    local_seconds: float


def _run_both(
    tmp_path: Path, config: dict, targets: list[str], src: Path = REPO, cores: int = 2
) -> SweepRuns:
    """Run ``targets`` with ``config`` through the Slurm profile and locally, in two copies."""
    slurm_dir = _copy_repo(tmp_path / "slurm_run", src)
    local_dir = _copy_repo(tmp_path / "local_run", src)
    for d in (slurm_dir, local_dir):
        (d / "ci_tiny.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    t0 = time.perf_counter()
    # Targets first: --configfile takes one or more values and would swallow them.
    slurm_log = _snakemake(
        slurm_dir,
        *targets,
        "--profile",
        PROFILE,
        "--slurm-init-seconds-before-status-checks",
        str(INIT_SECONDS),
        "--slurm-keep-successful-logs",
        "--configfile",
        "ci_tiny.yaml",
        log_name="snakemake_slurm.log",
    )
    slurm_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    local_log = _snakemake(
        local_dir,
        *targets,
        "--cores",
        str(cores),
        "--configfile",
        "ci_tiny.yaml",
        log_name="snakemake_local.log",
    )
    local_seconds = time.perf_counter() - t0
    print(f"sweep: slurm {slurm_seconds:.1f} s, local {local_seconds:.1f} s")
    return SweepRuns(slurm_dir, local_dir, slurm_log, local_log, slurm_seconds, local_seconds)


def _assert_ran_under_slurm(runs: SweepRuns, cluster: SlurmCluster) -> list[tuple[str, str]]:
    """Every non-local job of the Slurm run was a Slurm job that ran and exited 0.

    Evidence, none of it from sacct (no accounting here): the job ids the executor logged,
    each allocated and completed with exit status 0 in the slurmctld log, launched in the
    slurmd log, each kept per-job Slurm log showing Snakemake's jobstep executor running
    that rule inside the allocation, and squeue listing each id as COMPLETED with the
    executor's rule comment. The local run submitted nothing; both runs ran the same jobs.
    Returns ``(slurm_job_id, rule)`` pairs.
    """
    submitted = SUBMITTED.findall(runs.slurm_log)
    assert submitted, "no job was submitted to Slurm:\n" + runs.slurm_log[-3000:]
    assert not SUBMITTED.search(runs.local_log), "the local run submitted Slurm jobs"
    slurm_counts = _rule_counts(runs.slurm_log)
    remote_rules = collections.Counter(
        name for local, name in RULE_LINE.findall(runs.slurm_log) if not local
    )
    assert sum(remote_rules.values()) == len(submitted), (remote_rules, submitted)
    assert slurm_counts == _rule_counts(runs.local_log), "the two runs ran different jobs"

    job_ids = [jid for _, jid, _ in submitted]
    assert len(set(job_ids)) == len(job_ids), f"duplicate Slurm job ids: {job_ids}"
    ctld = cluster.ctld_log.read_text(errors="replace")
    slurmd = cluster.slurmd_log.read_text(errors="replace")
    pairs = []
    for _, jid, log in submitted:
        # started by the main scheduler or by the backfill scheduler
        started = rf"(sched: Allocate JobId={jid} NodeList=|_start_job: Started JobId={jid} )"
        assert re.search(started, ctld), jid
        assert re.search(rf"_job_complete: JobId={jid} WEXITSTATUS 0\b", ctld), jid
        assert re.search(rf"Launching batch job {jid}\b", slurmd), jid
        job_log = Path(log)
        assert job_log.is_file(), f"per-job Slurm log of job {jid} not kept: {log}"
        text = job_log.read_text(errors="replace")
        assert "--executor slurm-jobstep" in text, (jid, text[-2000:])
        rule = re.search(r"^\s*rule (\w+):", text, re.MULTILINE)
        assert rule, (jid, text[-2000:])
        assert f"/rule_{rule.group(1)}/" in log, (jid, log)
        pairs.append((jid, rule.group(1)))
    # slurmctld still lists the finished jobs (MinJobAge 300 s): state and the executor's
    # comment rule_<rule>_wildcards_<...>.
    listing = subprocess.run(
        ["squeue", "--states=all", "--noheader", "--format=%i|%T|%k"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    queue = {
        jid: (state, comment)
        for jid, state, comment in (line.split("|", 2) for line in listing.splitlines())
    }
    for jid, rule_name in pairs:
        assert jid in queue, (jid, listing)
        state, comment = queue[jid]
        assert state == "COMPLETED", (jid, state)
        assert comment.startswith(f"rule_{rule_name}"), (jid, comment)
    print("Slurm jobs:", ", ".join(f"{jid}={queue[jid][1]}" for jid, _ in pairs))
    return pairs


def _assert_same_results(runs: SweepRuns) -> list[str]:
    slurm_nc, local_nc = _nc_files(runs.slurm_dir), _nc_files(runs.local_dir)
    assert slurm_nc, "the Slurm run wrote no NetCDF result"
    assert set(slurm_nc) == set(local_nc)
    for name in slurm_nc:
        _assert_same_arrays(slurm_nc[name], local_nc[name])
    return sorted(slurm_nc)


# Reduced sweep of the real pipeline: fig1 (closed form and Monte-Carlo) at one antenna count
# and two SNRs, two schemes (the paper's SCA and the exact optimum), one block of 3 drops.
# 10 Slurm jobs: drops 1, closed_form 2, sca 2, monte_carlo 4, aggregate 1 (and the local
# `sources` jobs). Merged over config.yaml.
TINY_CONFIG: dict = {
    "seed": 11,
    "drops": 3,
    "drops_per_job": 3,
    "schemes": ["sca", "optimal"],
    "mc": {"realizations": 8, "frames": 4, "mle_trials": 4, "mle_drops": 2},
    "experiments": {"fig1": {"sweep": {"Nt": [4], "snr_com_db": [0, 20]}}},
}
TARGETS = ["results/fig1.nc"]


@pytest.mark.slurm
@pytest.mark.slow
def test_profile_sweep_runs_under_slurm_and_matches_local(
    slurm_cluster: SlurmCluster, tmp_path: Path
) -> None:
    """The reduced sweep through profiles/slurm: every non-local job a Slurm job, results equal
    to a local run's (exact array equality, attributes aside)."""
    _require_plugin()
    runs = _run_both(tmp_path, TINY_CONFIG, TARGETS)
    pairs = _assert_ran_under_slurm(runs, slurm_cluster)
    rules = collections.Counter(rule for _, rule in pairs)
    # Each compute stage ran at least once as a Slurm job.
    assert {"drops", "closed_form", "sca", "monte_carlo"} <= set(rules), rules
    compared = _assert_same_results(runs)
    assert "results/fig1.nc" in compared
    print(
        f"slurm start {slurm_cluster.start_seconds:.2f} s; {len(pairs)} Slurm jobs {dict(rules)};"
        f" sweep via Slurm {runs.slurm_seconds:.1f} s, local {runs.local_seconds:.1f} s;"
        f" {len(compared)} NetCDF files equal"
    )


JOB_BLOCK = re.compile(r"^rule (?P<rule>\w+):\n(?P<body>(?:[ \t]+\S.*\n)+)", re.MULTILINE)
SCALED_RULES = ("sca", "monte_carlo")


def _dry_run_resources(workdir: Path, *args: str) -> list[dict]:
    """Jobs of ``snakemake -n`` through the Slurm profile: rule, wildcards, resources."""
    text = _snakemake(workdir, "-n", "--profile", PROFILE, *args, log_name="dry_run.log")
    jobs = []
    for m in JOB_BLOCK.finditer(text):
        fields = dict(
            line.strip().split(": ", 1) for line in m["body"].splitlines() if ": " in line
        )
        resources = dict(kv.split("=", 1) for kv in fields.get("resources", "").split(", "))
        wildcards = (
            dict(kv.split("=", 1) for kv in fields["wildcards"].split(", "))
            if ("wildcards" in fields)
            else {}
        )
        jobs.append({"rule": m["rule"], "wildcards": wildcards, "resources": resources})
    return jobs


def test_rule_resources_scale_with_drops_and_antennas(tmp_path: Path) -> None:
    """Dry run of the default grid through the Slurm profile (no Slurm needed): every
    rule's resource functions evaluate for every job, and memory and runtime never
    decrease with the drops per job or the antennas and grow over the grid. drops = 1500
    with drops_per_job = 1000 gives blocks of 1000 and 500 drops."""
    _require_plugin()
    workdir = _copy_repo(tmp_path / "repo")
    jobs = _dry_run_resources(workdir, "--config", "drops=1500")
    rules = collections.Counter(j["rule"] for j in jobs)
    assert {"drops", "closed_form", "sca", "monte_carlo", "mle"} <= set(rules), rules

    rows = []
    for job in jobs:
        res, wc = job["resources"], job["wildcards"]
        if job["rule"] in ("drops", "closed_form", "sca", "monte_carlo", "mle"):
            mem, runtime = int(res["mem_mb"]), int(res["runtime"])  # evaluated, not <TBD>
            assert mem >= 500, job
            assert runtime >= 1, job
        if job["rule"] in SCALED_RULES:
            start, stop = (int(x) for x in wc["block"][1:].split("-"))
            nt, nr = (int(x[2:]) for x in wc["point"].split("_")[:2])
            kind = wc.get("family", "sca")
            rows.append((job["rule"], kind, stop - start, nt + nr, mem, runtime))
    for rule in SCALED_RULES:
        mine = [r for r in rows if r[0] == rule]
        assert {r[2] for r in mine} == {1000, 500}, rule
        for a in mine:
            for b in mine:
                if a[1] == b[1] and a[2] <= b[2] and a[3] <= b[3]:
                    assert a[4] <= b[4], (a, b)
                    assert a[5] <= b[5], (a, b)
        small = min(mine, key=lambda r: (r[2], r[3]))
        large = max(mine, key=lambda r: (r[2], r[3]))
        assert large[4] > small[4], (small, large)
        assert large[5] > small[5], (small, large)
