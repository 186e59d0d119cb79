"""System parameters: one validated, immutable object built from a plain dict.

The configuration speaks the units a researcher writes (dBm, dB, degrees,
metres); :class:`SystemParams` keeps those fields and exposes the linear SI
quantities the equations use as properties (W, rad, dimensionless).

Conventions (``docs/model.md`` §2): ``SNR_com = Pt / sigma_u^2`` and
``SNR_sen = Pt / sigma_r_bar^2`` with ``sigma_r_bar^2 = sigma_r^2 / (2 |alpha|^2 L)``.
Large-scale fading ``beta`` is dimensionless (1 at ``r = r_min_m``) and noise
powers are expressed in W relative to it, as in the paper.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np

__all__ = ["ConfigError", "SystemParams", "db_to_linear", "dbm_to_watt"]


class ConfigError(ValueError):
    """An invalid configuration value; the message names the key and the value."""


def dbm_to_watt(x_dbm: float) -> float:
    """Convert a power in dBm to W: ``10 ** ((x - 30) / 10)``.

    Returns ``inf`` (instead of raising ``OverflowError``) above about 3110 dBm,
    and ``0.0`` below about -3210 dBm (float underflow).
    """
    return db_to_linear(x_dbm - 30.0)


def db_to_linear(x_db: float) -> float:
    """Convert a ratio in dB to linear scale: ``10 ** (x / 10)``.

    Returns ``inf`` (instead of raising ``OverflowError``) above about 3080 dB,
    and ``0.0`` below about -3240 dB (float underflow).
    """
    try:
        return 10.0 ** (x_db / 10.0)
    except OverflowError:
        return math.inf


def _key(
    default: Any,
    description: str,
    units: str = "1",
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive: tuple[float | None, float | None] = (None, None),
    choices: tuple[str, ...] | None = None,
    part: bool = False,
) -> Any:
    """A field of :class:`SystemParams` with the description of its config key
    (``system.<name>``): the typed model of the config (:mod:`jcas.config.model`) derives
    the key's schema (type, range, default) and its row of ``docs/configuration.md`` from
    it. ``part``: the key belongs to an array part (its own :class:`jcas.parts.registry.Param`
    declares it in the schema)."""
    meta = {
        "description": description,
        "units": units,
        "minimum": minimum,
        "maximum": maximum,
        "exclusive_minimum": exclusive[0],
        "exclusive_maximum": exclusive[1],
        "choices": choices,
        "part": part,
    }
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class SystemParams:
    """Physical parameters of one JCAS system (paper Sec. V, ``docs/model.md`` §2).

    Attributes
    ----------
    K : users.
    Nt, Nr : transmit / receive ULA antennas.
    L : frame length (symbols); enters the finite-L Monte-Carlo CRB.
    pt_dbm : transmit power budget Pt (dBm).
    pp_dbm : uplink pilot power p_p (dBm).
    tau_p, tau_c : pilot length and coherence interval (symbols).
    snr_com_db : SNR_com = Pt / sigma_u^2 (dB).
    snr_sen_db : SNR_sen = Pt / sigma_r_bar^2 (dB).
    theta_deg : target angle (degrees), ``|theta| < 90``.
    crb0 : CRB threshold CRB_theta^0 (rad^2).
    r_min_m, r_max_m : inner and outer radius of the user annulus (m).
    pathloss_exponent : nu in ``beta = z / (r / r_min)^nu``.
    shadowing_db : standard deviation of log-normal shadowing (dB).
    precoder, array : names of the precoder and array parts (:mod:`jcas.parts.registry`,
        ``docs/extending.md``); the paper's MRT (12) and centred ULA (10).
    channel : the channel model part (``iid``: the paper's i.i.d. Rayleigh fading; others in
        ``docs/model.md`` §9), with its keys ``angular_spread_deg`` (local scattering,
        degrees), ``correlation`` (exponential), ``k_factor_db`` and ``scattering`` (Rician).
    tx_rows, rx_rows : rows of the planar arrays (``array: upa``; ``Nt / tx_rows``
        columns); 1 (a ULA) otherwise (``docs/model.md`` §8).
    elevation_deg : target elevation (degrees), ``|el| < 90`` and
        ``sin^2(theta) + sin^2(el) < 1``; ``theta_deg`` is the azimuth.
    crb_form : the sensing constraint: ``azimuth`` (the CRB of the azimuth ``theta``
        below ``crb0``, the paper's), ``per_angle`` (each angle's CRB below
        ``crb0_azimuth``, ``crb0_elevation``) or ``sum`` (their sum below ``crb0``).
    crb0_azimuth, crb0_elevation : thresholds of the ``per_angle`` form (rad^2).
    """

    K: int = _key(4, "users", minimum=1, maximum=1024)
    Nt: int = _key(15, "transmit antennas", minimum=1, maximum=4096)
    Nr: int = _key(15, "receive antennas", minimum=1, maximum=4096)
    L: int = _key(30, "frame length (symbols), finite-L Monte-Carlo CRB", minimum=1)
    pt_dbm: float = _key(30.0, "transmit power budget Pt", "dBm", minimum=-100, maximum=100)
    pp_dbm: float = _key(10.0, "uplink pilot power p_p", "dBm", minimum=-100, maximum=100)
    tau_p: int = _key(10, "pilot length (symbols); tau_p < tau_c", minimum=1)
    tau_c: int = _key(100, "coherence interval (symbols)", minimum=2)
    snr_com_db: float = _key(20.0, "SNR_com = Pt / sigma_u^2", "dB", minimum=-100, maximum=100)
    snr_sen_db: float = _key(5.0, "SNR_sen = Pt / sigma_r_bar^2", "dB", minimum=-100, maximum=100)
    theta_deg: float = _key(
        0.0, "target angle (the azimuth of planar arrays)", "degree", exclusive=(-90, 90)
    )
    crb0: float = _key(1e-3, "CRB threshold CRB_theta^0", "rad2", exclusive=(0, None))
    r_min_m: float = _key(100.0, "inner radius of the user annulus", "m", exclusive=(0, None))
    r_max_m: float = _key(
        500.0, "outer radius of the user annulus; r_min_m < r_max_m", "m", exclusive=(0, None)
    )
    pathloss_exponent: float = _key(3.2, "path-loss exponent nu", maximum=10, exclusive=(0, None))
    shadowing_db: float = _key(
        8.0, "standard deviation of log-normal shadowing", "dB", minimum=0, maximum=30
    )
    precoder: str = _key("mrt", "the precoder part (a registered name, docs/extending.md)")
    array: str = _key("ula", "the array part of both sides (a registered name)")
    channel: str = _key("iid", "the channel model part (a registered name, docs/model.md §9)")
    angular_spread_deg: float = _key(
        10.0, "angular standard deviation of local scattering", "degree", part=True
    )
    correlation: float = _key(0.5, "correlation of adjacent antennas (exponential)", part=True)
    k_factor_db: float = _key(5.0, "Rician K-factor", "dB", part=True)
    scattering: str = _key("iid", "the scattered part of a Rician channel", part=True)
    tx_rows: int = _key(1, "rows of the transmit array (Nt / tx_rows columns)", part=True)
    rx_rows: int = _key(1, "rows of the receive array (Nr / rx_rows columns)", part=True)
    elevation_deg: float = _key(
        0.0, "target elevation (planar arrays, docs/model.md §8)", "degree", exclusive=(-90, 90)
    )
    crb_form: str = _key(
        "azimuth",
        "the sensing constraint: the azimuth CRB below crb0 (the paper's), each angle below "
        "its own threshold (per_angle) or their sum below crb0 (sum)",
        choices=("azimuth", "per_angle", "sum"),
    )
    crb0_azimuth: float = _key(
        1e-3, "azimuth threshold of the per_angle form", "rad2", exclusive=(0, None)
    )
    crb0_elevation: float = _key(
        1e-3, "elevation threshold of the per_angle form", "rad2", exclusive=(0, None)
    )

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type == "str":
                object.__setattr__(self, f.name, _check_name(f.name, value))
            elif f.type == "int":
                object.__setattr__(self, f.name, _check_int(f.name, value))
            else:
                object.__setattr__(self, f.name, _check_real(f.name, value))
        _require(self.K >= 1, "K", self.K, "an integer >= 1")
        _require(self.Nt >= 1, "Nt", self.Nt, "an integer >= 1")
        _require(self.Nr >= 1, "Nr", self.Nr, "an integer >= 1")
        _require(self.L >= 1, "L", self.L, "an integer >= 1")
        _require(self.tau_p >= 1, "tau_p", self.tau_p, "an integer >= 1")
        _require(
            self.tau_c > self.tau_p,
            "tau_c",
            self.tau_c,
            f"an integer > tau_p = {self.tau_p}",
        )
        _require(abs(self.theta_deg) < 90.0, "theta_deg", self.theta_deg, "|theta_deg| < 90")
        _require(self.crb0 > 0.0, "crb0", self.crb0, "a number > 0 (rad^2)")
        _check_parts(self)
        _check_planar(self)
        _require(self.r_min_m > 0.0, "r_min_m", self.r_min_m, "a number > 0 (m)")
        _require(
            self.r_max_m > self.r_min_m,
            "r_max_m",
            self.r_max_m,
            f"a number > r_min_m = {self.r_min_m} (m)",
        )
        _require(
            self.pathloss_exponent > 0.0,
            "pathloss_exponent",
            self.pathloss_exponent,
            "a number > 0",
        )
        _require(self.shadowing_db >= 0.0, "shadowing_db", self.shadowing_db, "a number >= 0 (dB)")
        # dB values are valid for any finite number, but the linear value the
        # equations use must be a finite, positive float (|x| below ~3000 dB).
        for key, linear in (
            ("pt_dbm", self.pt_w),
            ("pp_dbm", self.pp_w),
            ("snr_com_db", self.sigma_u2_w),
            ("snr_sen_db", self.sigma_r_bar2),
        ):
            _require(
                0.0 < linear < math.inf,
                key,
                getattr(self, key),
                "a value whose linear power is a finite positive float "
                f"(got {linear!r} W; keep dB values within about +/-3000)",
            )

    # ------------------------------------------------------------------ build
    @classmethod
    def from_dict(cls, config: Mapping[str, Any], *, prefix: str = "system") -> SystemParams:
        """Build from a plain mapping (e.g. the ``system`` block of ``config.yaml``).

        Missing keys take the paper's defaults; unknown keys raise
        :class:`ConfigError` naming them (``prefix.key``).
        """
        if not isinstance(config, Mapping):
            raise ConfigError(f"{prefix} = {config!r}: must be a mapping of parameter names")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(config) - known, key=str)
        if unknown:
            more = f" (also unknown: {unknown[1:]})" if len(unknown) > 1 else ""
            raise ConfigError(
                f"{prefix}.{unknown[0]} = {config[unknown[0]]!r}: unknown key{more}; "
                f"allowed keys are {sorted(known)}"
            )
        try:
            return cls(**dict(config))
        except ConfigError as err:
            raise ConfigError(f"{prefix}.{err}") from None

    def to_dict(self) -> dict[str, int | float | str]:
        """Plain-dict form (built-in types), the inverse of :meth:`from_dict`."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def replace(self, **changes: Any) -> SystemParams:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)

    # -------------------------------------------------------- linear values
    @property
    def pt_w(self) -> float:
        """Transmit power budget Pt (W)."""
        return dbm_to_watt(self.pt_dbm)

    @property
    def pp_w(self) -> float:
        """Uplink pilot power p_p (W)."""
        return dbm_to_watt(self.pp_dbm)

    @property
    def sigma_u2_w(self) -> float:
        """User (and uplink) noise power sigma_u^2 = Pt / SNR_com (W)."""
        return self.pt_w / db_to_linear(self.snr_com_db)

    @property
    def sigma_r_bar2(self) -> float:
        """Effective radar noise sigma_r_bar^2 = Pt / SNR_sen (W)."""
        return self.pt_w / db_to_linear(self.snr_sen_db)

    @property
    def theta_rad(self) -> float:
        """Target angle theta (rad)."""
        return math.radians(self.theta_deg)

    @property
    def elevation_rad(self) -> float:
        """Target elevation (rad), ``docs/model.md`` §8."""
        return math.radians(self.elevation_deg)

    @property
    def tau_bar(self) -> float:
        """Fraction of the coherence interval used for data, (tau_c - tau_p) / tau_c."""
        return (self.tau_c - self.tau_p) / self.tau_c


