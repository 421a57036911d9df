"""The shipped factor tables: every row sourced, values as published, selection rules."""

from __future__ import annotations

import polars as pl
import pytest

from nagar.climate import factors as fx

ASEAN_AND_BD = {"BD", "BN", "KH", "ID", "LA", "MY", "MM", "PH", "SG", "TH", "VN"}


def test_every_row_has_a_source_and_year():
    for df in (fx.fuels(), fx.combustion_table(), fx.grid_table()):
        assert df.filter(pl.col("source").is_null() | (pl.col("source").str.len_chars() < 10)).height == 0
    assert fx.fuels().filter(pl.col("year").is_null()).height == 0
    grid = fx.grid_table()
    # a figure has a year; a country without a published figure says so instead of inventing one
    assert grid.filter(pl.col("value_t_per_mwh").is_not_null() & pl.col("year").is_null()).height == 0
    missing = grid.filter(pl.col("value_t_per_mwh").is_null())
    assert missing.height and all(("No published" in s or "No published figure" in s or "not" in s)
                                  for s in missing["source"].to_list())
    assert ASEAN_AND_BD <= set(grid["country"].to_list())


@pytest.mark.parametrize("fuel, ncv, co2", [
    ("natural_gas", 48.0, 56100), ("diesel", 43.0, 74100), ("motor_gasoline", 44.3, 69300), ("lpg", 47.3, 63100),
    ("kerosene", 43.8, 71900), ("fuel_oil", 40.4, 77400), ("coal_bituminous", 25.8, 94600), ("lignite", 11.9, 101000),
    ("wood", 15.6, 112000),
])
def test_ipcc_table_1_2_and_1_4_values(fuel, ncv, co2):
    r = fx.fuels().filter(pl.col("fuel") == fuel).row(0, named=True)
    assert (r["ncv_tj_per_gg"], r["co2_kg_per_tj"]) == (ncv, co2)


@pytest.mark.parametrize("table, fuel, tech, ch4, n2o", [
    ("energy", "natural_gas", "", 1, 0.1), ("manufacturing", "coal_bituminous", "", 10, 1.5),
    ("commercial", "diesel", "", 10, 0.6), ("residential", "wood", "", 300, 4),
    ("residential", "coal_bituminous", "", 300, 1.5), ("road", "motor_gasoline", "uncontrolled", 33, 3.2),
    ("road", "diesel", "", 3.9, 3.9), ("road", "natural_gas", "", 92, 3),
    ("road", "lpg", "", 62, 0.2),
])
def test_ipcc_tables_2_x_and_3_2_2_values(table, fuel, tech, ch4, n2o):
    c = fx.combustion_table().filter((pl.col("table") == table) & (pl.col("fuel") == fuel)
                                     & (pl.col("technology") == tech))
    got = dict(zip(c["gas"].to_list(), c["value"].to_list()))
    assert (got["ch4"], got["n2o"]) == (ch4, n2o)
    assert got["co2"] > 0  # stationary rows take the Table 1.4 value


def test_gwp_sets():
    assert fx.gwp_set("ar5") == {"co2": 1, "ch4_fossil": 28, "ch4_nonfossil": 28, "n2o": 265}
    assert fx.gwp_set("ar6") == {"co2": 1, "ch4_fossil": 29.8, "ch4_nonfossil": 27.0, "n2o": 273}
    with pytest.raises(ValueError):
        fx.gwp_set("sar")


def test_grid_factor_selection():
    # nearest year; exact year gives no warning
    f, gas, warn = fx.grid_factor(fx.FactorSet(), country="VN", year=2021)
    assert (f.value, f.year, gas, warn) == (0.7221, 2021, "co2", None)
    f, _, warn = fx.grid_factor(fx.FactorSet(), country="VN", year=2030)
    assert f.year == 2023 and "2023" in warn
    # Thailand: the 2025 TGO factor is CO2e and is nearer 2024 than the 2009 one
    f, gas, _ = fx.grid_factor(fx.FactorSet(), country="TH", year=2024)
    assert (f.value, gas) == (0.4750, "co2e")
    # the Philippines has two grids: named, or the first with a warning; default rows are the operating margin
    f, _, warn = fx.grid_factor(fx.FactorSet(), country="PH", year=2017, region="PH-MIN")
    assert f.value == 0.7797 and warn is None
    f, _, warn = fx.grid_factor(fx.FactorSet(), country="PH", year=2017)
    assert f.value == 0.7122 and "several grids" in warn
    # no published figure: no factor, and the reason
    f, _, warn = fx.grid_factor(fx.FactorSet(), country="LA", year=2024)
    assert f is None and "No published" in warn
    # a city's own factor comes first, nearest year
    own = fx.FactorSet(user=[dict(id=1, kind="grid", item="", gas="co2", value=0.5, year=2020, source="a"),
                             dict(id=2, kind="grid", item="", gas="co2", value=0.45, year=2024, source="b")])
    f, _, _ = fx.grid_factor(own, country="BD", year=2025)
    assert (f.id, f.value) == ("user:2", 0.45)


def test_catalogue_lists_everything():
    cat = fx.catalogue()
    assert {"fuels", "combustion", "gwp", "grid", "waste", "wastewater", "user"} <= set(cat)
    assert cat["waste"]["mcf"]["uncategorised"] == 0.6 and cat["wastewater"]["bo"]["value"] == 0.6
