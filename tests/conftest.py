"""Shared test configuration.

Every process of the suite uses one BLAS thread (the workers share the cores).

Hypothesis runs derandomized (a fixed seed per test, derived from the test's name), so a
CI run is reproducible: the standards ask for fixed seeds in tests. Set
``HYPOTHESIS_PROFILE=explore`` locally to search with fresh random examples.
"""

from __future__ import annotations

import os

# one BLAS thread per process: the suite runs one worker per core (pytest-xdist, see
# pyproject.toml), and its Snakemake runs start jobs on every core; set before numpy loads
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from hypothesis import settings  # noqa: E402

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("explore", deadline=None, max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


# --------------------------------------------------------------------------- pipeline helpers
import json  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "data" / "config_tiny.yaml"
WORKFLOW_FILES = ("Snakefile", "config.yaml", "README.md")
WORKFLOW_DIRS = ("workflow", "jcas", "profiles")


def copy_workflow(dst: Path) -> Path:
    """A runnable copy of the workflow (no results) in ``dst``, with the tiny config.

    Snakefile, config.yaml, README.md, workflow/, jcas/ and profiles/ (so the copy loads
    the default profile as the repository does); ``config_tiny.yaml`` next to them.
    """
    dst.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in WORKFLOW_FILES:
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, dst / name)
    for name in WORKFLOW_DIRS:
        if (ROOT / name).exists():
            shutil.copytree(ROOT / name, dst / name, ignore=ignore)
    shutil.copy2(TINY, dst / "config_tiny.yaml")
    return dst


def snakemake(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """``python -m snakemake <args>`` in ``cwd`` (the plain command users type)."""
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed ({proc.returncode}):\n"
            f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        )
    return proc