def _require(ok: bool, key: str, value: Any, allowed: str) -> None:
    if not ok:
        raise ConfigError(f"{key} = {value!r}: must be {allowed}")


CRB_FORMS = ("azimuth", "per_angle", "sum")
"""Forms of the sensing constraint (:attr:`SystemParams.crb_form`)."""


def _check_planar(p: SystemParams) -> None:
    """The planar-array fields: rows dividing the element counts, the direction in front
    of the array, a constraint form naming only angles the arrays resolve."""
    _require(abs(p.elevation_deg) < 90.0, "elevation_deg", p.elevation_deg, "|elevation_deg| < 90")
    u, v = math.sin(p.theta_rad), math.sin(p.elevation_rad)
    _require(
        u * u + v * v < 1.0,
        "elevation_deg",
        p.elevation_deg,
        f"sin^2(theta_deg) + sin^2(elevation_deg) < 1 (a direction in front of the array; "
        f"theta_deg = {p.theta_deg})",
    )
    _require(p.crb_form in CRB_FORMS, "crb_form", p.crb_form, f"one of {list(CRB_FORMS)}")
    for key in ("crb0_azimuth", "crb0_elevation"):
        _require(getattr(p, key) > 0.0, key, getattr(p, key), "a number > 0 (rad^2)")
    for key, n_key in (("tx_rows", "Nt"), ("rx_rows", "Nr")):
        rows, n = getattr(p, key), getattr(p, n_key)
        _require(rows >= 1, key, rows, "an integer >= 1")
        _require(n % rows == 0, key, rows, f"a divisor of {n_key} = {n}")
    if p.crb_form == "azimuth":
        return
    if max(p.tx_rows, p.rx_rows) == 1:
        raise ConfigError(
            f"crb_form = {p.crb_form!r}: names the elevation, which the arrays cannot "
            f"resolve (array = {p.array!r}, tx_rows = {p.tx_rows}, rx_rows = {p.rx_rows}: "
            "no side has more than one row); use crb_form 'azimuth' or a planar array"
        )
    if p.Nt == p.tx_rows and p.Nr == p.rx_rows:
        raise ConfigError(
            f"crb_form = {p.crb_form!r}: names the azimuth, which the arrays cannot resolve "
            f"(one column on both sides: Nt = tx_rows = {p.Nt}, Nr = rx_rows = {p.Nr})"
        )


