"""The datasets of the core domains: daily AQI per station, hourly observations and the GHG inventory. Each
streams a city's rows a month (or a year) at a time. Later domains register their own in
``nagar/<domain>/opendata.py`` (service requests: nagar/requests/opendata.py; e-waste: nagar/waste/opendata.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Iterator
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa

from .registry import Column, Context, Provider, register

_UTC = pa.timestamp("us", tz="UTC")


def _months(first: datetime, last: datetime, tz: str) -> Iterator[tuple[datetime, datetime]]:
    """[start, end) in UTC of each local calendar month from ``first``'s to ``last``'s."""
    zone = ZoneInfo(tz)
    m = first.astimezone(zone).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    while m <= last.astimezone(zone):
        n = (m.replace(day=28) + timedelta(days=4)).replace(day=1)
        yield m.astimezone(timezone.utc), n.astimezone(timezone.utc)
        m = n


# daily AQI per station ------------------------------------------------------------------------------
AQI_COLUMNS = (
    Column("date", pa.date32(), "Local calendar day in the city's time zone"),
    Column("station", pa.string(), "Station id"),
    Column("station_name", pa.string(), "Station name"),
    Column("lat", pa.float64(), "Station latitude (WGS84)", "degree"),
    Column("lon", pa.float64(), "Station longitude (WGS84)", "degree"),
    Column("aqi", pa.float64(), "Daily AQI (the standard's daily averaging and completeness rules); empty on an "
                                "incomplete day"),
    Column("category", pa.string(), "AQI category"),
    Column("dominant", pa.string(), "Pollutant setting the AQI"),
    Column("standard", pa.string(), "AQI standard id (see /api/v1/standards)"),
    Column("incomplete", pa.string(), "Pollutants that had readings that day but fewer than 75 % of the day "
                                       "(e.g. 'pm25_24h 6/18 h'): the day gets no AQI, since they could set it"),
)


def _aqi_batches(ctx: Context) -> Iterator[pa.RecordBatch]:
    from nagar.air.service import daily_grid, get_standard, grid_aqi, incomplete_pollutants

    city = ctx.city
    stations = ctx.store.list_stations(city=city["id"], scope=ctx.scope)
    span = ctx.store.observation_span(city=city["id"])
    if not stations or span is None:
        return
    std = get_standard(ctx.settings, city.get("standard") or ctx.settings.default_standard)
    ids = [s["id"] for s in stations]
    meta = {s["id"]: s for s in stations}
    schema = pa.schema([pa.field(c.name, c.type) for c in AQI_COLUMNS])
    for start, end in _months(span[0], span[1], city["timezone"]):
        grid = daily_grid(ctx.store, std, ids, start, end, city["timezone"])
        S, D = len(ids), len(grid.times)
        if D == 0:
            continue
        res = grid_aqi(grid, std)  # incomplete days: no AQI, the pollutants lacking data named
        aqi, cat, dom = res.aqi, res.category, res.dominant
        si, di = np.nonzero(~np.isnan(aqi) | res.withheld)
        if len(si) == 0:
            continue
        order = np.lexsort((si, di))
        si, di = si[order], di[order]
        yield pa.RecordBatch.from_pydict({
            "date": pa.array(grid.times[di].astype("datetime64[D]"), pa.date32()),
            "station": [ids[i] for i in si],
            "station_name": [meta[ids[i]]["name"] for i in si],
            "lat": [meta[ids[i]]["lat"] for i in si],
            "lon": [meta[ids[i]]["lon"] for i in si],
            "aqi": pa.array(aqi[si, di], pa.float64(), mask=np.isnan(aqi[si, di])),
            "category": [std.categories[int(c)].name if c >= 0 else None for c in cat[si, di]],
            "dominant": [d or None for d in dom[si, di]],
            "standard": [std.id] * len(si),
            "incomplete": [", ".join(f"{x['pollutant']} {x['have']}/{x['need']} h" if x["of"] == "hourly means" else
                                     f"{x['pollutant']} {x['have']}/{x['need']} 8-h means"
                                     for x in incomplete_pollutants(grid, std, i, j)) or None
                           for i, j in zip(si, di)],
        }, schema=schema)


register(Provider(
    id="aqi-daily", title="Daily air quality index per station",
    description="The daily AQI of each monitoring station (local calendar days), with its category and dominant "
                "pollutant, computed from valid and estimated observations by the city's AQI standard. A day where "
                "a pollutant had readings but too few for a daily value has no AQI and names that pollutant.",
    columns=AQI_COLUMNS, batches=_aqi_batches, keywords=("air quality", "AQI", "PM2.5", "pollution"),
    coordinates=("lat", "lon"), frequency="DAILY"))


# hourly observations --------------------------------------------------------------------------------
OBS_COLUMNS = (
    Column("time", _UTC, "Start of the hour (UTC)"),
    Column("station", pa.string(), "Station id"),
    Column("lat", pa.float64(), "Station latitude (WGS84)", "degree"),
    Column("lon", pa.float64(), "Station longitude (WGS84)", "degree"),
    Column("parameter", pa.string(), "Parameter key (pm25, pm10, no2, ...)"),
    Column("value", pa.float64(), "Mean of the hour's valid and estimated readings", "see unit"),
    Column("unit", pa.string(), "Canonical unit of the parameter"),
    Column("n", pa.int64(), "Readings in the hour"),
)


def _obs_batches(ctx: Context) -> Iterator[pa.RecordBatch]:
    city = ctx.city
    span = ctx.store.observation_span(city=city["id"])
    if span is None:
        return
    where = {s["id"]: (s["lat"], s["lon"]) for s in ctx.store.list_stations(city=city["id"], scope=ctx.scope)}
    schema = pa.schema([pa.field(c.name, c.type) for c in OBS_COLUMNS])
    for start, end in _months(span[0], span[1], "UTC"):
        t = ctx.store.observations(city=city["id"], start=start, end=end, aggregation="hour", scope=ctx.scope)
        if t.num_rows == 0:
            continue
        st = t.column("station").to_pylist()
        t = t.append_column("lat", pa.array([where.get(s, (None, None))[0] for s in st], pa.float64()))
        t = t.append_column("lon", pa.array([where.get(s, (None, None))[1] for s in st], pa.float64()))
        yield from t.select(schema.names).cast(schema).to_batches(max_chunksize=100_000)


register(Provider(
    id="observations-hourly", title="Hourly sensor observations",
    description="Hourly means of every station's measurements (air pollutants, weather, energy), valid and "
                "estimated readings only; suspect and invalid readings are left out.",
    columns=OBS_COLUMNS, batches=_obs_batches, keywords=("air quality", "sensors", "observations", "hourly"),
    coordinates=("lat", "lon"), frequency="HOURLY"))


# the GHG inventory ----------------------------------------------------------------------------------
GHG_COLUMNS = (
    Column("year", pa.int32(), "Inventory year"),
    Column("gwp", pa.string(), "GWP100 set used for CO2e (IPCC AR5)"),
    Column("ref", pa.string(), "GPC reference (e.g. I.1.1)"),
    Column("scope", pa.int64(), "GPC scope (1, 2, 3)"),
    Column("sector_name", pa.string(), "GPC sector"),
    Column("subsector_name", pa.string(), "GPC sub-sector"),
    Column("description", pa.string(), "Activity"),
    Column("notation", pa.string(), "GPC notation key (NO, IE, NE, C) where no emissions are reported"),
    Column("co2_t", pa.float64(), "CO2", "t"),
    Column("ch4_t", pa.float64(), "CH4", "t"),
    Column("n2o_t", pa.float64(), "N2O", "t"),
    Column("co2e_t", pa.float64(), "CO2 equivalent", "t CO2e"),
    Column("co2_biogenic_t", pa.float64(), "Biogenic CO2 (memo item)", "t"),
    Column("basic", pa.bool_(), "Counted in the GPC BASIC total"),
    Column("basic_plus", pa.bool_(), "Counted in the GPC BASIC+ total"),
)


def _ghg_batches(ctx: Context) -> Iterator[pa.RecordBatch]:
    import polars as pl

    from nagar.climate.service import inventory

    city = ctx.city["id"]
    schema = pa.schema([pa.field(c.name, c.type) for c in GHG_COLUMNS])
    for year in ctx.store.climate_years(city=city, scope=ctx.scope):
        inv = inventory(ctx.store, city=city, year=year, gwp="ar5", scope=ctx.scope)
        df = inv.table.with_columns(pl.lit(year).alias("year"), pl.lit("ar5").alias("gwp"))
        yield from df.select(schema.names).to_arrow().cast(schema).to_batches()


register(Provider(
    id="ghg-inventory", title="Greenhouse-gas inventory (GPC)",
    description="The city's community-scale GHG inventory per year in the GPC reporting table (WRI, C40, ICLEI "
                "Global Protocol for Community-Scale GHG Emission Inventories v1.1), CO2e with IPCC AR5 GWP100.",
    columns=GHG_COLUMNS, batches=_ghg_batches, keywords=("climate", "greenhouse gas", "GHG", "GPC", "emissions"),
    frequency="ANNUAL"))
