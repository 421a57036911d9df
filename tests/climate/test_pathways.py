"""BAU projection and portfolio phasing worked by hand."""

from __future__ import annotations

import pytest

from nagar.climate.pathways import (bau_projection, chart_data, growth_index, grid_index, milestones,
                                    portfolio_abatement, portfolio_pathway)


def test_bau_drivers_by_hand():
    # base 2024: stationary 100, electricity 100, waste 50 t CO2e
    # population +2 %/yr, GDP +5 %/yr, intensity -2 %/yr, grid factor -3 %/yr
    # 2025: stationary 100 x 1.05 x 0.98 = 102.9; electricity 100 x 1.05 x 0.98 x 0.97 = 99.813;
    #       waste 50 x 1.02 = 51; total 253.713
    # 2026: stationary 100 x (1.05 x 0.98)^2 = 105.88410; waste 50 x 1.02^2 = 52.02
    b = bau_projection({"stationary": 100, "electricity": 100, "waste": 50}, base_year=2024, end_year=2050,
                       population_growth=0.02, gdp_growth=0.05, intensity_change=-0.02, grid_change=-0.03)
    assert b["year"].to_list()[0] == 2024 and b["year"].to_list()[-1] == 2050
    assert b["bau_t"][0] == pytest.approx(250.0)
    r25 = b.row(1, named=True)
    assert (r25["stationary"], r25["electricity"], r25["waste"]) == pytest.approx((102.9, 99.813, 51.0))
    assert r25["bau_t"] == pytest.approx(253.713)
    r26 = b.row(2, named=True)
    assert r26["stationary"] == pytest.approx(105.88410) and r26["waste"] == pytest.approx(52.02)


def test_rates_by_year_and_grid_factors_interpolated():
    # rate 0.10 from 2025, 0.0 from 2027: index 1, 1.1, 1.21, 1.21
    assert growth_index({2025: 0.1, 2027: 0.0}, base_year=2024, end_year=2027) == pytest.approx([1, 1.1, 1.21, 1.21])
    # grid 0.5 t/MWh in 2024 and 0.25 in 2034 (linear): 2029 -> 0.375 / 0.5 = 0.75; flat after 2034
    g = grid_index(base_year=2024, end_year=2040, factors={2024: 0.5, "2034": 0.25})
    assert g[5] == pytest.approx(0.75) and g[10] == pytest.approx(0.5) and g[-1] == pytest.approx(0.5)


def test_portfolio_phasing_by_start_year_and_lifetime():
    # A: 100 t/yr from 2026 for 3 years (2026, 2027, 2028); B: 50 t/yr from 2027 for 20 years
    ab = portfolio_abatement(range(2024, 2031), [
        {"name": "A", "start_year": 2026, "annual_abatement_t": 100, "lifetime": 3},
        {"name": "B", "start_year": 2027, "annual_abatement_t": 50, "lifetime": 20}])
    assert ab["A"].to_list() == [0, 0, 100, 100, 100, 0, 0]
    assert ab["B"].to_list() == [0, 0, 0, 50, 50, 50, 50]
    assert ab["abatement_t"].to_list() == [0, 0, 100, 150, 150, 50, 50]


def test_pathway_milestones_chart_and_no_negative_emissions():
    b = bau_projection({"stationary": 100}, base_year=2024, end_year=2050)
    p = portfolio_pathway(b, [{"start_year": 2030, "annual_abatement_t": 40, "lifetime": 12},
                              {"start_year": 2041, "annual_abatement_t": 150, "lifetime": 10}])
    ms = {m["year"]: m for m in milestones(p)}
    # 2030: 100 - 40 = 60; 2041: 100 - 40 - 150 -> 0 (40 + 150 - 100 = 90 unused); 2050: 100 - 150 -> 0
    assert ms[2030]["pathway_t"] == 60 and ms[2041]["pathway_t"] == 0 and ms[2050]["pathway_t"] == 0
    assert p.filter(p["year"] == 2041)["unused_abatement_t"][0] == 90
    c = chart_data(p, ["bau_t", "pathway_t"])
    assert c["labels"][0] == 2024 and [s["name"] for s in c["series"]] == ["bau_t", "pathway_t"]
    assert len(c["series"][1]["values"]) == 27


def test_bad_inputs():
    with pytest.raises(ValueError, match="categories"):
        bau_projection({"aviation_magic": 1}, base_year=2024)
    with pytest.raises(ValueError, match="end_year"):
        bau_projection({"stationary": 1}, base_year=2050, end_year=2050)
    with pytest.raises(ValueError, match="lifetime"):
        portfolio_abatement([2024], [{"start_year": 2024, "annual_abatement_t": 1, "lifetime": 0}])
