"""Power allocation schemes (``SPEC.md`` §3): ``sca``, ``optimal``, ``equal``, ``equal_full``.

Every scheme takes a batch of drops and returns an :class:`Allocation`.
The public entry point is :func:`allocate`.

INTERFACE CONTRACT (shared by the pipeline; keep these names and shapes):

- ``Allocation`` (frozen dataclass) with fields
  ``gamma`` (D, K) float, ``eta`` (D, K) float (NaN where the status is not a success),
  ``status`` (D,) str, one of ``STATUSES``,
  ``iterations`` (D,) int64, ``solve_time_s`` (D,) float64 (seconds per drop).
- ``allocate(scheme, beta, xi, params, *, reference=None, **options) -> Allocation``
  with ``beta``, ``xi`` of shape (D, K), ``params`` a ``jcas.params.SystemParams``
  (Nt, Nr, theta, sigma_u^2, sigma_r_bar^2, crb0, Pt are read from it), and
  ``reference`` the ``optimal`` Allocation of the same drops (used by ``equal``;
  computed when not given).
- ``SCHEMES = ("sca", "optimal", "equal", "equal_full")``.
"""