def _check_parts(p: SystemParams) -> None:
    """The part names against the registries (:mod:`jcas.parts.registry`, imported here:
    it imports this module), and the keys of the other array parts at their defaults
    (``tx_rows = 4`` needs ``array = 'upa'``), as :func:`jcas.parts.registry.design`
    checks them; so a bad name fails here, naming the key, the value and the registered
    names, rather than later in a computation."""
    from jcas.parts.registry import ARRAYS, CHANNELS, PRECODERS

    for key, registry in (("precoder", PRECODERS), ("array", ARRAYS), ("channel", CHANNELS)):
        name = getattr(p, key)
        if name not in registry:
            raise ConfigError(
                f"{key} = {name!r}: must be one of {list(registry)} (the registered "
                f"{registry.kind}s, docs/extending.md)"
            )
    own = {q.key for q in ARRAYS[p.array].params}
    for other in ARRAYS.params().values():
        if other.key in own or getattr(p, other.key, other.default) == other.default:
            continue
        owners = [a.name for a in ARRAYS.values() if other.key in {q.key for q in a.params}]
        raise ConfigError(
            f"{other.key} = {getattr(p, other.key)!r}: must be {other.default!r} "
            f"({other.key} needs array {owners[0]!r}; array = {p.array!r})"
        )


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool | np.bool_)


