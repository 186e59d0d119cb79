"""The variable registry: CF units and long names of every result variable and coordinate.

Units are UDUNITS-2 strings, so that CF tools (the IOOS compliance checker, cf-units)
can parse and convert them: ``"1"`` is dimensionless, ``rad2`` is rad^2, and decibel
quantities use UDUNITS' logarithmic units (:data:`DB`, :data:`DBM`), which state the
scale in the unit itself (``cf_units.Unit(DB).convert(20, "1") == 100``). The data
contract is ``docs/data.md``. Imports nothing from ``jcas``.

- :data:`VARIABLES`, :data:`COORDINATES`: the registry (:class:`VariableMeta`).
- :func:`register_variable`: add an entry.
- :func:`annotate`: apply the registry to a dataset.
- :data:`SCHEME_LABELS`, :func:`scheme_label`: human-readable names of the allocation
  schemes, with the options a result was produced with (legends, claims notes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    import xarray as xr

__all__ = [
    "COORDINATES",
    "DB",
    "DBM",
    "SCHEME_LABELS",
    "VARIABLES",
    "VariableMeta",
    "annotate",
    "register_variable",
    "scheme_label",
]

DB: Final = "0.1 lg(re 1)"
"""UDUNITS unit of a power ratio in decibels: 10 log10 of a dimensionless ratio."""

DBM: Final = "0.1 lg(re 1 mW)"
"""UDUNITS unit of a power in dBm: 10 log10 of the power in milliwatts."""


@dataclass(frozen=True)
class VariableMeta:
    """CF metadata of one variable.

    Attributes
    ----------
    units : UDUNITS-2 unit string (``"1"`` = dimensionless).
    long_name : human-readable description.
    standard_name : CF standard name, when one exists.
    """

    units: str
    long_name: str
    standard_name: str | None = None

    def attrs(self) -> dict[str, str]:
        """The attributes to set on the variable."""
        out = {"units": self.units, "long_name": self.long_name}
        if self.standard_name:
            out["standard_name"] = self.standard_name
        return out


VARIABLES: dict[str, VariableMeta] = {
    # drops and estimation
    "beta": VariableMeta("1", "large-scale fading coefficient beta_k"),
    "distance": VariableMeta("m", "distance of the user from the base station"),
    "xi": VariableMeta("1", "variance of the MMSE channel estimate xi_k, eq. (7)"),
    "eps": VariableMeta("1", "variance of the channel estimation error eps_k, eq. (8)"),
    # allocation
    "gamma": VariableMeta(
        "W", "communications power factor gamma_k (user k's power is Nt xi_k gamma_k)"
    ),
    "eta": VariableMeta("W", "sensing power factor eta_k (stream k's sensing power is Nt eta_k)"),
    "status": VariableMeta("1", "allocation status (optimal, converged, infeasible, ...)"),
    "iterations": VariableMeta("1", "solver iterations"),
    "solve_time": VariableMeta("s", "allocation solve time per drop"),
    # closed-form metrics
    "rate": VariableMeta("bit/s/Hz", "closed-form achievable rate of user k, eq. (15)"),
    "sum_rate": VariableMeta("bit/s/Hz", "closed-form achievable sum rate, eq. (15)"),
    "crb": VariableMeta("rad2", "closed-form CRB of the target angle, eq. (16)"),
    "crb_azimuth": VariableMeta("rad2", "closed-form CRB of the azimuth, planar array"),
    "crb_elevation": VariableMeta("rad2", "closed-form CRB of the elevation, planar array"),
    "power_total": VariableMeta("W", "total transmit power, eq. (18)"),
    "power_sensing": VariableMeta("W", "sensing transmit power Nt sum_k eta_k"),
    "power_user": VariableMeta(
        "W", "transmit power of user k's stream (Nt xi_k gamma_k for MRT, Nt gamma_k for ZF)"
    ),
    "power_comm": VariableMeta("W", "communications transmit power Nt xi^T gamma"),
    "power_consumed": VariableMeta(
        "W", "consumed power power_total / mu + circuit power (the power model of scheme energy)"
    ),
    "energy_efficiency": VariableMeta(
        "bit/s/Hz/W", "energy efficiency sum_rate / power_consumed (scheme energy's objective)"
    ),
    "sinr": VariableMeta("1", "effective SINR of user k inside the log of (15)"),
    # Monte-Carlo validation
    "sum_rate_mc": VariableMeta("bit/s/Hz", "Monte-Carlo sum rate from the bound (14)"),
    "sum_rate_mc_se": VariableMeta("bit/s/Hz", "standard error of the Monte-Carlo sum rate"),
    # the coefficient route (a correlated or Rician channel, or a precoder without closed forms)
    "sum_rate_se": VariableMeta(
        "bit/s/Hz", "standard error of the sum rate from the Monte-Carlo coefficients"
    ),
    "crb_se": VariableMeta("rad2", "standard error of the CRB from the Monte-Carlo coefficients"),
    "angle": VariableMeta("rad", "angle at which the ULA sees user k"),
    "direction_norm": VariableMeta("1", "E||v_k||^2 of the precoder's direction for user k"),
    "beam_norm": VariableMeta("1", "E||b||^2 of the precoder's sensing beam"),
    "rate_mc": VariableMeta("bit/s/Hz", "Monte-Carlo rate of user k from the bound (14)"),
    "rate_mc_se": VariableMeta("bit/s/Hz", "standard error of the Monte-Carlo rate of user k"),
    "crb_mc": VariableMeta(
        "rad2", "CRB (36) with the sample covariance of finite-L frames, averaged"
    ),
    "crb_mc_se": VariableMeta("rad2", "standard error of the finite-L sample-covariance CRB"),
    "mle_mse": VariableMeta("rad2", "mean squared error of the ML estimate of the target angle"),
    "mle_mse_se": VariableMeta("rad2", "standard error of the ML mean squared error"),
    "mle_bias": VariableMeta("rad", "bias of the ML estimate of the target angle"),
    # sca audit (kind: sca_audit)
    "gap": VariableMeta(
        "1", "relative sum-rate gap of the sca variant to the exact optimum, (opt - sca) / opt"
    ),
    "sum_rate_optimal": VariableMeta("bit/s/Hz", "closed-form sum rate (15) of the exact optimum"),
    "crb_optimal": VariableMeta("rad2", "closed-form CRB (16) of the exact optimum"),
    "status_optimal": VariableMeta("1", "status of the exact optimum"),
    # the 2-D ML estimate of a planar array (kind mle_planar), per angle
    **{
        f"{name}_{angle}": VariableMeta(units, f"{text} of the {angle}, 2-D ML estimate")
        for angle in ("azimuth", "elevation")
        for name, units, text in (
            ("mle_mse", "rad2", "mean squared error"),
            ("mle_mse_se", "rad2", "standard error of the mean squared error"),
            ("mle_bias", "rad", "bias"),
        )
    },
    # both angles' finite-L CRBs (mle_planar, and Monte-Carlo sweeps at planar points)
    **{
        f"crb_mc_{angle}": VariableMeta(
            "rad2", f"mean finite-L sample-covariance CRB of the {angle}, both angles unknown"
        )
        for angle in ("azimuth", "elevation")
    },
}
"""Metadata of the data variables of ``docs/data.md`` (and a few optional extras)."""

COORDINATES: dict[str, VariableMeta] = {
    "drop": VariableMeta("1", "global user-drop index d"),
    "user": VariableMeta("1", "user index k"),
    "scheme": VariableMeta("1", "power allocation scheme"),
    "precoder": VariableMeta("1", "precoder (mrt, zf, pzf, ...)"),
    "channel": VariableMeta("1", "channel model (iid, local_scattering, ...)"),
    "variant": VariableMeta("1", "sca variant (jcas.allocation.schemes.sca.SCA_VARIANTS)"),
    "Nt": VariableMeta("1", "transmit antennas Nt"),
    "Nr": VariableMeta("1", "receive antennas Nr"),
    "N": VariableMeta("1", "total antennas N = Nt + Nr"),
    "K": VariableMeta("1", "users K"),
    "L": VariableMeta("1", "frame length L (symbols)"),
    "snr_com_db": VariableMeta(DB, "communications SNR Pt / sigma_u^2 in dB"),
    "snr_sen_db": VariableMeta(DB, "sensing SNR Pt / sigma_r_bar^2 in dB"),
    "crb0": VariableMeta("rad2", "CRB threshold CRB_theta^0"),
    "pt_dbm": VariableMeta(DBM, "transmit power budget Pt in dBm"),
    "pp_dbm": VariableMeta(DBM, "uplink pilot power p_p in dBm"),
    "tau_p": VariableMeta("1", "pilot length tau_p (symbols)"),
    "tau_c": VariableMeta("1", "coherence interval tau_c (symbols)"),
    "theta_deg": VariableMeta("degree", "target angle theta"),
    "r_min_m": VariableMeta("m", "inner radius of the user annulus"),
    "r_max_m": VariableMeta("m", "outer radius of the user annulus"),
    "pathloss_exponent": VariableMeta("1", "path-loss exponent nu"),
    # a standard deviation of 10 log10(fading): a spread in dB, not a level (no lg unit)
    "shadowing_db": VariableMeta("1", "standard deviation of log-normal shadowing in dB"),
    "sensing_fraction": VariableMeta("1", "fraction of Pt for sensing (equal_full)"),
    "seed": VariableMeta("1", "base seed"),
    "tx_rows": VariableMeta("1", "rows of the transmit planar array"),
    "rx_rows": VariableMeta("1", "rows of the receive planar array"),
    "azimuth_deg": VariableMeta("degree", "target azimuth, measured from the array axes"),
    "elevation_deg": VariableMeta("degree", "target elevation, measured from the array axes"),
}
"""Metadata of the coordinates (swept parameters are named after their config key)."""


def register_variable(name: str, units: str, long_name: str, *, coordinate: bool = False) -> None:
    """Add (or replace) the metadata of a variable or coordinate in the registry."""
    (COORDINATES if coordinate else VARIABLES)[name] = VariableMeta(units, long_name)


def _part_key(name: str) -> VariableMeta | None:
    """The metadata of a part's or scheme's own key used as a coordinate (a sweepable key:
    its :class:`jcas.parts.registry.Param` units and description), or None."""
    from jcas.parts.registry import CHANNELS, PRECODERS, SCHEMES_REGISTRY

    for reg in (CHANNELS, SCHEMES_REGISTRY, PRECODERS):
        for part in reg.values():
            for param in part.params:
                if param.key == name:
                    return VariableMeta(param.units or "1", param.description or name)
    return None


def annotated_attrs(name: str, attrs: Mapping[str, Any], *, data_var: bool) -> dict[str, Any]:
    """The attributes of variable ``name`` with ``units`` / ``long_name`` from the registry
    (:data:`VARIABLES` for a data variable, :data:`COORDINATES` for a coordinate).

    An existing ``units`` that disagrees with the registry raises ``ValueError``; a data
    variable the registry does not know must carry ``units`` itself (``ValueError``
    naming it otherwise); ``long_name`` defaults to the name.
    """
    meta = VARIABLES.get(name) if data_var else COORDINATES.get(name) or _part_key(name)
    out = dict(attrs)
    if meta is not None:
        have = out.get("units")
        if have is not None and str(have) != meta.units:
            raise ValueError(
                f"variable {name!r} has units {have!r} but the registry says {meta.units!r}"
            )
        out.update(meta.attrs())
    if data_var and "units" not in out:
        raise ValueError(
            f"data variable {name!r} has no units: add it to jcas.io.metadata.VARIABLES "
            "(register_variable) or set a 'units' attribute"
        )
    if "units" in out and "long_name" not in out:
        out["long_name"] = name
    return out


def annotate(ds: xr.Dataset) -> xr.Dataset:
    """A copy of ``ds`` with ``units`` / ``long_name`` from the registry on every variable
    (:func:`annotated_attrs`)."""
    out = ds.copy(deep=False)
    for name, var in out.variables.items():
        var.attrs = annotated_attrs(str(name), var.attrs, data_var=name in out.data_vars)
    return out


# --------------------------------------------------------------------------- scheme labels
SCHEME_LABELS: Final[dict[str, str]] = {
    "sca": "proposed: SCA (Alg. 1)",
    "optimal": "optimal (exact)",
    "equal": "equal power",
    "equal_full": "equal & full power",
}
"""Base names of the schemes; :func:`scheme_label` adds the options in force."""

_SCA_FEATURES: Final = (
    ("active_set", "active set"),
    ("accelerate", "extrapolation"),
    ("polish", "polish"),
)
"""``sca`` options (``jcas.allocation.sca.sca``) that change the algorithm, as named in
the legend; an option the config does not record is not named."""


def scheme_label(scheme: str, options: Mapping[str, Any] | None = None) -> str:
    """The legend name of ``scheme`` run with ``options`` (its ``allocation`` block).

    ``sca`` names the algorithm features switched on or off, e.g.
    ``"proposed: SCA (Alg. 1 + Aitken stop, active set, extrapolation, polish)"`` or
    ``"proposed: SCA (Alg. 1 + polish; no active set)"``; ``equal_full`` states its sensing
    fraction (``"equal & full power (50% sensing)"``). Unknown schemes keep their name.
    """
    opts = dict(options or {})
    if scheme == "sca":
        on = [label for key, label in _SCA_FEATURES if opts.get(key) is True]
        if opts.get("stopping") == "aitken":
            on.insert(0, "Aitken stop")
        off = [label for key, label in _SCA_FEATURES if opts.get(key) is False]
        detail = "Alg. 1" + (" + " + ", ".join(on) if on else "")
        if off:
            detail += "; no " + ", no ".join(off)
        return f"proposed: SCA ({detail})"
    base = SCHEME_LABELS.get(scheme, scheme)
    fraction = opts.get("sensing_fraction")
    if scheme == "equal_full" and isinstance(fraction, (int, float)):
        return f"{base} ({100 * float(fraction):g}% sensing)"
    return base
