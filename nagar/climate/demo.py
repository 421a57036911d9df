"""A demonstration GPC inventory for Dhaka (Dhaka North and South City Corporations), year 2023.

Every row says where its figure comes from. Few city-level activity figures for Dhaka were found in a
form that could be checked for this build, so most rows are marked **illustrative**: plausible orders of
magnitude for a city of about ten million people, to be replaced by the city's own data (energy balance
and Titas Gas sales for fuels, DPDC and DESCO sales for electricity, DNCC/DSCC weighbridge records for
waste, Dhaka WASA for wastewater). The figures taken from publications are:

- waste generation of Dhaka City Corporation, 3,500 t/day, and the 50 % collection efficiency assumed
  for it: F. I. Hai and M. A. Ali, "A Study on Solid Waste Management System of Dhaka City Corporation:
  Effect of Composting and Landfill Location" (c. 2005), which also reports ~80 % organic content;
- waste composition (food and vegetable 70 %, green 11 %, plastic 5 %, paper 4 %, glass 0.25 %, wood
  0.16 %, metals 0.13 %): Ahmed, M. F. and Rahman, M. M. (2000), *Water Supply and Sanitation*, ITN
  Bangladesh, as cited in secondary sources (not checked against the original); the remainder is put in
  "other";
- the grid emission factor is the shipped Bangladesh row of ``grid.csv`` (Climate Analytics, 504 gCO2/kWh
  for 2017, not an official government factor; no official one was found).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from nagar.core.errors import NotFound

CITY = "dhaka"
YEAR = 2023
ILLUSTRATIVE = "illustrative (no published figure checked for this build; replace with the city's data)"

HAI_ALI = ("F. I. Hai and M. A. Ali, 'A Study on Solid Waste Management System of Dhaka City Corporation: Effect "
           "of Composting and Landfill Location' (c. 2005): generation 3,500 t/day, collection efficiency 50 % "
           "(the study's assumption)")
COMPOSITION = {"food": 0.70, "garden": 0.11, "plastics": 0.05, "paper": 0.04, "glass": 0.0025, "wood": 0.0016,
               "metal": 0.0013, "other": 0.0946}
COMPOSITION_SOURCE = ("composition: Ahmed & Rahman (2000), Water Supply and Sanitation, ITN-Bangladesh, as cited in "
                      "secondary sources (not checked against the original); remainder as 'other'")


def _landfill_rows() -> list[dict]:
    """Deposits at Matuail and Aminbazar, 2005-2023: the 2005 figure from Hai & Ali (3,500 t/day x 365 x 50 %
    collected), later years grown 4 %/yr (illustrative)."""
    base = 3500 * 365 * 0.5
    rows = []
    for y in range(2005, YEAR + 1):
        published = y == 2005
        rows.append({
            "year": y, "kind": "waste", "sector": "III.1", "item": "landfill", "location": "in",
            "quantity": round(base * 1.04 ** (y - 2005)), "unit": "t",
            "params": {"composition": COMPOSITION, "site": "uncategorised", "climate": "tropical_wet"},
            "source": ((HAI_ALI if published else f"{ILLUSTRATIVE}: 2005 figure grown 4 %/yr") + "; "
                       + COMPOSITION_SOURCE),
            "note": "site type not verified: IPCC default MCF for uncategorised sites (0.6)",
        })
    return rows


def demo_rows() -> list[dict]:
    """The demonstration activity rows (all for Dhaka; landfill rows span 2005-2023)."""
    fuel = [
        ("residential", "natural_gas", 40.0, "PJ"), ("residential", "lpg", 60.0, "kt"),
        ("commercial", "natural_gas", 8.0, "PJ"), ("commercial", "diesel", 25.0, "kt"),
        ("industrial", "natural_gas", 30.0, "PJ"), ("industrial", "fuel_oil", 20.0, "kt"),
        ("on_road", "natural_gas", 15.0, "PJ"), ("on_road", "diesel", 300.0, "kt"),
        ("on_road", "motor_gasoline", 250.0, "kt"),
    ]
    rows = [{"year": YEAR, "kind": "fuel", "sector": s, "item": f, "quantity": q, "unit": u, "source": ILLUSTRATIVE}
            for s, f, q, u in fuel]
    rows += [{"year": YEAR, "kind": "electricity", "sector": s, "quantity": q, "unit": "GWh",
              "source": f"{ILLUSTRATIVE}; city data would be DPDC and DESCO retail sales by tariff class"}
             for s, q in (("residential", 6500.0), ("commercial", 3200.0), ("industrial", 2600.0))]
    rows += _landfill_rows()
    rows += [
        {"year": YEAR, "kind": "waste", "sector": "III.2", "item": "composting", "quantity": 20 * 365, "unit": "t",
         "source": f"{ILLUSTRATIVE}: community composting, 20 t/day"},
        {"year": YEAR, "kind": "waste", "sector": "III.3", "item": "open_burning", "quantity": 50 * 365, "unit": "t",
         "params": {"composition": COMPOSITION}, "source": f"{ILLUSTRATIVE}: 50 t/day burnt in the open; "
                                                           + COMPOSITION_SOURCE},
        {"year": YEAR, "kind": "wastewater", "sector": "III.4", "item": "septic", "quantity": 7_000_000,
         "unit": "persons", "params": {"bod_g_per_person_day": 37, "protein_kg_per_person_year": 22},
         "source": f"{ILLUSTRATIVE}: population on septic tanks, BOD and protein per person"},
        {"year": YEAR, "kind": "wastewater", "sector": "III.4", "item": "sea_river_lake", "quantity": 2_000_000,
         "unit": "persons", "params": {"bod_g_per_person_day": 37, "protein_kg_per_person_year": 22},
         "source": f"{ILLUSTRATIVE}: population whose wastewater reaches rivers untreated"},
        {"year": YEAR, "kind": "wastewater", "sector": "III.4", "item": "aerobic_poorly_managed", "quantity": 1_000_000,
         "unit": "persons", "params": {"bod_g_per_person_day": 37, "protein_kg_per_person_year": 22},
         "source": f"{ILLUSTRATIVE}: population served by the sewer network and treatment plant"},
    ]
    for ref, key, why in (("I.7.1", "NO", "no coal mining or handling in the city"),
                          ("I.8.1", "NE", "gas distribution leakage not estimated in the demonstration"),
                          ("I.4.1", "NO", "no power plant inside the city boundary assumed in the demonstration"),
                          ("II.4.1", "NE", "airport fuel sales not available to the demonstration"),
                          ("IV.1", "NE", "industrial process data not available to the demonstration")):
        rows.append({"year": YEAR, "kind": "notation", "sector": ref, "item": key, "note": why})
    return rows


def _ensure_city(store) -> dict:
    city = store.get_city(CITY)
    if city is not None:
        return city
    cities = json.loads((Path(__file__).parents[1] / "demo" / "stations.json").read_text(encoding="utf-8"))["cities"]
    c = next(c for c in cities if c["id"] == CITY)
    store.upsert_city({k: c[k] for k in ("id", "name", "country", "timezone", "lat", "lon", "standard")}
                      | {"open_data": True})
    city = store.get_city(CITY)
    if city is None:  # pragma: no cover - upsert just wrote it
        raise NotFound("demo city missing")
    return city


def _solar(store, city: dict) -> int:
    """Monthly readings of an illustrative aggregate rooftop-solar meter (generation, kWh), 2023."""
    import pyarrow as pa

    from nagar.store.base import OBSERVATION_SCHEMA

    store.upsert_station({"id": "dhaka-rooftop-solar", "city": CITY, "name": "Rooftop solar, aggregate meter "
                          "(illustrative)", "lat": city["lat"], "lon": city["lon"], "parameters": ["generation"],
                          "source": ILLUSTRATIVE})
    # 40 MWp x monthly specific yield [kWh/kWp], lower in the monsoon (illustrative)
    yields = [105, 115, 135, 140, 135, 110, 100, 105, 105, 115, 110, 100]
    tz = ZoneInfo(city["timezone"])
    times = [datetime(YEAR, m, 15, 12, tzinfo=tz).astimezone(timezone.utc) for m in range(1, 13)]
    batch = pa.table({"station": ["dhaka-rooftop-solar"] * 12, "parameter": ["generation"] * 12, "time": times,
                      "value": [40_000.0 * y for y in yields], "unit": ["kWh"] * 12, "flag": ["estimated"] * 12},
                     schema=OBSERVATION_SCHEMA)
    return store.write_observations(batch).inserted


DEMO_DRIVERS = {
    "city": CITY,
    # (28,076 / 21,006) ** (1/10) - 1 = 2.94 % a year
    "population_growth": 0.0294,
    "gdp_growth": 0.06,
    "intensity_change": -0.02,
    "grid_change": -0.01,
    "source": ("population: UN DESA World Urbanization Prospects 2018, Dhaka urban agglomeration 21,006 "
               "thousand (2020) to 28,076 thousand (2030), 2.94 %/yr; GDP +6 %/yr, emission intensity of GDP "
               "-2 %/yr and grid factor -1 %/yr are illustrative assumptions of the demo, not forecasts"),
}
"""Dhaka's demonstration BAU drivers: the population rate is cited, the others are labelled assumptions."""


def load_climate_demo(store, *, with_solar: bool = True) -> dict:
    """Write the Dhaka demonstration inventory through the service (audited as ``demo``); with
    ``with_solar`` also an illustrative rooftop-solar meter's monthly generation for the renewable share."""
    from .models import DriversIn
    from .service import put_activity, put_drivers

    city = _ensure_city(store)
    out = put_activity(store, city=CITY, rows=demo_rows(), actor="demo")
    put_drivers(store, body=DriversIn(**DEMO_DRIVERS), actor="demo")
    out["year"] = YEAR
    out["solar_readings"] = _solar(store, city) if with_solar else 0
    return out
