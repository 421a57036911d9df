"""Emission factors, net calorific values and GWP sets: versioned data files plus a city's own factors.

The shipped tables live in ``nagar/climate/factors/`` (every row carries its source and year):

==================  ==============================================================================
``fuels.csv``       net calorific value [TJ/Gg] and default CO2 factor [kg/TJ] per fuel
                    (IPCC 2006 Vol. 2 Ch. 1 Tables 1.2 and 1.4)
``combustion.csv``  CH4 and N2O [kg/TJ] per fuel for stationary combustion by sector (Vol. 2 Ch. 2
                    Tables 2.2-2.5) and mobile combustion by mode (Ch. 3 Tables 3.2.1-3.6.5); CO2 for
                    mobile rows
``gwp.csv``         100-year GWP sets AR4, AR5 and AR6 (AR6 splits fossil and non-fossil CH4)
``grid.csv``        national grid emission factors for Bangladesh and ASEAN countries [t/MWh], each
                    with its publisher and year; countries without a found figure have an empty value
                    and say so in ``source``
``waste.json``      IPCC 2006 Vol. 5 parameters (DOC, k, MCF, DOCf, F, OX, treatment factors)
``wastewater.json`` IPCC 2006 Vol. 5 Ch. 6 parameters (Bo, MCF by pathway, nitrogen factors)
==================  ==============================================================================

A city adds its own factors (stored in the database with a required source): ``grid`` [t/MWh],
``combustion`` (a fuel's CO2/CH4/N2O [kg/TJ], optionally for one sub-sector) and ``ncv`` [TJ/Gg]. They
take precedence over the shipped defaults; the inventory lists every factor it used with its source.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import polars as pl

DATA_DIR = Path(__file__).parent / "factors"

GWP_SETS = ("ar4", "ar5", "ar6")
USER_FACTOR_KINDS = {
    "grid": ("t/MWh", ("co2", "co2e")),
    "combustion": ("kg/TJ", ("co2", "ch4", "n2o")),
    "ncv": ("TJ/Gg", ("",)),
}
"""User factor kinds: their unit and the gases they may name."""
CLIMATE_ZONES = ("tropical_wet", "tropical_dry", "temperate_wet", "temperate_dry")


@dataclass(frozen=True)
class Factor:
    """One factor as the inventory reports it."""

    id: str
    description: str
    value: float
    unit: str
    source: str
    year: int | None = None

    def as_dict(self) -> dict:
        return {"id": self.id, "description": self.description, "value": self.value, "unit": self.unit,
                "source": self.source, "year": self.year}


@lru_cache(maxsize=1)
def _defaults() -> dict:
    fuels = pl.read_csv(DATA_DIR / "fuels.csv", schema_overrides={"biogenic": pl.Boolean})
    comb = pl.read_csv(DATA_DIR / "combustion.csv", schema_overrides={"technology": pl.String,
                                                                      "co2_kg_per_tj": pl.Float64})
    comb = comb.with_columns(pl.col("technology").fill_null(""))
    gwp = pl.read_csv(DATA_DIR / "gwp.csv")
    grid = pl.read_csv(DATA_DIR / "grid.csv", schema_overrides={"region": pl.String, "year": pl.Int64,
                                                                "value_t_per_mwh": pl.Float64, "url": pl.String,
                                                                "basis": pl.String, "default": pl.Boolean})
    grid = grid.with_columns(pl.col("region").fill_null(""), pl.col("url").fill_null(""),
                             pl.col("basis").fill_null(""))
    waste = json.loads((DATA_DIR / "waste.json").read_text(encoding="utf-8"))
    wastewater = json.loads((DATA_DIR / "wastewater.json").read_text(encoding="utf-8"))
    return {"fuels": fuels, "combustion": comb, "gwp": gwp, "grid": grid, "waste": waste, "wastewater": wastewater}


def fuels() -> pl.DataFrame:
    """Fuel keys with name, biogenic flag, NCV [TJ/Gg], default CO2 [kg/TJ], source and year."""
    return _defaults()["fuels"]


def fuel_keys() -> list[str]:
    return fuels().get_column("fuel").to_list()


def combustion_table() -> pl.DataFrame:
    """Long table: ``table, fuel, technology, gas, value`` [kg/TJ] with ``id``, ``source``, ``year``.

    Stationary tables take CO2 from ``fuels.csv`` (Tables 2.2-2.5 repeat the Table 1.4 defaults)."""
    d = _defaults()
    comb = d["combustion"]
    co2 = comb.join(fuels().select("fuel", pl.col("co2_kg_per_tj").alias("_co2_fuel")), on="fuel", how="left")
    co2 = co2.with_columns(pl.coalesce("co2_kg_per_tj", "_co2_fuel").alias("co2_kg_per_tj"))
    long = co2.unpivot(index=["table", "fuel", "technology", "source", "year"],
                       on=["co2_kg_per_tj", "ch4_kg_per_tj", "n2o_kg_per_tj"], variable_name="gas", value_name="value")
    long = long.with_columns(pl.col("gas").str.replace("_kg_per_tj", ""))
    return long.with_columns(
        pl.concat_str([pl.lit("ipcc2006:"), pl.col("table"), pl.lit(":"), pl.col("fuel"),
                       pl.when(pl.col("technology") != "").then(pl.lit(":") + pl.col("technology"))
                       .otherwise(pl.lit("")),
                       pl.lit(":"), pl.col("gas")]).alias("id")
    ).sort("table", "fuel", "technology", "gas")


def gwp_set(name: str) -> dict[str, float]:
    """``{"co2": 1, "ch4_fossil": ..., "ch4_nonfossil": ..., "n2o": ...}`` for ``ar4``, ``ar5`` or ``ar6``."""
    if name not in GWP_SETS:
        raise ValueError(f"unknown GWP set {name!r}; use one of {', '.join(GWP_SETS)}")
    g = _defaults()["gwp"].filter(pl.col("set") == name)
    return dict(zip(g.get_column("gas").to_list(), g.get_column("value").to_list()))


def gwp_factors(name: str) -> list[Factor]:
    g = _defaults()["gwp"].filter(pl.col("set") == name)
    return [Factor(f"gwp:{name}:{r['gas']}", f"GWP100 {r['gas']} ({name.upper()})", float(r["value"]), "t CO2e/t",
                   r["source"], int(r["year"])) for r in g.iter_rows(named=True) if r["gas"] != "co2"]


def grid_table() -> pl.DataFrame:
    return _defaults()["grid"]


def waste_parameters() -> dict:
    return _defaults()["waste"]


def wastewater_parameters() -> dict:
    return _defaults()["wastewater"]


@dataclass
class FactorSet:
    """The defaults plus a city's own factors (rows as stored: kind, item, sector, gas, value, unit,
    year, source, id)."""

    user: list[dict] = field(default_factory=list)

    def user_rows(self, kind: str) -> list[dict]:
        return [u for u in self.user if u["kind"] == kind]


def grid_factor(fs: FactorSet, *, country: str | None, year: int, region: str | None = None
                ) -> tuple[Factor | None, str | None, str | None]:
    """The grid factor for an inventory year: ``(factor, gas, warning)``.

    A city's own grid factors come first; otherwise the shipped national factors of ``country`` (and
    ``region`` for countries with several grids). Among candidates with a value, ``default`` rows are
    preferred and then the year nearest the inventory year (ties: the earlier year). A warning says
    when the factor's year differs from the inventory year or no factor exists.
    """
    user = [u for u in fs.user_rows("grid") if not region or not u.get("item") or u.get("item") == region]
    if user:
        best = min(user, key=lambda u: (abs(int(u["year"]) - year), int(u["year"]), -int(u.get("id") or 0)))
        f = Factor(f"user:{best.get('id')}", f"grid electricity ({best.get('item') or 'city factor'})",
                   float(best["value"]), "t/MWh", best["source"], int(best["year"]))
        warn = None if f.year == year else f"grid factor year {f.year} used for inventory year {year}"
        return f, best.get("gas") or "co2", warn
    if not country:
        return None, None, "the city has no country: no grid emission factor; add one for the city"
    g = grid_table().filter(pl.col("country") == country.upper())
    if g.height == 0:
        return None, None, f"no grid emission factor shipped for {country}; add one for the city"
    withval = g.filter(pl.col("value_t_per_mwh").is_not_null())
    if withval.height == 0:
        return None, None, f"no grid emission factor for {country}: {g.row(0, named=True)['source']}"
    note = None
    if region:
        withval = withval.filter(pl.col("region") == region)
        if withval.height == 0:
            return None, None, f"no grid emission factor for grid region {region!r} of {country}"
    elif (withval.get_column("region") != "").all():
        first = sorted(withval.get_column("region").unique().to_list())[0]
        withval = withval.filter(pl.col("region") == first)
        note = f"{country} has several grids and the city names none: used {first}"
    rows = withval.to_dicts()
    best = min(rows, key=lambda r: (not r["default"], abs(r["year"] - year), r["year"]))
    rid = f"grid:{country.upper()}{':' + best['region'] if best['region'] else ''}:{best['year']}:{best['basis']}"
    f = Factor(rid, f"grid electricity {country.upper()}{' ' + best['region'] if best['region'] else ''} "
                    f"({best['basis'].replace('_', ' ')})", float(best["value_t_per_mwh"]), "t/MWh",
               best["source"] + (f" <{best['url']}>" if best["url"] else ""), int(best["year"]))
    warns = [w for w in (note, None if f.year == year else f"grid factor year {f.year} used for inventory year {year}")
             if w]
    return f, best["gas"], "; ".join(warns) or None


def catalogue(user: list[dict] | None = None) -> dict:
    """Every shipped factor table as plain rows (for the API and CLI), plus the city's own factors."""
    comb = combustion_table()
    return {
        "fuels": fuels().to_dicts(),
        "combustion": comb.select("id", "table", "fuel", "technology", "gas", "value", "source", "year").to_dicts(),
        "gwp": _defaults()["gwp"].to_dicts(),
        "grid": grid_table().to_dicts(),
        "waste": waste_parameters(),
        "wastewater": wastewater_parameters(),
        "user": list(user or []),
    }
