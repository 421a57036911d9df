"""Air-quality indices over stored observations.

Concentrations are aggregated inside the store's SQL (hourly means and trailing 8-h / 24-h windows,
:meth:`Store.hourly_windows`); this module applies each standard's averaging and completeness rules to
those aggregates and calls the pure, vectorised functions of :mod:`nagar.air.aqi` and
:mod:`nagar.air.nowcast`. No raw observation rows are pulled into Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from nagar.core.errors import InvalidInput, NotFound
from nagar.core.settings import Settings
from nagar.core.tenancy import Scope
from nagar.core.units import PARAMETERS, conversion_factor
from nagar.registry.service import get_city, get_station
from nagar.store.base import Store

from .aqi import compute_aqi
from .nowcast import nowcast_series
from .standards import list_standards

HOUR = timedelta(hours=1)
MIN_HOURS = {"1h": 1, "8h": 6, "24h": 18}
"""Completeness: hours of data a window needs (EPA TAD 2024: 75 % of the averaging period)."""
MAX_SPAN = timedelta(days=400)


def _floor_hour(t: datetime) -> datetime:
    return t.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)


def get_standard(settings: Settings, standard_id: str):
    """A shipped standard or one from ``settings.standards_dir``, by id only (never a path from a caller)."""
    for std in list_standards(extra_dir=settings.standards_dir):
        if std.id == standard_id:
            return std
    raise NotFound(f"no AQI standard {standard_id!r}; see /api/v1/standards", field="standard")


def standards(settings: Settings) -> list:
    return list_standards(extra_dir=settings.standards_dir)


@dataclass
class Grid:
    stations: list[str]
    times: np.ndarray  # datetime64[us] UTC, hourly, shape (T,)
    conc: dict[str, np.ndarray]  # pollutant key -> (S, T) in the table's unit


def hourly_grid(store: Store, std, stations: list[str], start: datetime, end: datetime) -> Grid:
    uses_nowcast = any(getattr(p, "hourly", p.averaging) == "nowcast" for p in std.pollutants)
    look = 11 * HOUR if uses_nowcast else timedelta(0)
    s0 = start - look
    times = np.arange(np.datetime64(s0.replace(tzinfo=None), "h"), np.datetime64(end.replace(tzinfo=None), "h"),
                      dtype="datetime64[h]").astype("datetime64[us]")
    params = sorted({p.parameter for p in std.pollutants})
    hw = pl.from_arrow(store.hourly_windows(stations=stations, parameters=params, start=s0, end=end))
    S, T = len(stations), len(times)
    sidx = {s: i for i, s in enumerate(stations)}
    base: dict[tuple[str, str], np.ndarray] = {}
    if hw.height:
        hw = hw.with_columns(pl.col("time").dt.replace_time_zone(None).dt.cast_time_unit("us"))
        si = hw.get_column("station").replace_strict(sidx, return_dtype=pl.Int64).to_numpy()
        ti = ((hw.get_column("time").to_numpy() - times[0]) // np.timedelta64(1, "h")).astype(np.int64)
        par = hw.get_column("parameter").to_numpy()
        for p in params:
            m = par == p
            for col, ncol, need in (("mean_1h", None, 1), ("mean_8h", "n_8h", 6), ("mean_24h", "n_24h", 18)):
                g = np.full((S, T), np.nan)
                v = hw.get_column(col).to_numpy()[m].astype(float)
                if ncol is not None:
                    v = np.where(hw.get_column(ncol).to_numpy()[m] >= need, v, np.nan)
                g[si[m], ti[m]] = v
                base[(p, col)] = g
    conc: dict[str, np.ndarray] = {}
    for pol in std.pollutants:
        f = conversion_factor(pol.parameter, PARAMETERS[pol.parameter].unit, pol.unit)
        hourly = getattr(pol, "hourly", pol.averaging)
        if hourly == "nowcast":
            h1 = base.get((pol.parameter, "mean_1h"))
            g = nowcast_series(h1, pol.parameter) if h1 is not None else np.full((S, T), np.nan)
        else:
            col = {"1h": "mean_1h", "8h": "mean_8h", "24h": "mean_24h"}[pol.averaging]
            g = base.get((pol.parameter, col), np.full((S, T), np.nan))
        conc[pol.key] = np.asarray(g, dtype=float) * f
    keep = slice(T - len(np.arange(np.datetime64(start.replace(tzinfo=None), "h"),
                                   np.datetime64(end.replace(tzinfo=None), "h"))), T)
    return Grid(stations, times[keep], {k: v[:, keep] for k, v in conc.items()})


def daily_grid(store: Store, std, stations: list[str], start: datetime, end: datetime, tz: str) -> Grid:
    """Daily concentrations per the standard's averaging: 24-h = the day's mean of hourly means (>= 18 h),
    8-h = the day's highest valid 8-h mean, 1-h = the day's highest hourly mean. Days are local days."""
    zone = ZoneInfo(tz)
    d0 = start.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    d1 = end.astimezone(zone)
    if d1.time() != datetime.min.time():
        d1 = d1.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    s_utc, e_utc = d0.astimezone(timezone.utc), d1.astimezone(timezone.utc)
    params = sorted({p.parameter for p in std.pollutants})
    hw = pl.from_arrow(store.hourly_windows(stations=stations, parameters=params, start=s_utc, end=e_utc))
    days = np.arange(np.datetime64(d0.date()), np.datetime64(d1.date()), dtype="datetime64[D]")
    S, D = len(stations), len(days)
    conc: dict[str, np.ndarray] = {p.key: np.full((S, D), np.nan) for p in std.pollutants}
    if hw.height:
        hw = hw.with_columns(pl.col("time").dt.convert_time_zone(tz).dt.date().alias("day"))
        agg = hw.group_by("station", "parameter", "day").agg(
            pl.col("mean_1h").mean().alias("d24"),
            pl.col("mean_1h").count().alias("n24"),
            pl.col("mean_1h").max().alias("d1"),
            pl.col("mean_8h").filter(pl.col("n_8h") >= 6).max().alias("d8"),
        )
        sidx = {s: i for i, s in enumerate(stations)}
        si = agg.get_column("station").replace_strict(sidx, return_dtype=pl.Int64).to_numpy()
        di = (agg.get_column("day").to_numpy().astype("datetime64[D]") - days[0]).astype(np.int64)
        par = agg.get_column("parameter").to_numpy()
        for pol in std.pollutants:
            f = conversion_factor(pol.parameter, PARAMETERS[pol.parameter].unit, pol.unit)
            m = par == pol.parameter
            if pol.averaging == "24h":
                v = np.where(agg.get_column("n24").to_numpy()[m] >= 18, agg.get_column("d24").to_numpy()[m], np.nan)
            elif pol.averaging == "8h":
                v = agg.get_column("d8").to_numpy()[m]
            else:
                v = agg.get_column("d1").to_numpy()[m]
            conc[pol.key][si[m], di[m]] = np.asarray(v, dtype=float) * f
    return Grid(stations, days, conc)


def _category_fields(std, idx: int) -> dict:
    if idx is None or idx < 0:
        return {"category": None, "category_key": None, "colour": None}
    c = std.categories[idx]
    return {"category": c.name, "category_key": c.key, "colour": c.colour}


def _num(x) -> float | None:
    x = float(x)
    return None if np.isnan(x) else x


def aqi_series(
    store: Store,
    *,
    settings: Settings,
    station: str | None = None,
    city: str | None = None,
    start: datetime,
    end: datetime,
    standard: str | None = None,
    resolution: str = "hour",
    scope: Scope = None,
) -> dict:
    """AQI per hour (NowCast / running means) or per local day, for a station or a city.

    A city's value at each time is the worst (highest) station AQI, with that station's dominant
    pollutant, unless its standard sets another ``city_rule``.
    """
    if (station is None) == (city is None):
        raise InvalidInput("give exactly one of station or city", field="station")
    for t, name in ((start, "start"), (end, "end")):
        if t.tzinfo is None:
            raise InvalidInput(f"{name} must include a UTC offset", field=name)
    if end <= start:
        raise InvalidInput("end must be after start", field="end")
    if end - start > MAX_SPAN:
        raise InvalidInput(f"time range longer than {MAX_SPAN.days} days", field="end")
    if resolution not in ("hour", "day"):
        raise InvalidInput("resolution must be hour or day", field="resolution")
    if station is not None:
        st = get_station(store, station_id=station, scope=scope)
        c = get_city(store, city_id=st["city"], scope=scope)
        stations = [station]
    else:
        c = get_city(store, city_id=city, scope=scope)
        stations = [s["id"] for s in store.list_stations(city=city, scope=scope)]
    std = get_standard(settings, standard or c.get("standard") or settings.default_standard)
    start, end = _floor_hour(start), _floor_hour(end - timedelta(microseconds=1)) + HOUR
    items: list[dict] = []
    if stations:
        grid = (hourly_grid(store, std, stations, start, end) if resolution == "hour"
                else daily_grid(store, std, stations, start, end, c["timezone"]))
        S, T = len(stations), len(grid.times)
        res = compute_aqi({k: v.reshape(-1) for k, v in grid.conc.items()}, std)
        aqi = np.asarray(res.aqi, dtype=float).reshape(S, T)
        dom = np.asarray(res.dominant, dtype=object).reshape(S, T)
        cat = np.asarray(res.category).reshape(S, T)
        subs = {k: np.asarray(v, dtype=float).reshape(S, T) for k, v in res.sub_indices.items()}
        if S == 1:
            pick = np.zeros(T, dtype=int)
        else:
            filled = np.where(np.isnan(aqi), -np.inf, aqi)
            pick = np.argmax(filled, axis=0)
        cols = np.arange(T)
        a = aqi[pick, cols]
        for j in range(T):
            i = pick[j]
            t = grid.times[j]
            item = {
                "time" if resolution == "hour" else "date": (
                    np.datetime_as_string(t, unit="s") + "Z" if resolution == "hour" else str(t)
                ),
                "aqi": _num(a[j]),
                **_category_fields(std, int(cat[i, j]) if not np.isnan(a[j]) else -1),
                "dominant": (dom[i, j] or None) if not np.isnan(a[j]) else None,
                "sub_indices": {k: _num(v[i, j]) for k, v in subs.items() if not np.isnan(v[i, j])},
                "concentrations": {k: _num(v[i, j]) for k, v in grid.conc.items() if not np.isnan(v[i, j])},
            }
            if city is not None:
                item["station"] = stations[i] if not np.isnan(a[j]) else None
            items.append(item)
    return {
        "standard": std.id,
        "station": station,
        "city": c["id"],
        "resolution": resolution,
        "timezone": c["timezone"],
        "units": {p.key: p.unit for p in std.pollutants},
        "items": items,
    }


def latest(store: Store, *, settings: Settings, city: str, standard: str | None = None, scope: Scope = None) -> dict:
    """Each station's AQI at its newest hour of data (hourly method: NowCast / running means)."""
    c = get_city(store, city_id=city, scope=scope)
    std = get_standard(settings, standard or c.get("standard") or settings.default_standard)
    sts = store.list_stations(city=city, scope=scope)
    items = []
    last = store.latest_time(stations=[s["id"] for s in sts], scope=scope)
    if last:
        end = _floor_hour(max(last.values())) + HOUR
        grid = hourly_grid(store, std, [s["id"] for s in sts], end - 48 * HOUR, end)
        S, T = len(sts), len(grid.times)
        res = compute_aqi({k: v.reshape(-1) for k, v in grid.conc.items()}, std)
        aqi = np.asarray(res.aqi, dtype=float).reshape(S, T)
        dom = np.asarray(res.dominant, dtype=object).reshape(S, T)
        cat = np.asarray(res.category).reshape(S, T)
    for i, s in enumerate(sts):
        item = {"station": s["id"], "name": s["name"], "lat": s["lat"], "lon": s["lon"], "time": None,
                "aqi": None, "category": None, "category_key": None, "colour": None, "dominant": None}
        if last and s["id"] in last:
            ok = np.nonzero(~np.isnan(aqi[i]))[0]
            if len(ok):
                j = ok[-1]
                item.update(time=np.datetime_as_string(grid.times[j], unit="s") + "Z", aqi=_num(aqi[i, j]),
                            dominant=dom[i, j] or None, **_category_fields(std, int(cat[i, j])))
        items.append(item)
    return {"standard": std.id, "city": city, "items": items}


