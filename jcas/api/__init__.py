"""The small top-level API: a system, drops, an allocation, its rate and CRB, a Monte-Carlo
check, the pipeline's results (``docs/quickstart.md``).

One argument order everywhere, ``(system, drops, allocation)``, and the configuration's
names (``realizations``, ``seed``, ``sca_tolerance``, ...)::

    import jcas

    system = jcas.System(K=4, Nt=35, Nr=35, snr_com_db=20)
    drops = jcas.drops(system, 200, seed=2024)
    alloc = jcas.allocate(system, drops, "optimal")
    rate = jcas.rate(system, drops, alloc)          # (D, K) bit/s/Hz
    crb = jcas.crb(system, drops, alloc)            # (D,) rad^2
    mc = jcas.mc_rate(system, drops, alloc, realizations=100)

Every input is checked at the call; a bad one raises, naming the parameter (the config key
where there is one), the value and what is allowed: :class:`jcas.model.params.ConfigError`
(a ``ValueError``) for the configuration-level values (system parameters, scheme, options,
``realizations``, ``seed``, drop counts), ``ValueError`` for arrays (``beta``, ``gamma``,
``eta``: shape, sign, finiteness), ``TypeError`` for an argument of the wrong kind. A drop
that a scheme cannot serve (CRB0 infeasible, a solver failure) is not an error: its status
says so and its powers are NaN (:data:`jcas.allocation.STATUSES`).

The functions are thin: each delegates to the lower-level modules the pipeline uses
(:func:`jcas.model.drops.large_scale_fading`, :func:`jcas.model.channel.estimate_variance`,
:func:`jcas.allocation.allocate`, :func:`jcas.model.metrics.closed_form_metrics`,
:func:`jcas.montecarlo.mc_rate`, :func:`jcas.io.results.read_netcdf`), with the pipeline's
random streams, so the numbers are the pipeline's: drop ``d`` of seed ``s`` is the same user
drop, and its Monte-Carlo realizations the same draws.

Importing this module imports numpy and :mod:`jcas.model.params` only; the rest is imported
by the function that needs it (xarray by :func:`open_results`, the solver by ``sca``).
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from jcas.model.params import ConfigError, SystemParams

if TYPE_CHECKING:
    import xarray as xr

    from jcas.allocation import Allocation
    from jcas.montecarlo.rate import RateEstimate
    from jcas.parts.registry import Param

__all__ = [
    "DEFAULT_REALIZATIONS",
    "DEFAULT_SEED",
    "Drops",
    "System",
    "allocate",
    "crb",
    "drops",
    "mc_rate",
    "open_results",
    "rate",
    "save_results",
    "to_dataset",
]

Float = NDArray[np.float64]

System = SystemParams
"""A JCAS system: :class:`jcas.model.params.SystemParams` under its short name.

Keyword arguments are the keys of the configuration's ``system`` block, in its units
(``docs/configuration.md``): ``jcas.System(K=4, Nt=35, Nr=35, snr_com_db=20,
precoder="zf")``. Checked at construction: a bad value, an unknown precoder or array
(the message lists the registered ones) raises :class:`jcas.model.params.ConfigError`
naming the key. ``Nr`` does not follow ``Nt`` (both default to 15, as in the config);
``system.replace(Nt=15)`` is a checked copy.
"""

DEFAULT_SEED: Final = 2024
"""The base seed of ``config.yaml``: drop ``d`` is then the pipeline's drop ``d``."""
DEFAULT_REALIZATIONS: Final = 100
"""Monte-Carlo realizations per drop, ``mc.realizations`` of ``config.yaml``."""

_MAX_SEED: Final = 2**32 - 1


# --------------------------------------------------------------------------- checks
def _describe(value: Any) -> str:
    """A short text of a value for an error message (arrays by type and shape)."""
    if isinstance(value, np.ndarray):
        return f"ndarray of shape {value.shape}"
    text = repr(value)
    return text if len(text) <= 80 else f"{type(value).__name__} ({text[:60]}...)"


def _check_system(system: Any) -> SystemParams:
    if not isinstance(system, SystemParams):
        raise TypeError(
            f"system = {_describe(system)}: must be a jcas.System (e.g. jcas.System(K=4, Nt=35)); "
            "the first argument of every jcas call"
        )
    return system


