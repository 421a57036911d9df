"""Air-quality indices over stored observations.

Concentrations are aggregated inside the store's SQL (hourly means and trailing 8-h / 24-h windows,
:meth:`Store.hourly_windows`); this module applies each standard's averaging and completeness rules to
those aggregates and calls the pure, vectorised functions of :mod:`nagar.air.aqi` and
:mod:`nagar.air.nowcast`. No raw observation rows are pulled into Python.

Daily AQI and incomplete days
-----------------------------
A pollutant's daily value needs 75 % of the day: 18 of the 24 hourly means for a 24-h mean or a daily
maximum 1-h value, 18 of the 24 valid 8-h means for a daily maximum 8-h value (:data:`DAILY_MIN`). US EPA
applies 75 % to every daily AQI value: "75%, or 18/24 hours of data are needed for a valid daily AQI
calculation" for PM2.5 and PM10, and 13 of the 17 8-h ozone averages (AirNow-Tech, "Daily and Hourly AQI -
PM2.5", https://forum.airnowtech.org/t/daily-and-hourly-aqi-pm2-5/171, "- PM10" .../t/263, "- Ozone"
.../t/170); the TAD (EPA-454/B-18-007, section "What goes in my AQI report?") says it takes "a full 24
hours to obtain an AQI value (that's 24 hourly values for PM or the max 1-hour or 8-hour value in a 24-hour
period for other pollutants)". Applying 75 % to the daily maximum 1-h value too (NO2, SO2 1-h, O3 1-h) is
our reading of that sentence; AirNow reports no daily NO2 AQI at all ("Daily and Hourly AQI - Other
Pollutants", .../t/432).

EPA then reports the highest sub-index of the pollutants that have a valid daily value (AirNow, "How does
AirNow calculate yesterday's AQI?"). That alone can report a misleadingly low AQI: a day with 6 hours of
PM2.5 at 141 µg/m³ (too few for a daily PM2.5 value) and one NO2 hour at 20 ppb would be "Good, NO2". So
Nagar is stricter (:func:`grid_aqi`): **a station's day is incomplete, and gets no AQI, when any pollutant
of the standard has readings that day but fails completeness** (its readings might set the index).
The response says which pollutants lack data, how many hours (or 8-h means) they have and need, and
their partial value; the open-data file ``aqi-daily`` has the same columns. A city's daily value is the
worst station's among stations with a complete day; the stations with an incomplete day are listed
beside it (``incomplete_stations``), as EPA forms a reporting area's value from monitors with valid data.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
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
DAILY_MIN = 18
"""A daily value needs 75 % of the day: 18 of its 24 hourly means (24-h mean, daily maximum 1-h) or of its
24 trailing 8-h means (daily maximum 8-h). See the module docstring for the sources."""
MAX_SPAN = timedelta(days=400)


def _floor_hour(t: datetime) -> datetime:
    return t.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)


def get_standard(settings: Settings, standard_id: str):
    """A shipped standard or one from ``settings.standards_dir``, by id only (never a path from a caller)."""
    for std in list_standards(extra_dir=settings.standards_dir):
        if std.id == standard_id:
            return std
    known = [std.id for std in list_standards(extra_dir=settings.standards_dir)]
    near = [k for k in known if k.startswith(standard_id)] or difflib.get_close_matches(standard_id, known, n=1)
    hint = f"did you mean {near[0]!r}? " if near else ""
    raise NotFound(f"no AQI standard {standard_id!r}; {hint}known: {', '.join(known)} (`nagar standards` or "
                   "GET /api/v1/standards lists them with their sources)", field="standard")


def standards(settings: Settings) -> list:
    return list_standards(extra_dir=settings.standards_dir)


@dataclass
class Grid:
    stations: list[str]
    times: np.ndarray  # datetime64[us] UTC, hourly, shape (T,)
    conc: dict[str, np.ndarray]  # pollutant key -> (S, T) in the table's unit
    counts: dict[str, np.ndarray] = field(default_factory=dict)
    """Daily grids: pollutant key -> (S, D) hourly means (or valid 8-h means) its daily value had."""
    incomplete: dict[str, np.ndarray] = field(default_factory=dict)
    """Daily grids: pollutant key -> (S, D) True where it had readings that day but fewer than DAILY_MIN."""
    partial: dict[str, np.ndarray] = field(default_factory=dict)
    """Daily grids: pollutant key -> (S, D) its daily value from the data there was, where incomplete."""


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
    """Daily concentrations per the standard's averaging: 24-h = the day's mean of hourly means, 8-h = the
    day's highest valid 8-h mean, 1-h = the day's highest hourly mean, each only from at least
    :data:`DAILY_MIN` hourly (or 8-h) means. Days are local days. ``counts``, ``incomplete`` and ``partial``
    say which pollutants had readings but too few (module docstring)."""
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
    counts = {p.key: np.zeros((S, D), dtype=np.int64) for p in std.pollutants}
    incomplete = {p.key: np.zeros((S, D), dtype=bool) for p in std.pollutants}
    partial = {p.key: np.full((S, D), np.nan) for p in std.pollutants}
    if hw.height:
        hw = hw.with_columns(pl.col("time").dt.convert_time_zone(tz).dt.date().alias("day"))
        agg = hw.group_by("station", "parameter", "day").agg(
            pl.col("mean_1h").mean().alias("d24"),
            pl.col("mean_1h").count().alias("n24"),
            pl.col("mean_1h").max().alias("d1"),
            pl.col("mean_8h").filter(pl.col("n_8h") >= MIN_HOURS["8h"]).max().alias("d8"),
            pl.col("mean_8h").filter(pl.col("n_8h") >= MIN_HOURS["8h"]).count().alias("n8"),
        )
        sidx = {s: i for i, s in enumerate(stations)}
        si = agg.get_column("station").replace_strict(sidx, return_dtype=pl.Int64).to_numpy()
        di = (agg.get_column("day").to_numpy().astype("datetime64[D]") - days[0]).astype(np.int64)
        par = agg.get_column("parameter").to_numpy()
        for pol in std.pollutants:
            f = conversion_factor(pol.parameter, PARAMETERS[pol.parameter].unit, pol.unit)
            m = par == pol.parameter
            col, ncol = {"24h": ("d24", "n24"), "8h": ("d8", "n8")}.get(pol.averaging, ("d1", "n24"))
            v = np.asarray(agg.get_column(col).to_numpy()[m], dtype=float) * f
            n = agg.get_column(ncol).to_numpy()[m].astype(np.int64)
            had = agg.get_column("n24").to_numpy()[m] > 0
            ok = n >= DAILY_MIN
            conc[pol.key][si[m], di[m]] = np.where(ok, v, np.nan)
            counts[pol.key][si[m], di[m]] = n
            incomplete[pol.key][si[m], di[m]] = had & ~ok
            partial[pol.key][si[m], di[m]] = np.where(had & ~ok, v, np.nan)
    return Grid(stations, days, conc, counts=counts, incomplete=incomplete, partial=partial)


@dataclass
class GridAQI:
    """:func:`grid_aqi`'s answer, each array (S, T) like the grid."""

    aqi: np.ndarray
    category: np.ndarray
    dominant: np.ndarray
    dominant_code: np.ndarray
    keys: tuple
    sub_indices: dict[str, np.ndarray]
    withheld: np.ndarray
    """True where a day is incomplete (a pollutant had readings but too few): no AQI there."""