@dataclass(frozen=True)
class _DailyMetric:
    key: str
    parameter: str
    averaging: str
    unit: str


# WHO 2021 compares daily means (24-h levels; annual levels use their mean) and, for O3, the daily
# maximum 8-h mean (nagar.air.who, Table 0.1 of the guideline)
_WHO_DAILY = (
    _DailyMetric("pm25_24h", "pm25", "24h", "µg/m³"),
    _DailyMetric("pm10_24h", "pm10", "24h", "µg/m³"),
    _DailyMetric("no2_24h", "no2", "24h", "µg/m³"),
    _DailyMetric("so2_24h", "so2", "24h", "µg/m³"),
    _DailyMetric("co_24h", "co", "24h", "mg/m³"),
    _DailyMetric("o3_8h", "o3", "8h", "µg/m³"),
)


class _WHOTable:
    pollutants = _WHO_DAILY


def who_exceedances(
    store: Store,
    *,
    station: str | None = None,
    city: str | None = None,
    start: datetime,
    end: datetime,
    level: str = "aqg",
    period: str = "year",
    scope: Scope = None,
) -> dict:
    """WHO 2021 guideline comparison per station, pollutant and period (year or month) over local days.

    Daily values come from the store's hourly aggregates (a day needs 18 hourly means, 75 %); each
    short-term level counts exceedance days and compares the 99th percentile, each annual level the mean.
    """
    from .who import LEVELS, exceedances

    if (station is None) == (city is None):
        raise InvalidInput("give exactly one of station or city", field="station")
    if level not in LEVELS:
        raise InvalidInput(f"level must be one of {', '.join(LEVELS)}", field="level")
    if period not in ("year", "month"):
        raise InvalidInput("period must be year or month", field="period")
    for t, name in ((start, "start"), (end, "end")):
        if t.tzinfo is None:
            raise InvalidInput(f"{name} must include a UTC offset", field=name)
    if end <= start:
        raise InvalidInput("end must be after start", field="end")
    if end - start > timedelta(days=3700):
        raise InvalidInput("time range longer than ten years", field="end")
    if station is not None:
        c = get_city(store, city_id=get_station(store, station_id=station, scope=scope)["city"], scope=scope)
        stations = [station]
    else:
        c = get_city(store, city_id=city, scope=scope)
        stations = [s["id"] for s in store.list_stations(city=city, scope=scope)]
    items = []
    if stations:
        grid = daily_grid(store, _WHOTable, stations, start, end, c["timezone"])
        for i, st in enumerate(stations):
            for m in _WHO_DAILY:
                v = grid.conc[m.key][i]
                if np.all(np.isnan(v)):
                    continue
                for averaging in (m.averaging, "annual"):
                    if averaging == "annual" and (period != "year" or m.parameter not in ("pm25", "pm10", "no2")):
                        continue
                    r = exceedances(v, m.parameter, averaging, level, times=grid.times, period=period, unit=m.unit)
                    for j, p in enumerate(r.periods):
                        if r.valid_days[j] == 0:
                            continue
                        items.append({
                            "station": st, "parameter": m.parameter, "averaging": averaging,
                            "period": str(p), "level": level, "level_value": r.level, "unit": r.unit,
                            "valid_days": int(r.valid_days[j]),
                            "exceedance_days": int(r.exceedance_days[j]) if averaging != "annual" else None,
                            "allowed_days": int(r.allowed_days[j]) if averaging != "annual" else None,
                            "statistic": "mean" if averaging == "annual" else "p99",
                            "value": _num(round(float(r.statistic[j]), 2)),
                            "meets": bool(r.meets[j]),
                        })
    return {"city": c["id"], "timezone": c["timezone"], "level": level, "period": period,
            "guideline": "WHO global air quality guidelines 2021, Table 0.1", "items": items}