def _check_count(key: str, value: Any, minimum: int, maximum: int | None = None) -> int:
    """An integer (Python or NumPy, not bool) in ``[minimum, maximum]``, else ConfigError."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
        hint = ""
        if isinstance(value, numbers.Real) and float(value).is_integer():
            hint = f" (write {int(float(value))})"
        raise ConfigError(f"{key} = {value!r}: must be an integer{hint}")
    value = int(value)
    if value < minimum or (maximum is not None and value > maximum):
        allowed = f">= {minimum}" if maximum is None else f"in {minimum} .. {maximum}"
        raise ConfigError(f"{key} = {value!r}: must be an integer {allowed}")
    return value


def _float_array(name: str, value: Any, shape: tuple[int, ...] | None, what: str) -> Float:
    """``value`` as a float array of ``shape`` (None: (D, K) with any D), else ValueError."""
    try:
        arr = np.array(value, dtype=float)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name}: must be an array of real numbers ({what}); {err}") from err
    if shape is not None and arr.shape != shape:
        raise ValueError(f"{name} has shape {arr.shape}: must be {shape} ({what})")
    return arr


def _first_bad(name: str, arr: Float, bad: NDArray[np.bool_], rule: str, what: str) -> None:
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        where = ", ".join(str(i) for i in idx)
        raise ValueError(
            f"{name}[{where}] = {float(arr[idx])!r}: must be {rule} ({what}; "
            f"{int(bad.sum())} such entries of {arr.size})"
        )


# --------------------------------------------------------------------------- drops
@dataclass(frozen=True)
class Drops:
    """User drops: the large-scale fading of D placements of the K users.

    Attributes
    ----------
    beta : (D, K) large-scale fading, dimensionless (1 at ``r_min_m`` without shadowing).
    distance_m : (D, K) user distances (m); NaN for drops given by their ``beta`` only.
    index : (D,) int64, global drop indices: drop ``d`` of seed ``seed`` is the same
        drop in every call and in the pipeline, and its Monte-Carlo streams are keyed
        by ``(seed, d)``.
    seed : the base seed (an integer in 0 .. 2^32 - 1).

    The estimate variance (7) depends on the system (pilots, SNR), not on the drop: each
    call computes it from ``beta`` and its ``system`` (:meth:`xi`), so the same drops serve
    every SNR and antenna count (common random numbers, as in the pipeline).
    """

    beta: Float
    distance_m: Float
    index: NDArray[np.int64]
    seed: int

    def __post_init__(self) -> None:
        what = "large-scale fading, (D, K), dimensionless"
        beta = _float_array("beta", self.beta, None, what)
        if beta.ndim != 2 or beta.shape[0] < 1 or beta.shape[1] < 1:
            raise ValueError(f"beta has shape {beta.shape}: must be (D, K), D >= 1, K >= 1")
        _first_bad("beta", beta, ~np.isfinite(beta) | (beta < 0), "finite and >= 0", what)
        distance = _float_array("distance_m", self.distance_m, beta.shape, "user distances, m")
        index = np.asarray(self.index)
        if index.shape != beta.shape[:1] or not np.issubdtype(index.dtype, np.integer):
            raise ValueError(
                f"index = {self.index!r}: must be {beta.shape[0]} integer drop indices"
            )
        if (index < 0).any() or len(np.unique(index)) != len(index):
            raise ValueError(f"index = {index.tolist()!r}: must be distinct integers >= 0")
        seed = _check_count("seed", self.seed, 0, _MAX_SEED)
        for name, arr in (("beta", beta), ("distance_m", distance), ("index", index)):
            arr = arr.astype(np.int64) if name == "index" else arr
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "seed", seed)

    def __len__(self) -> int:
        return int(self.beta.shape[0])

    @property
    def n_users(self) -> int:
        """K, the users of each drop."""
        return int(self.beta.shape[1])

    def xi(self, system: SystemParams) -> Float:
        """The MMSE estimate variance (7) of every user in ``system``, (D, K), dimensionless."""
        from jcas.model.channel import estimate_variance

        system = _check_drops_system(system, self)
        return np.asarray(
            estimate_variance(self.beta, system.tau_p, system.pp_w, system.sigma_u2_w),
            dtype=float,
        )

    def __getitem__(self, rows: Any) -> Drops:
        """A subset of the drops (an index, a slice or a mask over D), keeping their
        global indices (and so their random streams)."""
        pick = np.arange(len(self))[rows]
        pick = np.atleast_1d(pick)
        return Drops(self.beta[pick], self.distance_m[pick], self.index[pick], self.seed)


def _check_drops_system(system: Any, drops: Any) -> SystemParams:
    system = _check_system(system)
    if not isinstance(drops, Drops):
        raise TypeError(
            f"drops = {_describe(drops)}: must be jcas.Drops (from jcas.drops(system, n) or "
            "jcas.drops(system, beta=...))"
        )
    if drops.n_users != system.K:
        raise ValueError(
            f"drops have K = {drops.n_users} users but system.K = {system.K}: draw the "
            "drops with this system (jcas.drops(system, n))"
        )
    return system


def drops(
    system: SystemParams,
    n: int | None = None,
    *,
    seed: int = DEFAULT_SEED,
    start: int = 0,
    beta: ArrayLike | None = None,
) -> Drops:
    """User drops of ``system``: drops ``start .. start + n - 1`` of base seed ``seed``.

    Parameters
    ----------
    system : uses K and the geometry (``r_min_m``, ``r_max_m``, ``pathloss_exponent``,
        ``shadowing_db``; ``docs/model.md`` §2).
    n : number of drops (>= 1) (config ``drops``).
    seed : base seed, 0 .. 2^32 - 1 (config ``seed``; default 2024, ``config.yaml``'s).
    start : first global drop index (>= 0).
    beta : instead of ``n``: your own large-scale fading, (D, K) with ``K = system.K``,
        finite and >= 0 (indices ``start .. start + D - 1``, ``distance_m`` NaN).

    Returns
    -------
    :class:`Drops` with ``beta`` (D, K) and ``distance_m`` (D, K).
    """
    system = _check_system(system)
    start = _check_count("start", start, 0)
    seed = _check_count("seed", seed, 0, _MAX_SEED)
    if beta is not None:
        if n is not None:
            raise TypeError("drops(system, n, beta=...): give n or beta, not both")
        arr = _float_array("beta", beta, None, "large-scale fading, (D, K), dimensionless")
        if arr.ndim != 2 or arr.shape[1] != system.K:
            raise ValueError(
                f"beta has shape {arr.shape}: must be (D, K) = (drops, {system.K}) "
                f"(system.K = {system.K})"
            )
        index = np.arange(start, start + arr.shape[0], dtype=np.int64)
        return Drops(arr, np.full(arr.shape, np.nan), index, seed)
    if n is None:
        raise TypeError("drops(system, n): give the number of drops n (or beta=...)")
    n = _check_count("n", n, 1, 10**7)
    from jcas.model.drops import large_scale_fading

    index = np.arange(start, start + n, dtype=np.int64)
    b, distance = large_scale_fading(system, seed, index)
    return Drops(b, distance, index, seed)


# --------------------------------------------------------------------------- allocation
def _option_error(scheme: str, name: str, value: Any, params: tuple[Param, ...]) -> ConfigError:
    if not params:
        return ConfigError(f"{name} = {value!r}: scheme {scheme!r} takes no options")
    names = ", ".join(f"{p.key} (or {p.keyword})" for p in params)
    return ConfigError(
        f"{name} = {value!r}: not an option of scheme {scheme!r}; its options: {names}"
    )


def _check_option(name: str, value: Any, p: Param) -> Any:
    """A scheme option's value against its registered type, range and choices."""
    if p.kind is bool:
        if not isinstance(value, bool | np.bool_):
            raise ConfigError(f"{name} = {value!r}: must be True or False")
        return bool(value)
    if p.kind is str:
        if not isinstance(value, str) or (p.choices is not None and value not in p.choices):
            allowed = f"one of {list(p.choices)}" if p.choices is not None else "a string"
            raise ConfigError(f"{name} = {value!r}: must be {allowed}")
        return value
    if p.kind is int:
        value = _check_count(name, value, int(p.minimum) if p.minimum is not None else -(2**63))
    elif isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise ConfigError(f"{name} = {value!r}: must be a number")
    elif not math.isfinite(float(value)):
        raise ConfigError(f"{name} = {value!r}: must be a finite number")
    x = float(value)
    for bound, ok, word in (
        (p.minimum, lambda b: x >= b, ">="),
        (p.maximum, lambda b: x <= b, "<="),
        (p.exclusive_minimum, lambda b: x > b, ">"),
        (p.exclusive_maximum, lambda b: x < b, "<"),
    ):
        if bound is not None and not ok(bound):
            raise ConfigError(f"{name} = {value!r}: must be {word} {bound:g} ({p.description})")
    return p.coerce(value)


def _scheme_options(scheme: str, options: dict[str, Any]) -> dict[str, Any]:
    """The options by their config key (``sca_tolerance``) or keyword (``tol``), checked,
    as the scheme function's keywords."""
    from jcas.parts.registry import SCHEMES_REGISTRY

    params = SCHEMES_REGISTRY[scheme].params
    by_name = {p.key: p for p in params} | {p.keyword: p for p in params}
    out: dict[str, Any] = {}
    for name, value in options.items():
        p = by_name.get(name)
        if p is None:
            raise _option_error(scheme, name, value, params)
        if p.keyword in out:
            raise ConfigError(f"{name} = {value!r}: given twice (as {p.key} and {p.keyword})")
        out[p.keyword] = _check_option(name, value, p)
    return out


def allocate(
    system: SystemParams, drops: Drops, scheme: str = "optimal", **options: Any
) -> Allocation:
    """Allocate the transmit power of every drop with one scheme.

    Parameters
    ----------
    system : the system (Pt, CRB0, the precoder and arrays, ...).
    drops : the drops (:func:`drops`).
    scheme : ``optimal`` (the exact optimum of (19)), ``sca`` (the paper's Algorithm 1),
        ``equal``, ``equal_full`` (the benchmarks): a registered scheme (config
        ``schemes``; ``docs/theory.md``).
    **options : the scheme's options by their config key or keyword, checked against
        their type and range: ``sca``: ``sca_tolerance`` (``tol``), ``sca_max_iterations``
        (``max_iterations``), ``sca_group`` (``batch_size``), ``sca_active_set``,
        ``sca_accelerate``, ``sca_polish``, ``sca_stopping``; ``equal_full``:
        ``equal_full_sensing_fraction`` (``sensing_fraction``); ``docs/configuration.md``.

    Returns
    -------
    :class:`jcas.allocation.Allocation`: ``gamma``, ``eta`` (D, K) (NaN where the status
    is not a success), ``status`` (D,), ``iterations`` (D,), ``solve_time_s`` (D,) (s).

    Raises
    ------
    ConfigError : an unknown scheme or option, a bad option value, or a scheme the parts
        cannot run (e.g. ``optimal`` with reused pilots, ``tau_p < K``).
    """
    from jcas.allocation import allocate as low_level
    from jcas.parts.registry import SCHEMES_REGISTRY, design_problems

    system = _check_drops_system(system, drops)
    if not isinstance(scheme, str) or scheme not in SCHEMES_REGISTRY:
        raise ConfigError(
            f"scheme = {scheme!r}: must be one of {list(SCHEMES_REGISTRY)} (config schemes)"
        )
    kwargs = _scheme_options(scheme, options)
    problems = design_problems(scheme, system)
    if problems:
        raise ConfigError("; ".join(problems))
    return low_level(scheme, drops.beta, drops.xi(system), system, **kwargs)


# --------------------------------------------------------------------------- metrics
def _powers(allocation: Any, n_drops: int, n_users: int) -> tuple[Float, Float]:
    """``(gamma, eta)`` of an Allocation or a ``(gamma, eta)`` pair, (D, K) each, >= 0
    where not NaN (NaN: a failed drop)."""
    from jcas.allocation import Allocation

    if isinstance(allocation, Allocation):
        gamma, eta = allocation.gamma, allocation.eta
    elif isinstance(allocation, tuple | list) and len(allocation) == 2:
        gamma, eta = allocation
    else:
        raise TypeError(
            f"allocation = {_describe(allocation)}: must be a jcas.allocation.Allocation (from "
            "jcas.allocate) or a pair (gamma, eta) of (D, K) arrays"
        )
    out = []
    shape = (n_drops, n_users)
    for name, value, what in (
        ("gamma", gamma, "communications power factors, (D, K), per unit of xi"),
        ("eta", eta, "sensing power factors, (D, K), W per antenna"),
    ):
        arr = _float_array(name, value, shape, what)
        _first_bad(name, arr, np.isinf(arr) | (arr < 0), ">= 0 or NaN (a failed drop)", what)
        out.append(arr)
    return out[0], out[1]


def _metrics(system: SystemParams, drops: Drops, allocation: Any) -> dict[str, Float]:
    from jcas.model.metrics import closed_form_metrics
    from jcas.parts.registry import design

    system = _check_drops_system(system, drops)
    gamma, eta = _powers(allocation, len(drops), drops.n_users)
    parts = design(system)
    with np.errstate(invalid="ignore", divide="ignore"):
        return closed_form_metrics(gamma, eta, drops.xi(system), drops.beta, system, parts)


def rate(system: SystemParams, drops: Drops, allocation: Allocation | tuple[Any, Any]) -> Float:
    """Achievable rate of every user, the closed form of (14) (the paper's (15) for MRT).

    Parameters
    ----------
    system, drops : as for :func:`allocate`.
    allocation : an :class:`jcas.allocation.Allocation`, or your own powers as a pair
        ``(gamma, eta)`` of (D, K) arrays (>= 0; NaN marks a failed drop).

    Returns
    -------
    (D, K) rate in bit/s/Hz (``.sum(axis=1)``: the sum rate of each drop); NaN on the drops
    whose allocation failed.
    """
    return _metrics(system, drops, allocation)["rate"]


def crb(system: SystemParams, drops: Drops, allocation: Allocation | tuple[Any, Any]) -> Float:
    """Cramér-Rao bound of the target angle theta, (36) with the expected covariance (the
    paper's (16) for MRT and the centred ULA).

    Arguments as :func:`rate`. Returns (D,) rad^2; ``inf`` where no power reaches the
    target, NaN on failed drops. For a planar array this is the azimuth's CRB
    (``jcas.allocation.planar.allocation_crbs`` gives both angles').
    """
    return _metrics(system, drops, allocation)["crb"]


def mc_rate(
    system: SystemParams,
    drops: Drops,
    allocation: Allocation | tuple[Any, Any],
    *,
    realizations: int = DEFAULT_REALIZATIONS,
    seed: int | None = None,
) -> RateEstimate:
    """Monte-Carlo estimate of the achievable rate (14), to check :func:`rate` against.

    Simulates Rayleigh fading, noisy pilots, the MMSE estimate (6) and the precoder part's
    own precoder, ``realizations`` times per drop (:func:`jcas.montecarlo.mc_rate`).

    Parameters
    ----------
    system, drops, allocation : as for :func:`rate`.
    realizations : small-scale fading realizations per drop, >= 2 (config
        ``mc.realizations``, default 100).
    seed : base seed of the Monte-Carlo streams (default: the drops' seed, which gives the
        pipeline's draws: drop ``d`` uses ``rng_for(seed, STREAM_MC_RATE, d)``).

    Returns
    -------
    :class:`jcas.montecarlo.RateEstimate`: ``rate``, ``rate_se`` (D, K) and ``sum_rate``,
    ``sum_rate_se`` (D,), bit/s/Hz; NaN on failed drops. ``rate - jcas.rate(...)`` is
    within a few ``rate_se`` (the test of the closed form).
    """
    from jcas.montecarlo.rate import mc_rate as low_level

    system = _check_drops_system(system, drops)
    realizations = _check_count("realizations", realizations, 2, 10**8)
    seed = drops.seed if seed is None else _check_count("seed", seed, 0, _MAX_SEED)
    gamma, eta = _powers(allocation, len(drops), drops.n_users)
    return low_level(
        system,
        drops.beta,
        gamma,
        eta,
        seed=seed,
        drops=drops.index.tolist(),
        n_realizations=realizations,
    )


# --------------------------------------------------------------------------- results
def to_dataset(
    system: SystemParams, drops: Drops, allocations: Mapping[str, Allocation]
) -> xr.Dataset:
    """Allocations of the same drops as a dataset shaped like the pipeline's
    (``docs/data.md``): dimensions ``scheme``, ``drop``, ``user``.

    Parameters
    ----------
    system, drops : as for :func:`allocate`.
    allocations : ``{scheme name: Allocation}`` (e.g. ``{"optimal": a, "sca": b}``); the
        names become the ``scheme`` index, in this order.

    Returns
    -------
    ``xarray.Dataset`` with ``beta``, ``distance``, ``xi`` (drop, user); ``gamma``, ``eta``,
    ``rate`` (scheme, drop, user); ``sum_rate``, ``crb``, ``power_total``,
    ``power_sensing``, ``status``, ``iterations``, ``solve_time`` (scheme, drop); the
    system's ``Nt``, ``Nr``, ``snr_com_db``, ``snr_sen_db``, ``crb0`` as scalar coordinates;
    ``attrs["config"]`` holds the seed and the system. Units are added when saved
    (:func:`save_results`).
    """
    import xarray as xr

    from jcas.allocation import Allocation, is_success
    from jcas.io.provenance import to_json

    system = _check_drops_system(system, drops)
    if not isinstance(allocations, Mapping) or not allocations:
        raise TypeError(
            f"allocations = {_describe(allocations)}: must be a non-empty mapping "
            "{scheme name: jcas.allocation.Allocation}"
        )
    names = list(allocations)
    per: dict[str, list[Any]] = {}
    for name in names:
        alloc = allocations[name]
        if not isinstance(name, str) or not name:
            raise TypeError(f"allocations: the key {name!r} must be a scheme name (a string)")
        if not isinstance(alloc, Allocation):
            raise TypeError(f"allocations[{name!r}] = {_describe(alloc)}: must be an Allocation")
        values: dict[str, Any] = dict(_metrics(system, drops, alloc))
        ok = np.asarray(is_success(alloc.status))
        values["sum_rate"] = np.where(ok, values["rate"].sum(axis=-1), np.nan)
        values.update(
            gamma=alloc.gamma,
            eta=alloc.eta,
            status=alloc.status,
            iterations=alloc.iterations,
            solve_time=alloc.solve_time_s,
        )
        for key, arr in values.items():
            per.setdefault(key, []).append(np.asarray(arr))
    sdu, sd = ("scheme", "drop", "user"), ("scheme", "drop")
    data = {
        "beta": (("drop", "user"), drops.beta),
        "distance": (("drop", "user"), drops.distance_m),
        "xi": (("drop", "user"), drops.xi(system)),
        **{k: (sdu, np.stack(per[k])) for k in ("gamma", "eta", "rate")},
        **{
            k: (sd, np.stack(per[k]))
            for k in ("sum_rate", "crb", "power_total", "power_sensing", "status")
        },
        "iterations": (sd, np.stack(per["iterations"]).astype(np.int64)),
        "solve_time": (sd, np.stack(per["solve_time"])),
    }
    coords = {
        "scheme": names,
        "drop": drops.index,
        "user": np.arange(drops.n_users, dtype=np.int64),
        "Nt": system.Nt,
        "Nr": system.Nr,
        "snr_com_db": system.snr_com_db,
        "snr_sen_db": system.snr_sen_db,
        "crb0": system.crb0,
    }
    ds = xr.Dataset(data, coords=coords)
    ds.attrs["config"] = to_json({"seed": drops.seed, "system": system.to_dict()})
    return ds


def save_results(
    dataset: xr.Dataset, path: str | os.PathLike[str], *, title: str | None = None
) -> Path:
    """Write a dataset (e.g. :func:`to_dataset`'s) as the pipeline writes its results:
    NetCDF4 with CF metadata, units, provenance, atomically (a failed write leaves no file
    and keeps any previous one). :func:`open_results` reads it back. Returns the path.
    """
    import xarray as xr

    from jcas.io.results import write_netcdf

    if not isinstance(dataset, xr.Dataset):
        raise TypeError(f"dataset = {type(dataset).__name__}: must be an xarray.Dataset")
    return write_netcdf(dataset, path, title=title or "jcas results (jcas.save_results)")


def open_results(path: str | os.PathLike[str]) -> xr.Dataset:
    """A pipeline result file (``results/<experiment>.nc``) as an ``xarray.Dataset``.

    Loaded into memory (the file is closed), with the string-valued dimensions
    (``scheme``, ``precoder``, ...) indexed by name: ``ds.sel(scheme="sca")``,
    ``ds.sel(precoder="zf")`` (``xr.open_dataset`` leaves them as the integer positions
    of the CF file; ``xr.open_dataset(path, engine="jcas")`` is the same as this).
    Variables, dimensions and units: ``docs/data.md``.

    Raises :class:`jcas.io.fields.ResultFileError` (an ``OSError``) naming the file when it
    is missing, empty, truncated or not NetCDF.
    """
    from jcas.io.results import read_netcdf

    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"path = {path!r}: must be a file path (str or os.PathLike)")
    return read_netcdf(path)
