"""Channel model parts: per drop and user, the spatial covariance and line-of-sight mean.

:mod:`jcas.parts.channels.base` defines the interface (:class:`ChannelModel`,
:class:`ChannelStatistics`); the models are :class:`IID` (the paper's, ``R_k = beta_k I``),
:class:`LocalScattering` (Gaussian angular spread), :class:`Exponential` (exponential
correlation) and :class:`Rician` (a line-of-sight path plus any of the others).
:func:`channel_from_dict` builds one from a config mapping such as
``{"kind": "local_scattering", "angular_spread_deg": 10}``; :func:`planar_unsupported`
says why a model cannot run with a planar array (the correlated and Rician models are
defined for the ULA only).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from jcas.model.params import ConfigError, SystemParams
from jcas.parts.channels.base import (
    ChannelModel,
    ChannelStatistics,
    correlated_unsupported,
    hermitian_toeplitz,
    psd_factor,
)
from jcas.parts.channels.exponential import Exponential
from jcas.parts.channels.iid import IID
from jcas.parts.channels.local_scattering import LocalScattering
from jcas.parts.channels.rician import Rician

__all__ = [
    "CHANNELS",
    "IID",
    "ChannelModel",
    "ChannelStatistics",
    "Exponential",
    "LocalScattering",
    "Rician",
    "channel_from_dict",
    "correlated_unsupported",
    "hermitian_toeplitz",
    "planar_unsupported",
    "psd_factor",
]

CHANNELS: Final[dict[str, type]] = {
    "iid": IID,
    "local_scattering": LocalScattering,
    "exponential": Exponential,
    "rician": Rician,
}
"""Model names -> classes (their parameters are the dataclass fields but ``name``)."""

_KEYS: Final = {
    "iid": (),
    "local_scattering": ("angular_spread_deg",),
    "exponential": ("correlation",),
    "rician": ("k_factor_db", "scattering"),
}


def channel_from_dict(spec: Mapping[str, Any] | str, *, prefix: str = "channel") -> ChannelModel:
    """A channel model from its name or a mapping ``{"kind": name, <parameters>}``.

    A Rician model's ``scattering`` is itself a name or a mapping (default ``iid``).
    :class:`ConfigError` names the key and the value for an unknown kind or key.
    """
    if isinstance(spec, str):
        spec = {"kind": spec}
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{prefix} = {spec!r}: must be a model name or a mapping with 'kind'")
    kind = spec.get("kind")
    if kind not in CHANNELS:
        raise ConfigError(f"{prefix}.kind = {kind!r}: must be one of {list(CHANNELS)}")
    extra = sorted(set(spec) - {"kind", *_KEYS[kind]}, key=str)
    if extra:
        raise ConfigError(
            f"{prefix}.{extra[0]} = {spec[extra[0]]!r}: unknown key for channel {kind!r}; "
            f"allowed keys are {['kind', *_KEYS[kind]]}"
        )
    args = {k: spec[k] for k in _KEYS[kind] if k in spec}
    if "scattering" in args:
        args["scattering"] = channel_from_dict(args["scattering"], prefix=f"{prefix}.scattering")
    model: ChannelModel = CHANNELS[kind](**args)
    return model


def planar_unsupported(model: ChannelModel, params: SystemParams) -> str | None:
    """Why ``model`` cannot run with the arrays of ``params`` (None when it can): the
    predicate for the config to refuse correlated or Rician channels with ``array: upa``."""
    return model.unsupported(params)
