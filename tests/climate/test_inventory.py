"""The GPC inventory worked by hand from the IPCC 2006 default factors (arithmetic in the comments)."""

from __future__ import annotations

import csv
import io
import json

import polars as pl
import pytest

from nagar.climate import gpc
from nagar.climate.factors import FactorSet
from nagar.climate.inventory import compute_inventory, to_csv, to_json


def row(table: pl.DataFrame, ref: str) -> dict:
    return table.filter(pl.col("ref") == ref).row(0, named=True)


def fuel(sector, item, q, unit, year=2024, **kw):
    return dict(year=year, kind="fuel", subsector=sector, item=item, quantity=q, unit=unit, **kw)


def test_stationary_combustion_by_hand_ar5_and_ar6():
    # 1 kt (= 1 Gg) gas/diesel oil in commercial buildings (I.2):
    #   energy = 1 Gg x 43.0 TJ/Gg (Vol. 2 Table 1.2) = 43.0 TJ
    #   CO2 = 43.0 TJ x 74 100 kg/TJ = 3 186 300 kg = 3 186.3 t
    #   CH4 = 43.0 x 10 kg/TJ (Table 2.4, oil) = 430 kg = 0.43 t;  N2O = 43.0 x 0.6 = 25.8 kg = 0.0258 t
    #   AR5: 3 186.3 + 0.43 x 28 + 0.0258 x 265 = 3 186.3 + 12.04 + 6.837 = 3 205.177 t CO2e
    #   AR6 (fossil CH4 29.8, N2O 273): 3 186.3 + 12.814 + 7.0434 = 3 206.1574 t CO2e
    rows = [fuel("I.2", "diesel", 1.0, "kt")]
    r5 = row(compute_inventory(rows, year=2024, gwp="ar5").table, "I.2.1")
    assert r5["co2_t"] == pytest.approx(3186.3) and r5["ch4_t"] == pytest.approx(0.43)
    assert r5["n2o_t"] == pytest.approx(0.0258) and r5["co2e_t"] == pytest.approx(3205.177)
    assert row(compute_inventory(rows, year=2024, gwp="ar6").table, "I.2.1")["co2e_t"] == pytest.approx(3206.1574)
    assert r5["scope"] == 1 and r5["basic"] and r5["notation"] is None
    assert "ipcc2006:commercial:diesel:ch4" in r5["factor_ids"]


def test_residential_gas_and_biomass():
    # 100 TJ natural gas (Table 2.5): CO2 100 x 56 100 = 5 610 t; CH4 100 x 5 = 0.5 t; N2O 100 x 0.1 = 0.01 t
    # 1 000 t wood = 1 Gg x 15.6 TJ/Gg = 15.6 TJ: CH4 15.6 x 300 = 4.68 t, N2O 15.6 x 4 = 0.0624 t,
    #   CO2 15.6 x 112 000 = 1 747.2 t biogenic (memo, outside the totals)
    # AR5: 5 610 + (0.5 + 4.68) x 28 + (0.01 + 0.0624) x 265 = 5 610 + 145.04 + 19.186 = 5 774.226
    # AR6: fossil CH4 0.5 x 29.8 = 14.9, wood CH4 is non-fossil 4.68 x 27.0 = 126.36, N2O 0.0724 x 273 = 19.7652
    #   -> 5 771.0252
    rows = [fuel("I.1", "natural_gas", 100, "TJ"), fuel("I.1", "wood", 1000, "t")]
    inv5 = compute_inventory(rows, year=2024, gwp="ar5")
    r = row(inv5.table, "I.1.1")
    assert r["co2_t"] == pytest.approx(5610) and r["ch4_t"] == pytest.approx(5.18)
    assert r["co2_biogenic_t"] == pytest.approx(1747.2) and r["co2e_t"] == pytest.approx(5774.226)
    assert inv5.totals["co2_biogenic_t"] == pytest.approx(1747.2)
    assert inv5.totals["basic_t"] == pytest.approx(5774.226)  # biogenic CO2 is not in BASIC
    assert row(compute_inventory(rows, year=2024, gwp="ar6").table, "I.1.1")["co2e_t"] == pytest.approx(5771.0252)


