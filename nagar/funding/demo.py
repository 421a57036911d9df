"""Demo fund and project pipeline: the 250-billion-yen decarbonisation fund (JOIN equity, a government
infrastructure grant, a JBIC credit line) and candidate projects in the 26 ASEAN Smart Cities Network
cities plus Dhaka and Chattogram.

:func:`generate_pipeline` is pure and deterministic from its seed (NumPy ``PCG64``); sizes, unit costs and
performance are drawn from the ranges in ``data/cost_ranges.json`` (each with its source) and abatement
is computed from the physical activity with the country's grid factor (``data/grid_factors.json``).
:func:`load_funding_demo` writes it through the store.
"""

from __future__ import annotations

import json
import zlib
from functools import lru_cache
from pathlib import Path

import numpy as np

from .mrv import METRICS, grid_factors

DATA = Path(__file__).parent / "data"
USD_PER = {"JPY": 1 / 150.0, "BDT": 1 / 120.0}
"""Demo exchange rates (configured, not live): 1 USD = 150 JPY = 120 BDT."""

DEMO_FUND = {
    "id": "jp-decarb",
    "name": "Japan-ASEAN urban decarbonisation fund (demo)",
    "base_currency": "JPY",
    "fx": {"USD": 150.0, "BDT": 1.25},
    "description": "Demonstration fund of 250 bn JPY: JOIN equity/JV 50 bn, government infrastructure grant "
                   "80 bn, JBIC credit line USD 800 m (120 bn JPY at the configured 150 JPY/USD).",
}
DEMO_INSTRUMENTS = [
    {"id": "join-equity", "fund_id": "jp-decarb", "name": "JOIN equity / joint venture", "kind": "equity",
     "currency": "JPY", "cap": 50e9, "max_share": 0.5,
     "sectors": ["solar_pv", "wind", "landfill_gas", "waste_to_energy", "building_retrofit", "e_bus"]},
    {"id": "gov-infra-grant", "fund_id": "jp-decarb", "name": "Government infrastructure fund (grant)",
     "kind": "grant", "currency": "JPY", "cap": 80e9, "max_share": 1.0,
     "sectors": ["brt", "e_bus", "led_streetlight", "wastewater", "landfill_gas", "building_retrofit"]},
    {"id": "jbic-credit-line", "fund_id": "jp-decarb", "name": "JBIC credit line", "kind": "loan",
     "currency": "USD", "cap": 800e6, "max_share": 0.7, "sectors": None,
     "interest_rate": 0.05, "tenor_years": 15, "grace_years": 3},
]
HIGH_INCOME = {"SG", "BN"}
"""Countries whose projects the demo makes ineligible for the grant (listed instruments only)."""

_MIX = {"solar_pv": 0.20, "wind": 0.06, "led_streetlight": 0.14, "landfill_gas": 0.08, "brt": 0.07,
        "building_retrofit": 0.15, "waste_to_energy": 0.06, "e_bus": 0.14, "wastewater": 0.10}