def grid_aqi(grid: Grid, std) -> GridAQI:
    """The AQI of every station and time of a grid; on a daily grid, incomplete days get none.

    :func:`nagar.air.aqi.compute_aqi` gives the highest sub-index of the pollutants with a value; where
    a pollutant of the standard had readings that day but failed completeness (``grid.incomplete``),
    that maximum may be too low (the missing pollutant may be the worst), so the day's AQI, category and
    dominant pollutant are withheld (module docstring). Sub-indices of complete pollutants are kept.
    """
    S, T = len(grid.stations), len(grid.times)
    res = compute_aqi({k: v.reshape(-1) for k, v in grid.conc.items()}, std)
    aqi = np.array(res.aqi, dtype=float).reshape(S, T)
    cat = np.array(res.category).reshape(S, T)
    dom = np.array(res.dominant, dtype=object).reshape(S, T)
    code = np.array(res.dominant_code).reshape(S, T)
    withheld = np.zeros((S, T), dtype=bool)
    for m in grid.incomplete.values():
        withheld |= m
    aqi[withheld], cat[withheld], dom[withheld], code[withheld] = np.nan, -1, "", -1
    return GridAQI(aqi=aqi, category=cat, dominant=dom, dominant_code=code, keys=res.keys,
                   sub_indices={k: np.asarray(v, dtype=float).reshape(S, T) for k, v in res.sub_indices.items()},
                   withheld=withheld)