def test_road_transport_and_transboundary_scope3():
    # 10 TJ motor gasoline on road, uncontrolled (Tables 3.2.1, 3.2.2): CO2 10 x 69 300 = 693 t,
    #   CH4 10 x 33 = 0.33 t, N2O 10 x 3.2 = 0.032 t; AR5 693 + 9.24 + 8.48 = 710.72 t
    # the same outside the boundary (transboundary trips) is II.1.3: scope 3, BASIC+ only
    rows = [fuel("II.1", "motor_gasoline", 10, "TJ"), fuel("II.1", "motor_gasoline", 10, "TJ", location="out")]
    inv = compute_inventory(rows, year=2024)
    assert row(inv.table, "II.1.1")["co2e_t"] == pytest.approx(710.72)
    assert row(inv.table, "II.1.3")["scope"] == 3
    assert inv.totals["basic_t"] == pytest.approx(710.72)
    assert inv.totals["basic_plus_t"] == pytest.approx(2 * 710.72)
    # with an oxidation catalyst (CH4 25, N2O 8.0): 693 + 0.25 x 28 + 0.08 x 265 = 693 + 7 + 21.2 = 721.2
    cat = compute_inventory([fuel("II.1", "motor_gasoline", 10, "TJ", params={"technology": "oxidation_catalyst"})],
                            year=2024)
    assert row(cat.table, "II.1.1")["co2e_t"] == pytest.approx(721.2)


def test_grid_electricity_is_scope_2_with_the_countrys_factor():
    # Bangladesh: the shipped factor is 0.504 t/MWh (2017): 2 000 MWh x 0.504 = 1 008 t CO2, scope 2 (I.2.2)
    rows = [dict(year=2024, kind="electricity", subsector="I.2", quantity=2, unit="GWh")]
    inv = compute_inventory(rows, year=2024, country="BD")
    r = row(inv.table, "I.2.2")
    assert r["scope"] == 2 and r["co2_t"] == pytest.approx(1008.0) and r["co2e_t"] == pytest.approx(1008.0)
    assert any("2017" in w for w in inv.warnings)  # the factor's year is said
    assert any(f["id"].startswith("grid:BD:2017") and "Climate Analytics" in f["source"] for f in inv.factors)
    # Viet Nam 2022: 2 000 MWh x 0.6766 = 1 353.2 t
    vn = compute_inventory([{**rows[0], "year": 2022}], year=2022, country="VN")
    assert row(vn.table, "I.2.2")["co2_t"] == pytest.approx(1353.2) and not vn.warnings
    # a city's own factor wins: 2 000 x 0.6 = 1 200 t
    own = FactorSet(user=[dict(id=7, kind="grid", item="", sector="", gas="co2", value=0.6, unit="t/MWh", year=2023,
                               source="city utility 2023")])
    r = row(compute_inventory(rows, year=2024, country="BD", factors=own).table, "I.2.2")
    assert r["co2_t"] == pytest.approx(1200.0) and r["factor_ids"].startswith("user:7")
    # no published factor (Myanmar): not converted, reported NE with the reason
    mm = compute_inventory(rows, year=2024, country="MM")
    r = row(mm.table, "I.2.2")
    assert r["notation"] == "NE" and "No published grid emission factor" in r["explanation"]
    # T&D losses are scope 3 (I.2.3)
    td = compute_inventory([{**rows[0], "location": "td_losses"}], year=2024, country="BD")
    assert row(td.table, "I.2.3")["scope"] == 3 and td.totals["basic_t"] == 0
    assert td.totals["basic_plus_t"] == pytest.approx(1008.0)


def test_notation_keys_fill_every_row_without_data():
    rows = [fuel("I.1", "lpg", 1, "TJ"), dict(year=2024, kind="notation", subsector="I.7.1", item="NO",
                                               note="no coal mining in the city")]
    inv = compute_inventory(rows, year=2024)
    t = inv.table
    assert t.height == len(gpc.REFS)
    assert row(t, "I.7.1")["notation"] == "NO" and row(t, "I.7.1")["explanation"] == "no coal mining in the city"
    assert row(t, "IV.1")["notation"] == "NE" and row(t, "IV.1")["co2e_t"] is None
    assert row(t, "I.1.1")["notation"] is None
    # every row has either numbers or a notation key, never both
    assert t.filter(pl.col("notation").is_null() == pl.col("co2e_t").is_null()).height == 0
    with pytest.raises(ValueError, match="notation key must be"):
        compute_inventory([dict(year=2024, kind="notation", subsector="I.7.1", item="XX")], year=2024)


