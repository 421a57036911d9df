"""Waste sector worked by hand: IPCC 2006 Vol. 5 first-order decay (Eq. 3.1-3.6), biological treatment,
open burning and incineration (Eq. 5.2), domestic wastewater (Eq. 6.1-6.3, 6.7-6.8)."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from nagar.climate.inventory import compute_inventory
from nagar.climate.waste import first_order_decay, k_from_half_life, landfill_methane


def test_fod_half_life_one_year_by_hand():
    # k = ln 2 / t½ with t½ = 1 yr, so e^-k = 0.5 exactly. 1 000 t deposited in 2020 and 2021,
    # DOC 0.15, DOCf 0.5, MCF 1.0 -> DDOCm_d = 1 000 x 0.15 x 0.5 x 1.0 = 75 t each year (Eq. 3.2)
    # Eq. 3.4-3.5, decay starts the year after deposit:
    #   2020: decomposed = DDOCma(2019) x (1 - 0.5) = 0;        DDOCma = 75
    #   2021: decomposed = 75 x 0.5 = 37.5;                     DDOCma = 75 + 75 x 0.5 = 112.5
    #   2022: decomposed = 112.5 x 0.5 = 56.25;                 DDOCma = 0 + 112.5 x 0.5 = 56.25
    #   2023: decomposed = 56.25 x 0.5 = 28.125;                DDOCma = 28.125
    # Eq. 3.6: CH4 = decomposed x F (0.5) x 16/12: 0, 25, 37.5, 18.75 t
    k = k_from_half_life(1.0)
    assert float(k) == pytest.approx(math.log(2))
    fod = first_order_decay([75.0, 75.0, 0.0, 0.0], k)
    assert fod["accumulated"] == pytest.approx([75.0, 112.5, 56.25, 28.125])
    assert fod["decomposed"] == pytest.approx([0.0, 37.5, 56.25, 28.125])
    res = landfill_methane([1000.0, 1000.0, 0.0, 0.0], doc=0.15, k=k)
    assert res["ch4_generated"] == pytest.approx([0.0, 25.0, 37.5, 18.75])
    # Eq. 3.1 with 5 t recovered and OX 0.1 in 2022: (37.5 - 5) x (1 - 0.1) = 29.25
    res = landfill_methane([1000.0, 1000.0, 0.0, 0.0], doc=0.15, k=k, ox=[0, 0, 0.1, 0], recovered_t=[0, 0, 5, 0])
    assert res["ch4_emitted"][2] == pytest.approx(29.25)


def test_fod_two_components_tropical_wet_by_hand():
    # 1 000 t in 2020, 50 % food, 20 % paper, 30 % inert; managed anaerobic site (MCF 1.0), tropical wet
    #   food:  DDOCm_d = 1 000 x 0.5 x 0.15 x 0.5 x 1.0 = 37.5 t, k = 0.40, e^-0.40 = 0.670320
    #   paper: DDOCm_d = 1 000 x 0.2 x 0.40 x 0.5 x 1.0 = 40.0 t, k = 0.07, e^-0.07 = 0.932394
    # 2021 (Eq. 3.5): food 37.5 x 0.329680 = 12.362998, paper 40 x 0.067606 = 2.704247 -> 15.067245
    #   CH4 (Eq. 3.6) = 15.067245 x 0.5 x 16/12 = 10.044830 t
    # 2022: DDOCma(2021) food 37.5 x 0.670320 = 25.137002, paper 40 x 0.932394 = 37.295753
    #   decomposed 25.137002 x 0.329680 + 37.295753 x 0.067606 = 8.287166 + 2.521423 = 10.808589
    #   CH4 = 10.808589 x 2/3 = 7.205726 t
    rows = [dict(year=2020, kind="waste", subsector="III.1", item="landfill", quantity=1000, unit="t",
                 params={"composition": {"food": 0.5, "paper": 0.2, "other": 0.3}, "site": "managed_anaerobic"})]
    assert compute_inventory(rows, year=2020).table.filter(pl.col("ref") == "III.1.1").row(0, named=True)["ch4_t"] == 0
    for year, ch4 in ((2021, 10.044830), (2022, 7.205726)):
        inv = compute_inventory(rows, year=year)
        r = inv.table.filter(pl.col("ref") == "III.1.1").row(0, named=True)
        assert r["ch4_t"] == pytest.approx(ch4, rel=1e-6)
        # CH4 from waste is non-fossil: AR6 27.0, AR5 28
        assert r["co2e_t"] == pytest.approx(28 * ch4, rel=1e-6)
    series = compute_inventory(rows, year=2022).landfill["in"]
    assert series["years"] == [2020, 2021, 2022]
    assert series["ch4_generated"] == pytest.approx([0.0, 10.044830, 7.205726], rel=1e-6)
    assert series["ddocm_deposited"] == pytest.approx([77.5, 0.0, 0.0])


def test_fod_uses_each_years_mcf_and_reports_factors():
    # deposits of 1 000 t (DOC 0.15, t½ = 1 yr) in 2020 on an unmanaged shallow site (MCF 0.4) and in 2021 on a
    # managed semi-aerobic site (MCF 0.5): DDOCm_d 30 and 37.5 t;
    # 2022 decomposed = (30 x 0.5 + 37.5) x 0.5 = 26.25 t -> CH4 = 26.25 x 2/3 = 17.5 t
    rows = [dict(year=2020, kind="waste", subsector="III.1", item="landfill", quantity=1000, unit="t",
                 params={"doc": 0.15, "half_life_years": 1, "site": "unmanaged_shallow"}),
            dict(year=2021, kind="waste", subsector="III.1", item="landfill", quantity=1000, unit="t",
                 params={"doc": 0.15, "half_life_years": 1, "site": "managed_semi_aerobic"})]
    inv = compute_inventory(rows, year=2022)
    assert inv.table.filter(pl.col("ref") == "III.1.1")["ch4_t"][0] == pytest.approx(17.5)
    ids = {f["id"] for f in inv.factors}
    assert {"ipcc2006:waste:mcf:unmanaged_shallow", "ipcc2006:waste:mcf:managed_semi_aerobic",
            "ipcc2006:waste:docf", "ipcc2006:waste:f"} <= ids
    assert any("50 years" in w for w in inv.warnings)


def test_waste_disposed_outside_is_scope_3():
    rows = [dict(year=2020, kind="waste", subsector="III.1", item="landfill", quantity=1000, unit="t", location="out",
                 params={"doc": 0.15, "half_life_years": 1, "mcf": 1.0})]
    inv = compute_inventory(rows, year=2021)
    r = inv.table.filter(pl.col("ref") == "III.1.2").row(0, named=True)
    assert r["scope"] == 3 and r["ch4_t"] == pytest.approx(25.0) and r["basic"]


def test_biological_treatment_open_burning_and_incineration_by_hand():
    # composting 1 000 t (Table 4.1, wet): CH4 1 000 x 4 g/kg = 4 t, N2O 1 000 x 0.3 = 0.3 t
    # anaerobic digestion 1 000 t: CH4 1 t, N2O negligible
    # open burning 100 t of 60 % food, 20 % plastics, 10 % paper, 10 % other (Eq. 5.2, OF 0.58):
    #   fossil C per t = 0.2 x 1.0 x 0.75 x 1.0 + 0.1 x 0.9 x 0.46 x 0.01 + 0.1 x 0.9 x 0.03 x 1.0
    #                  = 0.15 + 0.000414 + 0.0027 = 0.153114
    #   CO2 = 100 x 0.153114 x 0.58 x 44/12 = 32.562244 t
    #   CH4 = 100 x 6.5 kg/t = 0.65 t;  dry matter = 0.6 x 0.4 + 0.2 + 0.1 x 0.9 + 0.1 x 0.9 = 0.62
    #   N2O = 100 x 0.62 x 150 g/t dry = 9.3 kg = 0.0093 t
    # incineration of the same 100 t (OF 1.0): CO2 = 100 x 0.153114 x 44/12 = 56.1418 t,
    #   N2O = 100 x 50 g/t = 0.005 t, CH4 = 100 x 0.0002 kg/t = 0.00002 t
    comp = {"food": 0.6, "plastics": 0.2, "paper": 0.1, "other": 0.1}
    rows = [dict(year=2024, kind="waste", subsector="III.2", item="composting", quantity=1000, unit="t"),
            dict(year=2024, kind="waste", subsector="III.2", item="anaerobic_digestion", quantity=1, unit="kt"),
            dict(year=2024, kind="waste", subsector="III.3", item="open_burning", quantity=100, unit="t",
                 params={"composition": comp}),
            dict(year=2024, kind="waste", subsector="III.3", item="incineration", quantity=100, unit="t",
                 params={"composition": comp})]
    em = compute_inventory(rows, year=2024).emissions

    def amount(item, gas):
        return em.filter((pl.col("item") == item) & (pl.col("gas") == gas))["t"].sum()

    assert amount("composting", "ch4") == pytest.approx(4.0) and amount("composting", "n2o") == pytest.approx(0.3)
    assert amount("anaerobic_digestion", "ch4") == pytest.approx(1.0)
    assert amount("open_burning", "co2") == pytest.approx(32.562244, rel=1e-6)
    assert amount("open_burning", "ch4") == pytest.approx(0.65)
    assert amount("open_burning", "n2o") == pytest.approx(0.0093)
    assert amount("incineration", "co2") == pytest.approx(56.1418, rel=1e-5)
    assert amount("incineration", "n2o") == pytest.approx(0.005)
    assert amount("incineration", "ch4") == pytest.approx(2e-5)
    assert amount("open_burning", "co2_biogenic") > 0  # food and paper carbon: memo item


def test_domestic_wastewater_by_hand():
    # septic tanks, 100 000 people, BOD 37 g/person/day, uncollected (I = 1.0), MCF 0.5, Bo 0.6:
    #   TOW = 100 000 x 37 x 0.001 x 1.0 x 365 = 1 350 500 kg BOD; CH4 = 1 350 500 x 0.6 x 0.5 = 405 150 kg
    # sewered to a poorly managed aerobic plant, 10 000 people (I = 1.25, MCF 0.3):
    #   TOW = 10 000 x 37 x 0.001 x 1.25 x 365 = 168 812.5 kg; CH4 = 168 812.5 x 0.6 x 0.3 = 30 386.25 kg
    # N2O for the septic population with 20 kg protein/person/yr:
    #   N = 100 000 x 20 x 0.16 x 1.1 x 1.25 = 440 000 kg N; N2O = 440 000 x 0.005 x 44/28 = 3 457.142857 kg
    rows = [dict(year=2024, kind="wastewater", subsector="III.4", item="septic", quantity=100_000, unit="persons",
                 params={"bod_g_per_person_day": 37, "protein_kg_per_person_year": 20}),
            dict(year=2024, kind="wastewater", subsector="III.4", item="aerobic_poorly_managed", quantity=10_000,
                 unit="persons", params={"bod_g_per_person_day": 37})]
    inv = compute_inventory(rows, year=2024)
    r = inv.table.filter(pl.col("ref") == "III.4.1").row(0, named=True)
    assert r["ch4_t"] == pytest.approx(405.15 + 30.38625)
    assert r["n2o_t"] == pytest.approx(3.457142857)
    assert any("N2O not estimated" in w for w in inv.warnings)


def test_fod_is_vectorised_over_long_histories():
    w = np.full((3, 80), 1000.0)
    res = landfill_methane(w, doc=[0.15, 0.4, 0.2], k=[0.4, 0.07, 0.17])
    assert res["ch4_generated"].shape == (80,) and np.all(np.diff(res["ch4_generated"]) >= 0)
    # steady state: generation tends to what is deposited, DDOCm x F x 16/12
    steady = 1000 * (0.15 + 0.4 + 0.2) * 0.5 * 0.5 * 16 / 12
    assert res["ch4_generated"][-1] == pytest.approx(steady, rel=0.05)
