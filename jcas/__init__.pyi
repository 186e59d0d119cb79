"""Types of the top-level API, which ``jcas/__init__.py`` imports on first use."""

from jcas.api import Drops as Drops
from jcas.api import System as System
from jcas.api import allocate as allocate
from jcas.api import crb as crb
from jcas.api import drops as drops
from jcas.api import mc_rate as mc_rate
from jcas.api import open_results as open_results
from jcas.api import rate as rate
from jcas.api import save_results as save_results
from jcas.api import to_dataset as to_dataset

__version__: str
__all__: list[str]
