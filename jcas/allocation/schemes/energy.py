"""Scheme ``energy``: the energy efficiency (sum rate per consumed W) under CRB0 and the
budget, by Dinkelbach's method over the exact sum-rate optimum (``docs/theory.md``, design
objectives). The power model is that of Björnson, Hoydis and Sanguinetti, *Massive MIMO
Networks* (2017), §5.4, with its first set of values."""

from __future__ import annotations

from jcas.allocation import energy as impl
from jcas.parts.precoders.base import CLOSED_FORMS, LINEAR_FISHER, SPLIT_POWER_RATE
from jcas.parts.registry import SCHEMES_REGISTRY, Param, Part

SCHEMES_REGISTRY.register(
    Part(
        "scheme",
        "energy",
        "energy efficiency",
        impl.energy,
        description="the largest sum rate per consumed W (transmit power over the amplifier "
        "efficiency plus circuit power) under CRB0 and Pt, by Dinkelbach's method",
        params=(
            Param(
                "energy_amplifier_efficiency",
                float,
                impl.AMPLIFIER_EFFICIENCY,
                "energy: power-amplifier efficiency",
                exclusive_minimum=0.0,
                maximum=1.0,
                option="amplifier_efficiency",
            ),
            Param(
                "energy_fixed_power_w",
                float,
                impl.FIXED_POWER_W,
                "energy: fixed power of the base station (P_FIX)",
                units="W",
                minimum=0.0,
                option="fixed_power_w",
            ),
            Param(
                "energy_oscillator_power_w",
                float,
                impl.OSCILLATOR_POWER_W,
                "energy: local oscillator power (P_LO)",
                units="W",
                minimum=0.0,
                option="oscillator_power_w",
            ),
            Param(
                "energy_antenna_power_w",
                float,
                impl.ANTENNA_POWER_W,
                "energy: circuit power per antenna chain (P_BS)",
                units="W",
                minimum=0.0,
                option="antenna_power_w",
            ),
            Param(
                "energy_user_power_w",
                float,
                impl.USER_POWER_W,
                "energy: circuit power per user (P_UE)",
                units="W",
                minimum=0.0,
                option="user_power_w",
            ),
            Param(
                "energy_receive_chains",
                bool,
                impl.RECEIVE_CHAINS,
                "energy: count the Nr radar receive chains in the circuit power",
                option="receive_chains",
            ),
            Param(
                "energy_grid_points",
                int,
                impl.GRID_POINTS,
                "energy: points of the power grid of each inner step",
                minimum=8,
                maximum=100000,
                option="grid_points",
            ),
            Param(
                "energy_tol",
                float,
                impl.TOL,
                "energy: relative change of the efficiency that stops Dinkelbach's method",
                exclusive_minimum=0.0,
                maximum=1e-3,
                option="tol",
            ),
            Param(
                "energy_max_iterations",
                int,
                impl.MAX_ITERATIONS,
                "energy: cap on Dinkelbach steps",
                minimum=1,
                maximum=10000,
                option="max_iterations",
            ),
        ),
        requires=(CLOSED_FORMS, SPLIT_POWER_RATE, LINEAR_FISHER),
        order=70,
    )
)
