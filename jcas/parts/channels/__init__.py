"""Channel model parts: per drop and user, the spatial covariance and line-of-sight mean.

:mod:`jcas.parts.channels.base` defines the interface (:class:`ChannelModel`,
:class:`ChannelStatistics`); each other module is one model that registers itself
(:data:`jcas.parts.registry.CHANNELS`): :mod:`~jcas.parts.channels.iid` (the paper's,
``R_k = beta_k I``), :mod:`~jcas.parts.channels.local_scattering` (Gaussian angular spread),
:mod:`~jcas.parts.channels.exponential` (exponential correlation) and
:mod:`~jcas.parts.channels.rician` (a line-of-sight path plus one of the others). This
package imports no model, so that a job depends only on the channel it uses.
:func:`channel_model` builds the model of a system (``system.channel`` and its keys).
"""

from __future__ import annotations

from jcas.parts.channels.base import (
    ChannelModel,
    ChannelStatistics,
    correlated_unsupported,
    hermitian_toeplitz,
    psd_factor,
)

__all__ = [
    "ChannelModel",
    "ChannelStatistics",
    "correlated_unsupported",
    "hermitian_toeplitz",
    "psd_factor",
]
