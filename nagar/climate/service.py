"""Climate operations shared by the API and the CLI: activity data, a city's factors, the GPC inventory,
renewable share and pathways. Keyword-only, the store first; ``scope`` limits what a caller sees (None:
all cities). Writes take the caller's ``actor`` and are recorded in the audit log; the caller has checked
the right to write in the city (routes with ``check_city``, the CLI runs as the operator).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl

from nagar.core.errors import InvalidInput, NotFound, StoreError
from nagar.core.tenancy import Scope
from nagar.registry.service import get_city
from nagar.security import audit

from . import factors as fx
from . import gpc, pathways, renewables
from .inventory import (ELECTRICITY_MWH, Inventory, compute_inventory, normalise_activity, to_csv, to_json,
                        validate_row)
from .models import ActivityIn, DriversIn, FactorIn, PathwayIn


def _tables(store):
    if not hasattr(store, "climate_activity"):
        raise StoreError("this store has no climate tables (nagar.store.climate_tables.ClimateTables)")
    return store


def _now() -> datetime:
    return datetime.now(timezone.utc)


# activity data ----------------------------------------------------------------------------------------
def _row(city: str, r: ActivityIn | dict, index: int) -> dict:
    d = r.model_dump() if isinstance(r, ActivityIn) else dict(r)
    kind = d.get("kind")
    sector = str(d.get("sector") or d.get("subsector") or "")
    item = str(d.get("item") or "")
    if kind == "notation":
        sub = sector
    elif kind == "waste" and not sector:
        sub = gpc.WASTE_TREATMENTS.get(item, "")
    elif kind == "wastewater" and not sector:
        sub = "III.4"
    else:
        sub = gpc.normalise_subsector(sector) or ""
        if not sub:
            raise InvalidInput(f"rows[{index}]: unknown sector {sector!r}; use a GPC code (I.1, II.1, ...) or "
                               f"one of {', '.join(gpc.SECTOR_ALIASES)}", field=f"rows.{index}.sector")
    row = {"city": city, "year": d["year"], "kind": kind, "subsector": sub, "item": item,
           "location": d.get("location") or "in", "quantity": d.get("quantity"), "unit": d.get("unit"),
           "params": d.get("params") or {}, "source": d.get("source"), "note": d.get("note")}
    if isinstance(row["params"], str):
        try:
            row["params"] = json.loads(row["params"]) if row["params"].strip() else {}
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"rows[{index}]: params is not JSON ({exc})", field=f"rows.{index}.params") from None
    if not isinstance(row["params"], dict):
        raise InvalidInput(f"rows[{index}]: params must be an object", field=f"rows.{index}.params")
    if kind == "notation":
        row["quantity"], row["unit"] = None, None
    try:
        validate_row(normalise_activity([row])[0])
    except (ValueError, TypeError, KeyError) as exc:
        raise InvalidInput(f"rows[{index}]: {exc}", field=f"rows.{index}") from None
    return row


def put_activity(store, *, city: str, rows: list[ActivityIn | dict], actor: str) -> dict:
    """Validate and upsert activity rows of one city (all or nothing); audited."""
    get_city(store, city_id=city)
    clean = [_row(city, r, i) for i, r in enumerate(rows)]
    inserted, updated = _tables(store).upsert_climate_activity(clean, actor=actor, now=_now())
    audit.record(store, actor=actor, action="climate.activity.put", city=city, target=f"city:{city}",
                 details={"inserted": inserted, "updated": updated,
                          "years": sorted({r["year"] for r in clean}),
                          "kinds": sorted({r["kind"] for r in clean})})
    return {"city": city, "inserted": inserted, "updated": updated}


def list_activity(store, *, city: str, year: int | None = None, scope: Scope = None) -> list[dict]:
    get_city(store, city_id=city, scope=scope)
    return _tables(store).climate_activity(city=city, year=year, scope=scope)


def get_activity_row(store, *, activity_id: int, scope: Scope = None) -> dict:
    row = _tables(store).climate_activity_row(activity_id, scope=scope)
    if row is None:
        raise NotFound(f"no activity row {activity_id}", field="activity_id")
    return row


def delete_activity(store, *, activity_id: int, actor: str) -> dict:
    row = get_activity_row(store, activity_id=activity_id)
    _tables(store).delete_climate_activity(activity_id)
    audit.record(store, actor=actor, action="climate.activity.delete", city=row["city"],
                 target=f"climate_activity:{activity_id}",
                 details={k: row[k] for k in ("year", "kind", "subsector", "item", "location", "quantity", "unit")})
    return row


def load_activity_file(store, *, path: Path, city: str | None = None, actor: str) -> list[dict]:
    """Load activity rows from a CSV (columns city, year, kind, sector, item, location, quantity, unit,
    params (JSON), source, note) or JSON file (``{"city": ..., "rows": [...]}`` or a list of rows with
    ``city``). ``city`` fills rows that name none. One upsert per city; returns the counts."""
    from nagar.ingest.files import read_text

    path = Path(path)
    text = read_text(path)  # a missing file, or a byte that is not UTF-8 (named by line), is InvalidInput
    if path.suffix.lower() == ".json":
        data = json.loads(text)
        if isinstance(data, dict):
            default = data.get("city", city)
            rows = [{**r, "city": r.get("city") or default} for r in data.get("rows", [])]
        else:
            rows = [{**r, "city": r.get("city") or city} for r in data]
    else:
        rows = []
        for r in csv.DictReader(io.StringIO(text)):
            r = {k.strip(): (v.strip() if isinstance(v, str) else v) for k, v in r.items() if k}
            q = r.get("quantity")
            rows.append({**r, "city": r.get("city") or city, "year": int(r["year"]),
                         "quantity": float(q) if q not in (None, "") else None,
                         "params": json.loads(r["params"]) if r.get("params") else {}})
    if not rows:
        raise InvalidInput(f"{path.name} holds no rows", field="file")
    missing = [i for i, r in enumerate(rows) if not r.get("city")]
    if missing:
        raise InvalidInput(f"row {missing[0]} names no city; pass --city", field="city")
    by_city: dict[str, list[dict]] = {}
    for r in rows:
        by_city.setdefault(r["city"], []).append(r)
    return [put_activity(store, city=c, rows=rs, actor=actor) for c, rs in sorted(by_city.items())]


# factors ----------------------------------------------------------------------------------------------
def list_factors(store, *, city: str | None = None, scope: Scope = None) -> dict:
    """The shipped factor tables and, with ``city``, the city's own factors."""
    user = []
    if city is not None:
        get_city(store, city_id=city, scope=scope)
        user = _tables(store).climate_factors(city=city, scope=scope)
    return fx.catalogue(user)