def test_basic_and_basic_plus_boundaries():
    # 1 TJ LPG each, residential (Table 2.5: CO2 63 100, CH4 5, N2O 0.1 kg/TJ):
    #   63.1 + 0.005 x 28 + 0.0001 x 265 = 63.1 + 0.14 + 0.0265 = 63.2665 t CO2e per TJ
    # energy industries (Table 2.2: CH4 1, N2O 0.1): 63.1 + 0.028 + 0.0265 = 63.1545
    # composting 1 000 t (Vol. 5 Table 4.1: 4 g CH4, 0.3 g N2O per kg): 4 t CH4, 0.3 t N2O
    #   -> 4 x 28 + 0.3 x 265 = 112 + 79.5 = 191.5 t CO2e
    rows = [fuel("I.1", "lpg", 1, "TJ"),                               # I.1.1 BASIC
            fuel("I.4", "lpg", 1, "TJ", location="grid_supply"),      # I.4.4 neither (scope 1)
            dict(year=2024, kind="waste", subsector="III.2", item="composting", quantity=1000, unit="t"),
            dict(year=2024, kind="waste", subsector="III.2", item="composting", quantity=1000, unit="t",
                 location="out"),                                      # III.2.2 scope 3, BASIC
            dict(year=2024, kind="waste", subsector="III.2", item="composting", quantity=1000, unit="t",
                 location="from_outside")]                             # III.2.3 neither (scope 1)
    inv = compute_inventory(rows, year=2024)
    assert row(inv.table, "I.4.4")["co2e_t"] == pytest.approx(63.1545)
    assert row(inv.table, "III.2.1")["co2e_t"] == pytest.approx(191.5)
    tot = inv.totals
    assert tot["basic_t"] == pytest.approx(63.2665 + 2 * 191.5)
    assert tot["basic_plus_t"] == pytest.approx(63.2665 + 2 * 191.5)
    assert tot["territorial_scope1_t"] == pytest.approx(63.2665 + 63.1545 + 2 * 191.5)
    assert tot["scope3_t"] == pytest.approx(191.5)
    assert tot["sectors"]["III"]["basic_t"] == pytest.approx(383.0)


def test_mass_units_use_the_ncv_and_a_city_ncv_overrides_it():
    # 2 000 t LPG = 2 Gg x 47.3 TJ/Gg = 94.6 TJ -> CO2 94.6 x 63 100 = 5 969.26 t
    inv = compute_inventory([fuel("I.1", "lpg", 2000, "t")], year=2024)
    assert row(inv.table, "I.1.1")["co2_t"] == pytest.approx(5969.26)
    assert any(f["id"] == "ipcc2006:ncv:lpg" for f in inv.factors)
    # a city NCV of 46.0 TJ/Gg: 92 TJ -> 5 805.2 t; a city CO2 factor of 63 000 kg/TJ too: 5 796 t
    fs = FactorSet(user=[dict(id=1, kind="ncv", item="lpg", sector="", gas="", value=46.0, unit="TJ/Gg", year=2020,
                              source="national energy balance"),
                         dict(id=2, kind="combustion", item="lpg", sector="I.1", gas="co2", value=63000, unit="kg/TJ",
                              year=2020, source="national inventory")])
    r = row(compute_inventory([fuel("I.1", "lpg", 2000, "t")], year=2024, factors=fs).table, "I.1.1")
    assert r["co2_t"] == pytest.approx(5796.0)
    assert "user:1" in r["factor_ids"] and "user:2" in r["factor_ids"]


def test_exports_csv_and_json():
    inv = compute_inventory([fuel("I.2", "diesel", 1.0, "kt")], year=2024, gwp="ar6")
    lines = list(csv.DictReader(io.StringIO(to_csv(inv))))
    assert lines[0]["ref"] == "I.1.1" and lines[0]["notation"] == "NE"
    i21 = next(r for r in lines if r["ref"] == "I.2.1")
    assert float(i21["co2e_t"]) == pytest.approx(3206.157, abs=1e-3)
    basic = next(r for r in lines if r["ref"] == "TOTAL BASIC")
    assert float(basic["co2e_t"]) == pytest.approx(3206.157, abs=1e-3) and "AR6" in basic["explanation"]
    doc = json.loads(json.dumps(to_json(inv)))  # JSON-clean (no NaN)
    assert doc["gwp"] == "ar6" and len(doc["table"]) == len(gpc.REFS)
    assert {f["id"] for f in doc["factors"]} >= {"gwp:ar6:n2o", "ipcc2006:commercial:diesel:co2"}
    assert all(f["source"] for f in doc["factors"])


@pytest.mark.parametrize("bad, words", [
    (fuel("I.1", "unobtainium", 1, "TJ"), "unknown fuel"),
    (fuel("I.1", "lpg", 1, "litres"), "not accepted"),
    (fuel("I.1", "lpg", -1, "TJ"), "quantity"),
    (fuel("I.1", "lpg", 1, "TJ", location="out"), "no GPC reference"),
    (fuel("II.1", "motor_gasoline", 1, "TJ", params={"technology": "warp"}), "technology"),
    (dict(year=2024, kind="waste", subsector="III.1", item="landfill", quantity=1, unit="t"), "composition or"),
    (dict(year=2024, kind="waste", subsector="III.3", item="open_burning", quantity=1, unit="t"), "composition"),
    (dict(year=2024, kind="wastewater", subsector="III.4", item="septic", quantity=1, unit="persons"), "bod"),
])
def test_bad_rows_are_refused(bad, words):
    with pytest.raises(ValueError, match=words):
        compute_inventory([bad], year=2024)


def test_unknown_gwp_set():
    with pytest.raises(ValueError, match="GWP"):
        compute_inventory([], year=2024, gwp="ar9")