def _check_name(key: str, value: Any) -> str:
    """A part name: a non-empty string (whether it is registered is checked by
    :mod:`jcas.parts.registry` and by the config schema, which lists the names)."""
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{key} = {value!r}: must be the name of a registered part (a string)")
    return value


def _check_int(key: str, value: Any) -> int:
    """An integer (Python or NumPy, not bool) as a Python ``int``."""
    if _is_bool(value) or not isinstance(value, numbers.Integral):
        if isinstance(value, numbers.Real) and not _is_bool(value) and float(value).is_integer():
            raise ConfigError(f"{key} = {value!r}: must be an integer (write {int(float(value))})")
        hint = " (a string; write the number without quotes)" if isinstance(value, str) else ""
        raise ConfigError(f"{key} = {value!r}: must be an integer{hint}")
    return int(value)


def _check_real(key: str, value: Any) -> float:
    """A finite real number (Python or NumPy, not bool) as a Python ``float``."""
    if _is_bool(value) or not isinstance(value, numbers.Real):
        hint = ""
        if isinstance(value, str):
            hint = " (a string: YAML reads e.g. 1e-3 as text; write 1.0e-3)"
        raise ConfigError(f"{key} = {value!r}: must be a number{hint}")
    value = float(value)
    if not math.isfinite(value):
        raise ConfigError(f"{key} = {value!r}: must be a finite number")
    return value