def add_factor(store, *, factor: FactorIn, actor: str) -> dict:
    """Store a city's own factor after checking kind, unit, gas, fuel and sector; audited."""
    get_city(store, city_id=factor.city)
    unit, gases = fx.USER_FACTOR_KINDS[factor.kind]
    given = (factor.unit or unit).strip()
    if factor.kind == "grid" and given.lower() in ("kg/kwh", "kgco2/kwh", "kg co2/kwh", "tco2/mwh", "t co2/mwh"):
        given = unit  # 1 kg/kWh = 1 t/MWh
    if given != unit:
        raise InvalidInput(f"a {factor.kind} factor is in {unit}, not {factor.unit!r}", field="unit")
    gas = factor.gas or ("co2" if factor.kind == "grid" else "")
    if gas not in gases:
        raise InvalidInput(f"gas must be one of {', '.join(g or '(none)' for g in gases)} for {factor.kind}",
                           field="gas")
    sector = ""
    if factor.kind in ("combustion", "ncv"):
        if factor.item not in fx.fuel_keys():
            raise InvalidInput(f"unknown fuel {factor.item!r}; known: {', '.join(fx.fuel_keys())}", field="item")
        if factor.kind == "combustion" and factor.sector:
            sector = gpc.normalise_subsector(factor.sector) or ""
            if sector not in gpc.COMBUSTION_TABLE:
                raise InvalidInput(f"sector must be an energy sub-sector (I.1-I.6, II.1-II.5), not {factor.sector!r}",
                                   field="sector")
    if factor.kind == "ncv" and factor.value <= 0:
        raise InvalidInput("a net calorific value must be positive", field="value")
    row = {"city": factor.city, "kind": factor.kind, "item": factor.item, "sector": sector, "gas": gas,
           "value": factor.value, "unit": unit, "year": factor.year, "source": factor.source, "note": factor.note}
    stored = _tables(store).add_climate_factor(row, actor=actor, now=_now())
    audit.record(store, actor=actor, action="climate.factor.add", city=factor.city,
                 target=f"climate_factor:{stored['id']}",
                 details={k: row[k] for k in ("kind", "item", "sector", "gas", "value", "unit", "year", "source")})
    return stored