def run_python(code: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh interpreter in the repository root (what a job imports, from
    scratch); fails the test, showing the end of its stderr, unless it exits 0."""
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def job_allocation_code(entry: str, schemes: tuple[str, ...], n_drops: int) -> str:
    """Python source for :func:`run_python`: import the job entry ``jcas.pipeline.jobs.<entry>``
    and allocate ``schemes`` on ``n_drops`` drops at one i.i.d. grid point (Nt = Nr = 16,
    10 dB, 5 dB, CRB0 1e-3) of the default config, as the job does. It leaves ``sys``
    imported and the allocation in ``a``; the caller appends its checks."""
    return (
        "import sys\n"
        "import yaml\n"
        f"import jcas.pipeline.jobs.{entry}\n"
        "from jcas.pipeline.stages.allocation import compute_allocations\n"
        "from jcas.pipeline.stages.drops import compute_drops\n"
        "from jcas.config import Point, load_config, scheme_options\n"
        "cfg = load_config(yaml.safe_load(open('config.yaml')))\n"
        "S = cfg['system']\n"
        "P = Point(16, 16, 10.0, 5.0, 1e-3).as_dict()\n"
        f"d = compute_drops(S, 1, 0, {n_drops})\n"
        f"o = {{s: scheme_options(s, cfg['allocation']) for s in {list(schemes)!r}}}\n"
        f"a = compute_allocations(d, S, P, {list(schemes)!r}, o)\n"
    )


def finished_run(dst: Path, config: Path) -> Path:
    """A workflow copy in ``dst`` (:func:`copy_workflow`) on which the pipeline with the
    config file ``config`` (merged over config.yaml) has completed."""
    work = copy_workflow(dst)
    shutil.copy2(config, work / config.name)
    snakemake(work, "--cores", "2", "--configfile", config.name)
    return work


def copy_run(src: Path, dst: Path) -> Path:
    """A copy of a workflow tree with its results and Snakemake state (mtimes kept), for a
    test that edits or reruns what :func:`tiny_run` made."""
    shutil.copytree(src, dst, symlinks=True)
    return dst


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workflow copy on which the tiny pipeline has completed (``<dir>/results/*.nc``).

    Shared by every test that only reads the results of one ordinary run (dry runs
    included); do not modify files in it (tests that edit or rerun copy it with
    :func:`copy_run` or make their own tree with :func:`copy_workflow`). The output of
    the run is in ``<dir>/tiny_run.log`` (stdout, then stderr).
    """
    work = copy_workflow(tmp_path_factory.mktemp("tiny_run"))
    proc = snakemake(work, "--cores", "2", "--configfile", "config_tiny.yaml")
    (work / "tiny_run.log").write_text(proc.stdout + proc.stderr)
    return work


# --------------------------------------------------------------------------- result helpers
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

TIMING_VARIABLES = ("solve_time",)
"""Wall-clock variables: the only ones allowed to differ between two runs."""

PIECE_SCHEMES = ("equal", "optimal")


def allocation_piece(nt: int, snr: float, scheme: str, drops: list[int], k: int = 3) -> xr.Dataset:
    """One synthetic per-job allocation dataset (length-1 grid dims, scheme, drop block).

    Values are deterministic functions of (Nt, snr, scheme, drop, user), so pieces made
    separately agree on shared variables (beta, xi depend on the drop only). Drop 3 of
    scheme ``equal`` at Nt = 4, snr = 10 dB is a failed entry (``infeasible``, NaN metrics).
    """
    d = np.asarray(drops, dtype=np.int64)
    u = np.arange(k)
    beta = 1.0 / (1.0 + d[:, None] + 0.1 * u[None, :])  # (D, K), drop-only
    xi = beta**2 / (beta + 0.1)
    s = PIECE_SCHEMES.index(scheme) + 1
    gamma = (s * 0.01 + 1e-3 * nt + 1e-4 * snr) * np.ones((1, 1, 1, len(d), k))
    eta = 1e-3 * s * np.ones_like(gamma)
    rate = np.log2(1 + gamma * nt * xi[None, None, None] * 10 ** (snr / 10))
    sum_rate = rate.sum(-1)
    status = np.full((1, 1, 1, len(d)), "optimal", dtype="U32")
    if scheme == "equal" and nt == 4 and snr == 10.0 and 3 in drops:
        i = drops.index(3)
        status[..., i] = "infeasible"
        for a in (gamma, eta, rate):
            a[..., i, :] = np.nan
        sum_rate[..., i] = np.nan
    dims5 = ("Nt", "snr_com_db", "scheme", "drop", "user")
    dims4 = dims5[:-1]
    return xr.Dataset(
        {
            "beta": (("drop", "user"), beta),
            "xi": (("drop", "user"), xi),
            "gamma": (dims5, gamma),
            "eta": (dims5, eta),
            "rate": (dims5, rate),
            "sum_rate": (dims4, sum_rate),
            "sum_rate_mc": (dims4, sum_rate * (1 + 1e-3)),
            "sum_rate_mc_se": (dims4, 1e-3 * np.ones_like(sum_rate)),
            "crb": (dims4, 1e-6 / (nt * (1 + gamma.sum(-1)))),
            "power_total": (dims4, nt * (gamma + eta).sum(-1)),
            "power_sensing": (dims4, nt * eta.sum(-1)),
            "status": (dims4, status),
            "iterations": (dims4, np.full(sum_rate.shape, s, dtype=np.int64)),
            "solve_time": (dims4, 1e-3 * np.ones_like(sum_rate)),
        },
        coords={
            "Nt": [nt],
            "Nr": ("Nt", [nt]),
            "snr_com_db": [float(snr)],
            "scheme": [scheme],
            "drop": d,
            "user": u,
            "crb0": 1e-3,
        },
    )


def allocation_pieces(
    nts: tuple[int, ...] = (4, 8),
    snrs: tuple[float, ...] = (0.0, 10.0),
    blocks: tuple[tuple[int, ...], ...] = ((0, 1), (2, 3)),
) -> list[xr.Dataset]:
    """The per-job pieces of a complete synthetic grid (Nt x snr x scheme x drop block)."""
    return [
        allocation_piece(nt, snr, sc, list(b))
        for nt in nts
        for snr in snrs
        for sc in PIECE_SCHEMES
        for b in blocks
    ]


def assert_same_results(ref: Path, other: Path) -> None:
    """The final results of two workflow copies agree: the same ``results/*.nc`` with
    identical coordinates and data (NaN == NaN) except :data:`TIMING_VARIABLES`, the same
    claims table, and every figure of ``ref`` present and non-empty in ``other``."""
    from jcas.io.results import read_netcdf

    names = sorted(p.name for p in (ref / "results").glob("*.nc"))
    assert names, f"no results/*.nc in {ref}"
    assert sorted(p.name for p in (other / "results").glob("*.nc")) == names
    for name in names:
        a = read_netcdf(ref / "results" / name)
        b = read_netcdf(other / "results" / name)
        assert set(a.variables) == set(b.variables), name
        for var in a.variables:
            if var in TIMING_VARIABLES:
                continue
            assert a[var].dims == b[var].dims, f"{name}:{var}"
            np.testing.assert_array_equal(a[var].values, b[var].values, err_msg=f"{name}:{var}")
    claims = Path("results") / "claims.csv"
    if (ref / claims).exists():
        assert (other / claims).read_text() == (ref / claims).read_text()
    for fig in (ref / "results" / "figures").glob("*.*"):
        assert (other / "results" / "figures" / fig.name).stat().st_size > 0, fig.name


# --------------------------------------------------------------------------- model helpers

from jcas.model.params import SystemParams  # noqa: E402

PLANAR_SYSTEM = SystemParams(
    K=4,
    Nt=16,
    Nr=12,
    array="upa",
    tx_rows=4,
    rx_rows=3,
    theta_deg=20.0,
    elevation_deg=-10.0,
    crb_form="sum",
    crb0=1.0,
)
"""A planar system of the UPA tests: 4 x 4 transmit and 4 x 3 receive arrays, the target
at azimuth 20 deg and elevation -10 deg, the sum form of the CRB constraint (loose)."""


def drops(params: SystemParams, n: int, seed: int = 11) -> tuple[np.ndarray, np.ndarray]:
    """``(beta, xi)`` of drops ``0 .. n-1`` of ``seed`` (shape ``(n, K)`` each): the
    large-scale fading of :func:`jcas.model.drops.large_scale_fading` and the MMSE estimate
    variance (7) of :func:`jcas.model.channel.estimate_variance`."""
    from jcas.model.channel import estimate_variance
    from jcas.model.drops import large_scale_fading

    beta, _ = large_scale_fading(params, seed, range(n))
    xi = estimate_variance(beta, params.tau_p, params.pp_w, params.sigma_u2_w)
    return beta, xi


# --------------------------------------------------------------------------- small configs
TOY_DISABLED = (
    "fig1",
    "fig2",
    "fig3",
    "pareto",
    "crb_mc",
    "precoder_frontier",
    "crb_mc_precoders",
    "sca_audit",
    "ula_vs_upa",
    "crb_map",
    "mle_planar",
    "channels_n",
    "channels_spread",
    "channels_frontier",
    "channels_mle",
    "fairness",
    "sensing_frontier",
    "energy_efficiency",
)
"""The default config's experiments that :func:`toy_config` switches off."""


def toy_config(system: dict, schemes: list[str], realizations: int, **extra: object) -> dict:
    """A two-drop config with one experiment ``toy`` (``Nt = Nr = 8``, ``snr_com_db = 10``,
    Monte-Carlo on with ``realizations`` and 4 frames, no plot, no claims); ``extra``
    adds top-level keys (e.g. ``allocation``)."""
    return {
        "drops": 2,
        "drops_per_job": 2,
        "schemes": schemes,
        "system": system,
        "mc": {"realizations": realizations, "frames": 4},
        "claims": False,
        "experiments": {
            **{name: {"enabled": False} for name in TOY_DISABLED},
            "toy": {
                "sweep": {"snr_com_db": [10]},
                "fixed": {"Nt": 8},
                "tie": "Nr=Nt",
                "monte_carlo": True,
                "plot": "none",
            },
        },
        **extra,
    }


def run_config(
    tmp_path: Path, name: str, config: dict, experiment: str, base: dict | None = None
) -> xr.Dataset:
    """Run ``config`` (written as ``<name>.yaml``) through Snakemake on 2 cores in a
    workflow copy ``tmp_path / name`` and open ``results/<experiment>.nc``. ``base``
    replaces the copy's ``config.yaml`` first (where the default one does not apply)."""
    import yaml

    work = copy_workflow(tmp_path / name)
    if base is not None:
        (work / "config.yaml").write_text(yaml.safe_dump(base))
    (work / f"{name}.yaml").write_text(yaml.safe_dump(config))
    snakemake(work, "--cores", "2", "--configfile", f"{name}.yaml")
    from jcas.io.results import read_netcdf

    return read_netcdf(work / "results" / f"{experiment}.nc")


def closed_form_sum_rate(ds: xr.Dataset, params: SystemParams, scheme: int) -> np.ndarray:
    """The closed-form sum rate (bit/s/Hz), ``(D,)``, of the stored allocation of scheme
    index ``scheme`` at the first ``snr_com_db``, recomputed from ``ds["beta"]`` with the
    parts of ``params`` (:func:`jcas.model.metrics.closed_form_metrics`)."""
    from jcas.model import metrics
    from jcas.model.channel import estimate_variance
    from jcas.parts.registry import design

    beta = ds["beta"].values
    xi = estimate_variance(beta, params.tau_p, params.pp_w, params.sigma_u2_w)
    gamma, eta = (ds[v].isel(snr_com_db=0, scheme=scheme).values for v in ("gamma", "eta"))
    rate = metrics.closed_form_metrics(gamma, eta, xi, beta, params, design(params))["rate"]
    return np.asarray(rate.sum(axis=-1))


def assert_precoder_moments(
    parts: object,
    params: SystemParams,
    f: np.ndarray,
    gamma: np.ndarray,
    eta: np.ndarray,
    xi: np.ndarray,
) -> tuple[np.ndarray, float]:
    """Check sampled precoders ``f`` ``(n, Nt, K)`` against the precoder part's closed forms
    (within 3 standard errors): the projected covariance ``[a_t, a_t_dot]^H F F^H
    [a_t, a_t_dot]`` against :meth:`covariance` and ``||F||_F^2`` against
    :meth:`transmit_power` (W) of the allocation ``gamma, eta, xi`` ``(1, K)``. Returns the
    sampled projected covariances ``(n, 2, 2)`` and the closed-form transmit power (W)."""
    n = f.shape[0]
    tx, precoder = parts.tx, parts.precoder  # type: ignore[attr-defined]
    basis = np.stack([tx.steering(params.theta_rad), tx.derivative(params.theta_rad)], axis=1)
    proj = basis.conj().T @ f  # (n, 2, K)
    forms = proj @ np.conj(np.swapaxes(proj, -1, -2))  # (n, 2, 2)
    cov = precoder.covariance(gamma, eta, xi, params, tx)
    closed = np.einsum("dm,mij->dij", cov.weights, cov.forms)[0]
    for part in (np.real, np.imag):
        mean, se = part(forms).mean(axis=0), part(forms).std(axis=0) / np.sqrt(n)
        assert np.all(np.abs(mean - part(closed)) <= 3 * se + 1e-12 * np.abs(closed)), part
    power = np.sum(np.abs(f) ** 2, axis=(-2, -1))
    expected = float(precoder.transmit_power(gamma, eta, xi, params)[0])
    assert abs(power.mean() - expected) <= 3 * power.std() / np.sqrt(n)
    return forms, expected


# --------------------------------------------------------------------------- CF checker
CHECK = "cf:1.10"


def checker() -> list[str]:
    """The checker's command line (its console script, next to this Python)."""
    exe = Path(sys.executable).with_name("compliance-checker")
    found = str(exe) if exe.exists() else shutil.which("compliance-checker")
    assert found, "compliance-checker is not installed: pip install -e '.[test]'"
    return [found]


def failures(report: dict, priority: str) -> list[str]:
    """Messages of the failed checks of one priority (``high``: errors, ``medium``:
    warnings) in the checker's JSON report of one file."""
    results = report[CHECK][f"{priority}_priorities"]
    return [m for r in results if r["value"][0] < r["value"][1] for m in r["msgs"]]


def run_checker(files: list[Path], out: Path) -> tuple[dict[str, dict], str]:
    """Check ``files`` in one call; returns the JSON report per file and the text report."""
    cmd = [*checker(), f"--test={CHECK}", "-f", "json_new", "-f", "text", "-o", str(out)]
    proc = subprocess.run(
        [*cmd, *map(str, files)], capture_output=True, text=True, timeout=600, check=False
    )
    json_out, text_out = out.with_suffix(".json"), out.with_suffix(".txt")
    assert json_out.exists(), f"compliance-checker wrote no report:\n{proc.stdout}\n{proc.stderr}"
    report = json.loads(json_out.read_text())
    return report, text_out.read_text() + proc.stderr


def sample_files(results: Path) -> list[Path]:
    """Every experiment file, and the first per-job file of each cache stage (the job
    layout of the cache is free; its files are written by the same function)."""
    files = sorted(results.glob("*.nc"))
    cache = results / "cache"
    if cache.is_dir():
        for stage in sorted(p for p in cache.iterdir() if p.is_dir()):
            first = next(iter(sorted(stage.rglob("*.nc"))), None)
            if first is not None:
                files.append(first)
    return files


def assert_cf_clean(files: list[Path], out: Path) -> None:
    """The CF-1.10 checker reports no error and no warning on any of ``files``, and none
    of its checks raised (used by the pipeline tests of every experiment)."""
    report, text = run_checker(files, out)
    assert len(report) == len(files), text
    problems = {}
    for name, one in report.items():
        errors, warnings = failures(one, "high"), failures(one, "medium")
        if errors or warnings:
            problems[name] = {"errors": errors, "warnings": warnings}
    assert not problems, f"{json.dumps(problems, indent=1)}\n\nfull report:\n{text}"
    # a check that raised (e.g. on a string-valued coordinate variable) is no pass
    assert "exceptions occurred" not in text, text
