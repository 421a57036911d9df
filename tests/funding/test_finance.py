import numpy as np
import pytest

from nagar.core.errors import InvalidInput
from nagar.funding.finance import (annual_debt_service, capital_recovery_factor, debt_service_factor,
                                   debt_service_schedule, levelised_cost_per_tonne, to_base)
from nagar.funding.mrv import against_plan, realised_abatement


def test_annuity_hand_worked():
    # P = 1,000,000 at 5 % over 10 years: 1.05^10 = 1.628894627; CRF = 0.05 x 1.628894627 / 0.628894627
    # = 0.129504575 -> 129,504.57 a year (NREL/TP-462-5173 eq. for the capital recovery factor)
    assert annual_debt_service(1_000_000, 0.05, 10) == pytest.approx(129_504.57, abs=0.01)
    # 15-year tenor with 3 years' grace repays over 12 years: CRF(5 %, 12) = 0.05 x 1.795856 / 0.795856
    # = 0.112825 -> 112,825.41 a year after grace
    assert annual_debt_service(1_000_000, 0.05, 15, 3) == pytest.approx(112_825.41, abs=0.01)
    assert capital_recovery_factor(0.0, 8) == pytest.approx(1 / 8)
    assert np.isnan(debt_service_factor(0.05, 5, 5))


def test_annuity_vectorised_and_scalar():
    out = capital_recovery_factor(np.array([0.0, 0.05, 0.1]), np.array([10, 10, 10]))
    assert isinstance(out, np.ndarray) and out.shape == (3,)
    assert out[2] == pytest.approx(0.16274539, rel=1e-7)  # 0.1 x 1.1^10 / (1.1^10 - 1)
    assert isinstance(capital_recovery_factor(0.05, 10), float)


def test_schedule_repays_the_principal():
    s = debt_service_schedule(1_000_000, 0.05, 15, 3)
    assert s["payment"][:3] == pytest.approx([50_000] * 3)  # interest only during grace
    assert s["payment"][3:] == pytest.approx([112_825.41] * 12, abs=0.01)
    assert s["balance"][-1] == pytest.approx(0, abs=1e-6)
    assert s["repaid"].sum() == pytest.approx(1_000_000)
    with pytest.raises(InvalidInput):
        debt_service_schedule(1, 0.05, 5, 5)


def test_mac_and_currency():
    # capex 1,000 at 6 % over 10 years: CRF 0.135868 -> 135.87/yr; saving 35.87/yr; 10 t/yr -> 10.0 per t
    assert levelised_cost_per_tonne(1000, 35.868, 10, 10) == pytest.approx(10.0, abs=1e-3)
    assert levelised_cost_per_tonne(1000, 500, 10, 10) < 0  # a negative-cost measure
    assert to_base(2.0, "usd", base="JPY", fx={"USD": 150}) == 300.0
    assert to_base([1.0, 1.0, 1.0], ["JPY", "USD", "BDT"], base="JPY", fx={"USD": 150, "BDT": 1.25}).tolist() == \
        [1.0, 150.0, 1.25]
    with pytest.raises(InvalidInput, match="EUR"):
        to_base(1.0, "EUR", base="JPY", fx={"USD": 150})


def test_mrv_solar_and_bus():
    import polars as pl

    # 14,000 MWh metered on a 0.6 tCO2/MWh grid: 14,000,000 kWh x 0.6 / 1000 / 1000 = 8,400 t
    recs = pl.DataFrame({"year": [2024], "metric": ["generation_kwh"], "value": [14_000_000.0]})
    assert realised_abatement(recs, grid_factor=0.6)["tco2e"][0] == pytest.approx(8400)
    # a bus fleet: 100,000 l diesel avoided (268 t) less 300,000 kWh charged at 0.5 t/MWh (150 t) = 118 t
    bus = pl.DataFrame({"year": [2024, 2024], "metric": ["diesel_avoided_l", "electricity_used_kwh"],
                        "value": [100_000.0, 300_000.0]})
    table = against_plan(bus, planned_annual=100.0, start_year=2023, grid_factor=0.5, years=[2023, 2024])
    assert table["planned_t"].to_list() == [100.0, 100.0]
    assert table["realised_t"].to_list() == pytest.approx([0.0, 118.0])
    assert table["ratio"].to_list() == pytest.approx([0.0, 1.18])
    with pytest.raises(InvalidInput, match="unknown MRV metric"):
        realised_abatement(pl.DataFrame({"year": [1], "metric": ["x"], "value": [1.0]}), grid_factor=0.5)
    with pytest.raises(InvalidInput, match="grid emission factor"):
        realised_abatement(recs, grid_factor=None)
