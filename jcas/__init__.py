"""jcas: massive-MIMO joint communications and sensing with MRT beamforming.

Reproduces and extends Nguyen et al., "Massive MIMO Joint Communications and
Sensing with MRT Beamforming". Layers (imports point down only):

- ``params``, ``arrays``, ``precoders``, ``registry``: system parameters; the design
  parts (array: steering vectors (10), (17); precoder: MRT (12)-(18)), selected by name.
- ``drops``, ``channel``, ``metrics``: user drops; pilots and MMSE estimation
  (6)-(8); closed-form rate (15), CRB (16)/(36), covariance (37), power (18).
- ``allocation``, ``montecarlo``: power allocation schemes; Monte-Carlo validation.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("jcas")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = ["__version__"]