def incomplete_pollutants(grid: Grid, std, i: int, j: int) -> list[dict]:
    """The pollutants station ``i`` lacks data for on day ``j``: hours (or 8-h means) had and needed, and
    the partial daily value [the table's unit] from the data there was."""
    out = []
    for pol in std.pollutants:
        m = grid.incomplete.get(pol.key)
        if m is not None and m[i, j]:
            out.append({"pollutant": pol.key, "have": int(grid.counts[pol.key][i, j]), "need": DAILY_MIN,
                        "of": "8-h means" if pol.averaging == "8h" else "hourly means",
                        "partial_value": _num(grid.partial[pol.key][i, j]), "unit": pol.unit})
    return out


def incomplete_reason(lacking: list[dict]) -> str:
    """One sentence for a day withheld for ``lacking`` (:func:`incomplete_pollutants`)."""
    parts = [f"{x['pollutant']} has {x['have']} of the {x['need']} {x['of']} it needs" for x in lacking]
    return ("incomplete day, no AQI: " + "; ".join(parts) + " (75 % of the day; the missing hours could "
            "set the index)")


def _category_fields(std, idx: int) -> dict:
    if idx is None or idx < 0:
        return {"category": None, "category_key": None, "colour": None}
    c = std.categories[idx]
    return {"category": c.name, "category_key": c.key, "colour": c.colour}


def _beyond(std, aqi) -> bool:
    """True for an index above the standard's scale (EPA: "AQI values above 500 are considered Beyond the
    AQI. Follow recommendations for the Hazardous category", AirNow-Tech, "The AQI Equation",
    https://forum.airnowtech.org/t/the-aqi-equation/169). Only standards whose ``above_scale`` is
    ``extrapolate`` get there."""
    return bool(np.isfinite(aqi) and aqi > std.scale_max)


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
        g = grid_aqi(grid, std)
        aqi, dom, cat, subs = g.aqi, g.dominant, g.category, g.sub_indices
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
            item["beyond_scale"] = _beyond(std, a[j])
            if resolution == "day":  # which pollutants (a station) or stations (a city) lack data that day
                lacking = incomplete_pollutants(grid, std, i, j) if city is None else []
                item["incomplete"] = lacking
                item["reason"] = incomplete_reason(lacking) if lacking else None
            if city is not None:
                item["station"] = stations[i] if not np.isnan(a[j]) else None
                if resolution == "day":
                    short = [stations[k] for k in np.flatnonzero(g.withheld[:, j])]
                    item["incomplete_stations"] = short
                    if short and np.isnan(a[j]):
                        item["reason"] = (f"incomplete day, no AQI: no station has a complete day; {', '.join(short)} "
                                          "had readings but too few (see each station's day)")
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
                "aqi": None, "category": None, "category_key": None, "colour": None, "dominant": None,
                "beyond_scale": False}
        if last and s["id"] in last:
            ok = np.nonzero(~np.isnan(aqi[i]))[0]
            if len(ok):
                j = ok[-1]
                item.update(time=np.datetime_as_string(grid.times[j], unit="s") + "Z", aqi=_num(aqi[i, j]),
                            dominant=dom[i, j] or None, beyond_scale=_beyond(std, aqi[i, j]),
                            **_category_fields(std, int(cat[i, j])))
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
