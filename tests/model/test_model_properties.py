"""Property tests of the closed forms over valid parameter ranges (hypothesis).

Remark 1: the SINR of (15) grows linearly in Nt, and the interference/noise part
relative to the signal (1 / SINR), in particular the part caused by sensing,
vanishes as 1 / Nt. Remark 2: the CRB (16) decays at least as 1 / Nt.
"""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from jcas.model.channel import pilot_gram
from jcas.model.metrics import (
    crb_closed_form,
    sinr,
)


@st.composite
def allocations(draw: st.DrawFn, min_k: int = 1, max_k: int = 8) -> dict[str, np.ndarray]:
    """Per-user (beta, xi, gamma, eta) with 0 < xi <= beta and positive powers."""
    k = draw(st.integers(min_k, max_k))
    pos = st.floats(1e-3, 10.0)

    def vec(elements: st.SearchStrategy[float]) -> np.ndarray:
        return draw(arrays(float, k, elements=elements))

    beta = vec(st.floats(1e-6, 1.0))
    xi = beta * vec(st.floats(1e-3, 1.0))
    return {"beta": beta, "xi": xi, "gamma": vec(pos), "eta": vec(pos)}


nts = st.integers(1, 512)
sigmas = st.floats(1e-6, 1e3)


@settings(deadline=None)
@given(a=allocations(), nt=nts, sigma=sigmas, m=st.integers(2, 64))
def test_remark1_sinr_grows_linearly_and_sensing_interference_vanishes(
    a: dict[str, np.ndarray], nt: int, sigma: float, m: int
) -> None:
    """(15), orthonormal pilots. With Nt -> m Nt:
    - 1 / SINR (interference + noise relative to the signal) decreases, at least as 1 / m;
    - the sensing-induced part 1/SINR(eta) - 1/SINR(eta = 0) = beta_k sum(eta) / (Nt xi_k^2 gamma_k)
      is exactly proportional to 1 / Nt;
    - SINR / Nt -> xi_k^2 gamma_k / (beta_k S) from below (linear growth)."""
    g, e, xi, beta = a["gamma"], a["eta"], a["xi"], a["beta"]
    s1 = sinr(g, e, xi, beta, nt, sigma)
    s2 = sinr(g, e, xi, beta, m * nt, sigma)
    assert np.all(s2 > s1)
    assert np.all(1 / s2 <= (1 / s1) / m * (1 + 1e-12) + 1 / s1 * 1e-12)
    inv0_1 = 1 / sinr(g, 0 * e, xi, beta, nt, sigma)
    inv0_2 = 1 / sinr(g, 0 * e, xi, beta, m * nt, sigma)
    sens1, sens2 = 1 / s1 - inv0_1, 1 / s2 - inv0_2
    hand = beta * e.sum() / (nt * xi**2 * g)
    # the differences lose about 1e-16 / s relative digits by cancellation
    assert np.all(np.abs(sens1 - hand) <= 1e-9 * hand + 1e-13 / s1)
    assert np.all(np.abs(sens2 - hand / m) <= 1e-9 * hand / m + 1e-13 / s2)
    limit = xi**2 * g / (beta * np.sum(xi * g + e))
    assert np.all(s2 / (m * nt) <= limit * (1 + 1e-12))
    # Nt large enough that sigma / (Nt beta S) < 1e-8: SINR / Nt within 1e-8 of the limit
    big = 1e8 * sigma / np.min(beta * np.sum(xi * g + e))
    assert np.allclose(sinr(g, e, xi, beta, big, sigma) / big, limit, rtol=1e-7)


@settings(deadline=None)
@given(a=allocations(), nt=nts, sigma=sigmas)
def test_remark1_sensing_power_degrades_sinr(
    a: dict[str, np.ndarray], nt: int, sigma: float
) -> None:
    """Remark 1: more sensing power -> lower SINR of every user (larger BU and UI)."""
    g, e, xi, beta = a["gamma"], a["eta"], a["xi"], a["beta"]
    assert np.all(sinr(g, 2 * e, xi, beta, nt, sigma) < sinr(g, e, xi, beta, nt, sigma))


@settings(deadline=None)
@given(a=allocations(min_k=2), nt=st.integers(1, 10**6), sigma=sigmas)
def test_pilot_contamination_saturates_sinr(
    a: dict[str, np.ndarray], nt: int, sigma: float
) -> None:
    """With all users on one pilot, Remark 1 fails: SINR_k stays below
    xi_k gamma_k / sum_{j != k} xi_j gamma_j for every Nt (a known massive-MIMO limit)."""
    g, e, xi, beta = a["gamma"], a["eta"], a["xi"], a["beta"]
    k = g.size
    s = sinr(g, e, xi, beta, nt, sigma, pilot_gram=pilot_gram(k, 1))
    others = np.sum(xi * g) - xi * g
    assert np.all(s <= xi * g / others * (1 + 1e-12))


@settings(deadline=None)
@given(
    a=allocations(),
    nt=st.integers(1, 256),
    nr=st.integers(1, 256),
    m=st.integers(2, 64),
    theta=st.floats(-1.55, 1.55),
    sigma=st.floats(1e-6, 1e3),
    sensing_only=st.booleans(),
)
def test_remark2_crb_decays_at_least_as_one_over_nt(
    a: dict[str, np.ndarray],
    nt: int,
    nr: int,
    m: int,
    theta: float,
    sigma: float,
    sensing_only: bool,
) -> None:
    """(16): the Fisher information grows at least linearly in Nt for fixed Nr
    (each of its three terms scales by >= m when Nt -> m Nt), so
    CRB(m Nt) <= CRB(Nt) / m -> 0; and also along Nt = Nr = N/2 (Fig. 3)."""
    g = 0 * a["gamma"] if sensing_only else a["gamma"]
    assume(not (sensing_only and nr == 1))  # no information at all: CRB = inf for all Nt
    e, xi = a["eta"], a["xi"]
    c1 = crb_closed_form(g, e, xi, nt, nr, theta, sigma)
    c2 = crb_closed_form(g, e, xi, m * nt, nr, theta, sigma)
    assert np.isfinite(c2)
    assert c2 > 0
    assert c2 <= c1 / m * (1 + 1e-12)
    c_sym = crb_closed_form(g, e, xi, m * nt, m * nt, theta, sigma)
    assert c_sym <= crb_closed_form(g, e, xi, nt, nt, theta, sigma) / m * (1 + 1e-12)