# inventory --------------------------------------------------------------------------------------------
def inventory(store, *, city: str, year: int | None = None, gwp: str = "ar5", grid_region: str | None = None,
              scope: Scope = None) -> Inventory:
    """The city's GPC inventory for ``year`` (default: the latest year with activity data)."""
    c = get_city(store, city_id=city, scope=scope)
    t = _tables(store)
    if gwp not in fx.GWP_SETS:
        raise InvalidInput(f"gwp must be one of {', '.join(fx.GWP_SETS)}", field="gwp")
    years = t.climate_years(city=city, scope=scope)
    if year is None:
        if not years:
            raise NotFound(f"no climate activity data for {city}", field="year")
        year = years[-1]
    elif year not in years:  # an inventory of nothing is not an inventory of zero emissions
        have = f" (years with data: {', '.join(map(str, years))})" if years else ""
        raise NotFound(f"no activity data for {city} in {year}{have}", field="year")
    rows = t.climate_activity(city=city, max_year=year, scope=scope)
    fs = fx.FactorSet(user=t.climate_factors(city=city, scope=scope))
    try:
        return compute_inventory(rows, year=year, country=c.get("country"), gwp=gwp, factors=fs,
                                 grid_region=grid_region, city=city)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="activity") from None


def inventory_report(store, *, city: str, year: int | None = None, gwp: str = "ar5", grid_region: str | None = None,
                     fmt: str = "json", scope: Scope = None) -> dict | str:
    inv = inventory(store, city=city, year=year, gwp=gwp, grid_region=grid_region, scope=scope)
    return to_csv(inv) if fmt == "csv" else to_json(inv)


def save_inventory_run(store, *, city: str, year: int | None = None, gwp: str = "ar5", grid_region: str | None = None,
                       actor: str) -> dict:
    """Compute and keep an inventory as reported (its JSON), audited."""
    inv = inventory(store, city=city, year=year, gwp=gwp, grid_region=grid_region)
    result = to_json(inv)
    run = _tables(store).add_inventory_run(
        {"city": city, "year": inv.year, "gwp": gwp, "basic_t": inv.totals["basic_t"],
         "basic_plus_t": inv.totals["basic_plus_t"], "result": json.dumps(result, default=str)},
        actor=actor, now=_now())
    audit.record(store, actor=actor, action="climate.inventory.save", city=city, target=f"inventory_run:{run['id']}",
                 details={"year": inv.year, "gwp": gwp, "basic_t": inv.totals["basic_t"],
                          "basic_plus_t": inv.totals["basic_plus_t"]})
    return run


def list_inventory_runs(store, *, city: str, scope: Scope = None) -> list[dict]:
    get_city(store, city_id=city, scope=scope)
    return _tables(store).inventory_runs(city=city, scope=scope)


# renewable share --------------------------------------------------------------------------------------
def _frame(rows: list[dict], parameter: str) -> pl.DataFrame:
    sel = [{"month": r["month"], "kwh": float(r["total"])} for r in rows if r["parameter"] == parameter]
    return pl.DataFrame(sel, schema={"month": pl.String, "kwh": pl.Float64})


def renewable_share(store, *, city: str, year: int | None = None, grid_renewable_fraction: float | None = None,
                    basis: str = "auto", scope: Scope = None) -> dict:
    """Monthly and annual renewable share of the city's electricity (see :mod:`nagar.climate.renewables`):
    generation from ``generation`` observations of the city's stations, consumption from ``consumption``
    observations or the year's electricity activity data."""
    c = get_city(store, city_id=city, scope=scope)
    t = _tables(store)
    if year is None:
        years = t.climate_years(city=city, scope=scope)
        year = years[-1] if years else datetime.now(timezone.utc).year
    tz = ZoneInfo(c["timezone"])
    start = datetime(year, 1, 1, tzinfo=tz).astimezone(timezone.utc)
    end = datetime(year + 1, 1, 1, tzinfo=tz).astimezone(timezone.utc)
    sums = t.energy_monthly(city=city, parameters=["generation", "consumption"], start=start, end=end,
                            tz=c["timezone"], scope=scope)
    elec = [r for r in t.climate_activity(city=city, year=year, kind="electricity", scope=scope)
            if r["location"] == "in" and r["quantity"] is not None]
    annual = sum(r["quantity"] * ELECTRICITY_MWH[r["unit"]] * 1000.0 for r in elec) if elec else None
    try:
        res = renewables.renewable_share(_frame(sums, "generation"), _frame(sums, "consumption"), year=year,
                                         annual_consumption_kwh=annual, grid_renewable_fraction=grid_renewable_fraction,
                                         basis=basis)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="basis" if "consumption" in str(exc) or "basis" in str(exc)
                           else "grid_renewable_fraction") from None
    return {
        "city": city, "year": year, "timezone": c["timezone"], "unit": "kWh",
        "grid_renewable_fraction": grid_renewable_fraction,
        "definition": ("local_share = renewable generation metered in the city / consumption; total_share adds "
                       "grid_renewable_fraction x the consumption not met locally, capped at 1; grid-mix "
                       "renewables count only when grid_renewable_fraction is given"),
        "monthly": res["monthly"].to_dicts(),
        "annual": res["annual"].to_dicts()[0],
    }