@lru_cache(maxsize=1)
def cost_ranges() -> dict:
    return json.loads((DATA / "cost_ranges.json").read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def demo_cities() -> list[dict]:
    return json.loads((DATA / "cities.json").read_text(encoding="utf-8"))["cities"]


def _u(rng, r, size=None):
    if isinstance(r, (int, float)):
        return float(r)
    if r.get("log"):
        return float(np.exp(rng.uniform(np.log(r["min"]), np.log(r["max"]))))
    return float(rng.uniform(r["min"], r["max"]))


def _project(rng, sector: str, spec: dict, common: dict, ef: float) -> dict:
    """One project's physical and money figures in USD (abatement tCO2e/yr, co-benefits t/yr)."""
    size = _u(rng, spec["size"])
    capex = size * _u(rng, spec["capex_per_unit"])
    pm25 = water = 0.0
    if sector in ("solar_pv", "wind"):
        mwh = size * _u(rng, spec["capacity_factor"]) * 8.76
        abate = mwh * ef
        saving = mwh * 1000 * _u(rng, spec["tariff_per_kwh"]) - capex * _u(rng, spec["opex_share_of_capex"])
        pm25 = mwh * _u(rng, spec["pm25_kg_per_mwh_displaced"]) / 1000
    elif sector == "led_streetlight":
        mwh = size * _u(rng, spec["mwh_saved_per_unit"])
        abate = mwh * ef
        saving = mwh * 1000 * _u(rng, spec["tariff_per_kwh"]) + size * _u(rng, spec["maintenance_saving_per_unit"])
        pm25 = mwh * _u(rng, spec["pm25_kg_per_mwh_displaced"]) / 1000
    elif sector == "landfill_gas":
        ch4 = size * _u(rng, spec["ch4_t_per_mw_year"]) * _u(rng, spec["additionality"])
        mwh = size * _u(rng, spec["capacity_factor"]) * 8760
        abate = ch4 * common["methane_gwp100"] + mwh * ef
        saving = mwh * 1000 * _u(rng, spec["tariff_per_kwh"]) - capex * _u(rng, spec["opex_share_of_capex"])
    elif sector == "brt":
        abate = size * _u(rng, spec["tco2e_per_unit_year"])
        saving = size * _u(rng, spec["net_revenue_per_unit_year"])
        pm25 = size * _u(rng, spec["pm25_t_per_unit_year"])
    elif sector == "building_retrofit":
        mwh = size * _u(rng, spec["baseline_kwh_per_m2"]) * _u(rng, spec["saving_share"]) / 1000
        abate = mwh * ef
        saving = mwh * 1000 * _u(rng, spec["tariff_per_kwh"])
        pm25 = mwh * _u(rng, spec["pm25_kg_per_mwh_displaced"]) / 1000
    elif sector == "waste_to_energy":
        t = size * spec["operating_days"]
        abate = t * _u(rng, spec["tco2e_per_t"])
        saving = t * _u(rng, spec["net_revenue_per_t"])
        pm25 = t * _u(rng, spec["open_burning_share"]) * spec["pm25_kg_per_t_burnt"] / 1000
        water = t * _u(rng, spec["leachate_pollutants_kg_per_t"]) / 1000
    elif sector == "e_bus":
        km = size * _u(rng, spec["km_per_bus_year"])
        litres = km * _u(rng, spec["diesel_l_per_km"])
        kwh = km * _u(rng, spec["kwh_per_km"])
        abate = litres * common["diesel_kgco2_per_litre"] / 1000 - kwh * ef / 1000
        saving = (litres * _u(rng, spec["diesel_price_per_l"]) - kwh * _u(rng, spec["tariff_per_kwh"])
                  + km * _u(rng, spec["maintenance_saving_per_km"]))
        pm25 = km * _u(rng, spec["pm25_g_per_km"]) / 1e6
    elif sector == "wastewater":
        m3 = size * 365
        abate = m3 * _u(rng, spec["kgco2e_per_m3"]) / 1000
        saving = m3 * _u(rng, spec["net_revenue_per_m3"])
        water = m3 * _u(rng, spec["bod_removed_kg_per_m3"]) / 1000
    else:  # pragma: no cover - the mix names only the sectors above
        raise ValueError(sector)
    return {"size": size, "unit": spec["size"]["unit"], "capex": capex, "saving": saving,
            "abate": max(abate, 0.0), "pm25": pm25, "water": water}


def generate_pipeline(seed: int = 7, *, cities: list[dict] | None = None, per_city: int | tuple = (12, 20),
                      start_years: tuple[int, int] = (2023, 2029)) -> list[dict]:
    """Candidate projects (store rows) for ``cities`` (default: the 28 demo cities).

    ``per_city``: a fixed count, or a (min, max) range drawn per city. Each city draws from its own
    stream (seed and a CRC-32 of its id), so adding a city leaves the others' projects unchanged.
    Bangladeshi projects are priced in BDT, the others in USD.
    """
    ranges = cost_ranges()
    common = ranges["common"]
    ef_of = grid_factors()
    out: list[dict] = []
    for city in cities or demo_cities():
        rng = np.random.Generator(np.random.PCG64([seed, zlib.crc32(city["id"].encode())]))
        n = per_city if isinstance(per_city, int) else int(rng.integers(per_city[0], per_city[1] + 1))
        country = city["country"]
        ef = ef_of.get(country, 0.6)
        mix = dict(_MIX)
        if country not in ranges["sectors"]["wind"]["countries"]:
            mix["solar_pv"] += mix.pop("wind")
        names, probs = list(mix), np.array(list(mix.values()))
        sectors = rng.choice(names, size=n, p=probs / probs.sum())
        currency, per_usd = ("BDT", 120.0) if country == "BD" else ("USD", 1.0)
        counts: dict[str, int] = {}
        rows = []
        for s in sectors:
            s = str(s)
            spec = ranges["sectors"][s]
            f = _project(rng, s, spec, common, ef)
            counts[s] = counts.get(s, 0) + 1
            k = counts[s]
            pid = f"{city['id']}-{s.replace('_', '-')}-{k}"
            rows.append({
                "id": pid, "city": city["id"], "sector": s,
                "name": f"{city['name']} {spec['label']} {k} ({f['size']:,.0f} {f['unit']})",
                "capital_cost": round(f["capex"] * per_usd, -3), "currency": currency,
                "annual_saving": round(f["saving"] * per_usd, -2), "lifetime_years": int(spec["lifetime_years"]),
                "start_year": int(rng.integers(start_years[0], start_years[1] + 1)),
                "annual_abatement": round(f["abate"], 1), "pm25": round(f["pm25"], 3), "water": round(f["water"], 2),
                "eligible_instruments": (["join-equity", "jbic-credit-line"] if country in HIGH_INCOME else []),
                "requires": [], "excludes": [], "mrv_metric": spec["mrv_metric"],
                "source": "demo: drawn from nagar/funding/data/cost_ranges.json",
            })
        # links: BRT corridors and bus fleets come in phases (phase k requires phase k-1, corridors of up
        # to 3 phases); a waste-to-energy plant and a landfill-gas project compete for the same waste
        by_sector: dict[str, list[dict]] = {}
        for r in rows:
            by_sector.setdefault(r["sector"], []).append(r)
        for s, group in (("brt", 3), ("e_bus", 2)):
            lst = by_sector.get(s, [])
            for j in range(1, len(lst)):
                if j % group:
                    lst[j]["requires"] = [lst[j - 1]["id"]]
                    lst[j]["name"] += f", phase {j % group + 1}"
        for wte, lfg in zip(by_sector.get("waste_to_energy", []), by_sector.get("landfill_gas", [])):
            wte["excludes"] = [lfg["id"]]
        out.extend(rows)
    return out


def load_funding_demo(store, *, seed: int = 7, per_city: int | tuple = (12, 20), adopt: bool = True,
                      tranche: float = 60e9, mrv_until: int = 2025) -> dict:
    """Create the demo cities (when missing), the fund with its three instruments and the pipeline; with
    ``adopt``, solve a first tranche (``tranche`` JPY, floor 0.5 bn JPY per city, ceiling 12 %), adopt it
    and add monitored data for its projects that started by ``mrv_until``; the rest of the fund stays
    to be planned. Idempotent: rows are replaced, and a fund with adopted allocations is not re-adopted.

    Returns counts: cities_created, projects, plan (id or None), funded, mrv_records.
    """
    from . import service
    from .models import FundCreate, InstrumentCreate, PlanRequest, ProjectCreate

    created = 0
    for c in demo_cities():
        if store.get_city(c["id"]) is None:
            store.upsert_city({**c, "standard": None, "open_data": True})
            created += 1
    service.put_fund(store, fund=FundCreate(**DEMO_FUND))
    for i in DEMO_INSTRUMENTS:
        service.put_instrument(store, instrument=InstrumentCreate(**i))
    rows = generate_pipeline(seed, per_city=per_city)
    service.put_projects(store, projects=[ProjectCreate(**r) for r in rows])
    out = {"cities_created": created, "projects": len(rows), "plan": None, "funded": 0, "mrv_records": 0}
    ours = {i["id"] for i in DEMO_INSTRUMENTS}
    if not adopt or any(a["instrument_id"] in ours for a in store.list_allocations()):
        return out
    req = PlanRequest(fund=DEMO_FUND["id"], budget=tranche, city_floor=0.5e9, city_ceiling_share=0.12,
                      mip_rel_gap=1e-3, time_limit=30)
    from nagar.core.errors import InvalidInput

    try:
        plan = service.make_plan(store, request=req, actor="demo")
    except InvalidInput:  # a small pipeline may not meet the floors within the ceilings: plan without them
        plan = service.make_plan(store, request=req.model_copy(update={"city_floor": 0.0, "city_ceiling_share": None}),
                                 actor="demo")
    if plan["status"] not in ("optimal", "feasible"):
        return out
    service.adopt_plan(store, plan_id=plan["id"], actor="demo")
    out["plan"], out["funded"] = plan["id"], len(plan["portfolio"]["chosen"])
    rng = np.random.Generator(np.random.PCG64([seed, 99]))
    by_id = {r["id"]: r for r in rows}
    ef_of = grid_factors()
    country = {c["id"]: c["country"] for c in demo_cities()}
    records = []
    for pid in plan["portfolio"]["chosen"]:
        r = by_id[pid]
        for year in range(r["start_year"], mrv_until + 1):
            ratio = float(np.clip(rng.normal(0.92, 0.08), 0.5, 1.2))  # performance against plan
            realised = r["annual_abatement"] * ratio
            metric = r["mrv_metric"]
            ef = ef_of.get(country[r["city"]], 0.6)
            if metric == "diesel_avoided_l":  # buses report diesel avoided and charging electricity
                kwh_per_l = 3.125  # 1.25 kWh/km against 0.4 l/km (cost_ranges.json mid-points)
                per_l = METRICS[metric]["factor"] - kwh_per_l * ef / 1000
                if per_l <= 0:
                    continue
                litres = realised / per_l
                records += [{"project_id": pid, "year": year, "metric": metric, "value": round(litres, 1)},
                            {"project_id": pid, "year": year, "metric": "electricity_used_kwh",
                             "value": round(litres * kwh_per_l, 1)}]
                continue
            per_unit = ef / 1000 if METRICS[metric]["grid"] else METRICS[metric]["factor"]  # tCO2e per unit
            records.append({"project_id": pid, "year": year, "metric": metric, "value": round(realised / per_unit, 1)})
    if records:
        service.record_mrv_bulk(store, records=records, actor="demo")
    out["mrv_records"] = len(records)
    return out
