"""Centred uniform planar array (half-wavelength spacing): two angles, azimuth and elevation.

Geometry and parameterisation (``docs/model.md`` §8). The array lies in the y-z plane,
its normal (broadside) along x; ``rows`` elements along the vertical axis z and ``cols``
along the horizontal axis y, centred: element ``(p, q)`` sits at
``(0, q, p) lambda / 2`` with ``p = -(rows-1)/2, ..., (rows-1)/2`` and
``q = -(cols-1)/2, ..., (cols-1)/2``, stored row-major (index ``n = p_i cols + q_i``).

The direction ``d`` of the target is given by two angles **measured from the array
axes** (direction cosines):

- azimuth ``az``: ``sin(az) = d . y`` (angle between ``d`` and the vertical plane x-z);
- elevation ``el``: ``sin(el) = d . z`` (angle between ``d`` and the horizontal plane x-y).

Both are 0 at broadside, and ``d = (sqrt(1 - sin^2 az - sin^2 el), sin az, sin el)``,
a direction in front of the array iff ``sin^2 az + sin^2 el < 1``. The steering vector is

    a_n = exp(j pi (q_n sin(az) + p_n sin(el))) = [a_cols(az) (x) a_rows(el)]_n

(the Kronecker product of two centred ULA vectors (10), rows outer), so
``da/daz = j pi q cos(az) a`` and ``da/del = j pi p cos(el) a``. Neither derivative
vanishes at broadside (the polar angle from the normal, with the azimuth around it,
would make ``da/daz = 0`` there and the Fisher information singular); they vanish
only at ``|az| = 90`` or ``|el| = 90``, which the config rejects. Centred, the
Gram matrix of ``[a, a_az, a_el]`` is diagonal for every direction:

    diag(N, pi^2 cos^2(az) S_q, pi^2 cos^2(el) S_p),
    S_q = rows cols (cols^2 - 1) / 12,  S_p = cols rows (rows^2 - 1) / 12.

The ULA of ``N`` elements is the ``1 x N`` array: its azimuth is the paper's
``theta`` (for any elevation), its steering vector and azimuth derivative are those
of (10), (17) bit for bit, and it carries no elevation information (``S_p = 0``).

As a one-angle :class:`jcas.parts.arrays.ArrayPart` (the interface of the closed forms, the
allocation and the Monte-Carlo code), a :class:`UPA` is a function of the azimuth at
its fixed elevation ``elevation_rad``; the two-angle methods are
:meth:`UPA.steering2`, :meth:`UPA.derivatives2` and :meth:`UPA.gram3`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from jcas.model.geometry import axis_sums
from jcas.model.params import SystemParams
from jcas.parts.arrays.ula import ULA, element_positions, steering_vector
from jcas.parts.registry import ARRAYS, Param, Part

__all__ = ["UPA", "as_planar", "axis_sums", "system_from_array_specs", "upa"]

Complex = NDArray[np.complex128]
Float = NDArray[np.float64]


@dataclass(frozen=True)
class UPA:
    """The centred half-wavelength ``rows x cols`` planar array (module docstring).

    Attributes
    ----------
    rows, cols : elements along the vertical and horizontal axes, each >= 1.
    elevation_rad : the elevation (rad) at which the one-angle interface
        (:meth:`steering`, :meth:`derivative`, :meth:`gram`: functions of the
        azimuth) is evaluated.
    """

    rows: int
    cols: int
    elevation_rad: float = 0.0

    def __post_init__(self) -> None:
        for name in ("rows", "cols"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"{name} = {value!r}: must be an integer >= 1")
        if not abs(self.elevation_rad) < math.pi / 2:
            raise ValueError(f"elevation_rad = {self.elevation_rad!r}: must satisfy |el| < pi/2")

    # ------------------------------------------------------------------ shape
    @property
    def n_elements(self) -> int:
        """``N = rows cols``."""
        return int(self.rows * self.cols)

    @property
    def orthogonal_derivative(self) -> bool:
        """Centred: ``a^H a_az = a^H a_el = 0`` for every direction."""
        return True

    @property
    def resolves(self) -> tuple[bool, bool]:
        """Whether the array alone carries information on (azimuth, elevation):
        ``cols > 1`` and ``rows > 1``."""
        return self.cols > 1, self.rows > 1

    def _indices(self) -> tuple[Float, Float]:
        """``(q, p)`` of every element, each ``(N,)``, row-major."""
        p = element_positions(self.rows)
        q = element_positions(self.cols)
        return np.tile(q, self.rows), np.repeat(p, self.cols)

    # ------------------------------------------------------------------ two angles
    def steering2(self, azimuth_rad: ArrayLike, elevation_rad: ArrayLike) -> Complex:
        """Steering vector(s), shape ``S + (N,)`` for angles broadcasting to ``S`` (rad).

        ``a_cols(az) (x) a_rows(el)`` with the ULA vectors (10); for ``rows = 1`` the
        row factor is exactly 1 and the result is the ULA's vector bit for bit.
        """
        az, el = np.broadcast_arrays(
            np.asarray(azimuth_rad, dtype=float), np.asarray(elevation_rad, dtype=float)
        )
        horizontal = steering_vector(self.cols, az)  # S + (cols,)
        vertical = steering_vector(self.rows, el)  # S + (rows,)
        outer = vertical[..., :, None] * horizontal[..., None, :]
        return outer.reshape(*az.shape, self.n_elements)

    def derivatives2(self, azimuth_rad: ArrayLike, elevation_rad: ArrayLike) -> Complex:
        """``[da/daz, da/del]`` (per rad), shape ``S + (2, N)``."""
        az, el = np.broadcast_arrays(
            np.asarray(azimuth_rad, dtype=float), np.asarray(elevation_rad, dtype=float)
        )
        a = self.steering2(az, el)
        q, p = self._indices()
        d_az = (1j * np.pi * np.cos(az)[..., None] * q) * a
        d_el = (1j * np.pi * np.cos(el)[..., None] * p) * a
        return np.stack([d_az, d_el], axis=-2)

    def gram3(self, azimuth_rad: ArrayLike, elevation_rad: ArrayLike) -> Complex:
        """Exact Gram matrix of ``[a, a_az, a_el]``, shape ``S + (3, 3)`` (diagonal)."""
        az, el = np.broadcast_arrays(
            np.asarray(azimuth_rad, dtype=float), np.asarray(elevation_rad, dtype=float)
        )
        s_q, s_p = axis_sums(self.rows, self.cols)
        out = np.zeros((*az.shape, 3, 3), dtype=complex)
        out[..., 0, 0] = float(self.n_elements)
        out[..., 1, 1] = np.pi**2 * np.cos(az) ** 2 * s_q
        out[..., 2, 2] = np.pi**2 * np.cos(el) ** 2 * s_p
        return out

    # ------------------------------------------------------------------ one angle (azimuth)
    def steering(self, theta_rad: ArrayLike) -> Complex:
        """The steering vector at azimuth ``theta_rad`` and elevation ``elevation_rad``."""
        return self.steering2(theta_rad, self.elevation_rad)

    def derivative(self, theta_rad: ArrayLike) -> Complex:
        """``da/daz`` at azimuth ``theta_rad`` and elevation ``elevation_rad``."""
        return self.derivatives2(theta_rad, self.elevation_rad)[..., 0, :]

    def gram(self, theta_rad: ArrayLike) -> Complex:
        """Gram matrix of ``[a, a_az]``: ``diag(N, pi^2 cos^2(az) S_q)``, ``S + (2, 2)``."""
        g3 = self.gram3(theta_rad, self.elevation_rad)
        return np.ascontiguousarray(g3[..., :2, :2])


def as_planar(part: object) -> UPA:
    """The two-angle view of an array part: a ULA of ``N`` elements is the ``1 x N`` UPA."""
    if isinstance(part, UPA):
        return part
    if isinstance(part, ULA):
        return UPA(1, part.n_elements)
    raise TypeError(f"array part {part!r} has no planar geometry (a ULA or a UPA is needed)")


def upa(params: SystemParams, side: str) -> UPA:
    """Factory of the registry (``system.array: upa``): the transmit (``side="tx"``) array
    has ``system.tx_rows`` rows and ``Nt / tx_rows`` columns, the receive array
    ``system.rx_rows`` and ``Nr / rx_rows``; both at ``system.elevation_deg``."""
    if side not in ("tx", "rx"):
        raise ValueError(f"side = {side!r}: must be 'tx' or 'rx'")
    n, rows = (params.Nt, params.tx_rows) if side == "tx" else (params.Nr, params.rx_rows)
    key = "Nt" if side == "tx" else "Nr"
    if n % rows:
        raise ValueError(f"system.{side}_rows = {rows}: must divide system.{key} = {n}")
    return UPA(rows, n // rows, params.elevation_rad)


# --------------------------------------------------------------------------- config
_SIDES = (("tx_array", "Nt", "tx_rows"), ("rx_array", "Nr", "rx_rows"))


def _side_spec(prefix: str, spec: Mapping[str, Any]) -> tuple[int, int, str, list[str]]:
    """``(N, rows, kind, problems)`` of one ``{kind: ula, N}`` / ``{kind: upa, rows, cols}``."""
    raw = spec.get("kind")
    if raw not in ("ula", "upa"):
        return 0, 0, "", [f"{prefix}.kind = {raw!r}: must be one of ['ula', 'upa']"]
    kind = str(raw)
    problems: list[str] = []
    wanted = ("N",) if kind == "ula" else ("rows", "cols")
    for key in sorted(set(spec) - {"kind", *wanted}):
        problems.append(
            f"{prefix}.{key} = {spec[key]!r}: not a key of a {kind} (its keys: kind, "
            f"{', '.join(wanted)})"
        )
    values: dict[str, int] = {}
    for key in wanted:
        value = spec.get(key)
        if value is None:
            problems.append(f"{prefix}.{key}: required key of a {kind} is missing")
        elif isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            problems.append(f"{prefix}.{key} = {value!r}: must be an integer >= 1")
        else:
            values[key] = int(value)
    if problems:
        return 0, 0, kind, problems
    if kind == "ula":
        return values["N"], 1, kind, []
    return values["rows"] * values["cols"], values["rows"], kind, []


def system_from_array_specs(
    system: Mapping[str, Any], prefix: str = "system"
) -> tuple[dict[str, Any], list[str]]:
    """The ``system`` block with the array specs and the azimuth alias resolved.

    ``tx_array`` / ``rx_array`` (``{kind: ula, N}`` or ``{kind: upa, rows, cols}``) become
    ``Nt`` / ``Nr`` and ``tx_rows`` / ``rx_rows``; a ``upa`` on either side sets
    ``array: upa``; ``azimuth_deg`` becomes ``theta_deg``. A block without these keys is
    returned unchanged (today's ``array: ula``, ``Nt``, ``Nr``, ``theta_deg``), so its
    results are identical. Returns ``(system, problems)``: each problem names the key
    and the value (conflicting ``Nt`` / ``theta_deg`` / ``array``, bad sides).
    """
    out = dict(system)
    problems: list[str] = []
    planar = False
    for spec_key, n_key, rows_key in _SIDES:
        if spec_key not in out:
            continue
        spec = out.pop(spec_key)
        where = f"{prefix}.{spec_key}"
        if not isinstance(spec, Mapping):
            problems.append(
                f"{where} = {spec!r}: must be a mapping {{kind: ula, N}} or "
                "{kind: upa, rows, cols}"
            )
            continue
        n, rows, kind, bad = _side_spec(where, spec)
        problems += bad
        if bad:
            continue
        planar = planar or kind == "upa"
        for key, value in ((n_key, n), (rows_key, rows)):
            if key in out and out[key] != value:
                problems.append(
                    f"{prefix}.{key} = {out[key]!r}: conflicts with {where} = {dict(spec)!r} "
                    f"(which gives {key} = {value}); give one of them"
                )
            out[key] = value
    if planar:
        if out.get("array", "upa") != "upa":
            problems.append(
                f"{prefix}.array = {out['array']!r}: conflicts with a upa in "
                f"{prefix}.tx_array / rx_array (which needs array 'upa')"
            )
        out["array"] = "upa"
    if "azimuth_deg" in out:
        az = out.pop("azimuth_deg")
        if "theta_deg" in out and out["theta_deg"] != az:
            problems.append(
                f"{prefix}.azimuth_deg = {az!r}: conflicts with {prefix}.theta_deg = "
                f"{out['theta_deg']!r} (the same angle); give one of them"
            )
        out["theta_deg"] = az
    return out, problems


def _segment(point: Any) -> str:
    """``_tx<rows>x<cols>_rx<rows>x<cols>`` of a grid point (its arrays' shapes)."""
    tx_cols, rx_cols = point.Nt // point.tx_rows, point.Nr // point.rx_rows
    return f"_tx{point.tx_rows}x{tx_cols}_rx{point.rx_rows}x{rx_cols}"


ARRAYS.register(
    Part(
        "array",
        "upa",
        "UPA",
        upa,
        description="centred half-wavelength uniform planar arrays (rows x columns on each "
        "side), azimuth and elevation (docs/model.md §8)",
        params=(
            Param(
                "tx_rows",
                int,
                1,
                "rows of the transmit UPA (Nt / tx_rows columns)",
                minimum=1,
                maximum=4096,
            ),
            Param(
                "rx_rows",
                int,
                1,
                "rows of the receive UPA (Nr / rx_rows columns)",
                minimum=1,
                maximum=4096,
            ),
        ),
        capabilities=frozenset({"centred", "planar"}),
        order=10,
        segment=_segment,
    )
)
