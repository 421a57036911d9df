"""Electricity parameters added to core/units for metered generation and consumption."""

from __future__ import annotations

import pytest

from nagar.core.units import PARAMETERS, convert, normalise_parameter, normalise_unit


def test_energy_units_and_parameters():
    assert PARAMETERS["generation"].unit == "kWh" and PARAMETERS["generation"].code == 20
    assert PARAMETERS["consumption"].code == 21
    assert convert(1.5, "generation", "MWh", "kWh") == pytest.approx(1500.0)
    assert convert(2, "consumption", "GWh", "MWh") == pytest.approx(2000.0)
    assert convert(500, "generation", "Wh", "kWh") == pytest.approx(0.5)
    assert normalise_unit("kwh") == "kWh" and normalise_unit("GWh") == "GWh"
    assert normalise_parameter("pv_energy") == "generation"
    codes = [p.code for p in PARAMETERS.values()]
    assert len(codes) == len(set(codes))