# pathways ---------------------------------------------------------------------------------------------
def inventory_categories(inv: Inventory) -> dict[str, float]:
    """BASIC emissions split into the pathway categories (stationary, electricity, transport, waste)."""
    t = inv.table.filter(pl.col("basic")).with_columns(pl.col("co2e_t").fill_null(0.0))

    def s(expr) -> float:
        return float(t.filter(expr).get_column("co2e_t").sum())

    return {"stationary": s((pl.col("sector") == "I") & (pl.col("scope") == 1)),
            "electricity": s(pl.col("scope") == 2),
            "transport": s((pl.col("sector") == "II") & (pl.col("scope") == 1)),
            "waste": s(pl.col("sector") == "III"),
            "other": 0.0}


_DRIVERS = ("population_growth", "gdp_growth", "intensity_change", "grid_change")


def get_drivers(store, *, city: str, scope: Scope = None) -> dict:
    """A city's stored BAU drivers (404 when it has none)."""
    get_city(store, city_id=city, scope=scope)
    row = store.climate_drivers(city=city, scope=scope)
    if row is None:
        raise NotFound(f"no BAU drivers stored for city {city!r}")
    return row


def put_drivers(store, *, body: DriversIn, actor: str) -> dict:
    """Set a city's BAU drivers (the caller has checked the write right); audited."""
    for k in _DRIVERS:
        rate = getattr(body, k)
        if isinstance(rate, dict) and not rate:
            raise InvalidInput(f"{k} must be a rate or a non-empty {{year: rate}} map", field=k)
    row = store.put_climate_drivers(body.model_dump(), actor=actor, now=datetime.now(timezone.utc))
    audit.record(store, actor=actor, action="climate.drivers.put", city=body.city, target=f"city:{body.city}",
                 details={"source": body.source})
    return row


def funded_projects(store, *, city: str, scope: Scope = None) -> list[dict]:
    """The city's funded projects (:func:`nagar.funding.service.list_projects`, status ``funded``) as
    pathway projects, as the /climate page builds them: annual abatement [t CO2e/yr], start year and
    lifetime rounded to whole years within 1-100."""
    from nagar.funding.service import list_projects

    return [{"name": str(p["name"] or p["id"])[:80], "start_year": int(p["start_year"]),
             "annual_abatement_t": float(p["annual_abatement"] or 0.0),
             "lifetime": max(1, min(100, round(float(p["lifetime_years"] or 1))))}
            for p in list_projects(store, city=city, status="funded", scope=scope)[:500]]


def pathway(store, *, body: PathwayIn, scope: Scope = None) -> dict:
    """BAU projection and the portfolio pathway to ``end_year``, with milestones and chart data."""
    get_city(store, city_id=body.city, scope=scope)
    if body.base is not None:
        if body.base_year is None:
            raise InvalidInput("base_year is required with base", field="base_year")
        base, base_year, source = body.base, body.base_year, "given"
    else:
        inv = inventory(store, city=body.city, year=body.base_year, gwp=body.gwp, scope=scope)
        base, base_year = inventory_categories(inv), inv.year
        source = f"GPC BASIC inventory {inv.year} ({body.gwp.upper()})"
    stored = store.climate_drivers(city=body.city, scope=scope) or {}
    drivers = {k: getattr(body, k) if getattr(body, k) is not None else stored.get(k, 0.0) for k in _DRIVERS}
    given = [k for k in _DRIVERS if getattr(body, k) is not None]
    drivers_source = ("given" if len(given) == len(_DRIVERS) else stored["source"] if stored and not given
                      else f"given ({', '.join(given)}); otherwise {stored['source']}" if stored
                      else "given" if given else "none: no drivers stored for the city, BAU held flat")
    try:
        bau = pathways.bau_projection(base, base_year=base_year, end_year=body.end_year, **drivers,
                                      grid_factors=body.grid_factors)
        path = pathways.portfolio_pathway(bau, [p.model_dump() for p in body.projects])
    except ValueError as exc:
        msg = str(exc)
        field = ("base" if "categor" in msg else "grid_factors" if "grid factor" in msg
                 else "end_year" if "end_year" in msg else "projects")
        raise InvalidInput(msg, field=field) from None
    fixed = ("year", "bau_t", "abatement_t", "pathway_t", "unused_abatement_t")
    project_cols = [c for c in path.columns if c not in fixed]
    return {
        "city": body.city, "base_year": base_year, "end_year": body.end_year, "unit": "t CO2e",
        "base": base, "base_source": source, "drivers": drivers, "drivers_source": drivers_source,
        "bau": bau.to_dicts(),
        "pathway": path.to_dicts(),
        "milestones": pathways.milestones(path),
        "chart": pathways.chart_data(path, ["bau_t", "pathway_t", "abatement_t", *project_cols]),
    }
