"""What a job process imports, from scratch: the import costs each job pays in its own
interpreter (a sweep runs one per job; ``benchmarks/quick.py`` measures the whole).

- A closed-form allocation job at an i.i.d. point imports no SciPy (the pivoted Cholesky
  factor of the correlated channels and the Bessel table of local scattering import it where
  they run, not when the registries' discovery imports their modules).
- A figure job draws with seaborn on its no-SciPy path for the statistics (no figure draws a
  kernel density estimate), and its figures are those of a process that has ``scipy.stats``
  (byte for byte); ``scipy.stats`` imports again afterwards.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import job_allocation_code, run_python

pytestmark = pytest.mark.pipeline


def test_closed_form_job_imports_no_scipy() -> None:
    code = job_allocation_code("allocation", ("optimal", "equal_full"), 4) + (
        "assert set(a['status'].ravel().tolist()) <= {'optimal', 'feasible'}, a['status']\n"
        "scipy = sorted(m for m in sys.modules if m == 'scipy' or m.startswith('scipy.'))\n"
        "assert not scipy, scipy[:5]\n"
    )
    run_python(code)


def test_figure_job_draws_without_scipy_stats(tmp_path: Path) -> None:
    """The same figure (PNG and PDF bytes) from a job process and from a process that
    imported ``scipy.stats`` first; the job's process never had it."""
    src = tmp_path / "fig1.nc"
    build = (
        "import sys\n"
        "sys.path.insert(0, 'tests/report')\n"
        "from figure_data import DATASETS\n"
        f"DATASETS['fig1']().to_netcdf({str(src)!r})\n"
    )
    run_python(build)
    for tag, prelude in (("job", ""), ("stats", "import scipy.stats\n")):
        code = (
            f"{prelude}"
            "import sys\n"
            "from jcas.pipeline.jobs import figure\n"
            f"figure.run({str(src)!r}, {str(tmp_path / tag)!r} + '.pdf', "
            f"{str(tmp_path / tag)!r} + '.png', plot='fig1')\n"
            "import seaborn._statistics as st\n"
            f"assert st._no_scipy == {tag == 'job'}\n"
            f"assert ('scipy.stats' in sys.modules) == {tag == 'stats'}\n"
            "import scipy.stats  # importable again\n"
        )
        run_python(code)
    for ext in ("png", "pdf"):
        assert (tmp_path / f"job.{ext}").read_bytes() == (tmp_path / f"stats.{ext}").read_bytes()
